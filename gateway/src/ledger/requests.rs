//! Voucher requests against the ledger: the reservation is made in the same transaction as
//! the audit intent (a reservation never exists without its trail), and settled in the same
//! transaction as the audit outcome.

use super::batch::{Done, Op};
use crate::audit::record::Entry;
use crate::audit::sign::Signer;
use crate::store::{Store, StoreError, chunked, now_ms, values};
use rust_decimal::Decimal;
use sqlx::Row;
use std::sync::Arc;
use tiergate_policy::ledger::{Refusal, VoucherRequest};

/// A voucher request as the gateway saw it.
pub struct VoucherAsk {
    /// The `quota_id` of the request (the vendor quota the vouchers come from).
    pub upstream_quota: String,
    /// The partner the call acts as upstream (whose slice it draws on).
    pub acting: String,
    /// The staff member calling, if a staff credential calls.
    pub staff: Option<String>,
    /// What it asks for.
    pub request: VoucherRequest,
    /// The reservation's id (the request id, or the idempotency key's first request id).
    pub reservation_id: String,
}

/// A reservation held for a request in flight.
#[derive(Debug, Clone)]
pub struct Hold {
    /// The ledger (the quota whose tree the slice is in).
    pub quota: String,
    /// The slice.
    pub node: String,
    /// The reservation.
    pub reservation: String,
    /// Its amount.
    pub amount: Decimal,
    /// The vendor quota the vouchers come from.
    pub upstream_quota: String,
    /// The partner it acts as upstream.
    pub acting: String,
}

/// What the ledger decided.
#[derive(Debug)]
pub enum Reserved {
    /// The quota is not delegated: nothing to hold; the intent is written.
    Undelegated,
    /// Held; the intent is written in the same transaction.
    Held(Hold),
    /// Refused by the ledger; nothing is written.
    Refused(Refusal),
}

/// How the vendor's answer settles a reservation.
#[derive(Debug)]
pub enum Settle {
    /// Vouchers issued: (customer, coupon id). Customers not listed are released.
    Issued(Vec<(String, String)>),
    /// Nothing issued (the vendor refused, or the call never reached it).
    Release,
    /// Unknown (the connection dropped after sending): held until reconciliation decides.
    Pending,
}

/// Where a request's quota lives in the ledger: (ledger quota, anchor slice).
pub(crate) async fn resolve(
    conn: &mut sqlx::AnyConnection,
    upstream_quota: &str,
) -> Result<(String, Option<String>), sqlx::Error> {
    let alias = sqlx::query("SELECT quota_id, node FROM ledger_aliases WHERE upstream_quota = $1")
        .bind(upstream_quota.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match alias {
        Some(r) => (r.try_get("quota_id")?, Some(r.try_get("node")?)),
        None => (upstream_quota.to_owned(), None),
    })
}

impl Store {
    /// Reserves a voucher request on the caller's slice and writes the audit intent, in one
    /// transaction (shared with the requests that arrive meanwhile: see [`super::batch`]).
    pub async fn ledger_reserve(
        &self,
        ask: VoucherAsk,
        intent: Entry,
        signer: Arc<Signer>,
    ) -> Result<Reserved, StoreError> {
        match self
            .ledger_batched(Op::Reserve(ask, intent), signer)
            .await?
        {
            Done::Reserved(r) => Ok(r),
            Done::Settled => Err(StoreError::Stopped),
        }
    }

    /// Settles a held reservation from the vendor's answer and writes the audit outcome, in
    /// one transaction (shared likewise).
    pub async fn ledger_settle(
        &self,
        hold: Hold,
        settle: Settle,
        outcome: Entry,
        signer: Arc<Signer>,
    ) -> Result<(), StoreError> {
        match self
            .ledger_batched(Op::Settle(hold, settle, outcome), signer)
            .await?
        {
            Done::Settled => Ok(()),
            Done::Reserved(_) => Err(StoreError::Stopped),
        }
    }
}

/// A voucher issued through a slice: the hold it came from, the customer, the coupon id and
/// the face value.
pub(crate) type IssuedCoupon = (Hold, String, String, Decimal);

/// Records which slice each voucher came from (once per voucher: a repeated settlement changes
/// nothing), several per statement.
pub(crate) async fn insert_coupons(
    conn: &mut sqlx::AnyConnection,
    coupons: &[IssuedCoupon],
) -> Result<(), sqlx::Error> {
    let size = |c: &&IssuedCoupon| c.1.len() + c.2.len() + 256;
    for rows in chunked(coupons.iter().collect(), size) {
        let sql = format!(
            "INSERT INTO ledger_coupons (coupon_id, quota_id, node, customer_id, face_value, \
             request_id, upstream_quota, acting, issued_at) VALUES {} \
             ON CONFLICT (coupon_id) DO NOTHING",
            values(rows.len(), 9)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (hold, customer, coupon, face_value) in rows {
            q = q
                .bind(coupon.clone())
                .bind(hold.quota.clone())
                .bind(hold.node.clone())
                .bind(customer.clone())
                .bind(face_value.to_string())
                .bind(hold.reservation.clone())
                .bind(hold.upstream_quota.clone())
                .bind(hold.acting.clone())
                .bind(now_ms());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Notes that a voucher was reclaimed through Tiergate; reconciliation credits what the
    /// vendor returned to the slice it came from. Returns whether the voucher is the ledger's.
    pub async fn ledger_reclaim_seen(&self, coupon: &str) -> Result<bool, StoreError> {
        let coupon = coupon.to_owned();
        self.on_rt(move |pool| async move {
            let done = sqlx::query(
                "UPDATE ledger_coupons SET reclaim_seen = $1 WHERE coupon_id = $2 AND reclaim_seen IS NULL",
            )
            .bind(now_ms())
            .bind(coupon)
            .execute(&pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }
}
