//! The audit chain as stored: appended under the chain's lock (inside the caller's
//! transaction when a record and the change it describes commit together), read back,
//! checkpointed, queried.

use super::db::{Backend, Db, StoreError};
use super::sql::{chunked, now_ms, values};
use crate::chain::record::{Entry, GENESIS, Record, chain_hash};
use crate::chain::sign::{Signer, record_message};
use crate::chain::verify::{Checkpoint, Row, columns_of};
use sqlx::Row as _;
use std::sync::Arc;

/// Which records, by what they say (every field optional).
#[derive(Debug, Clone, Default)]
pub struct Match {
    /// Record kind.
    pub kind: Option<String>,
    /// Caller's partner id.
    pub principal: Option<String>,
    /// Caller's tier.
    pub tier: Option<String>,
    /// Reseller acted for.
    pub reseller: Option<String>,
    /// A customer concerned.
    pub customer: Option<String>,
    /// Operation.
    pub operation: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Minimum amount.
    pub amount_min: Option<String>,
    /// Maximum amount.
    pub amount_max: Option<String>,
    /// The request a record belongs to.
    pub request_id: Option<String>,
    /// Only records a partner made or that acted for it (a reader's own subtree).
    pub party: Option<String>,
}

/// Query filters; results newest first.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// From (inclusive), Unix ms.
    pub from: Option<i64>,
    /// Until (exclusive), Unix ms.
    pub until: Option<i64>,
    /// What the records say.
    pub matching: Match,
    /// Records to skip.
    pub offset: i64,
    /// Records to return.
    pub limit: i64,
    /// Only records before this one (keyset paging: records appended meanwhile neither
    /// repeat nor shift a page).
    pub before_seq: Option<i64>,
}

fn row_of(r: &sqlx::any::AnyRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        seq: r.try_get("seq")?,
        body: r.try_get("body")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        signature: r.try_get("signature")?,
        columns: [
            r.try_get("kind")?,
            r.try_get("operation")?,
            r.try_get("principal")?,
            r.try_get("acting")?,
            r.try_get("amount")?,
            r.try_get("outcome")?,
            Some(r.try_get::<i64, _>("at")?.to_string()),
            r.try_get("request_id")?,
            r.try_get("tier")?,
            r.try_get("customers")?,
        ],
    })
}

const ROW_COLUMNS: &str = "seq, kind, operation, principal, acting, amount, outcome, at, request_id, tier, customers, \
     body, prev_hash, hash, signature";

/// The audit tables.
pub struct AuditStore<'a>(pub(super) &'a Db);

