//! Audit records: what is recorded, its canonical encoding, and the chain hash.
//!
//! The canonical encoding is the record's JSON with keys sorted and no whitespace (serde_json
//! sorts object keys; exact decimals stay exact). A record's hash is
//! `SHA-256(prev_hash || "\n" || canonical body)`, so changing, removing, inserting or moving
//! any record changes every later hash.

use ring::digest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A money-moving call about to be forwarded (written before it is).
    Intent,
    /// What the vendor answered to a recorded intent, that the answer is unknown, or that
    /// Tiergate refused the call (outcome `refused`).
    Outcome,
    /// A credential issued or revoked.
    Credential,
    /// A delegation granted, adjusted, suspended, resumed or revoked.
    Delegation,
    /// Unmasked access to audit records was granted.
    Access,
    /// The audit system itself: start, stop, verification runs, checkpoints.
    System,
    /// A federated sign-in, its refusal, or a binding of a platform user.
    Identity,
    /// Refusals counted over a minute instead of recorded one by one (a caller over its rate
    /// limit on money routes, unauthenticated sign-in attempts).
    Summary,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Intent => "intent",
            Kind::Outcome => "outcome",
            Kind::Credential => "credential",
            Kind::Delegation => "delegation",
            Kind::Access => "access",
            Kind::System => "system",
            Kind::Identity => "identity",
            Kind::Summary => "summary",
        }
    }
}

/// One record as written by the gateway (before it has a place in the chain).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Kind.
    pub kind: Option<Kind>,
    /// The request it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Partner (or customer) id of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The caller's tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The Tiergate credential used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The caller's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The partner API operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// On whose behalf (the reseller acted for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting: Option<String>,
    /// Customers concerned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customers: Vec<String>,
    /// Total amount asked for, as an exact decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Currency of `amount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `forwarded`, `ok`, `partial`, `vendor_error`, `refused`, `unknown`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The rule behind a decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Everything else (target ids, vendor status and codes, per-item results, latency...).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// A record in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When, Unix milliseconds.
    pub at: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
}

impl Record {
    /// The canonical encoding that the hash covers.
    pub fn canonical(&self) -> String {
        serde_json::to_value(self)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

/// The chain hash of a record body after `prev`.
pub fn chain_hash(prev: &str, body: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev.as_bytes());
    ctx.update(b"\n");
    ctx.update(body.as_bytes());
    hex::encode(ctx.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_is_canonical_and_exact() {
        let r = Record {
            seq: 7,
            at: 1,
            entry: Entry {
                kind: Some(Kind::Intent),
                amount: Some("100.50".into()),
                // Parsed from text, as request bodies are: the decimal stays as written.
                detail: serde_json::from_str(r#"{"z": 1, "a": 12.30}"#).unwrap_or_default(),
                ..Entry::default()
            },
        };
        assert_eq!(
            r.canonical(),
            r#"{"amount":"100.50","at":1,"detail":{"a":12.30,"z":1},"kind":"intent","seq":7}"#
        );
        let back: Record = serde_json::from_str(&r.canonical()).unwrap_or(r.clone());
        assert_eq!(back.canonical(), r.canonical());
        assert_ne!(
            chain_hash(GENESIS, &r.canonical()),
            chain_hash(GENESIS, "x")
        );
    }
}
