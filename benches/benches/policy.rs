//! The authorization decision for a typical request: principal, route, 1 to 100 identifiers,
//! against a graph of 10,000 customers, 1,000 quotas and 50,000 vouchers.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::borrow::Cow;
use std::hint::black_box;
use tiergate_policy::routes::route_by_operation;
use tiergate_policy::{Edge, Graph, Principal, RequestIds, Rules, Tier, decide};

fn graph() -> Graph {
    let mut edges = vec![Edge::Reseller {
        id: "res-1".into(),
        distributor: "dist-1".into(),
    }];
    for r in 2..200 {
        edges.push(Edge::Reseller {
            id: format!("res-{r}"),
            distributor: "dist-1".into(),
        });
    }
    for c in 0..10_000 {
        let owner = format!("res-{}", 1 + c % 199);
        edges.push(Edge::Customer {
            id: format!("cust-{c:05}"),
            owner,
            resale: true,
        });
    }
    for q in 0..1_000 {
        edges.push(Edge::Quota {
            id: format!("q-{q:04}"),
            owner: format!("res-{}", 1 + q % 199),
        });
    }
    for k in 0..50_000 {
        edges.push(Edge::Coupon {
            id: format!("CP{k:08}"),
            owner: format!("res-{}", 1 + k % 199),
        });
    }
    edges.into_iter().collect()
}

fn bench(c: &mut Criterion) {
    let g = graph();
    let rules = Rules::default();
    let me = std::sync::Arc::new(Principal {
        partner_id: "res-1".into(),
        tier: Tier::CloudReseller,
        distributor_id: Some("dist-1".into()),
        role: None,
    });
    let Some(route) = route_by_operation("create_partner_coupons") else {
        return;
    };
    let quota = &route.ids[0];
    let customers = &route.ids[1];
    let mut group = c.benchmark_group("decide_create_partner_coupons");
    for n in [1usize, 10, 100] {
        // Customers 0, 199, 398, ... belong to res-1.
        let mut pairs = vec![(quota, Cow::Borrowed("q-0000"))];
        pairs.extend((0..n).map(|i| (customers, Cow::Owned(format!("cust-{:05}", i * 199)))));
        let ids = RequestIds::from_pairs(pairs);
        group.bench_with_input(BenchmarkId::from_parameter(n), &ids, |b, ids| {
            b.iter(|| decide(black_box(&me), route, black_box(ids), &rules, &g).is_ok())
        });
    }
    group.finish();
    let body: serde_json::Value = serde_json::json!({
        "quota_id": "q-0000",
        "customer_ids": (0..100).map(|i| format!("cust-{:05}", i * 199)).collect::<Vec<_>>(),
        "face_value": 100.5
    });
    let raw = body.to_string();
    c.bench_function("parse_extract_decide_100_ids", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(black_box(&raw)).unwrap_or_default();
            let ids = RequestIds::extract(route, "", v.as_object()).unwrap_or_default();
            decide(&me, route, &ids, &rules, &g).is_ok()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
