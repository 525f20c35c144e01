//! Fund adjustment caps in the database: each grantee's account is changed under its lock,
//! the hold written in the same transaction as the audit intent and settled with the outcome.

use super::audit::append_in;
use super::db::{Backend, Db, StoreError};
use super::sql::{lock, now_ms};
use crate::chain::record::{Entry, Kind};
use crate::chain::sign::Signer;
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;
use tiergate_policy::ledger::funds::{Caps, Direction, FundAccount, FundRefusal};

/// The lock of a grantee's account (distinct from any quota's).
fn lock_name(grantee: &str) -> String {
    format!("funds:{grantee}")
}

async fn load(
    conn: &mut sqlx::AnyConnection,
    grantee: &str,
) -> Result<Option<FundAccount>, sqlx::Error> {
    let r = sqlx::query("SELECT account FROM fund_accounts WHERE grantee = $1")
        .bind(grantee.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    r.map(|r| {
        let json: String = r.try_get("account")?;
        serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    })
    .transpose()
}

async fn save(
    conn: &mut sqlx::AnyConnection,
    grantee: &str,
    a: &FundAccount,
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(a).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO fund_accounts (grantee, account, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (grantee) DO UPDATE SET account = excluded.account, updated_at = excluded.updated_at",
    )
    .bind(grantee.to_owned())
    .bind(json)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// A grantee's account, locked for the rest of the transaction (none: no caps yet).
async fn locked(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    grantee: &str,
) -> Result<Option<FundAccount>, sqlx::Error> {
    lock(conn, backend, &lock_name(grantee)).await?;
    load(conn, grantee).await
}

/// Inside the caller's transaction: settles the hold `id` on each of `grantees`' accounts,
/// each under its lock (`moved`: kept counted; else released).
pub(crate) async fn settle_in(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    grantees: &[String],
    id: &str,
    moved: bool,
) -> Result<(), sqlx::Error> {
    for g in grantees {
        if let Some(mut a) = locked(conn, backend, g).await? {
            a.settle(id, moved);
            save(conn, g, &a).await?;
        }
    }
    Ok(())
}

/// Inside the caller's transaction: the grantees holding request `id` on their accounts (a
/// hold is keyed by its request id, a 32-hex value no other part of an account's document can
/// contain), in lock order.
pub(crate) async fn holding(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT grantee FROM fund_accounts WHERE account LIKE $1 ORDER BY grantee")
        .bind(format!("%\"{id}\"%"))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("grantee"))
        .collect()
}

/// What the caps decided for a fund adjustment.
#[derive(Debug)]
pub enum FundReserved {
    /// No caps for these grantees: the intent is written.
    Uncapped,
    /// Held on these grantees' accounts; the intent is written in the same transaction.
    Held(Vec<String>),
    /// Refused; nothing written.
    Refused(FundRefusal),
}

/// The fund accounts.
pub struct FundStore<'a>(pub(super) &'a Db);

impl FundStore<'_> {
    /// Holds a fund adjustment on every capped grantee (the partner, and the staff member
    /// calling) and writes the audit intent, in one transaction.
    pub async fn reserve(
        &self,
        grantees: Vec<String>,
        id: String,
        direction: Direction,
        amount: Decimal,
        intent: Entry,
        signer: Arc<Signer>,
    ) -> Result<FundReserved, StoreError> {
        self.0
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let mut sorted = grantees.clone();
                    sorted.sort();
                    let mut accounts = BTreeMap::new();
                    for g in &sorted {
                        if let Some(a) = locked(tx, backend, g).await? {
                            accounts.insert(g.clone(), a);
                        }
                    }
                    if accounts.is_empty() {
                        append_in(tx, backend, vec![intent], &signer).await?;
                        return Ok(FundReserved::Uncapped);
                    }
                    let now = time::OffsetDateTime::now_utc();
                    for (g, a) in accounts.iter_mut() {
                        if let Err(r) = a.reserve(g, &id, direction, amount, now) {
                            return Ok(FundReserved::Refused(r));
                        }
                    }
                    for (g, a) in &accounts {
                        save(tx, g, a).await?;
                    }
                    append_in(tx, backend, vec![intent], &signer).await?;
                    Ok(FundReserved::Held(accounts.into_keys().collect()))
                })
            })
            .await
    }

    /// Settles a hold (`Some(true)`: the funds moved; `Some(false)`: they did not; `None`:
    /// unknown, kept counted against the caps) and writes the audit outcome, in one transaction.
    pub async fn settle(
        &self,
        grantees: Vec<String>,
        id: String,
        moved: Option<bool>,
        outcome: Entry,
        signer: Arc<Signer>,
    ) -> Result<(), StoreError> {
        self.0
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    if let Some(moved) = moved {
                        settle_in(tx, backend, &grantees, &id, moved).await?;
                    }
                    append_in(tx, backend, vec![outcome], &signer).await?;
                    Ok(())
                })
            })
            .await
    }

    /// Sets a grantee's caps for one direction, with its audit record, in one transaction.
    pub async fn set_caps(
        &self,
        grantee: String,
        direction: Direction,
        caps: Caps,
        source: String,
        signer: Arc<Signer>,
    ) -> Result<(), StoreError> {
        self.0
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let mut a = locked(tx, backend, &grantee).await?.unwrap_or_default();
                    a.set_caps(direction, caps.clone());
                    save(tx, &grantee, &a).await?;
                    let entry = Entry {
                        kind: Some(Kind::Delegation),
                        operation: Some("fund_caps".into()),
                        acting: Some(grantee.clone()),
                        outcome: Some("ok".into()),
                        source: Some(source),
                        detail: json!({"grantee": grantee, "direction": direction, "caps": caps}),
                        ..Entry::default()
                    };
                    append_in(tx, backend, vec![entry], &signer).await?;
                    Ok(())
                })
            })
            .await
    }

    /// A grantee's account.
    pub async fn view(&self, grantee: &str) -> Result<Option<FundAccount>, StoreError> {
        let g = grantee.to_owned();
        self.0
            .run(move |pool| async move {
                let mut conn = pool.acquire().await?;
                load(&mut conn, &g).await
            })
            .await
    }
}
