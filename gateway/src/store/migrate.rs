//! The schema: migrations applied in order, each once, in its own transaction, by one
//! gateway at a time (gateways starting together on one PostgreSQL wait for each other's
//! migrations instead of racing to create the same tables).
//!
//! With a schema owner (`storage.migrate_url`), migrations run as the owner and the gateway's
//! own role is granted only what it needs: read and write on the operational tables, read and
//! insert only on the audit tables. Not owning them, it cannot update, delete, truncate, alter
//! them or disable their append-only triggers. A role that finds the schema current does no
//! DDL at all.

use super::db::{Backend, Db, StoreError};
use super::sql::now_unix;
use sqlx::any::AnyPoolOptions;
use sqlx::{Connection, Row};
use std::str::FromStr;

/// A migration: portable SQL, then SQL for one backend only (triggers differ).
struct Migration {
    version: i64,
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// A portable migration.
const fn portable(version: i64, sql: &'static str) -> Migration {
    Migration {
        version,
        sql,
        sqlite: "",
        postgres: "",
    }
}

const MIGRATIONS: &[Migration] = &[
    portable(1, include_str!("../../migrations/0001_credentials.sql")),
    portable(2, include_str!("../../migrations/0002_principals.sql")),
    portable(3, include_str!("../../migrations/0003_graph.sql")),
    Migration {
        version: 4,
        sql: include_str!("../../migrations/0004_audit.sql"),
        sqlite: include_str!("../../migrations/0004_audit_sqlite.sql"),
        postgres: include_str!("../../migrations/0004_audit_postgres.sql"),
    },
    portable(5, include_str!("../../migrations/0005_ledger.sql")),
    portable(6, include_str!("../../migrations/0006_ledger_requests.sql")),
    portable(7, include_str!("../../migrations/0007_fund_caps.sql")),
    portable(8, include_str!("../../migrations/0008_sso_bindings.sql")),
    portable(9, include_str!("../../migrations/0009_replay.sql")),
    portable(10, include_str!("../../migrations/0010_issuing.sql")),
    portable(11, include_str!("../../migrations/0011_graph_names.sql")),
    portable(
        12,
        include_str!("../../migrations/0012_credential_last_used.sql"),
    ),
    portable(13, include_str!("../../migrations/0013_graph_sync.sql")),
    portable(14, include_str!("../../migrations/0014_graph_learned.sql")),
    portable(
        15,
        include_str!("../../migrations/0015_graph_increments.sql"),
    ),
];

/// The session advisory lock migrations run under (PostgreSQL).
const MIGRATION_LOCK: i64 = 7277626975;

/// The schema version this build needs.
pub const CURRENT: i64 = match MIGRATIONS.last() {
    Some(m) => m.version,
    None => 0,
};

/// The schema version of a database (0: none yet).
pub(crate) async fn version(db: &Db) -> i64 {
    let found = sqlx::query("SELECT MAX(version) AS v FROM tiergate_migrations")
        .fetch_one(&db.pool)
        .await;
    found
        .ok()
        .and_then(|r| r.try_get::<Option<i64>, _>("v").ok().flatten())
        .unwrap_or(0)
}

/// Brings the schema up to date, unless it is already (then no DDL is run: a restricted role
/// starts on a current schema). A role that may not migrate gets an error that says what to do.
pub(crate) async fn migrate(db: &Db) -> Result<(), StoreError> {
    let found = version(db).await;
    if found >= CURRENT {
        return Ok(());
    }
    apply_locked(db).await.map_err(|e| {
        StoreError::Schema(format!(
            "the database schema is at version {found}, this build needs {CURRENT}, and \
             migrating it failed ({e}): run `tiergate migrate` as the schema owner, or set \
             `storage.migrate_url` (`audit.migrate_url` for a separate audit database)"
        ))
    })
}

/// Migrates as the schema owner (`owner`, a URL) and grants the role of `runtime` (a URL)
/// what the gateway needs, and no more; the owner's connection is closed after.
pub(crate) async fn as_owner(owner: &str, runtime: &str) -> Result<(), StoreError> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(owner)
        .await?;
    let db = Db {
        pool: pool.clone(),
        rt: tokio::runtime::Handle::current(),
        backend: Backend::Postgres,
    };
    let done = async {
        migrate(&db).await?;
        grant(&db, owner, runtime).await
    }
    .await;
    pool.close().await;
    done
}

fn role(url: &str) -> Result<String, StoreError> {
    sqlx::postgres::PgConnectOptions::from_str(url)
        .map(|o| o.get_username().to_owned())
        .map_err(StoreError::Database)
}

/// The privileges of the gateway's role: everything it reads and writes, and on the audit
/// tables and the migration table only what it must (read, and insert into the audit log).
async fn grant(db: &Db, owner: &str, runtime: &str) -> Result<(), StoreError> {
    let (owner, runtime) = (role(owner)?, role(runtime)?);
    if owner == runtime {
        tracing::warn!(
            role = runtime,
            "storage.migrate_url names the gateway's own role: it still owns the audit tables"
        );
        return Ok(());
    }
    let who = format!("\"{}\"", runtime.replace('"', "\"\""));
    let mut tx = db.pool.begin().await?;
    let schema: String = sqlx::query("SELECT current_schema()::text AS s")
        .fetch_one(&mut *tx)
        .await?
        .try_get("s")?;
    let schema = format!("\"{}\"", schema.replace('"', "\"\""));
    for sql in [
        format!("GRANT USAGE ON SCHEMA {schema} TO {who}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}"),
        format!(
            "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER \
             ON audit_records, audit_checkpoints FROM {who}"
        ),
        format!(
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER \
             ON tiergate_migrations FROM {who}"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Applies what is missing. On PostgreSQL the whole run holds a session advisory lock on one
/// connection, released (and the connection returned) however the run ends.
async fn apply_locked(db: &Db) -> Result<(), sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let applied = apply(&mut conn, db.backend).await;
    if db.backend == Backend::Postgres {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await;
        if let Err(e) = unlocked {
            // The lock goes with the session: make sure the session goes too.
            tracing::warn!(error = %e, "could not release the migration lock: closing its connection");
            conn.detach().close().await?;
            return applied;
        }
    }
    applied
}

async fn apply(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tiergate_migrations \
         (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    for m in MIGRATIONS {
        let mut tx = conn.begin().await?;
        let done = sqlx::query("SELECT version FROM tiergate_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            continue;
        }
        let own = match backend {
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

fn strip_comments(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}
