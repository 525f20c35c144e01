//! Idempotency keys as stored: claimed by an insert only one request can win, answered once
//! the outcome is known, freed when nothing reached the vendor.

use super::db::{Db, StoreError};
use super::sql::now_ms;
use sqlx::Row;
use std::sync::atomic::{AtomicI64, Ordering};

/// Keys are kept this long after their outcome.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// How often expired signature keys are swept.
const SWEEP_EVERY_MS: i64 = 60 * 1000;

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: this request goes ahead.
    New,
    /// The first request's answer: (status, body).
    Replay(u16, String),
    /// The first request's outcome is not known yet.
    Unknown,
    /// The key was used for a different request.
    Mismatch,
}

/// The idempotency table.
pub struct IdempotencyStore<'a>(pub(super) &'a Db);

impl IdempotencyStore<'_> {
    /// Claims a key for a request, or says what the first request with it got.
    pub async fn claim(
        &self,
        key: String,
        fingerprint: String,
        request_id: String,
    ) -> Result<Claim, StoreError> {
        self.0
            .run(move |pool| async move {
                let won = sqlx::query(
                    "INSERT INTO idempotency (key, fingerprint, request_id, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key.clone())
                .bind(fingerprint.clone())
                .bind(request_id)
                .bind(now_ms())
                .execute(&pool)
                .await?;
                if won.rows_affected() == 1 {
                    return Ok(Claim::New);
                }
                let r =
                    sqlx::query("SELECT fingerprint, status, body FROM idempotency WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&pool)
                        .await?;
                let Some(r) = r else {
                    // Freed between the two statements: let the client retry.
                    return Ok(Claim::Unknown);
                };
                let fp: String = r.try_get("fingerprint")?;
                let status: Option<i64> = r.try_get("status")?;
                let body: Option<String> = r.try_get("body")?;
                Ok(match (fp == fingerprint, status) {
                    (false, _) => Claim::Mismatch,
                    (true, None) => Claim::Unknown,
                    (true, Some(s)) => {
                        Claim::Replay(u16::try_from(s).unwrap_or(500), body.unwrap_or_default())
                    }
                })
            })
            .await
    }

    /// Drops signature keys (`s:`) that can no longer verify: older than `window`. At most
    /// once a minute per process; a failure is logged and retried at the next turn.
    pub async fn sweep_signatures(&self, window: time::Duration) {
        static LAST: AtomicI64 = AtomicI64::new(0);
        let now = now_ms();
        let last = LAST.load(Ordering::Relaxed);
        if now - last < SWEEP_EVERY_MS
            || LAST
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let before = now - i64::try_from(window.whole_milliseconds()).unwrap_or(i64::MAX / 2);
        let swept = self
            .0
            .run(move |pool| async move {
                sqlx::query("DELETE FROM idempotency WHERE key LIKE 's:%' AND created_at < $1")
                    .bind(before)
                    .execute(&pool)
                    .await
                    .map(drop)
            })
            .await;
        if let Err(e) = swept {
            tracing::warn!(error = %e, "could not sweep expired signature keys");
        }
    }

    /// Stores the first request's answer.
    pub async fn answer(&self, key: String, status: u16, body: String) -> Result<(), StoreError> {
        self.0
            .run(move |pool| async move {
                sqlx::query("UPDATE idempotency SET status = $1, body = $2 WHERE key = $3")
                    .bind(i64::from(status))
                    .bind(body)
                    .bind(key)
                    .execute(&pool)
                    .await
                    .map(drop)
            })
            .await
    }

    /// Frees a key whose request never reached the vendor.
    pub async fn free(&self, key: String) -> Result<(), StoreError> {
        self.0
            .run(move |pool| async move {
                sqlx::query("DELETE FROM idempotency WHERE key = $1 AND status IS NULL")
                    .bind(key)
                    .execute(&pool)
                    .await
                    .map(drop)
            })
            .await
    }
}

/// Inside a reconciliation transaction: the settled outcome becomes the key's answer, and
/// answered keys past their retention are dropped.
pub(crate) async fn settle_in(
    conn: &mut sqlx::AnyConnection,
    request_id: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    answer_in(conn, request_id, 200, body).await?;
    sqlx::query("DELETE FROM idempotency WHERE status IS NOT NULL AND created_at < $1")
        .bind(now_ms() - RETENTION_MS)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inside the caller's transaction: the keys a request claimed and left unanswered (its
/// outcome was unknown) get `status` and `body` as their answer.
pub(crate) async fn answer_in(
    conn: &mut sqlx::AnyConnection,
    request_id: &str,
    status: u16,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency SET status = $1, body = $2 WHERE request_id = $3 AND status IS NULL",
    )
    .bind(i64::from(status))
    .bind(body.to_owned())
    .bind(request_id.to_owned())
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// Inside the caller's transaction: frees the unanswered keys of a request that, as the
/// vendor's records show, moved nothing (a retry with its key may go ahead).
pub(crate) async fn free_in(
    conn: &mut sqlx::AnyConnection,
    request_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency WHERE request_id = $1 AND status IS NULL")
        .bind(request_id.to_owned())
        .execute(&mut *conn)
        .await
        .map(drop)
}
