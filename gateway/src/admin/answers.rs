//! The admin API's JSON answers as types, so that the document ([`super::openapi`]) is derived
//! from what the handlers send. Fields are in alphabetical order, the order of the earlier
//! `json!` answers, so the JSON is the same; only a slice's `limits` ([`Tree`]) now keeps
//! its struct's order (JSON objects are unordered, and no client may rely on it).

use crate::chain::record::Record;
use crate::ledger::view::Tree;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// `POST /tokens`: a bearer token for the credential that signed the request.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TokenIssued {
    /// A JWT (EdDSA), verifiable with `GET /.well-known/jwks.json`.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

/// `GET /audit/records`: the records the filters select, newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Records {
    /// How many records are in `records`.
    pub count: usize,
    /// The records, masked unless unmasked access was granted and asked for.
    #[schemars(with = "Vec<Record>")]
    pub records: Vec<Value>,
}

/// A delegation changed: what was done, to which slice, and the slice's part of the tree.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Changed {
    /// The slice changed.
    pub delegation: String,
    /// `grant`, `adjust`, `suspend`, `resume` or `revoke`.
    pub operation: String,
    /// The slice and what lies below it, after the change.
    pub tree: Tree,
    /// The vendor quota the slice was issued as (a grant with `issue_upstream` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_quota: Option<String>,
}
