//! Reconciliation of slices issued upstream whose vendor answer never came
//! ([`crate::admin`]'s `issue_upstream`): the vendor's quota records say whether the reseller
//! got a quota of that amount from the distributor's quota after the slice was held. Found:
//! the slice is activated and linked to it; not found: withdrawn, its total free again. The
//! issuing request's idempotency keys get the outcome either way.

use super::reconcile::{ReconcileError, Reconciler, urlencode};
use crate::chain::record::{Entry, Kind};
use crate::graph::sync::{QUOTA_RECORDS, list_filtered};
use crate::store::ledger::issuing::{Issued, Issuing, Keys};
use crate::store::ledger::reconcile::CLOCK_SLACK_MS;
use crate::store::unix_ms;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tiergate_policy::ledger::exact;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The vendor operation type of a quota issued to a reseller.
const ISSUED: &str = "10";

/// The quota a record says was issued, if it is one of `row`'s kind, amount and time.
fn matches(record: &Value, row: &Issuing) -> Option<String> {
    let s = |k: &str| record.get(k).and_then(Value::as_str);
    let at = OffsetDateTime::parse(s("operation_time")?, &Rfc3339).ok()?;
    let fits = s("operation_type") == Some(ISSUED)
        && s("indirect_partner_id") == Some(row.reseller.as_str())
        && s("parent_quota_id") == Some(row.quota.as_str())
        && record.get("amount").and_then(exact) == Some(row.amount)
        && unix_ms(at) >= row.created_at - CLOCK_SLACK_MS;
    fits.then(|| s("quota_id").map(str::to_owned)).flatten()
}

impl Reconciler {
    /// Settles the slices being issued past the in-flight horizon; how many were settled.
    pub async fn settle_issuing(&self, before: i64) -> Result<usize, ReconcileError> {
        let ledger = self.audit.store().ledger();
        let mut settled = 0;
        for row in ledger.issuing(before).await? {
            let filter = format!(
                "&indirect_partner_id={}&parent_quota_id={}&operation_type={ISSUED}",
                urlencode(&row.reseller),
                urlencode(&row.quota)
            );
            let records =
                list_filtered(&self.client, &self.key, &QUOTA_RECORDS, None, &filter).await?;
            // A vendor quota already linked to a slice explains that slice, not this one.
            let linked: BTreeSet<String> = ledger
                .links(&row.quota)
                .await?
                .into_iter()
                .map(|(q, _)| q)
                .collect();
            let found = records
                .iter()
                .filter_map(|r| matches(r, &row))
                .find(|q| !linked.contains(q));
            let (issued, keys) = match &found {
                Some(q) => {
                    let body = json!({"operation": "grant", "delegation": row.node,
                                      "upstream_quota": q, "reconciled": true});
                    (Issued::As(q.clone()), Keys::Answer(200, body.to_string()))
                }
                None => (Issued::Not, Keys::Free),
            };
            let base = Entry {
                request_id: Some(row.request_id.clone()),
                operation: Some(crate::admin::issue::OPERATION.into()),
                acting: Some(row.reseller.clone()),
                amount: Some(row.amount.to_string()),
                currency: Some("CNY".into()),
                source: Some("reconciliation".into()),
                ..Entry::default()
            };
            let outcome = Entry {
                kind: Some(Kind::Outcome),
                outcome: Some("reconciled".into()),
                detail: json!({"moved": found.is_some(), "upstream_quota": found,
                               "delegation": row.node, "quota_id": row.quota}),
                ..base.clone()
            };
            let record = crate::admin::issue::settled_record(&row, &issued, base);
            let signer = self.audit.signer();
            let records = vec![outcome, record];
            if ledger
                .finish_issue(&row, issued, records, keys, signer)
                .await?
            {
                settled += 1;
            }
        }
        Ok(settled)
    }
}
