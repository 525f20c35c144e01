//! Reconciliation: settles what the request path could not, from the vendor's voucher
//! records, so the ledger ends equal to what the vendor did. Reservations whose outcome is
//! unknown (connection dropped after sending, gateway killed mid-call) are committed for the
//! vouchers the vendor issued and released for the rest; reclaimed vouchers credit what the
//! vendor returned to the quota back to the slice they came from.
//!
//! Only reservations older than the in-flight horizon are settled: a younger one may still
//! get its answer on the request path.

use crate::audit::Audit;
use crate::credentials::UpstreamKey;
use crate::graph::sync::{COUPON_RECORDS, list_filtered};
use crate::store::ledger::reconcile::{Records, VendorRecord};
use crate::store::{StoreError, now_ms, unix_ms};
use crate::upstream::{CallError, UpstreamClient};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tiergate_policy::ledger::exact;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use crate::store::ledger::reconcile::Report;

/// How long a call may still be in flight: twice the upstream timeout and a minute. Older
/// reservations are reconciled, older intents without an outcome marked unknown.
pub fn in_flight(upstream_timeout: Duration) -> Duration {
    upstream_timeout * 2 + Duration::from_secs(60)
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

/// One of the vendor's voucher records, as its list operation answers it.
pub(crate) fn vendor_record(v: &Value) -> Option<VendorRecord> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let at = OffsetDateTime::parse(&s("operation_time")?, &Rfc3339).ok()?;
    Some(VendorRecord {
        operation: s("operation_type")?,
        coupon: s("coupon_id")?,
        customer: s("customer_id").unwrap_or_default(),
        amount: v.get("operation_amount").and_then(exact)?,
        at_ms: unix_ms(at),
    })
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
        let ledger = self.audit.store().ledger();
        let horizon = i64::try_from(self.horizon.as_millis()).unwrap_or(i64::MAX);
        let (pending, open) = ledger.unsettled(now_ms() - horizon, full).await?;
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
        let mut records = Records::new();
        for (quota, acting) in sources {
            let on_behalf = (acting != self.distributor).then_some(acting.as_str());
            let filter = format!("&quota_id={}", urlencode(&quota));
            let items =
                list_filtered(&self.client, &self.key, &COUPON_RECORDS, on_behalf, &filter).await?;
            records
                .entry(quota)
                .or_default()
                .extend(items.iter().filter_map(vendor_record));
        }
        let issues = self.settle_issuing(now_ms() - horizon).await?;
        let (outcomes, unresolved) = self.settle_outcomes(now_ms() - horizon).await?;
        let mut report = Report {
            issues,
            outcomes,
            unresolved,
            ..Report::default()
        };
        let quotas: BTreeSet<String> = pending
            .iter()
            .map(|p| p.quota.clone())
            .chain(open.iter().map(|o| o.quota.clone()))
            .collect();
        for quota in quotas {
            let p: Vec<_> = pending
                .iter()
                .filter(|p| p.quota == quota)
                .cloned()
                .collect();
            let o: Vec<_> = open.iter().filter(|o| o.quota == quota).cloned().collect();
            // Only this ledger's vendor quotas go into its transaction.
            let sources: BTreeSet<&String> = p
                .iter()
                .map(|p| &p.upstream_quota)
                .chain(o.iter().map(|o| &o.upstream_quota))
                .collect();
            let own: Records = sources
                .into_iter()
                .filter_map(|q| records.get(q).map(|r| (q.clone(), r.clone())))
                .collect();
            let signer = self.audit.signer();
            report.add(ledger.reconcile(&quota, p, o, own, signer).await?);
        }
        Ok(report)
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
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
