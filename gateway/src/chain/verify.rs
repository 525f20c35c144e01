//! Verification of the audit chain: recompute every hash, check every signature and
//! checkpoint, and name the first broken record.
//!
//! What each attack breaks: an edited record no longer hashes to its stored hash; a deleted
//! one leaves a gap in the sequence; an inserted or reordered one breaks `prev_hash` or the
//! sequence its body records; a rewrite that also recomputed every later hash still lacks
//! the Ed25519 signature of the key kept outside the database; a truncated tail contradicts
//! the last signed checkpoint (also kept in a log file outside the database).

use super::record::{GENESIS, Record, chain_hash};
use super::sign::{checkpoint_message, record_message, verify as verify_sig};
use serde::Serialize;

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Sequence number column.
    pub seq: i64,
    /// Canonical body.
    pub body: String,
    /// Predecessor's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
    /// Signature of (seq, hash).
    pub signature: String,
    /// Every column a query can filter on, as stored (see [`columns_of`]).
    pub columns: [Option<String>; COLUMNS],
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The last record it covers.
    pub seq: i64,
    /// That record's hash.
    pub head: String,
    /// When, Unix milliseconds.
    pub at: i64,
    /// Signature of (seq, head, at).
    pub signature: String,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Broken {
    /// The record concerned.
    pub seq: i64,
    /// What is wrong with it.
    pub what: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Records read.
    pub records: usize,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Trailing records no signed checkpoint covers: their deletion would not show. The
    /// gateway keeps this to the records of the last `audit.checkpoint_interval`.
    pub uncovered: usize,
    /// Every problem, the first broken record first.
    pub broken: Vec<Broken>,
}

impl Report {
    /// Whether the chain is intact.
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
    }
}

/// How many stored columns mirror the signed body.
pub const COLUMNS: usize = 10;

/// The columns a record body implies, each one a query can filter on: kind, operation,
/// principal, acting, amount, outcome, time (Unix ms), request id, tier, customers (as stored:
/// `,a,b,`). Verification compares every one with the stored row, so a row edited to escape
/// (or to match) a query is named even though its signed body is intact.
pub fn columns_of(r: &Record) -> [Option<String>; COLUMNS] {
    let e = &r.entry;
    [
        e.kind.map(|k| k.as_str().to_owned()),
        e.operation.clone(),
        e.principal.clone(),
        e.acting.clone(),
        e.amount.clone(),
        e.outcome.clone(),
        Some(r.at.to_string()),
        e.request_id.clone(),
        e.tier.clone(),
        (!e.customers.is_empty()).then(|| format!(",{},", e.customers.join(","))),
    ]
}

/// Verifies rows (in stored sequence order) and checkpoints with the public key.
pub fn verify(rows: &[Row], checkpoints: &[Checkpoint], public_key: &str) -> Report {
    let mut broken = Vec::new();
    let mut flag = |seq: i64, what: String| broken.push(Broken { seq, what });
    let mut prev = GENESIS.to_owned();
    let mut expected = 1i64;
    for row in rows {
        if row.seq > expected {
            flag(
                expected,
                format!(
                    "records {expected} to {} are missing (deleted)",
                    row.seq - 1
                ),
            );
        } else if row.seq < expected {
            flag(row.seq, format!("record {} appears out of order", row.seq));
        }
        if row.prev_hash != prev {
            flag(
                row.seq,
                format!(
                    "record {} does not follow its predecessor (inserted or reordered)",
                    row.seq
                ),
            );
        }
        if chain_hash(&row.prev_hash, &row.body) != row.hash {
            flag(
                row.seq,
                format!("record {} was modified (hash mismatch)", row.seq),
            );
        } else if !verify_sig(
            public_key,
            &record_message(row.seq, &row.hash),
            &row.signature,
        ) {
            flag(
                row.seq,
                format!("record {} was rewritten (signature mismatch)", row.seq),
            );
        }
        match serde_json::from_str::<Record>(&row.body) {
            Ok(r) if r.seq != row.seq => {
                flag(
                    row.seq,
                    format!(
                        "record {} holds the body of record {} (moved)",
                        row.seq, r.seq
                    ),
                );
            }
            Ok(r) if columns_of(&r) != row.columns => {
                flag(
                    row.seq,
                    format!("record {}: its query columns were altered", row.seq),
                );
            }
            Ok(_) => {}
            Err(_) => flag(row.seq, format!("record {}: body is not a record", row.seq)),
        }
        prev = row.hash.clone();
        expected = row.seq.max(expected) + 1;
    }
    let last = expected - 1;
    for c in checkpoints {
        if !verify_sig(
            public_key,
            &checkpoint_message(c.seq, &c.head, c.at),
            &c.signature,
        ) {
            flag(
                c.seq,
                format!("checkpoint at record {} has an invalid signature", c.seq),
            );
        } else if c.seq > last {
            flag(
                last + 1,
                format!(
                    "records {} to {} were removed (checkpoint {} signed them)",
                    last + 1,
                    c.seq,
                    c.seq
                ),
            );
        } else if rows
            .iter()
            .find(|r| r.seq == c.seq)
            .is_none_or(|r| r.hash != c.head)
        {
            flag(
                c.seq,
                format!("record {} differs from the signed checkpoint", c.seq),
            );
        }
    }
    broken.sort_by_key(|b| b.seq);
    broken.dedup_by_key(|b| b.seq);
    let covered = checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);
    Report {
        records: rows.len(),
        checkpoints: checkpoints.len(),
        uncovered: rows.iter().filter(|r| r.seq > covered).count(),
        broken,
    }
}
