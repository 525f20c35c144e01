//! The gateway's database role on PostgreSQL: with `storage.migrate_url`, migrations run as
//! the schema owner and the gateway's own role may only read and insert into the audit
//! tables: it cannot update, delete, truncate, alter them or disable their append-only
//! triggers. A restricted role finds a current schema and starts without any DDL; on a schema
//! it cannot migrate, it refuses to start.

use serde_json::json;
use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;
use tiergate_tests::harness::{Db, Gateway, TempDb, call, fixture, sdk1, start_sim};

type R = Result<(), String>;

const BASE: &str = "postgres://postgres@127.0.0.1:5432/test";

fn base() -> String {
    std::env::var("TIERGATE_TEST_POSTGRES").unwrap_or_else(|_| BASE.into())
}

/// `url` with its user replaced.
fn as_user(url: &str, user: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or("bad URL")?;
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    Ok(format!("{scheme}://{user}@{host}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateways_role_reads_and_appends_the_audit_log_and_nothing_more() -> R {
    let db = TempDb::create().await?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base())
        .await
        .map_err(|e| format!("PostgreSQL is required for this test: {e}"))?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (owner, gateway) = (
        format!("tg_owner_{}", &tag[..12]),
        format!("tg_gw_{}", &tag[..12]),
    );
    let name = db
        .url
        .rsplit_once('/')
        .map(|(_, n)| n.to_owned())
        .ok_or("bad URL")?;
    for sql in [
        format!("CREATE ROLE {owner} LOGIN"),
        format!("CREATE ROLE {gateway} LOGIN"),
        format!("ALTER DATABASE {name} OWNER TO {owner}"),
    ] {
        admin
            .execute(sqlx::AssertSqlSafe(sql))
            .await
            .map_err(|e| e.to_string())?;
    }
    let result = exercise(&db.url, &owner, &gateway).await;
    db.drop_db().await;
    for r in [&owner, &gateway] {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {r}")))
            .await;
    }
    result
}

async fn exercise(url: &str, owner: &str, gateway: &str) -> R {
    let (owner_url, gw_url) = (as_user(url, owner)?, as_user(url, gateway)?);
    let sim = start_sim(fixture()?).await?;
    // The restricted role alone cannot create the schema: no start.
    assert!(
        Gateway::start(sim.addr(), Db::Postgres(gw_url.clone())).is_err(),
        "started on a schema it could not migrate"
    );
    let gw = Gateway::start(
        sim.addr(),
        Db::Owned {
            url: gw_url.clone(),
            owner: owner_url.clone(),
        },
    )?;
    // Money moves and is audited through the restricted role.
    let res1 = gw.issue("res-1")?;
    let mut v = call(
        &gw.endpoint(),
        &res1.ak,
        &res1.sk,
        &res1.partner,
        "UpdateCustomerAccountAmountRequest",
    );
    v["body_class"] = json!("AdjustAccountReq");
    v["body"] = json!({"customer_id": "cust-r1-a", "amount": "5"});
    let out = sdk1(v)?;
    assert_eq!(out["status"], 200, "{out}");
    let verified = gw.audit("verify", &[])?;
    assert!(verified.contains("intact"), "{verified}");
    // Another gateway on the current schema as the restricted role: no DDL, it starts.
    let second = Gateway::start(sim.addr(), Db::Postgres(gw_url.clone()))?;
    drop(second);
    let migrated = gw.command("migrate", &[], &[])?;
    assert!(migrated.contains("schema at version"), "{migrated}");
    // The owner's URL from the environment of the one command, not the gateway's.
    let args = ["--owner-env", "TG_TEST_OWNER_URL"];
    let migrated = gw.command("migrate", &args, &[("TG_TEST_OWNER_URL", &owner_url)])?;
    assert!(migrated.contains("as the schema owner"), "{migrated}");

    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&gw_url)
        .await
        .map_err(|e| e.to_string())?;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())
        }
    };
    assert!(count("SELECT COUNT(*) FROM audit_records").await? > 0);
    for table in ["audit_records", "audit_checkpoints"] {
        for sql in [
            format!("UPDATE {table} SET seq = seq"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
            format!("ALTER TABLE {table} DISABLE TRIGGER ALL"),
            format!("ALTER TABLE {table} ADD COLUMN x INT"),
            format!("DROP TABLE {table}"),
        ] {
            let done = pool.execute(sqlx::AssertSqlSafe(sql.clone())).await;
            let e = done.err().ok_or(format!("the gateway's role may: {sql}"))?;
            let msg = e.to_string();
            assert!(
                msg.contains("permission denied") || msg.contains("must be owner"),
                "{sql}: {msg}"
            );
        }
    }
    let forged = pool
        .execute("INSERT INTO tiergate_migrations (version, applied_at) VALUES (999, 0)")
        .await;
    assert!(
        forged.is_err(),
        "the gateway's role may write the schema version"
    );
    // Its operational tables stay its own to write.
    pool.execute("UPDATE ledger_nodes SET updated_at = updated_at WHERE 1 = 0")
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    drop(gw);
    Ok(())
}
