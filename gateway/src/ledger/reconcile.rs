//! Reconciliation: settles what the request path could not, from the vendor's voucher
//! records, so the ledger ends equal to what the vendor did. Reservations whose outcome is
//! unknown (connection dropped after sending, gateway killed mid-call) are committed for the
//! vouchers the vendor issued and released for the rest; reclaimed vouchers credit what the
//! vendor returned to the quota back to the slice they came from.
//!
//! Only reservations older than the in-flight horizon are settled: a younger one may still
//! get its answer on the request path.

use super::requests::{Hold, insert_coupons};
use super::{load, lock, save};
use crate::audit::Audit;
use crate::audit::record::{Entry, Kind};
use crate::audit::store::append_in;
use crate::filters::resign::UpstreamKey;
use crate::graph::sync::{COUPON_RECORDS, list_filtered};
use crate::store::{Store, StoreError, now_ms};
use crate::upstream::{CallError, UpstreamClient};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tiergate_policy::ledger::{Reservation, exact};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long a call may still be in flight: twice the upstream timeout and a minute. Older
/// reservations are reconciled, older intents without an outcome marked unknown.
pub fn in_flight(upstream_timeout: Duration) -> Duration {
    upstream_timeout * 2 + Duration::from_secs(60)
}

/// Vendor and gateway clocks may disagree by this much when matching records to reservations.
const CLOCK_SLACK_MS: i64 = 5 * 60 * 1000;

/// What a reconciliation run did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Pending reservations settled.
    pub reservations: usize,
    /// Of those, the amount the vendor had issued (committed).
    pub issued: Decimal,
    /// And the amount it had not (released).
    pub released: Decimal,
    /// Reclaims credited back to their slices.
    pub reclaims: usize,
    /// The amount credited.
    pub credited: Decimal,
    /// Vouchers the vendor issued from a delegated quota that no reservation explains
    /// (issued outside Tiergate); reported, not charged to any slice.
    pub unattributed: Vec<String>,
}

/// A failed run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The ledger could not be read or written.
    #[error("ledger: {0}")]
    Store(#[from] StoreError),
    /// The vendor's records could not be read.
    #[error("vendor records: {0}")]
    Vendor(#[from] CallError),
}

/// One of the vendor's voucher records.
#[derive(Debug, Clone)]
struct VendorRecord {
    operation: String,
    coupon: String,
    customer: String,
    amount: Decimal,
    at_ms: i64,
}

impl VendorRecord {
    fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let at = OffsetDateTime::parse(&s("operation_time")?, &Rfc3339).ok()?;
        Some(Self {
            operation: s("operation_type")?,
            coupon: s("coupon_id")?,
            customer: s("customer_id").unwrap_or_default(),
            amount: v.get("operation_amount").and_then(exact)?,
            at_ms: crate::store::unix_ms(at),
        })
    }
}

#[derive(Clone)]
struct Pending {
    id: String,
    quota: String,
    reservation: Reservation,
    created_at: i64,
    upstream_quota: String,
    acting: String,
}

#[derive(Clone)]
struct Open {
    coupon: String,
    quota: String,
    node: String,
    upstream_quota: String,
    acting: String,
}

/// The reconciler: a background task in `serve`, and `tiergate ledger reconcile`.
pub struct Reconciler {
    /// The ledger's store (the audit log's database).
    pub audit: Audit,
    /// The partner API.
    pub client: UpstreamClient,
    /// The distributor's vendor key.
    pub key: UpstreamKey,
    /// The distributor's partner id (its own quotas are listed without acting for anyone).
    pub distributor: String,
    /// Reservations younger than this may still be in flight and are left alone.
    pub horizon: Duration,
}

