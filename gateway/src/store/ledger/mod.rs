//! The delegation ledger in the database, strongly consistent across gateway processes.
//!
//! Each operation on a quota's tree runs in one transaction holding that quota's lock
//! (a PostgreSQL advisory lock; SQLite is the single-node embedded default): load the tree and
//! the reservations in flight, apply the pure ledger's operation, write back what changed.
//! Every decision is the pure ledger's (`tiergate_policy::ledger`); this adds only
//! durability and mutual exclusion. Voucher reservations and settlements are written with
//! their audit records in the same transaction, group-committed ([`batch`]).

pub(crate) mod batch;
pub mod issuing;
pub mod reconcile;
pub mod requests;
mod rows;

use super::audit::append_in;
use super::db::{Db, StoreError};
use super::sql::now_ms;
use crate::chain::record::{Entry, Kind};
use crate::chain::sign::Signer;
use batch::{Batcher, Done, Op};
use reconcile::{Open, Pending, Records, Report};
use requests::{Author, Change, Hold, Reserved, Settle, VoucherAsk};
use rows::Tree;
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;
use tiergate_policy::ledger::{GrantError, Ledger, Reservation};

/// The ledger tables.
pub struct LedgerStore<'a> {
    pub(super) db: &'a Db,
    pub(super) batch: &'a Batcher,
}

