//! Storage through sqlx's `Any` driver: one portable schema and one code path for the
//! embedded SQLite default and PostgreSQL in production.
//!
//! The pool lives on a dedicated runtime (see [`Store::connect`]): Pingora runs each service
//! on its own runtimes, and a connection must stay with the reactor that opened it.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use tiergate_config::Storage;
use tiergate_policy::Edge;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A migration: portable SQL, then SQL for one backend only (triggers differ).
struct Migration {
    version: i64,
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Migrations, applied in order, each once, in its own transaction.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/0001_credentials.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/0002_principals.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/0003_graph.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/0004_audit.sql"),
        sqlite: include_str!("../migrations/0004_audit_sqlite.sql"),
        postgres: include_str!("../migrations/0004_audit_postgres.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/0005_ledger.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/0006_ledger_requests.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/0007_fund_caps.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/0008_sso_bindings.sql"),
        sqlite: "",
        postgres: "",
    },
];

const CREDENTIAL_COLUMNS: &str = "access_key, partner_id, tier, distributor_id, secret_ciphertext, \
     created_at, revoked_at, role, label, upstream_access_key, upstream_secret_ciphertext";

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The storage task was cancelled (the process is stopping).
    #[error("storage task stopped")]
    Stopped,
}

/// A credential as stored (the SK still encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    /// Access key id.
    pub access_key: String,
    /// Partner it acts as.
    pub partner_id: String,
    /// Tier name.
    pub tier: String,
    /// The partner's distributor.
    pub distributor_id: Option<String>,
    /// Encrypted SK.
    pub secret_ciphertext: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if revoked.
    pub revoked_at: Option<i64>,
    /// Reseller staff role.
    pub role: Option<String>,
    /// Free-form label (a staff member's or auditor's name).
    pub label: Option<String>,
    /// The credential's own upstream vendor AK, if it has one.
    pub upstream_access_key: Option<String>,
    /// Its sealed upstream SK.
    pub upstream_secret_ciphertext: Option<String>,
}

/// `($1, $2, ..), ($n, ..)`: placeholders for a multi-row `VALUES` of `rows` rows of `cols`
/// columns (one statement, one round trip, for what a batch writes).
pub(crate) fn values(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", r * cols + c + 1));
        }
        out.push(')');
    }
    out
}

/// Bytes of bound values above which a multi-row statement is split. sqlx does not set
/// TCP_NODELAY, and over TLS a statement larger than one TLS record (16 KiB) leaves the
/// socket in two writes: the second waits for the server's delayed ACK, 40 ms on Linux.
const STATEMENT_BYTES: usize = 8 * 1024;

/// Splits rows for multi-row statements that each stay within one TLS record.
pub(crate) fn chunked<T>(rows: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut used = 0;
    for row in rows {
        let n = size(&row);
        match out.last_mut() {
            Some(last) if used + n <= STATEMENT_BYTES => {
                used += n;
                last.push(row);
            }
            _ => {
                used = n;
                out.push(vec![row]);
            }
        }
    }
    out
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    rt: Handle,
    backend: Backend,
    /// The ledger's group-commit task, started by the first voucher request.
    ledger_batch: Arc<OnceLock<mpsc::UnboundedSender<crate::ledger::batch::Job>>>,
    /// The writer of relationships learned from answers, started by the first one.
    learned: Arc<OnceLock<mpsc::UnboundedSender<Vec<Edge>>>>,
}

