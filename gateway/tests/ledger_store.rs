//! The ledger in the database under concurrency: three independent connection pools (as three
//! gateway processes would have) and 200 concurrent callers race on a slice sized to run out.
//! Not one yuan is oversubscribed at any level.

use rust_decimal::Decimal;
use std::sync::Arc;
use tiergate_config::Storage;
use tiergate_gateway::store::Store;
use tiergate_policy::ledger::{Ledger, Limits, VoucherRequest};
use tiergate_tests::harness::TempDb;

type R = Result<(), String>;

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

const QUOTA: &str = "q-dist-1";

fn limits(total: i64) -> Limits {
    Limits {
        total: Decimal::from(total),
        ..Limits::default()
    }
}

async fn tree(store: &Store) -> R {
    store
        .ledger()
        .apply(QUOTA, |l: &mut Ledger| {
            l.grant("dist", None, "dist-1", QUOTA, limits(10_000))?;
            l.grant("res-1", Some("dist"), "res-1", QUOTA, limits(2_000))?;
            l.grant("alice", Some("res-1"), "alice", QUOTA, limits(500))
        })
        .await
        .map_err(e)?
        .map_err(e)
}

/// 200 callers × 5 requests of 5 yuan on alice's 500: exactly 100 reservations may succeed.
async fn race(stores: Vec<Store>) -> R {
    let stores = Arc::new(stores);
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..200usize {
        let stores = stores.clone();
        tasks.spawn(async move {
            let store = &stores[caller % stores.len()];
            let mut won = 0;
            for i in 0..5 {
                let id = format!("req-{caller}-{i}");
                let req = VoucherRequest {
                    face_value: Decimal::from(5),
                    customers: vec![format!("c{caller}")],
                    services: Vec::new(),
                    products: Vec::new(),
                    valid_from: None,
                    valid_until: None,
                };
                let now = time::OffsetDateTime::now_utc();
                let got = store
                    .ledger()
                    .apply(QUOTA, move |l: &mut Ledger| {
                        l.reserve(&id, "alice", &req, now).is_ok()
                    })
                    .await
                    .map_err(e)?;
                won += usize::from(got);
            }
            Ok::<usize, String>(won)
        });
    }
    let mut won = 0;
    while let Some(r) = tasks.join_next().await {
        won += r.map_err(e)??;
    }
    assert_eq!(won, 100, "exactly the slice, no more, no less");
    let l = stores[0].ledger().view(QUOTA).await.map_err(e)?;
    for (id, n) in l.nodes() {
        assert!(l.outstanding(id) <= n.limits.total, "{id} oversubscribed");
    }
    assert_eq!(
        l.node("alice").map(|n| n.reserved),
        Some(Decimal::from(500))
    );
    assert_eq!(l.remaining("res-1"), Decimal::from(1_500));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_three_pools_200_callers_never_oversubscribe() -> R {
    let db = TempDb::create().await?;
    let storage = Storage::Postgres {
        url: db.url.clone(),
        owner: None,
    };
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Store::connect(&storage).await.map_err(e)?);
    }
    tree(&stores[0]).await?;
    let result = race(stores).await;
    db.drop_db().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_200_callers_never_oversubscribe() -> R {
    let dir = tempfile::tempdir().map_err(e)?;
    let url = format!("sqlite://{}", dir.path().join("l.db").display());
    let store = Store::connect(&Storage::Sqlite { url }).await.map_err(e)?;
    tree(&store).await?;
    race(vec![store]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn settled_reservations_leave_the_database() -> R {
    let dir = tempfile::tempdir().map_err(e)?;
    let url = format!("sqlite://{}", dir.path().join("l.db").display());
    let store = Store::connect(&Storage::Sqlite { url }).await.map_err(e)?;
    tree(&store).await?;
    let req = VoucherRequest {
        face_value: Decimal::from(100),
        customers: vec!["c1".into(), "c2".into()],
        services: Vec::new(),
        products: Vec::new(),
        valid_from: None,
        valid_until: None,
    };
    let now = time::OffsetDateTime::now_utc();
    store
        .ledger()
        .apply(QUOTA, move |l: &mut Ledger| {
            l.reserve("r1", "alice", &req, now).map(|_| ())
        })
        .await
        .map_err(e)?
        .map_err(e)?;
    let used = store
        .ledger()
        .apply(QUOTA, |l: &mut Ledger| l.commit("r1", &["c1".to_owned()]))
        .await
        .map_err(e)?;
    assert_eq!(used, Decimal::from(100));
    let l = store.ledger().view(QUOTA).await.map_err(e)?;
    assert!(l.reservation("r1").is_none());
    assert_eq!(
        l.node("alice").map(|n| (n.reserved, n.used)),
        Some((Decimal::ZERO, Decimal::from(100)))
    );
    Ok(())
}