impl AuditStore<'_> {
    /// Appends entries to the chain, in order, atomically; returns their sequence numbers.
    pub async fn append(
        &self,
        entries: Vec<Entry>,
        signer: Arc<Signer>,
    ) -> Result<Vec<i64>, StoreError> {
        self.0
            .transaction(move |tx, backend| {
                Box::pin(async move {
                    let seqs = append_in(tx, backend, entries, &signer).await?;
                    Ok(seqs)
                })
            })
            .await
    }

    /// The whole chain, in sequence order.
    pub async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.0
            .run(|pool| async move {
                let sql = format!("SELECT {ROW_COLUMNS} FROM audit_records ORDER BY seq");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&pool)
                    .await?;
                rows.iter().map(row_of).collect()
            })
            .await
    }

    /// One stored record, by its sequence number.
    pub async fn row(&self, seq: i64) -> Result<Option<Row>, StoreError> {
        self.0
            .run(move |pool| async move {
                let sql = format!("SELECT {ROW_COLUMNS} FROM audit_records WHERE seq = $1");
                let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(seq)
                    .fetch_optional(&pool)
                    .await?;
                r.as_ref().map(row_of).transpose()
            })
            .await
    }

    /// The chain head: last sequence number and hash.
    pub async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        self.0
            .run(|pool| async move {
                let r =
                    sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&pool)
                        .await?;
                r.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?)))
                    .transpose()
            })
            .await
    }

    /// Stores a checkpoint.
    pub async fn add_checkpoint(&self, c: Checkpoint) -> Result<(), StoreError> {
        self.0
            .run(move |pool| async move {
                sqlx::query(
                "INSERT INTO audit_checkpoints (seq, head, at, signature) VALUES ($1, $2, $3, $4)",
            )
            .bind(c.seq)
            .bind(c.head)
            .bind(c.at)
            .bind(c.signature)
            .execute(&pool)
            .await
            .map(|_| ())
            })
            .await
    }

    /// The newest checkpoint's sequence number (none: never checkpointed).
    pub async fn last_checkpoint(&self) -> Result<Option<i64>, StoreError> {
        self.0
            .run(|pool| async move {
                let r = sqlx::query("SELECT MAX(seq) AS seq FROM audit_checkpoints")
                    .fetch_one(&pool)
                    .await?;
                r.try_get::<Option<i64>, _>("seq")
            })
            .await
    }

    /// Every stored checkpoint.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.0
            .run(|pool| async move {
                let rows = sqlx::query(
                    "SELECT seq, head, at, signature FROM audit_checkpoints ORDER BY seq",
                )
                .fetch_all(&pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(Checkpoint {
                            seq: r.try_get("seq")?,
                            head: r.try_get("head")?,
                            at: r.try_get("at")?,
                            signature: r.try_get("signature")?,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Records matching a filter, newest first, as (seq, canonical body).
    pub async fn query(&self, f: Filter) -> Result<Vec<(i64, String)>, StoreError> {
        self.0
            .run(move |pool| async move {
                let mut sql = String::from("SELECT seq, body FROM audit_records WHERE 1 = 1");
                let m = &f.matching;
                let mut binds: Vec<Bind> = Vec::new();
                let mut cond = |clause: &str, b: Bind| {
                    binds.push(b);
                    sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
                };
                if let Some(v) = f.from {
                    cond(" AND at >= ?", Bind::Int(v))
                }
                if let Some(v) = f.until {
                    cond(" AND at < ?", Bind::Int(v))
                }
                if let Some(v) = f.before_seq {
                    cond(" AND seq < ?", Bind::Int(v))
                }
                for (col, v) in [
                    ("kind", &m.kind),
                    ("principal", &m.principal),
                    ("tier", &m.tier),
                    ("acting", &m.reseller),
                    ("operation", &m.operation),
                    ("outcome", &m.outcome),
                    ("request_id", &m.request_id),
                ] {
                    if let Some(v) = v {
                        cond(&format!(" AND {col} = ?"), Bind::Text(v.clone()));
                    }
                }
                if let Some(p) = &m.party {
                    cond(" AND (principal = ? OR acting = ?)", Bind::Text(p.clone()));
                }
                if let Some(c) = &m.customer {
                    cond(" AND customers LIKE ?", Bind::Text(format!("%,{c},%")));
                }
                if let Some(v) = &m.amount_min {
                    cond(
                        " AND CAST(amount AS NUMERIC) >= CAST(? AS NUMERIC)",
                        Bind::Text(v.clone()),
                    );
                }
                if let Some(v) = &m.amount_max {
                    cond(
                        " AND CAST(amount AS NUMERIC) <= CAST(? AS NUMERIC)",
                        Bind::Text(v.clone()),
                    );
                }
                sql.push_str(&format!(
                    " ORDER BY seq DESC LIMIT {} OFFSET {}",
                    f.limit.clamp(1, 10_000),
                    f.offset.max(0)
                ));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in binds {
                    q = match b {
                        Bind::Int(i) => q.bind(i),
                        Bind::Text(t) => q.bind(t),
                    };
                }
                let rows = q.fetch_all(&pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("seq")?, r.try_get("body")?)))
                    .collect()
            })
            .await
    }
}

/// Appends entries to the chain inside the caller's transaction (so a record and the change
/// it describes commit together). Takes the chain's lock: callers holding other locks take
/// them first, always in the same order (ledger quota, then audit).
pub(crate) async fn append_in(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    entries: Vec<Entry>,
    signer: &Signer,
) -> Result<Vec<i64>, sqlx::Error> {
    if backend == Backend::Postgres {
        // One writer at a time across every gateway sharing the database.
        sqlx::query("SELECT pg_advisory_xact_lock(7277626974)")
            .execute(&mut *tx)
            .await?;
    }
    let last = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (mut seq, mut prev): (i64, String) = match last {
        Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
        None => (0, GENESIS.to_owned()),
    };
    let mut seqs = Vec::with_capacity(entries.len());
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        seq += 1;
        let record = Record {
            seq,
            at: now_ms(),
            entry,
        };
        let body = record.canonical();
        let hash = chain_hash(&prev, &body);
        let signature = signer.sign(&record_message(seq, &hash));
        seqs.push(seq);
        let prev_hash = std::mem::replace(&mut prev, hash.clone());
        rows.push((record, body, prev_hash, hash, signature));
    }
    // One statement per few records: the chain's lock is held for a round trip or two, not
    // one per record.
    let size = |r: &(Record, String, String, String, String)| r.1.len() + 512;
    for rows in chunked(rows, size) {
        let sql = format!(
            "INSERT INTO audit_records (seq, at, kind, request_id, operation, principal, \
             tier, acting, customers, amount, outcome, body, prev_hash, hash, signature) VALUES {}",
            values(rows.len(), 15)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (record, body, prev_hash, hash, signature) in rows {
            // The same columns verification compares (the time bound as a number).
            let [
                kind,
                operation,
                principal,
                acting,
                amount,
                outcome,
                _,
                request_id,
                tier,
                customers,
            ] = columns_of(&record);
            q = q
                .bind(record.seq)
                .bind(record.at)
                .bind(kind)
                .bind(request_id)
                .bind(operation)
                .bind(principal)
                .bind(tier)
                .bind(acting)
                .bind(customers)
                .bind(amount)
                .bind(outcome)
                .bind(body)
                .bind(prev_hash)
                .bind(hash)
                .bind(signature);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(seqs)
}

enum Bind {
    Int(i64),
    Text(String),
}

impl AuditStore<'_> {
    /// Intents written before `before` (Unix ms) that have no outcome: (request id, body).
    pub async fn dangling_intents(&self, before: i64) -> Result<Vec<(String, String)>, StoreError> {
        self.0
            .run(move |pool| async move {
                let rows = sqlx::query(
                    "SELECT a.request_id, a.body FROM audit_records a \
                 WHERE a.kind = 'intent' AND a.outcome = 'forwarding' AND a.at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM audit_records b \
                                 WHERE b.kind = 'outcome' AND b.request_id = a.request_id)",
                )
                .bind(before)
                .fetch_all(&pool)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("request_id")?, r.try_get("body")?)))
                    .collect()
            })
            .await
    }
}