impl Store {
    /// Connects (creating an SQLite file if missing) and applies migrations. Must run on the
    /// runtime that will own the pool for the life of the process.
    pub async fn connect(storage: &Storage) -> Result<Store, StoreError> {
        install_default_drivers();
        let (url, max, backend) = match storage {
            Storage::Sqlite { url } if url.contains('?') => (url.clone(), 1, Backend::Sqlite),
            Storage::Sqlite { url } => (format!("{url}?mode=rwc"), 1, Backend::Sqlite),
            Storage::Postgres { url } => (url.clone(), 8, Backend::Postgres),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // A ping before every use is a round trip per transaction; a broken connection
            // fails its query instead, and the pool replaces it.
            .test_before_acquire(false)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await?;
        let store = Store {
            pool,
            rt: Handle::current(),
            backend,
            ledger_batch: Arc::default(),
            learned: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Hands a request to the ledger's group commit (started on first use) and waits for it.
    pub(crate) async fn ledger_batched(
        &self,
        op: crate::ledger::batch::Op,
        signer: Arc<crate::audit::sign::Signer>,
    ) -> Result<crate::ledger::batch::Done, StoreError> {
        let tx = self.ledger_batch.get_or_init(|| {
            crate::ledger::batch::start(&self.rt, self.pool.clone(), self.backend, signer)
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(crate::ledger::batch::Job { op, reply })
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs a query future on the storage runtime, from any runtime.
    pub(crate) async fn on_rt<T, F>(&self, f: impl FnOnce(AnyPool) -> F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, sqlx::Error>> + Send + 'static,
    {
        let fut = f(self.pool.clone());
        self.rt
            .spawn(fut)
            .await
            .map_err(|_| StoreError::Stopped)?
            .map_err(StoreError::from)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS tiergate_migrations \
             (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        for m in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query("SELECT version FROM tiergate_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            let own = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            for sql in [m.sql, own]
                .into_iter()
                .filter(|s| !strip_comments(s).is_empty())
            {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO tiergate_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(m.version)
                .bind(now_unix())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Stores a new credential.
    pub async fn insert_credential(&self, row: CredentialRow) -> Result<(), StoreError> {
        self.on_rt(move |pool| async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO credentials ({CREDENTIAL_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10)"
            )))
            .bind(row.access_key)
            .bind(row.partner_id)
            .bind(row.tier)
            .bind(row.distributor_id)
            .bind(row.secret_ciphertext)
            .bind(row.created_at)
            .bind(row.role)
            .bind(row.label)
            .bind(row.upstream_access_key)
            .bind(row.upstream_secret_ciphertext)
            .execute(&pool)
            .await
            .map(|_| ())
        })
        .await
    }

    /// An active (not revoked) credential by access key.
    pub async fn active_credential(&self, ak: &str) -> Result<Option<CredentialRow>, StoreError> {
        let ak = ak.to_owned();
        self.on_rt(move |pool| async move {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials \
                 WHERE access_key = $1 AND revoked_at IS NULL"
            )))
            .bind(ak)
            .fetch_optional(&pool)
            .await?;
            row.map(|r| to_row(&r)).transpose()
        })
        .await
    }

    /// Every credential, newest first.
    pub async fn list_credentials(&self) -> Result<Vec<CredentialRow>, StoreError> {
        self.on_rt(move |pool| async move {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_at DESC, access_key"
            )))
            .fetch_all(&pool)
            .await?;
            rows.iter().map(to_row).collect()
        })
        .await
    }

    /// Revokes a credential; false if it does not exist or was already revoked.
    pub async fn revoke_credential(&self, ak: &str) -> Result<bool, StoreError> {
        let ak = ak.to_owned();
        self.on_rt(move |pool| async move {
            let r = sqlx::query(
                "UPDATE credentials SET revoked_at = $1 WHERE access_key = $2 AND revoked_at IS NULL",
            )
            .bind(now_unix())
            .bind(ak)
            .execute(&pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
        .await
    }

    /// The stored relationship graph.
    pub async fn graph_edges(&self) -> Result<Vec<Edge>, StoreError> {
        self.on_rt(|pool| async move {
            let rows = sqlx::query("SELECT kind, id, owner, resale FROM graph_edges")
                .fetch_all(&pool)
                .await?;
            let mut edges = Vec::with_capacity(rows.len());
            for r in rows {
                let (kind, id, owner): (String, String, String) =
                    (r.try_get("kind")?, r.try_get("id")?, r.try_get("owner")?);
                let resale: i64 = r.try_get("resale")?;
                edges.extend(edge_from_row(&kind, id, owner, resale != 0));
            }
            Ok(edges)
        })
        .await
    }

    /// Replaces the stored graph with a freshly synced one.
    pub async fn replace_graph(&self, edges: Vec<Edge>) -> Result<(), StoreError> {
        self.on_rt(move |pool| async move {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM graph_edges")
                .execute(&mut *tx)
                .await?;
            insert_edges(&mut tx, &edges, false).await?;
            tx.commit().await
        })
        .await
    }

    /// Adds or updates relationships learned from responses.
    pub async fn upsert_edges(&self, edges: Vec<Edge>) -> Result<(), StoreError> {
        self.on_rt(move |pool| async move {
            let mut tx = pool.begin().await?;
            insert_edges(&mut tx, &edges, true).await?;
            tx.commit().await
        })
        .await
    }

    /// Stores learned relationships in the background: what arrives while a write runs goes
    /// in the next one (a voucher call teaches one edge; a transaction each was a third of a
    /// voucher call's database work).
    pub fn upsert_edges_later(&self, edges: Vec<Edge>) {
        let tx = self.learned.get_or_init(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Edge>>();
            let store = self.clone();
            self.rt.spawn(async move {
                while let Some(mut edges) = rx.recv().await {
                    while let Ok(more) = rx.try_recv() {
                        edges.extend(more);
                    }
                    // One row per key: a statement may not update a row twice.
                    let mut by_key = std::collections::BTreeMap::new();
                    for e in edges {
                        let (kind, id, _, _) = edge_to_row(&e);
                        by_key.insert((kind, id.to_owned()), e);
                    }
                    let edges: Vec<Edge> = by_key.into_values().collect();
                    if let Err(e) = store.upsert_edges(edges).await {
                        tracing::warn!(error = %e, "could not store learned relationships");
                    }
                }
            });
            tx
        });
        if tx.send(edges).is_err() {
            tracing::warn!("the learned-relationship writer has stopped");
        }
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.on_rt(|pool| async move { sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()) })
            .await
    }
}

async fn insert_edges(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    edges: &[Edge],
    upsert: bool,
) -> Result<(), sqlx::Error> {
    // At least 64 bytes a row: at most 128 rows (512 binds, under SQLite's 999) a statement.
    let size = |e: &&Edge| {
        let (kind, id, owner, _) = edge_to_row(e);
        kind.len() + id.len() + owner.len() + 64
    };
    for chunk in chunked(edges.iter().collect(), size) {
        let conflict = if upsert {
            " ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, resale = excluded.resale"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO graph_edges (kind, id, owner, resale) VALUES {}{conflict}",
            values(chunk.len(), 4)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            let (kind, id, owner, resale) = edge_to_row(e);
            q = q
                .bind(kind)
                .bind(id.to_owned())
                .bind(owner.to_owned())
                .bind(i64::from(resale));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn edge_to_row(e: &Edge) -> (&'static str, &str, &str, bool) {
    match e {
        Edge::Reseller { id, distributor } => ("reseller", id, distributor, false),
        Edge::Customer { id, owner, resale } => ("customer", id, owner, *resale),
        Edge::Quota { id, owner } => ("quota", id, owner, false),
        Edge::Coupon { id, owner } => ("coupon", id, owner, false),
    }
}

fn edge_from_row(kind: &str, id: String, owner: String, resale: bool) -> Option<Edge> {
    Some(match kind {
        "reseller" => Edge::Reseller {
            id,
            distributor: owner,
        },
        "customer" => Edge::Customer { id, owner, resale },
        "quota" => Edge::Quota { id, owner },
        "coupon" => Edge::Coupon { id, owner },
        _ => return None,
    })
}

fn strip_comments(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn to_row(r: &sqlx::any::AnyRow) -> Result<CredentialRow, sqlx::Error> {
    Ok(CredentialRow {
        access_key: r.try_get("access_key")?,
        partner_id: r.try_get("partner_id")?,
        tier: r.try_get("tier")?,
        distributor_id: r.try_get("distributor_id")?,
        secret_ciphertext: r.try_get("secret_ciphertext")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        role: r.try_get("role")?,
        label: r.try_get("label")?,
        upstream_access_key: r.try_get("upstream_access_key")?,
        upstream_secret_ciphertext: r.try_get("upstream_secret_ciphertext")?,
    })
}

/// Milliseconds since the Unix epoch of a moment (the audit log's and ledger's clock unit).
pub fn unix_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    unix_ms(time::OffsetDateTime::now_utc())
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
