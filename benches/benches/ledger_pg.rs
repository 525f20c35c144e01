//! Voucher reservations per second against the machine's PostgreSQL: one reservation and
//! its commit, each a transaction under the quota's lock; and the same as the request path
//! writes it, each with its audit record (intent, outcome) in the same transaction: the
//! database cost a voucher call adds.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use std::sync::atomic::{AtomicU64, Ordering};
use tiergate_config::Storage;
use tiergate_gateway::chain::record::Entry;
use tiergate_gateway::store::Store;
use tiergate_gateway::store::ledger::requests::{Reserved, Settle, VoucherAsk};
use tiergate_policy::ledger::{Ledger, Limits, VoucherRequest};
use tiergate_tests::harness::TempDb;

fn bench(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        return;
    };
    let setup = rt.block_on(async {
        let db = TempDb::create().await?;
        let store = Store::connect(&Storage::Postgres {
            url: db.url.clone(),
            owner: None,
        })
        .await
        .map_err(|e| e.to_string())?;
        let big = |t: i64| Limits {
            total: Decimal::from(t),
            ..Limits::default()
        };
        store
            .ledger()
            .apply("q", move |l: &mut Ledger| {
                l.grant("dist", None, "dist-1", "q", big(1_000_000_000))?;
                l.grant("res-1", Some("dist"), "res-1", "q", big(100_000_000))?;
                l.grant("alice", Some("res-1"), "alice", "q", big(10_000_000))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((db, store))
    });
    let Ok((db, store)) = setup else {
        eprintln!("PostgreSQL is needed for this bench: {:?}", setup.err());
        return;
    };
    let n = AtomicU64::new(0);
    c.bench_function("ledger_reserve_and_commit_postgres", |b| {
        b.iter(|| {
            let id = format!("r{}", n.fetch_add(1, Ordering::Relaxed));
            let req = VoucherRequest {
                face_value: Decimal::from(1),
                customers: vec!["c1".into()],
                services: Vec::new(),
                products: Vec::new(),
                valid_from: None,
                valid_until: None,
            };
            rt.block_on(async {
                let now = time::OffsetDateTime::now_utc();
                let rid = id.clone();
                let _ = store
                    .ledger()
                    .apply("q", move |l: &mut Ledger| {
                        l.reserve(&rid, "alice", &req, now).is_ok()
                    })
                    .await;
                let _ = store
                    .ledger()
                    .apply("q", move |l: &mut Ledger| l.commit(&id, &["c1".to_owned()]))
                    .await;
            })
        })
    });
    let key = tiergate_tests::harness::AUDIT_KEY;
    let Ok(signer) = tiergate_gateway::chain::sign::Signer::from_base64_pkcs8(key) else {
        eprintln!("the demo audit key does not load");
        return;
    };
    let signer = std::sync::Arc::new(signer);
    c.bench_function("ledger_reserve_and_settle_with_audit_postgres", |b| {
        b.iter(|| {
            let id = format!("a{}", n.fetch_add(1, Ordering::Relaxed));
            let ask = VoucherAsk {
                upstream_quota: "q".into(),
                acting: "res-1".into(),
                staff: Some("alice".into()),
                request: VoucherRequest {
                    face_value: Decimal::from(1),
                    customers: vec!["c1".into()],
                    services: Vec::new(),
                    products: Vec::new(),
                    valid_from: None,
                    valid_until: None,
                },
                reservation_id: id.clone(),
            };
            rt.block_on(async {
                let intent = Entry::default();
                if let Ok(Reserved::Held(h)) =
                    store.ledger().reserve(ask, intent, signer.clone()).await
                {
                    let issued = Settle::Issued(vec![("c1".into(), format!("CP{id}"))]);
                    let _ = store
                        .ledger()
                        .settle(h, issued, Entry::default(), signer.clone())
                        .await;
                }
            })
        })
    });
    rt.block_on(db.drop_db());
}

criterion_group!(benches, bench);
criterion_main!(benches);