impl LedgerStore<'_> {
    /// The ledger of a quota as it stands (for views; decisions go through
    /// [`LedgerStore::apply`]).
    pub async fn view(&self, quota: &str) -> Result<Ledger, StoreError> {
        let quota = quota.to_owned();
        self.db
            .run(move |pool| async move {
                let mut conn = pool.acquire().await?;
                rows::load(&mut conn, &quota).await
            })
            .await
    }

    /// Applies `f` to a quota's ledger under its lock, atomically, and returns its result.
    pub async fn apply<T, F>(&self, quota: &str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> T + Send + 'static,
    {
        let quota = quota.to_owned();
        self.db
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let mut tree = Tree::open(tx, backend, &quota).await?;
                    let out = f(&mut tree.after);
                    tree.save(tx, &quota, &BTreeMap::new()).await?;
                    Ok(out)
                })
            })
            .await
    }

    /// Reserves a voucher request on the caller's slice and writes the audit intent, in one
    /// transaction (shared with the requests that arrive meanwhile: see [`batch`]).
    pub async fn reserve(
        &self,
        ask: VoucherAsk,
        intent: Entry,
        signer: Arc<Signer>,
    ) -> Result<Reserved, StoreError> {
        match self
            .batch
            .run(self.db, signer, Op::Reserve(ask, intent))
            .await?
        {
            Done::Reserved(r) => Ok(r),
            Done::Settled => Err(StoreError::Stopped),
        }
    }

    /// Settles a held reservation from the vendor's answer and writes the audit outcome, in
    /// one transaction (shared likewise).
    pub async fn settle(
        &self,
        hold: Hold,
        settle: Settle,
        outcome: Entry,
        signer: Arc<Signer>,
    ) -> Result<(), StoreError> {
        let op = Op::Settle(hold, settle, outcome);
        match self.batch.run(self.db, signer, op).await? {
            Done::Settled => Ok(()),
            Done::Reserved(_) => Err(StoreError::Stopped),
        }
    }

    /// Notes that a voucher was reclaimed through Tiergate; reconciliation credits what the
    /// vendor returned to the slice it came from. Returns whether the voucher is the ledger's.
    pub async fn reclaim_seen(&self, coupon: &str) -> Result<bool, StoreError> {
        let coupon = coupon.to_owned();
        self.db
            .run(move |pool| async move {
                let done = sqlx::query(
                    "UPDATE ledger_coupons SET reclaim_seen = $1 \
                     WHERE coupon_id = $2 AND reclaim_seen IS NULL",
                )
                .bind(now_ms())
                .bind(coupon)
                .execute(&pool)
                .await?;
                Ok(done.rows_affected() > 0)
            })
            .await
    }

    /// The voucher reservations held now: how many, their total face value and when the
    /// oldest was made (Unix ms), for the metrics.
    pub async fn holds(&self) -> Result<(usize, Decimal, Option<i64>), StoreError> {
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query("SELECT reservation, created_at FROM ledger_reservations")
                    .fetch_all(&pool)
                    .await?;
                let mut total = Decimal::ZERO;
                let mut oldest: Option<i64> = None;
                for r in &rows {
                    let json: String = r.try_get("reservation")?;
                    let held: Reservation = serde_json::from_str(&json)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    total += held.amount();
                    let at: i64 = r.try_get("created_at")?;
                    oldest = Some(oldest.map_or(at, |o| o.min(at)));
                }
                Ok((rows.len(), total, oldest))
            })
            .await
    }

    /// The quotas that have a delegation tree.
    pub async fn quotas(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .run(move |pool| async move {
                sqlx::query("SELECT DISTINCT quota_id FROM ledger_nodes ORDER BY quota_id")
                    .fetch_all(&pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get("quota_id"))
                    .collect()
            })
            .await
    }

    /// The vendor quotas issued for slices of `quota`: (upstream quota, slice).
    pub async fn links(&self, quota: &str) -> Result<Vec<(String, String)>, StoreError> {
        let q = quota.to_owned();
        self.db
            .run(move |pool| async move {
                sqlx::query(
                    "SELECT upstream_quota, node FROM ledger_aliases WHERE quota_id = $1 \
                     ORDER BY node",
                )
                .bind(q)
                .fetch_all(&pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("upstream_quota")?, r.try_get("node")?)))
                .collect()
            })
            .await
    }

    /// Applies a change to `quota`'s tree and writes its audit record, in one transaction.
    /// A refused change writes nothing. `upstream_quota` links the slice to the reseller's own
    /// vendor quota it was issued as.
    pub async fn change(
        &self,
        quota: &str,
        change: Change,
        upstream_quota: Option<String>,
        author: Author,
        signer: Arc<Signer>,
    ) -> Result<Result<(), GrantError>, StoreError> {
        let quota = quota.to_owned();
        self.db
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let mut tree = Tree::open(tx, backend, &quota).await?;
                    let (id, operation) = (change.id().to_owned(), change.operation());
                    let mut detail =
                        json!({"quota_id": quota, "delegation": id, "change": change.detail()});
                    if let Err(e) = change.apply(&quota, &mut tree.after) {
                        return Ok(Err(e));
                    }
                    tree.save(tx, &quota, &BTreeMap::new()).await?;
                    if let Some(u) = &upstream_quota {
                        rows::link_in(tx, u, &quota, &id).await?;
                        detail["upstream_quota"] = json!(u);
                    }
                    let entry = Entry {
                        kind: Some(Kind::Delegation),
                        operation: Some(operation.to_owned()),
                        principal: author.principal,
                        tier: author.tier,
                        credential: author.credential,
                        acting: Some(id),
                        outcome: Some("ok".into()),
                        source: author.source,
                        detail,
                        ..Entry::default()
                    };
                    append_in(tx, backend, vec![entry], &signer).await?;
                    Ok(Ok(()))
                })
            })
            .await
    }

    /// Reservations created before `before` (Unix ms), and vouchers not yet credited as
    /// reclaimed (every one with `full`, else those a reclaim through Tiergate was seen for).
    pub async fn unsettled(
        &self,
        before: i64,
        full: bool,
    ) -> Result<(Vec<Pending>, Vec<Open>), StoreError> {
        reconcile::unsettled(self.db, before, full).await
    }

    /// Settles one quota's `pending` reservations and `open` vouchers from the vendor's
    /// `records` of the vendor quotas concerned, with their audit records, in one transaction.
    pub async fn reconcile(
        &self,
        quota: &str,
        pending: Vec<Pending>,
        open: Vec<Open>,
        records: Records,
        signer: Arc<Signer>,
    ) -> Result<Report, StoreError> {
        reconcile::settle_quota(self.db, signer, quota, pending, open, records).await
    }
}
