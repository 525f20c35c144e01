//! Reconciliation of money calls whose answer never came and that no voucher reservation or
//! slice being issued settles: fund adjustments of customers, quota issues and reclaims,
//! vouchers from undelegated quotas and voucher reclaims. Their idempotency keys stay
//! "unknown" (TG.3010 to a retry) until the vendor's records say what the call did:
//!
//! - it moved money: the keys answer `200` with the vendor records that show it, and the
//!   fund-cap holds stay counted; each record explains one request only;
//! - it moved nothing (no record after the call): the keys are freed (a retry may go ahead)
//!   and the holds released;
//! - the vendor keeps no record of the operation (fund moves between distributor and
//!   reseller): the keys answer `TG.3015`, so they never stay in flight, and the holds stay
//!   counted (the safe side).

use super::reconcile::{ReconcileError, Reconciler, urlencode, vendor_record};
use crate::chain::record::{Entry, Kind, Record};
use crate::graph::sync::{ADJUST_RECORDS, COUPON_RECORDS, Listing, QUOTA_RECORDS, list_filtered};
use crate::rejection::Rejection;
use crate::store::ledger::reconcile::CLOCK_SLACK_MS;
use crate::store::outcomes::Found;
use crate::store::unix_ms;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use tiergate_policy::ledger::exact;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A vendor record that may explain a call: its id, when, and what it says.
struct Candidate {
    id: String,
    at_ms: i64,
    /// Which of the call's items it explains (a customer, a reseller, a quota).
    item: String,
    /// What the vendor's answer would have named for it (transfer, quota or voucher id).
    value: String,
}

fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn time_of(v: &Value, k: &str) -> Option<i64> {
    OffsetDateTime::parse(text(v, k)?, &Rfc3339)
        .ok()
        .map(unix_ms)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl Reconciler {
    /// Settles the calls of unknown outcome past the in-flight horizon; (settled, of them
    /// unresolvable).
    pub async fn settle_outcomes(&self, before: i64) -> Result<(usize, usize), ReconcileError> {
        let outcomes = self.audit.store().outcomes();
        let (mut settled, mut unresolvable) = (0, 0);
        for intent in outcomes.unanswered(before).await? {
            let Some(request_id) = intent.entry.request_id.clone() else {
                continue;
            };
            let (found, answered) = self.found(&intent).await?;
            let (label, answer) = match &found {
                Found::Moved(_) => ("reconciled", (200, answered.to_string())),
                Found::Nothing => ("reconciled", (0, String::new())),
                Found::Unresolvable => {
                    let r = Rejection::OutcomeUnresolved;
                    (
                        "unresolved",
                        (r.answer().status, crate::answer::envelope(&r)),
                    )
                }
            };
            let records = match &found {
                Found::Moved(r) => json!(r),
                _ => Value::Null,
            };
            let outcome = Entry {
                kind: Some(Kind::Outcome),
                outcome: Some(label.into()),
                source: Some("reconciliation".into()),
                rule: None,
                detail: json!({"moved": matches!(found, Found::Moved(_)),
                               "vendor_records": records, "intent_seq": intent.seq}),
                ..intent.entry.clone()
            };
            let signer = self.audit.signer();
            if outcomes
                .settle(request_id, found.clone(), answer, outcome, signer)
                .await?
            {
                settled += 1;
                unresolvable += usize::from(found == Found::Unresolvable);
            }
        }
        Ok((settled, unresolvable))
    }

    /// What the vendor's records say the call of `intent` did, and the answer the vendor
    /// would have given (its own fields, so the SDK reads it, with `"reconciled": true`).
    async fn found(&self, intent: &Record) -> Result<(Found, Value), ReconcileError> {
        let e = &intent.entry;
        let empty = Map::new();
        let req = e.detail["request"].as_object().unwrap_or(&empty);
        let acting = e.acting.clone().unwrap_or_default();
        let on_behalf = (acting != self.distributor).then_some(acting.as_str());
        let since = intent.at - CLOCK_SLACK_MS;
        let amount = |k: &str| req.get(k).and_then(exact);
        let s = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or_default();
        let op = e.operation.as_deref().unwrap_or_default();
        // (listing, acting for, filter, what each record explains, items the call touched)
        let candidates = match op {
            "update_customer_account_amount" | "reclaim_to_partner_account" => {
                let kind = match op {
                    "update_customer_account_amount" => "SOURCE_OPERATION_BEADJUST",
                    _ => "SOURCE_OPERATION_BERETRIEVE",
                };
                let want = amount("amount");
                let filter = format!(
                    "&customer_id={}&operation_type={kind}",
                    urlencode(s("customer_id"))
                );
                self.list(&ADJUST_RECORDS, on_behalf, &filter, |r| {
                    let fits = text(r, "operation_type") == Some(kind)
                        && r.get("amount").and_then(exact) == want;
                    if !fits {
                        return None;
                    }
                    Some(Candidate {
                        id: text(r, "trans_id")?.to_owned(),
                        at_ms: time_of(r, "operation_time")?,
                        item: text(r, "customer_id")?.to_owned(),
                        value: text(r, "trans_id")?.to_owned(),
                    })
                })
                .await?
            }
            "update_coupon_quotas" => {
                let want = amount("quota_amount");
                let parent = s("quota_id").to_owned();
                let mut all = Vec::new();
                for reseller in strings(req.get("indirect_partner_ids")) {
                    let filter = format!(
                        "&indirect_partner_id={}&parent_quota_id={}&operation_type=10",
                        urlencode(&reseller),
                        urlencode(&parent)
                    );
                    all.extend(
                        self.list(&QUOTA_RECORDS, None, &filter, |r| {
                            quota_record(r, "10", want)
                        })
                        .await?,
                    );
                }
                all
            }
            "reclaim_coupon_quotas" => {
                let mut all = Vec::new();
                for quota in strings(req.get("quota_ids")) {
                    let filter = format!("&quota_id={}&operation_type=11", urlencode(&quota));
                    all.extend(
                        self.list(&QUOTA_RECORDS, None, &filter, |r| {
                            let mut c = quota_record(r, "11", None)?;
                            c.item = c.value.clone();
                            Some(c)
                        })
                        .await?,
                    );
                }
                all
            }
            "create_partner_coupons" | "reclaim_partner_coupons" => {
                let (kind, want) = match op {
                    "create_partner_coupons" => ("1", amount("face_value")),
                    _ => ("2", None),
                };
                let filter = match req.get("quota_id").and_then(Value::as_str) {
                    Some(q) => format!("&quota_id={}", urlencode(q)),
                    None => String::new(),
                };
                let coupon = s("coupon_id").to_owned();
                self.list(&COUPON_RECORDS, on_behalf, &filter, |r| {
                    let v = vendor_record(r)?;
                    let fits = v.operation == kind
                        && want.is_none_or(|w| v.amount == w)
                        && (kind == "1" || v.coupon == coupon);
                    fits.then(|| Candidate {
                        item: if kind == "1" {
                            v.customer.clone()
                        } else {
                            v.coupon.clone()
                        },
                        id: v.coupon.clone(),
                        at_ms: v.at_ms,
                        value: v.coupon,
                    })
                })
                .await?
            }
            _ => return Ok((Found::Unresolvable, Value::Null)),
        };
        // The items the call touched (customers, resellers, quotas, the coupon): each
        // explained by its earliest record after the call that no other request took.
        let items: BTreeSet<String> = match op {
            "update_customer_account_amount" | "reclaim_to_partner_account" => {
                BTreeSet::from([s("customer_id").to_owned()])
            }
            "update_coupon_quotas" => strings(req.get("indirect_partner_ids"))
                .into_iter()
                .collect(),
            "reclaim_coupon_quotas" => strings(req.get("quota_ids")).into_iter().collect(),
            "create_partner_coupons" => strings(req.get("customer_ids")).into_iter().collect(),
            _ => BTreeSet::from([s("coupon_id").to_owned()]),
        };
        let ids: Vec<String> = candidates.iter().map(|c| c.id.clone()).collect();
        let taken: BTreeSet<String> = self
            .audit
            .store()
            .outcomes()
            .taken(ids)
            .await?
            .into_iter()
            .collect();
        let mut fresh: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.at_ms >= since && items.contains(&c.item) && !taken.contains(&c.id))
            .collect();
        fresh.sort_by_key(|c| c.at_ms);
        let mut explained = BTreeSet::new();
        let mut moved = Vec::new();
        for c in fresh {
            if explained.insert(c.item.clone()) {
                moved.push(c);
            }
        }
        if moved.is_empty() {
            return Ok((Found::Nothing, Value::Null));
        }
        let first = moved[0].value.clone();
        let mut answer = match op {
            "update_customer_account_amount" => json!({"transfer_id": first}),
            "reclaim_to_partner_account" => json!({"trans_id": first}),
            "update_coupon_quotas" => json!({"simple_quota_infos": moved.iter()
                .map(|c| json!({"id": c.item, "quota_id": c.value})).collect::<Vec<_>>()}),
            "reclaim_coupon_quotas" => json!({"simple_quota_infos": moved.iter()
                .map(|c| json!({"quota_id": c.value})).collect::<Vec<_>>()}),
            "create_partner_coupons" => json!({"coupon_infos": moved.iter()
                .map(|c| json!({"id": c.item, "coupon_id": c.value})).collect::<Vec<_>>()}),
            _ => json!({}),
        };
        answer["reconciled"] = json!(true);
        let ids = moved.iter().map(|c| c.id.clone()).collect();
        Ok((Found::Moved(ids), answer))
    }

    async fn list(
        &self,
        listing: &Listing,
        on_behalf: Option<&str>,
        filter: &str,
        pick: impl Fn(&Value) -> Option<Candidate>,
    ) -> Result<Vec<Candidate>, ReconcileError> {
        let items = list_filtered(&self.client, &self.key, listing, on_behalf, filter).await?;
        Ok(items.iter().filter_map(pick).collect())
    }
}

/// A quota record of `kind` (`10` issued, `11` reclaimed), of `amount` when given.
fn quota_record(r: &Value, kind: &str, amount: Option<Decimal>) -> Option<Candidate> {
    let fits = text(r, "operation_type") == Some(kind)
        && amount.is_none_or(|a| r.get("amount").and_then(exact) == Some(a));
    if !fits {
        return None;
    }
    Some(Candidate {
        id: text(r, "id")?.to_owned(),
        at_ms: time_of(r, "operation_time")?,
        item: text(r, "indirect_partner_id")?.to_owned(),
        value: text(r, "quota_id")?.to_owned(),
    })
}
