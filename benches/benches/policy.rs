//! The authorization decision for a typical request: principal, route, 1 to 100 identifiers,
//! against a graph of 10,000 customers, 1,000 quotas and 50,000 vouchers, and against a large
//! distributor's (5,000 resellers, 500,000 customers).
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::borrow::Cow;
use std::hint::black_box;
use tiergate_policy::routes::route_by_operation;
use tiergate_policy::{Edge, Graph, Principal, RequestIds, Rules, Tier, decide};

/// A distributor's graph: `resellers` resellers (res-1 ...), `customers` customers spread over
/// them (cust-000000 ..., owner `res-{1 + c % resellers}`), a tenth as many quotas and five
/// times as many vouchers.
fn graph(resellers: usize, customers: usize) -> Graph {
    let owner = |i: usize| format!("res-{}", 1 + i % resellers);
    let mut edges: Vec<Edge> = (1..=resellers)
        .map(|r| Edge::Reseller {
            id: format!("res-{r}"),
            distributor: "dist-1".into(),
        })
        .collect();
    for c in 0..customers {
        edges.push(Edge::Customer {
            id: format!("cust-{c:06}"),
            owner: owner(c),
            resale: true,
        });
    }
    for q in 0..customers / 10 {
        edges.push(Edge::Quota {
            id: format!("q-{q:06}"),
            owner: owner(q),
        });
    }
    for k in 0..customers * 5 {
        edges.push(Edge::Coupon {
            id: format!("CP{k:08}"),
            owner: owner(k),
        });
    }
    edges.into_iter().collect()
}

fn bench(c: &mut Criterion) {
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
    // Today's figure's graph (199 resellers, 10,000 customers) and a large distributor's
    // (5,000 resellers, 500,000 customers, 50,000 quotas, 2,500,000 vouchers).
    for (name, resellers, n_customers) in [("", 199, 10_000), ("_5000x100", 5_000, 500_000)] {
        let g = graph(resellers, n_customers);
        let mut group = c.benchmark_group(format!("decide_create_partner_coupons{name}"));
        for n in [1usize, 10, 100] {
            // Customers 0, resellers, 2 x resellers, ... belong to res-1.
            let mut pairs = vec![(quota, Cow::Borrowed("q-000000"))];
            pairs.extend(
                (0..n).map(|i| (customers, Cow::Owned(format!("cust-{:06}", i * resellers)))),
            );
            let ids = RequestIds::from_pairs(pairs);
            group.bench_with_input(BenchmarkId::from_parameter(n), &ids, |b, ids| {
                b.iter(|| decide(black_box(&me), route, black_box(ids), &rules, &g).is_ok())
            });
        }
        group.finish();
    }
    // The whole stage as a request pays it: parse the body, extract the 100 identifiers,
    // decide; on both graphs.
    for (name, resellers, n_customers) in [("", 199, 10_000), ("_5000x100", 5_000, 500_000)] {
        let g = graph(resellers, n_customers);
        let body: serde_json::Value = serde_json::json!({
            "quota_id": "q-000000",
            "customer_ids": (0..100)
                .map(|i| format!("cust-{:06}", i * resellers))
                .collect::<Vec<_>>(),
            "face_value": 100.5
        });
        let raw = body.to_string();
        c.bench_function(&format!("parse_extract_decide_100_ids{name}"), |b| {
            b.iter(|| {
                let v: serde_json::Value =
                    serde_json::from_str(black_box(&raw)).unwrap_or_default();
                let ids = RequestIds::extract(route, "", v.as_object()).unwrap_or_default();
                decide(&me, route, &ids, &rules, &g).is_ok()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
