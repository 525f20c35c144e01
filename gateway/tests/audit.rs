//! The audit chain against real databases: append-only at the database level, and every kind
//! of tampering, including a superuser's who recomputes the hashes, found by `verify` with the
//! right record named.

use serde_json::json;
use sqlx::any::AnyPoolOptions;
use tiergate_config::Storage;
use tiergate_gateway::audit::Audit;
use tiergate_gateway::chain::record::{Entry, Kind, chain_hash};
use tiergate_gateway::chain::sign::Signer;
use tiergate_gateway::chain::verify::Report;
use tiergate_gateway::store::{Backend, Store};
use tiergate_tests::harness::TempDb;

type R = Result<(), String>;

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

struct Log {
    audit: Audit,
    url: String,
    backend: Backend,
    _dir: tempfile::TempDir,
}

/// Six records (amounts 100.50 ... 600.50) with signed checkpoints after 4 and 6.
async fn log(storage: Storage, url: String) -> Result<Log, String> {
    let dir = tempfile::tempdir().map_err(e)?;
    let store = Store::connect(&storage).await.map_err(e)?;
    let signer = Signer::from_base64_pkcs8(&Signer::generate().map_err(e)?).map_err(e)?;
    let audit = Audit::new(
        store.clone(),
        signer,
        Some(dir.path().join("checkpoints.jsonl")),
    );
    for i in 1..=6 {
        let entry = Entry {
            kind: Some(Kind::Intent),
            operation: Some("update_customer_account_amount".into()),
            principal: Some("res-1".into()),
            customers: vec!["cust-r1-a".into()],
            amount: Some(format!("{i}00.50")),
            detail: json!({"request": i}),
            ..Entry::default()
        };
        audit.append(entry).await.map_err(e)?;
        if i == 4 {
            audit.checkpoint().await.map_err(e)?;
        }
    }
    audit.checkpoint().await.map_err(e)?;
    Ok(Log {
        audit,
        url,
        backend: store.backend(),
        _dir: dir,
    })
}

async fn sqlite() -> Result<Log, String> {
    let dir = tempfile::tempdir().map_err(e)?;
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let l = log(Storage::Sqlite { url: url.clone() }, url).await?;
    std::mem::forget(dir); // keep the database file for the test's lifetime
    Ok(l)
}

/// Runs SQL as a superuser would: append-only triggers out of the way.
async fn tamper(l: &Log, statements: &[String]) -> R {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&l.url)
        .await
        .map_err(e)?;
    let mut tx = pool.begin().await.map_err(e)?;
    let bypass: Vec<&str> = match l.backend {
        Backend::Sqlite => vec![
            "DROP TRIGGER IF EXISTS audit_records_no_update",
            "DROP TRIGGER IF EXISTS audit_records_no_delete",
            "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete",
        ],
        Backend::Postgres => vec!["SET LOCAL session_replication_role = replica"],
    };
    for s in bypass {
        sqlx::raw_sql(s).execute(&mut *tx).await.map_err(e)?;
    }
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
            .execute(&mut *tx)
            .await
            .map_err(e)?;
    }
    tx.commit().await.map_err(e)
}

async fn first_broken(l: &Log) -> Result<(i64, String), String> {
    let r: Report = l.audit.verify().await.map_err(e)?;
    r.broken
        .first()
        .map(|b| (b.seq, b.what.clone()))
        .ok_or_else(|| "tampering not detected".to_owned())
}

async fn every_attack(make: impl AsyncFn() -> Result<Log, String>) -> R {
    let l = make().await?;
    assert!(l.audit.verify().await.map_err(e)?.intact());
    // Append-only at the database level.
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&l.url)
        .await
        .map_err(e)?;
    for sql in [
        "UPDATE audit_records SET amount = '1' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 1",
    ] {
        let got = sqlx::raw_sql(sql).execute(&pool).await;
        assert!(
            got.is_err_and(|err| err.to_string().contains("append-only")),
            "{sql}"
        );
    }
    pool.close().await;

    // Edit an amount.
    let l = make().await?;
    tamper(
        &l,
        &[
            "UPDATE audit_records SET body = REPLACE(body, '300.50', '900.50') WHERE seq = 3"
                .into(),
        ],
    )
    .await?;
    let (seq, what) = first_broken(&l).await?;
    assert_eq!(seq, 3, "{what}");
    assert!(what.contains("modified"), "{what}");

    // Delete a row.
    let l = make().await?;
    tamper(&l, &["DELETE FROM audit_records WHERE seq = 4".into()]).await?;
    let (seq, what) = first_broken(&l).await?;
    assert_eq!(seq, 4, "{what}");
    assert!(what.contains("missing"), "{what}");

    // Swap two rows.
    let l = make().await?;
    tamper(
        &l,
        &[
            "UPDATE audit_records SET seq = -2 WHERE seq = 2".into(),
            "UPDATE audit_records SET seq = 2 WHERE seq = 3".into(),
            "UPDATE audit_records SET seq = 3 WHERE seq = -2".into(),
        ],
    )
    .await?;
    let (seq, what) = first_broken(&l).await?;
    assert_eq!(seq, 2, "{what}");

    // Rewrite the tail from record 3 and recompute every hash: only the signatures tell.
    let l = make().await?;
    let rows = l.audit.store().audit().rows().await.map_err(e)?;
    let mut prev = rows[1].hash.clone();
    let mut sql = Vec::new();
    for row in &rows[2..] {
        let body = row.body.replace("300.50", "900.50");
        let hash = chain_hash(&prev, &body);
        sql.push(format!(
            "UPDATE audit_records SET body = '{}', amount = REPLACE(amount, '300.50', '900.50'), prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
            body.replace('\'', "''"),
            row.seq
        ));
        prev = hash;
    }
    tamper(&l, &sql).await?;
    let (seq, what) = first_broken(&l).await?;
    assert_eq!(seq, 3, "{what}");
    assert!(what.contains("signature"), "{what}");

    // Truncate the tail, checkpoints included: the log file outside the database tells.
    let l = make().await?;
    tamper(
        &l,
        &[
            "DELETE FROM audit_records WHERE seq > 4".into(),
            "DELETE FROM audit_checkpoints WHERE seq > 4".into(),
        ],
    )
    .await?;
    let (seq, what) = first_broken(&l).await?;
    assert_eq!(seq, 5, "{what}");
    assert!(what.contains("removed"), "{what}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_every_tampering_is_found() -> R {
    every_attack(sqlite).await
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_every_tampering_is_found() -> R {
    let dbs = std::sync::Mutex::new(Vec::new());
    let make = async || -> Result<Log, String> {
        let db = TempDb::create().await?;
        let url = db.url.clone();
        let l = log(
            Storage::Postgres {
                url: url.clone(),
                owner: None,
            },
            url,
        )
        .await?;
        dbs.lock().map_err(e)?.push(db);
        Ok(l)
    };
    let result = every_attack(make).await;
    let created: Vec<TempDb> = dbs
        .lock()
        .map(|mut d| d.drain(..).collect())
        .unwrap_or_default();
    for db in created {
        db.drop_db().await;
    }
    result
}
