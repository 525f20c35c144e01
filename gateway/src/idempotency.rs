//! Idempotency for money-moving calls: a retried request with the same key (the
//! `X-Idempotency-Key` header, else the client's `X-Request-Id`) never moves money twice and
//! gets the first outcome back.
//!
//! The first request claims the key (atomically: an insert that only one can win) before
//! anything is reserved or forwarded. Its answer is stored when it is known; a retry while it
//! is unknown (in flight, or the connection dropped after sending) is refused with TG.3010
//! until reconciliation records what the vendor did. A failure before anything reached the
//! vendor frees the key for the retry.

use crate::store::{Store, StoreError, now_ms};
use ring::digest;
use sqlx::Row;

/// Keys are kept this long after their outcome.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest key accepted.
pub const MAX_KEY: usize = 128;

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

/// The stored key: the caller's partner and its key, hashed (keys are the client's text).
pub fn scoped(partner: &str, key: &str) -> String {
    hex::encode(digest::digest(
        &digest::SHA256,
        format!("{partner}\n{key}").as_bytes(),
    ))
}

/// A fingerprint of what was asked.
pub fn fingerprint(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [method.as_bytes(), path.as_bytes(), query.as_bytes(), body] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    hex::encode(ctx.finish())
}

/// The key a request carries, if any; an unusable one is an error message.
pub fn key_of(headers: &http::HeaderMap) -> Result<Option<String>, String> {
    let Some(v) = headers
        .get("x-idempotency-key")
        .or_else(|| headers.get("x-request-id"))
    else {
        return Ok(None);
    };
    let k = v
        .to_str()
        .map_err(|_| "the idempotency key is not visible ASCII".to_owned())?
        .trim();
    if k.is_empty() || k.len() > MAX_KEY {
        return Err(format!(
            "the idempotency key must have 1 to {MAX_KEY} characters"
        ));
    }
    Ok(Some(k.to_owned()))
}

impl Store {
    /// Claims a key for a request, or says what the first request with it got.
    pub async fn idempotency_claim(
        &self,
        key: String,
        fingerprint: String,
        request_id: String,
    ) -> Result<Claim, StoreError> {
        self.on_rt(move |pool| async move {
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
            let r = sqlx::query("SELECT fingerprint, status, body FROM idempotency WHERE key = $1")
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

    /// Stores the first request's answer.
    pub async fn idempotency_answer(
        &self,
        key: String,
        status: u16,
        body: String,
    ) -> Result<(), StoreError> {
        self.on_rt(move |pool| async move {
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
    pub async fn idempotency_free(&self, key: String) -> Result<(), StoreError> {
        self.on_rt(move |pool| async move {
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
    sqlx::query(
        "UPDATE idempotency SET status = 200, body = $1 WHERE request_id = $2 AND status IS NULL",
    )
    .bind(body.to_owned())
    .bind(request_id.to_owned())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM idempotency WHERE status IS NOT NULL AND created_at < $1")
        .bind(now_ms() - RETENTION_MS)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
