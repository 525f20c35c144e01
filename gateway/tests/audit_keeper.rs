//! The audit log's own duties: an intent left without an outcome is marked unknown, once;
//! exports mask personal data unless unmasked access is asked for, which is audited.

use serde_json::json;
use std::time::Duration;
use tiergate_config::Storage;
use tiergate_gateway::audit::Audit;
use tiergate_gateway::audit::keeper::Keeper;
use tiergate_gateway::audit::read::records;
use tiergate_gateway::chain::record::{Entry, Kind};
use tiergate_gateway::chain::sign::Signer;
use tiergate_gateway::store::Store;
use tiergate_gateway::store::audit::{Filter, Match};

type R = Result<(), String>;

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

async fn audit(dir: &tempfile::TempDir) -> Result<Audit, String> {
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let store = Store::connect(&Storage::Sqlite { url }).await.map_err(e)?;
    let signer = Signer::from_base64_pkcs8(&Signer::generate().map_err(e)?).map_err(e)?;
    Ok(Audit::new(store, signer, Some(dir.path().join("cp.jsonl"))))
}

fn all() -> Filter {
    Filter {
        limit: 100,
        ..Filter::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_intent_without_an_outcome_is_marked_unknown_once() -> R {
    let dir = tempfile::tempdir().map_err(e)?;
    let a = audit(&dir).await?;
    let intent = Entry {
        kind: Some(Kind::Intent),
        request_id: Some("req-1".into()),
        operation: Some("update_customer_account_amount".into()),
        amount: Some("5.00".into()),
        outcome: Some("forwarding".into()),
        ..Entry::default()
    };
    a.append(intent).await.map_err(e)?;
    let keeper = Keeper {
        audit: a.clone(),
        interval: Duration::from_secs(3600),
        stale_after: Duration::ZERO,
        config_fingerprint: "test".into(),
    };
    keeper.settle().await;
    keeper.settle().await;
    let outcomes = records(
        &a,
        Filter {
            matching: Match {
                kind: Some("outcome".into()),
                ..Match::default()
            },
            ..all()
        },
        false,
        "t",
    )
    .await?;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["outcome"], "unknown");
    assert_eq!(outcomes[0]["request_id"], "req-1");
    assert_eq!(outcomes[0]["amount"], "5.00");
    assert!(a.verify().await.map_err(e)?.intact());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_data_is_masked_unless_unmasked_access_is_asked_for() -> R {
    let dir = tempfile::tempdir().map_err(e)?;
    let a = audit(&dir).await?;
    let entry = Entry {
        kind: Some(Kind::Outcome),
        operation: Some("reclaim_to_partner_account".into()),
        customers: vec!["cust-r1-a".into()],
        detail: json!({"records": [{"customer_name": "Acme Retail", "email": "ops@acme.example", "mobile": "13800001234"}]}),
        ..Entry::default()
    };
    a.append(entry).await.map_err(e)?;
    let masked = records(&a, all(), false, "ann").await?;
    let text = masked[0].to_string();
    assert!(
        !text.contains("Acme Retail") && !text.contains("ops@") && !text.contains("13800001234"),
        "{text}"
    );
    assert!(
        text.contains("A*********l") && text.contains("@acme.example"),
        "{text}"
    );
    assert!(
        records(
            &a,
            Filter {
                matching: Match {
                    kind: Some("access".into()),
                    ..Match::default()
                },
                ..all()
            },
            false,
            "x"
        )
        .await?
        .is_empty()
    );
    let raw = records(
        &a,
        Filter {
            matching: Match {
                kind: Some("outcome".into()),
                ..Match::default()
            },
            ..all()
        },
        true,
        "bo",
    )
    .await?;
    assert!(raw[0].to_string().contains("Acme Retail"));
    let access = records(
        &a,
        Filter {
            matching: Match {
                kind: Some("access".into()),
                ..Match::default()
            },
            ..all()
        },
        false,
        "x",
    )
    .await?;
    assert_eq!(access.len(), 1);
    assert_eq!(access[0]["principal"], "bo");
    Ok(())
}
