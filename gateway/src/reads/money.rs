//! Money moved over a period (`GET /money`, the console's money page): fund allocations and
//! reclaims, voucher issues and quota, per operation, reseller and customer, totalled from the
//! audit log itself, so the totals are the log's: each money call's intent (what it moves,
//! for whom) counted by its outcome (`ok`; `partial`, `unknown`, `vendor_error` and
//! `refused` are shown apart, never added to what moved).

use crate::audit::Audit;
use crate::audit::read::{Query, scoped};
use crate::rejection::Rejection;
use crate::store::audit::{Filter, Match};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tiergate_policy::Principal;
use tiergate_policy::admin::{self, Area};

/// The most records one period reads (a wider period is refused rather than cut short).
const MOST: usize = 200_000;
/// Records per round trip.
const BATCH: i64 = 5_000;

/// What moved for one (operation, reseller, customer).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Moved {
    /// The operation.
    pub operation: String,
    /// The partner it acted for (a reseller, or the distributor).
    pub reseller: String,
    /// The customer (empty: the money went to a partner, not a customer).
    pub customer: String,
    /// Calls that moved money (outcome `ok`).
    pub calls: u64,
    /// Their total, exact.
    pub amount: String,
}

/// Calls whose money did not (surely) move, by outcome.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Unsettled {
    /// The operation.
    pub operation: String,
    /// The outcome (`partial`, `unknown`, `vendor_error`, `refused`, `no_outcome`).
    pub outcome: String,
    /// How many calls.
    pub calls: u64,
    /// What they asked to move.
    pub amount: String,
}

/// The money report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Money {
    /// From, RFC 3339.
    pub from: String,
    /// Until, RFC 3339 (empty: now).
    pub until: String,
    /// What moved, by operation, reseller and customer.
    pub moved: Vec<Moved>,
    /// Totals per operation of what moved.
    pub totals: BTreeMap<String, String>,
    /// What did not surely move.
    pub unsettled: Vec<Unsettled>,
}

async fn all(audit: &Audit, mut f: Filter) -> Result<Vec<Value>, Rejection> {
    let mut out = Vec::new();
    f.limit = BATCH;
    loop {
        let rows = audit
            .store()
            .audit()
            .query(f.clone())
            .await
            .map_err(|_| Rejection::AuditUnavailable)?;
        let last = rows.last().map(|(seq, _)| *seq);
        let n = rows.len();
        out.extend(
            rows.into_iter()
                .filter_map(|(_, body)| serde_json::from_str::<Value>(&body).ok()),
        );
        if out.len() > MOST {
            return Err(Rejection::InvalidBody(format!(
                "more than {MOST} money records in this period: ask for a shorter one"
            )));
        }
        match last {
            Some(seq) if n as i64 == BATCH => f.before_seq = Some(seq),
            _ => return Ok(out),
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// What moved between `from` and `until` (RFC 3339; `from` defaults to `retention` back).
pub async fn money(
    audit: &Audit,
    reader: &Principal,
    from: Option<String>,
    until: Option<String>,
    retention: Duration,
) -> Result<Money, Rejection> {
    let scope = admin::reads(reader, Area::Audit)?;
    let window = |kind: &str, until: Option<String>| {
        Query {
            from: from.clone(),
            until,
            matching: Match {
                kind: Some(kind.into()),
                ..Match::default()
            },
            offset: 0,
            limit: BATCH,
        }
        .filter(retention)
        .map(|f| scoped(f, &scope))
        .map_err(Rejection::InvalidBody)
    };
    let intents = all(audit, window("intent", until.clone())?).await?;
    // An outcome may come after the period's end: read them to now.
    let outcomes = all(audit, window("outcome", None)?).await?;
    let outcome_of: HashMap<String, String> = outcomes
        .iter()
        .map(|o| (text(&o["request_id"]), text(&o["outcome"])))
        .collect();
    let mut moved: BTreeMap<(String, String, String), (u64, Decimal)> = BTreeMap::new();
    let mut unsettled: BTreeMap<(String, String), (u64, Decimal)> = BTreeMap::new();
    for i in &intents {
        let operation = text(&i["operation"]);
        let amount: Decimal = text(&i["amount"]).parse().unwrap_or_default();
        let outcome = match text(&i["outcome"]).as_str() {
            "refused" => "refused".to_owned(),
            _ => outcome_of
                .get(&text(&i["request_id"]))
                .cloned()
                .unwrap_or_else(|| "no_outcome".into()),
        };
        if outcome != "ok" {
            let e = unsettled.entry((operation, outcome)).or_default();
            e.0 += 1;
            e.1 += amount;
            continue;
        }
        let reseller = match text(&i["acting"]) {
            a if a.is_empty() => text(&i["principal"]),
            a => a,
        };
        let customers: Vec<String> = i["customers"]
            .as_array()
            .map(|c| c.iter().map(text).collect())
            .unwrap_or_default();
        // A voucher issue names one customer per voucher: each gets its share.
        let share = if customers.is_empty() {
            amount
        } else {
            amount / Decimal::from(customers.len())
        };
        let whom = if customers.is_empty() {
            vec![String::new()]
        } else {
            customers
        };
        for (n, c) in whom.into_iter().enumerate() {
            let e = moved
                .entry((operation.clone(), reseller.clone(), c))
                .or_default();
            // The call counts once, under its first customer.
            e.0 += u64::from(n == 0);
            e.1 += share;
        }
    }
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for ((op, _, _), (_, a)) in &moved {
        *totals.entry(op.clone()).or_default() += *a;
    }
    Ok(Money {
        from: from.unwrap_or_default(),
        until: until.unwrap_or_default(),
        moved: moved
            .into_iter()
            .map(|((operation, reseller, customer), (calls, a))| Moved {
                operation,
                reseller,
                customer,
                calls,
                amount: a.normalize().to_string(),
            })
            .collect(),
        totals: totals
            .into_iter()
            .map(|(k, v)| (k, v.normalize().to_string()))
            .collect(),
        unsettled: unsettled
            .into_iter()
            .map(|((operation, outcome), (calls, a))| Unsettled {
                operation,
                outcome,
                calls,
                amount: a.normalize().to_string(),
            })
            .collect(),
    })
}
