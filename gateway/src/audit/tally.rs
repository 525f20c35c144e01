//! Refusal storms as counted summaries. A caller over its rate limit on a money route, or a
//! stream of sign-in posts that never verify, would otherwise write a record each, and every
//! record takes the audit chain's lock that money calls need. Such refusals are counted in
//! memory instead and written once a minute as one `summary` record per principal, operation,
//! code and reason, with the count, the minute and a few sample references: security teams
//! still see the storm, at a bounded cost. The number of distinct summaries per minute is
//! bounded too; what does not fit is counted in one overflow summary.

use crate::chain::record::{Entry, Kind};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

/// Distinct summaries per flush.
const MAX_KEYS: usize = 256;
/// Sample references kept per summary.
const SAMPLES: usize = 5;
/// Longest reason kept (reasons can quote what the caller sent).
const MAX_REASON: usize = 200;

/// What one summary counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The operation (`create_partner_coupons`, `sign_in`, `vendor_request`, `bind`).
    pub operation: String,
    /// The caller, when known.
    pub principal: Option<String>,
    /// The refusal's code (`TG.6001`, `TG.7002`).
    pub code: String,
    /// Why, in a few words.
    pub reason: String,
}

#[derive(Default)]
struct Count {
    n: u64,
    first_ms: i64,
    last_ms: i64,
    samples: Vec<String>,
}

/// The refusals counted since the last flush.
#[derive(Default)]
pub struct Tally {
    counts: Mutex<HashMap<Key, Count>>,
}

impl Tally {
    /// Counts one refusal; `sample` is a reference worth keeping (a request id).
    pub fn add(&self, mut key: Key, sample: Option<String>) {
        if key.reason.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !key.reason.is_char_boundary(end) {
                end -= 1;
            }
            key.reason.truncate(end);
        }
        let now = crate::store::now_ms();
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if counts.len() >= MAX_KEYS && !counts.contains_key(&key) {
            key = Key {
                operation: "*".into(),
                principal: None,
                code: "*".into(),
                reason: "more distinct refusals than one minute's summaries hold".into(),
            };
        }
        let c = counts.entry(key).or_default();
        if c.n == 0 {
            c.first_ms = now;
        }
        c.n += 1;
        c.last_ms = now;
        if let Some(s) = sample.filter(|_| c.samples.len() < SAMPLES) {
            c.samples.push(s);
        }
    }

    /// Takes what was counted, as summary records.
    pub fn drain(&self) -> Vec<Entry> {
        let taken = match self.counts.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(_) => return Vec::new(),
        };
        let mut out: Vec<Entry> = taken
            .into_iter()
            .map(|(k, c)| Entry {
                kind: Some(Kind::Summary),
                principal: k.principal,
                operation: Some(k.operation),
                outcome: Some("refused".into()),
                detail: json!({
                    "count": c.n, "code": k.code, "reason": k.reason,
                    "first_ms": c.first_ms, "last_ms": c.last_ms, "samples": c.samples,
                }),
                ..Entry::default()
            })
            .collect();
        out.sort_by(|a, b| a.operation.cmp(&b.operation));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(op: &str, reason: &str) -> Key {
        Key {
            operation: op.into(),
            principal: Some("res-1".into()),
            code: "TG.6001".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_storm_is_one_summary_with_its_count_and_a_few_samples() {
        let t = Tally::default();
        for i in 0..1000 {
            t.add(
                key("create_partner_coupons", "rate limited"),
                Some(format!("r{i}")),
            );
        }
        let out = t.drain();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].detail["count"], 1000);
        assert_eq!(
            out[0].detail["samples"].as_array().map(Vec::len),
            Some(SAMPLES)
        );
        assert!(t.drain().is_empty(), "drained");
    }

    #[test]
    fn distinct_summaries_are_bounded_and_the_rest_counted_together() {
        let t = Tally::default();
        for i in 0..(MAX_KEYS + 50) {
            t.add(key("bind", &format!("junk {i}")), None);
        }
        let out = t.drain();
        assert_eq!(out.len(), MAX_KEYS + 1);
        let overflow = out.iter().find(|e| e.operation.as_deref() == Some("*"));
        assert_eq!(overflow.map(|e| e.detail["count"].clone()), Some(json!(50)));
    }
}
