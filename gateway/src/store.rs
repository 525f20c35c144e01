//! Storage through sqlx's `Any` driver: one portable schema and one code path for the
//! embedded SQLite default and PostgreSQL in production.
//!
//! The pool lives on a dedicated runtime (see [`Store::connect`]): Pingora runs each service
//! on its own runtimes, and a connection must stay with the reactor that opened it.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use std::future::Future;
use tiergate_config::Storage;
use tiergate_policy::Edge;
use tokio::runtime::Handle;

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

/// The database.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    rt: Handle,
    backend: Backend,
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
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await?;
        let store = Store {
            pool,
            rt: Handle::current(),
            backend,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
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

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.on_rt(|pool| async move { sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()) })
            .await
    }
}

/// Rows per multi-row INSERT (4 binds each, under SQLite's 999-parameter floor).
const EDGE_BATCH: usize = 200;

async fn insert_edges(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    edges: &[Edge],
    upsert: bool,
) -> Result<(), sqlx::Error> {
    for chunk in edges.chunks(EDGE_BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, ${}, ${}, ${})",
                    4 * i + 1,
                    4 * i + 2,
                    4 * i + 3,
                    4 * i + 4
                )
            })
            .collect();
        let conflict = if upsert {
            " ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, resale = excluded.resale"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO graph_edges (kind, id, owner, resale) VALUES {}{conflict}",
            values.join(", ")
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