impl Reconciler {
    /// One run. Vouchers reclaimed through Tiergate are credited in every run; `full` also
    /// looks for reclaims made elsewhere (the vendor console), reading every delegated
    /// quota's records.
    pub async fn run(&self, full: bool) -> Result<Report, ReconcileError> {
        let store = self.audit.store().clone();
        let horizon = i64::try_from(self.horizon.as_millis()).unwrap_or(i64::MAX);
        let (pending, open) = store.ledger_unsettled(now_ms() - horizon, full).await?;
        // The vendor's records, once per (quota, account) concerned.
        let mut sources: BTreeSet<(String, String)> = BTreeSet::new();
        sources.extend(
            pending
                .iter()
                .map(|p| (p.upstream_quota.clone(), p.acting.clone())),
        );
        sources.extend(
            open.iter()
                .map(|o| (o.upstream_quota.clone(), o.acting.clone())),
        );
        let mut records: BTreeMap<String, Vec<VendorRecord>> = BTreeMap::new();
        for (quota, acting) in sources {
            let on_behalf = (acting != self.distributor).then_some(acting.as_str());
            let filter = format!("&quota_id={}", urlencode(&quota));
            let items =
                list_filtered(&self.client, &self.key, &COUPON_RECORDS, on_behalf, &filter).await?;
            records
                .entry(quota)
                .or_default()
                .extend(items.iter().filter_map(VendorRecord::from_json));
        }
        let mut report = Report::default();
        let quotas: BTreeSet<String> = pending
            .iter()
            .map(|p| p.quota.clone())
            .chain(open.iter().map(|o| o.quota.clone()))
            .collect();
        for quota in quotas {
            let p: Vec<Pending> = pending
                .iter()
                .filter(|p| p.quota == quota)
                .cloned()
                .collect();
            let o: Vec<Open> = open.iter().filter(|o| o.quota == quota).cloned().collect();
            settle_quota(&self.audit, &quota, p, o, &records, &mut report).await?;
        }
        Ok(report)
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn settle_quota(
    audit: &Audit,
    quota: &str,
    pending: Vec<Pending>,
    open: Vec<Open>,
    records: &BTreeMap<String, Vec<VendorRecord>>,
    report: &mut Report,
) -> Result<(), StoreError> {
    let store = audit.store().clone();
    let backend = store.backend();
    let signer = audit.signer();
    let quota = quota.to_owned();
    let sources: BTreeSet<String> = pending
        .iter()
        .map(|p| p.upstream_quota.clone())
        .chain(open.iter().map(|o| o.upstream_quota.clone()))
        .collect();
    // Only this ledger's vendor quotas go into the transaction.
    let records: BTreeMap<String, Vec<VendorRecord>> = sources
        .iter()
        .filter_map(|q| records.get(q).map(|r| (q.clone(), r.clone())))
        .collect();
    let part = store
        .on_rt(move |pool| async move {
            let mut part = Report::default();
            let mut tx = pool.begin().await?;
            lock(&mut tx, backend, &quota).await?;
            let before = load(&mut tx, &quota).await?;
            let mut after = before.clone();
            let mut known: BTreeSet<String> = BTreeSet::new();
            for r in sqlx::query("SELECT coupon_id FROM ledger_coupons WHERE quota_id = $1")
                .bind(quota.clone())
                .fetch_all(&mut *tx)
                .await?
            {
                known.insert(r.try_get("coupon_id")?);
            }
            let mut entries = Vec::new();
            for Pending {
                id,
                reservation: r,
                created_at,
                upstream_quota,
                acting,
                ..
            } in pending
            {
                if after.reservation(&id).is_none() {
                    continue; // settled on the request path meanwhile
                }
                let issued_here = records.get(&upstream_quota).map_or(&[][..], Vec::as_slice);
                let mut matched: Vec<(String, String)> = Vec::new();
                for customer in &r.customers {
                    let hit = issued_here.iter().find(|v| {
                        v.operation == "1"
                            && v.customer == *customer
                            && v.amount == r.face_value
                            && v.at_ms >= created_at - CLOCK_SLACK_MS
                            && !known.contains(&v.coupon)
                    });
                    if let Some(v) = hit {
                        known.insert(v.coupon.clone());
                        matched.push((customer.clone(), v.coupon.clone()));
                    }
                }
                let customers: Vec<String> = matched.iter().map(|(c, _)| c.clone()).collect();
                let used = after.commit(&id, &customers);
                let released = r.amount() - used;
                let hold = Hold {
                    quota: quota.clone(),
                    node: r.node.clone(),
                    reservation: id.clone(),
                    amount: r.amount(),
                    upstream_quota,
                    acting: acting.clone(),
                };
                let issued: Vec<_> = matched
                    .iter()
                    .map(|(c, k)| (hold.clone(), c.clone(), k.clone(), r.face_value))
                    .collect();
                insert_coupons(&mut tx, &issued).await?;
                // A client retrying with the same idempotency key gets this as the answer.
                let infos: Vec<Value> = matched
                    .iter()
                    .map(|(c, k)| json!({"id": c, "coupon_id": k}))
                    .collect();
                let errors: Vec<Value> = r
                    .customers
                    .iter()
                    .filter(|c| !customers.contains(c))
                    .map(|c| json!({"id": c, "error_code": "TG.3009",
                        "error_msg": "the vendor did not issue this voucher (settled by reconciliation)"}))
                    .collect();
                let answer = json!({"coupon_infos": infos, "error_details": errors});
                crate::idempotency::settle_in(&mut tx, &id, &answer.to_string()).await?;
                part.reservations += 1;
                part.issued += used;
                part.released += released;
                entries.push(Entry {
                    kind: Some(Kind::Outcome),
                    request_id: Some(id.clone()),
                    operation: Some("create_partner_coupons".into()),
                    acting: Some(acting),
                    customers: r.customers.clone(),
                    amount: Some(r.amount().to_string()),
                    currency: Some("CNY".into()),
                    outcome: Some("reconciled".into()),
                    source: Some("reconciliation".into()),
                    detail: json!({"delegation": {"quota_id": quota, "slice": r.node,
                        "reservation": id, "state": "settled", "used": used.to_string(),
                        "released": released.to_string()},
                        "coupon_infos": matched.iter().map(|(c, k)| json!({"id": c, "coupon_id": k})).collect::<Vec<_>>()}),
                    ..Entry::default()
                });
            }
            for Open {
                coupon,
                node,
                upstream_quota,
                ..
            } in open
            {
                let reclaim = records
                    .get(&upstream_quota)
                    .and_then(|rs| rs.iter().find(|v| v.operation == "2" && v.coupon == coupon));
                let Some(v) = reclaim else { continue };
                // Claimed under the quota's lock: another run may have credited it meanwhile.
                let claimed = sqlx::query(
                    "UPDATE ledger_coupons SET reclaimed = $1 WHERE coupon_id = $2 AND reclaimed IS NULL",
                )
                .bind(v.amount.to_string())
                .bind(coupon.clone())
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    continue;
                }
                let credit = after.reclaim(&node, v.amount);
                part.reclaims += 1;
                part.credited += credit;
                entries.push(Entry {
                    kind: Some(Kind::Delegation),
                    operation: Some("reclaim_credit".into()),
                    acting: Some(node.clone()),
                    amount: Some(credit.to_string()),
                    currency: Some("CNY".into()),
                    outcome: Some("ok".into()),
                    source: Some("reconciliation".into()),
                    detail: json!({"quota_id": quota, "delegation": node, "coupon_id": coupon,
                                   "credited": credit.to_string()}),
                    ..Entry::default()
                });
            }
            for rs in sources.iter().filter_map(|q| records.get(q)) {
                part.unattributed.extend(
                    rs.iter()
                        .filter(|v| v.operation == "1" && !known.contains(&v.coupon))
                        .map(|v| v.coupon.clone()),
                );
            }
            if after != before {
                save(&mut tx, &quota, before, after).await?;
            }
            if !entries.is_empty() {
                append_in(&mut tx, backend, entries, &signer).await?;
            }
            tx.commit().await?;
            Ok(part)
        })
        .await?;
    report.reservations += part.reservations;
    report.issued += part.issued;
    report.released += part.released;
    report.reclaims += part.reclaims;
    report.credited += part.credited;
    report.unattributed.extend(part.unattributed);
    Ok(())
}

impl Store {
    /// Reservations created before `before` (Unix ms) and vouchers not yet reclaimed.
    async fn ledger_unsettled(
        &self,
        before: i64,
        full: bool,
    ) -> Result<(Vec<Pending>, Vec<Open>), StoreError> {
        self.on_rt(move |pool| async move {
            let mut pending = Vec::new();
            for r in sqlx::query(
                "SELECT id, quota_id, reservation, created_at, upstream_quota, acting \
                 FROM ledger_reservations WHERE created_at < $1 AND upstream_quota IS NOT NULL",
            )
            .bind(before)
            .fetch_all(&pool)
            .await?
            {
                let json: String = r.try_get("reservation")?;
                pending.push(Pending {
                    id: r.try_get("id")?,
                    quota: r.try_get("quota_id")?,
                    reservation: serde_json::from_str(&json)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    created_at: r.try_get("created_at")?,
                    upstream_quota: r.try_get("upstream_quota")?,
                    acting: r.try_get("acting")?,
                });
            }
            let mut open = Vec::new();
            for r in sqlx::query(
                "SELECT coupon_id, quota_id, node, upstream_quota, acting FROM ledger_coupons \
                 WHERE reclaimed IS NULL AND (reclaim_seen IS NOT NULL OR $1 = 1)",
            )
            .bind(i64::from(full))
            .fetch_all(&pool)
            .await?
            {
                open.push(Open {
                    coupon: r.try_get("coupon_id")?,
                    quota: r.try_get("quota_id")?,
                    node: r.try_get("node")?,
                    upstream_quota: r.try_get("upstream_quota")?,
                    acting: r.try_get("acting")?,
                });
            }
            Ok((pending, open))
        })
        .await
    }
}

/// Reconciliation in the background: every minute, and at once when a reclaim is noted.
pub struct Service {
    /// The reconciler.
    pub reconciler: Reconciler,
    /// Wakes it early.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
    /// Time between runs.
    pub interval: Duration,
}

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Service {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            match self.reconciler.run(false).await {
                Ok(r) if r.reservations > 0 || r.reclaims > 0 => tracing::info!(
                    reservations = r.reservations, issued = %r.issued, released = %r.released,
                    reclaims = r.reclaims, credited = %r.credited, "ledger reconciled"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "ledger reconciliation failed; retrying next run")
                }
            }
        }
    }
}
