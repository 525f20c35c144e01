//! Credential storage against both real backends: an SQLite file and the machine's PostgreSQL.

use std::path::Path;
use tiergate_config::{Config, Storage};
use tiergate_gateway::credentials::{Credentials, Subject};
use tiergate_gateway::store::Store;
use tiergate_policy::{Edge, Graph, Tier};
use tiergate_tests::harness::TempDb;

type R = Result<(), String>;

fn config(storage: &str, ttl: &str) -> Result<Config, String> {
    let text = format!(
        r#"listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[upstream]
url = "http://127.0.0.1:1"
[distributor]
partner_id = "dist-1"
access_key = "AK"
secret_key = {{ value = "sk" }}
[[resellers]]
partner_id = "res-1"
[storage]
url = "{storage}"
[credentials]
master_key = {{ value = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=" }}
cache_ttl = "{ttl}"
[audit]
signing_key = {{ value = "MFECAQEwBQYDK2VwBCIEIDmdT4ji0OB2Kwxco+mLltCzxzi2onc04xySgnKE/IU4gSEAbDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=" }}
"#
    );
    Config::parse(&text, Path::new("/")).map_err(|e| e.to_string())
}

async fn exercise(storage: &str) -> R {
    let cfg = config(storage, "1h")?;
    let store = Store::connect(&cfg.storage)
        .await
        .map_err(|e| e.to_string())?;
    // Migrations are idempotent: a second start on the same database changes nothing.
    Store::connect(&cfg.storage)
        .await
        .map_err(|e| e.to_string())?;
    let creds = Credentials::new(store.clone(), &cfg).map_err(|e| e.to_string())?;
    let g = Graph::default();
    let issued = creds
        .issue(Subject::Partner("res-1".into()), &g)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(issued.principal.tier, Tier::CloudReseller);
    assert!(matches!(
        creds.issue(Subject::Partner("res-404".into()), &g).await,
        Err(tiergate_gateway::credentials::CredentialError::UnknownPartner(_))
    ));
    // The graph round-trips too, replaced whole and upserted.
    let edges = vec![
        Edge::Reseller {
            id: "res-1".into(),
            distributor: "dist-1".into(),
        },
        Edge::Customer {
            id: "c1".into(),
            owner: "res-1".into(),
            resale: true,
        },
    ];
    store
        .graph()
        .replace(edges.clone())
        .await
        .map_err(|e| e.to_string())?;
    let learned = vec![
        Edge::Customer {
            id: "c1".into(),
            owner: "res-1".into(),
            resale: false,
        },
        Edge::Coupon {
            id: "k1".into(),
            owner: "res-1".into(),
        },
    ];
    store
        .graph()
        .upsert(learned)
        .await
        .map_err(|e| e.to_string())?;
    let back: Graph = store
        .graph()
        .edges()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let expected: Graph = [
        edges[0].clone(),
        Edge::Customer {
            id: "c1".into(),
            owner: "res-1".into(),
            resale: false,
        },
        Edge::Coupon {
            id: "k1".into(),
            owner: "res-1".into(),
        },
    ]
    .into_iter()
    .collect();
    assert_eq!(back, expected);
    let found = creds
        .lookup(&issued.access_key)
        .await
        .map_err(|e| e.to_string())?;
    let found = found.ok_or("issued credential not found")?;
    assert_eq!(found.secret.expose(), issued.secret_key.expose().as_bytes());
    assert_eq!(found.principal.partner_id, "res-1");

    let rows = store
        .credentials()
        .list()
        .await
        .map_err(|e| e.to_string())?;
    let row = rows
        .iter()
        .find(|r| r.access_key == issued.access_key)
        .ok_or("not listed")?;
    assert!(
        !row.secret_ciphertext
            .contains(issued.secret_key.expose().as_str()),
        "SK stored in clear"
    );

    // Revocation through the same service is seen at once, despite a long TTL.
    assert!(
        creds
            .revoke(&issued.access_key)
            .await
            .map_err(|e| e.to_string())?
    );
    assert!(
        !creds
            .revoke(&issued.access_key)
            .await
            .map_err(|e| e.to_string())?
    );
    assert!(
        creds
            .lookup(&issued.access_key)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
    );
    assert!(store.ping().await.is_ok());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_round_trip_on_sqlite() -> R {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    exercise(&url).await
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_round_trip_on_postgres() -> R {
    let db = TempDb::create().await?;
    assert!(matches!(
        config(&db.url, "1s")?.storage,
        Storage::Postgres { .. }
    ));
    let result = exercise(&db.url).await;
    db.drop_db().await;
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_by_another_process_is_seen_after_the_ttl() -> R {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let cfg = config(&url, "0ms")?;
    let store = Store::connect(&cfg.storage)
        .await
        .map_err(|e| e.to_string())?;
    let gateway = Credentials::new(store.clone(), &cfg).map_err(|e| e.to_string())?;
    let cli = Credentials::new(store, &cfg).map_err(|e| e.to_string())?;
    let issued = cli
        .issue(Subject::Partner("dist-1".into()), &Graph::default())
        .await
        .map_err(|e| e.to_string())?;
    assert!(
        gateway
            .lookup(&issued.access_key)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
    );
    cli.revoke(&issued.access_key)
        .await
        .map_err(|e| e.to_string())?;
    assert!(
        gateway
            .lookup(&issued.access_key)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn gateways_starting_together_on_a_new_database_migrate_it_once() -> R {
    let db = TempDb::create().await?;
    let storage = Storage::Postgres {
        url: db.url.clone(),
        owner: None,
    };
    // Each start opens its own pool and migrates, as separate gateway processes do.
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let storage = storage.clone();
            tokio::spawn(async move { Store::connect(&storage).await.map_err(|e| e.to_string()) })
        })
        .collect();
    let mut result = Ok(());
    for s in starts {
        if let Err(e) = s.await.map_err(|e| e.to_string()).and_then(|r| r.map(drop)) {
            result = Err(format!("a start failed: {e}"));
        }
    }
    if result.is_ok() {
        let store = Store::connect(&storage).await.map_err(|e| e.to_string())?;
        result = store.ping().await.map_err(|e| e.to_string());
    }
    db.drop_db().await;
    result
}
