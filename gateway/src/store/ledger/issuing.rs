//! Slices issued upstream (the admin API's `issue_upstream`), atomically: the slice is granted
//! as [`Status::Issuing`] under the quota's lock, with the audit intent, before the vendor is
//! called, so its total is held on the parent and no concurrent grant can take it; the
//! vendor's answer then activates and links it, or withdraws it. When the answer never came,
//! reconciliation settles it from the vendor's quota records ([`Issuing`] rows).
//!
//! [`Status::Issuing`]: tiergate_policy::ledger::Status::Issuing

use super::requests::Change;
use super::rows::{Tree, link_in};
use crate::chain::record::Entry;
use crate::chain::sign::Signer;
use crate::store::audit::append_in;
use crate::store::db::StoreError;
use crate::store::idempotency::{answer_in, free_in};
use crate::store::sql::now_ms;
use rust_decimal::Decimal;
use sqlx::Row;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use tiergate_policy::ledger::GrantError;

/// A slice being issued, as stored.
#[derive(Debug, Clone)]
pub struct Issuing {
    /// The slice.
    pub node: String,
    /// The ledger quota (the distributor's vendor quota it is issued from).
    pub quota: String,
    /// Who it is issued to.
    pub reseller: String,
    /// How much.
    pub amount: Decimal,
    /// The request that issued it (its idempotency keys are answered with the outcome).
    pub request_id: String,
    /// When, Unix ms.
    pub created_at: i64,
}

/// How the vendor's answer (or its records) settles a slice being issued.
#[derive(Debug, Clone)]
pub enum Issued {
    /// Issued as this vendor quota of the reseller's.
    As(String),
    /// Not issued: the slice is withdrawn.
    Not,
}

/// What becomes of the issuing request's idempotency keys when it is settled.
#[derive(Debug, Clone)]
pub enum Keys {
    /// Nothing here: the request itself answers them.
    Leave,
    /// Reconciliation's answer: (status, body).
    Answer(u16, String),
    /// Reconciliation found nothing issued: freed, so a retry may go ahead.
    Free,
}

impl super::LedgerStore<'_> {
    /// Grants `grant` as a slice being issued and writes `records` (the audit intent and the
    /// grant), in one transaction under the quota's lock. A refused grant writes nothing.
    pub async fn begin_issue(
        &self,
        quota: &str,
        grant: Change,
        issuing: Issuing,
        records: Vec<Entry>,
        signer: Arc<Signer>,
    ) -> Result<Result<(), GrantError>, StoreError> {
        let Change::Grant {
            id,
            parent,
            grantee,
            limits,
        } = grant
        else {
            return Ok(Err(GrantError::NoParent("(a grant)".into())));
        };
        let quota = quota.to_owned();
        self.db
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let mut tree = Tree::open(tx, backend, &quota).await?;
                    let granted =
                        tree.after
                            .grant_issuing(&id, parent.as_deref(), &grantee, &quota, *limits);
                    if let Err(e) = granted {
                        return Ok(Err(e));
                    }
                    tree.save(tx, &quota, &BTreeMap::new()).await?;
                    sqlx::query(
                        "INSERT INTO ledger_issuing (node, quota_id, reseller, amount, \
                         request_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(issuing.node)
                    .bind(quota.clone())
                    .bind(issuing.reseller)
                    .bind(issuing.amount.to_string())
                    .bind(issuing.request_id)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
                    append_in(tx, backend, records, &signer).await?;
                    Ok(Ok(()))
                })
            })
            .await
    }

    /// Settles a slice being issued: activated and linked to its vendor quota, or withdrawn;
    /// `records` (the outcome) written and the issuing request's idempotency keys settled as
    /// `keys` says, in one transaction under the quota's lock. False
    /// if the slice was no longer being issued (settled already, by the request or by
    /// reconciliation): nothing is written then.
    pub async fn finish_issue(
        &self,
        issuing: &Issuing,
        issued: Issued,
        records: Vec<Entry>,
        keys: Keys,
        signer: Arc<Signer>,
    ) -> Result<bool, StoreError> {
        let i = issuing.clone();
        self.db
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let mut tree = Tree::open(tx, backend, &i.quota).await?;
                    let settled = match &issued {
                        Issued::As(_) => tree.after.issued(&i.node),
                        Issued::Not => tree.after.withdraw(&i.node),
                    };
                    if !settled {
                        return Ok(false);
                    }
                    tree.save(tx, &i.quota, &BTreeMap::new()).await?;
                    if let Issued::As(upstream) = &issued {
                        link_in(tx, upstream, &i.quota, &i.node).await?;
                    }
                    sqlx::query("DELETE FROM ledger_issuing WHERE node = $1")
                        .bind(i.node.clone())
                        .execute(&mut *tx)
                        .await?;
                    match &keys {
                        Keys::Leave => {}
                        Keys::Answer(status, body) => {
                            answer_in(tx, &i.request_id, *status, body).await?;
                        }
                        Keys::Free => free_in(tx, &i.request_id).await?,
                    }
                    append_in(tx, backend, records, &signer).await?;
                    Ok(true)
                })
            })
            .await
    }

    /// Slices issued before `before` (Unix ms) whose vendor answer never came.
    pub async fn issuing(&self, before: i64) -> Result<Vec<Issuing>, StoreError> {
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query(
                    "SELECT node, quota_id, reseller, amount, request_id, created_at \
                     FROM ledger_issuing WHERE created_at < $1 ORDER BY created_at",
                )
                .bind(before)
                .fetch_all(&pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let amount: String = r.try_get("amount")?;
                        Ok(Issuing {
                            node: r.try_get("node")?,
                            quota: r.try_get("quota_id")?,
                            reseller: r.try_get("reseller")?,
                            amount: Decimal::from_str(&amount)
                                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                            request_id: r.try_get("request_id")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect()
            })
            .await
    }
}
