//! Money calls whose outcome never came and that no ledger reservation or slice being issued
//! settles (fund adjustments, quota issues and reclaims, vouchers from undelegated quotas):
//! found by their unanswered idempotency keys, settled in one transaction from what the
//! vendor's records say, so their keys never stay in flight forever.

use super::audit::append_in;
use super::db::{Db, StoreError};
use super::funds;
use super::idempotency::{answer_in, free_in};
use super::sql::now_ms;
use crate::chain::record::{Entry, Record};
use crate::chain::sign::Signer;
use sqlx::Row;
use std::sync::Arc;

/// What the vendor's records say a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// It moved money: these vendor records (each explains this request only).
    Moved(Vec<String>),
    /// It moved nothing.
    Nothing,
    /// No vendor record can say (the operation has no records to read).
    Unresolvable,
}

/// The unknown-outcome calls.
pub struct OutcomeStore<'a>(pub(super) &'a Db);

impl OutcomeStore<'_> {
    /// Requests with idempotency keys claimed before `before` (Unix ms) and never answered,
    /// that no voucher reservation or slice being issued settles, with their audit intent.
    pub async fn unanswered(&self, before: i64) -> Result<Vec<Record>, StoreError> {
        self.0
            .run(move |pool| async move {
                let rows = sqlx::query(
                    "SELECT a.body FROM audit_records a WHERE a.kind = 'intent' \
                     AND a.request_id IN (SELECT DISTINCT i.request_id FROM idempotency i \
                        WHERE i.status IS NULL AND i.created_at < $1 \
                        AND NOT EXISTS (SELECT 1 FROM ledger_reservations r \
                                        WHERE r.id = i.request_id) \
                        AND NOT EXISTS (SELECT 1 FROM ledger_issuing s \
                                        WHERE s.request_id = i.request_id)) \
                     ORDER BY a.seq",
                )
                .bind(before)
                .fetch_all(&pool)
                .await?;
                let mut out: Vec<Record> = Vec::new();
                for r in rows {
                    let body: String = r.try_get("body")?;
                    let rec: Record = serde_json::from_str(&body)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    // One intent per request (a refused call's intent has no keys left).
                    if !out
                        .iter()
                        .any(|o| o.entry.request_id == rec.entry.request_id)
                    {
                        out.push(rec);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Vendor records already matched to a request, of these.
    pub async fn taken(&self, ids: Vec<String>) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.0
            .run(move |pool| async move {
                let sql = format!(
                    "SELECT record_id FROM reconciled_records WHERE record_id IN {}",
                    super::sql::values(1, ids.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(id);
                }
                q.fetch_all(&pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get("record_id"))
                    .collect()
            })
            .await
    }

    /// Settles one request: its vendor records taken, its fund holds settled, its keys
    /// answered (`answer`) or freed (nothing moved), and `outcome` written, in one
    /// transaction. False if a record was taken meanwhile (nothing written; the next run
    /// matches again) or the request was settled already.
    pub async fn settle(
        &self,
        request_id: String,
        found: Found,
        answer: (u16, String),
        outcome: Entry,
        signer: Arc<Signer>,
    ) -> Result<bool, StoreError> {
        self.0
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let open = sqlx::query(
                        "SELECT 1 FROM idempotency WHERE request_id = $1 AND status IS NULL",
                    )
                    .bind(request_id.clone())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if open.is_none() {
                        return Ok(false);
                    }
                    if let Found::Moved(records) = &found {
                        for id in records {
                            let won = sqlx::query(
                                "INSERT INTO reconciled_records (record_id, request_id, \
                                 created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            )
                            .bind(id.clone())
                            .bind(request_id.clone())
                            .bind(now_ms())
                            .execute(&mut *tx)
                            .await?;
                            if won.rows_affected() == 0 {
                                // Taken by another request meanwhile: roll back (the only
                                // `RowNotFound` this transaction raises).
                                return Err(sqlx::Error::RowNotFound);
                            }
                        }
                    }
                    let moved = match &found {
                        Found::Moved(_) => Some(true),
                        Found::Nothing => Some(false),
                        Found::Unresolvable => None,
                    };
                    if let Some(moved) = moved {
                        let grantees = funds::holding(tx, &request_id).await?;
                        funds::settle_in(tx, backend, &grantees, &request_id, moved).await?;
                    }
                    match found {
                        Found::Nothing => free_in(tx, &request_id).await?,
                        _ => answer_in(tx, &request_id, answer.0, &answer.1).await?,
                    }
                    append_in(tx, backend, vec![outcome], &signer).await?;
                    Ok(true)
                })
            })
            .await
            .or_else(|e| match e {
                StoreError::Database(sqlx::Error::RowNotFound) => Ok(false),
                e => Err(e),
            })
    }
}
