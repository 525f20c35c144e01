//! The schema: migrations applied in order, each once, in its own transaction, by one
//! gateway at a time (gateways starting together on one PostgreSQL wait for each other's
//! migrations instead of racing to create the same tables).

use super::db::{Backend, Db};
use super::sql::now_unix;
use sqlx::Connection;

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
];

/// The session advisory lock migrations run under (PostgreSQL).
const MIGRATION_LOCK: i64 = 7277626975;

/// Applies what is missing. On PostgreSQL the whole run holds a session advisory lock on one
/// connection, released (and the connection returned) however the run ends.
pub(crate) async fn migrate(db: &Db) -> Result<(), sqlx::Error> {
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
