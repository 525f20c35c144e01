//! The per-request functions of the hot path not covered by `signature` and `policy`:
//! canonical request building, JSON body scoping (parse, extract, decide, inject), the rate
//! limiter's decision (in process, and leased on the machine's Redis) and the delegation
//! ledger's pure reservation on a three-level tree.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use tiergate_benches::high_limits;
use tiergate_gateway::filters::authz;
use tiergate_gateway::graph::LiveGraph;
use tiergate_gateway::limiter::Limiter;
use tiergate_policy::aksk::{self, QueryOrder};
use tiergate_policy::ledger::{Ledger, Limits, VoucherRequest};
use tiergate_policy::routes::route_by_operation;
use tiergate_policy::{Edge, Graph, Principal, Rules, Tier};
use time::macros::datetime;

fn canonical(c: &mut Criterion) {
    let headers = [
        ("content-type", "application/json"),
        ("host", "tiergate.example.com:8443"),
        ("x-domain-id", "res-1"),
        ("x-sdk-date", "20261121T101500Z"),
    ];
    let hash = aksk::body_sha256(b"{}");
    c.bench_function("canonical_request_get_4_params", |b| {
        b.iter(|| {
            aksk::canonical_request(
                "GET",
                black_box("/v2/promotions/benefits/partner-coupons"),
                black_box("offset=0&limit=10&quota_id=q-1&indirect_partner_id=res-1"),
                QueryOrder::KeyThenValue,
                &headers,
                &hash,
            )
        })
    });
}

fn graph() -> Graph {
    let mut edges = vec![Edge::Reseller {
        id: "res-1".into(),
        distributor: "dist-1".into(),
    }];
    for c in 0..1_000 {
        edges.push(Edge::Customer {
            id: format!("cust-{c:04}"),
            owner: "res-1".into(),
            resale: true,
        });
    }
    edges.push(Edge::Quota {
        id: "q-res-1".into(),
        owner: "res-1".into(),
    });
    edges.into_iter().collect()
}

fn scoping(c: &mut Criterion) {
    let live = LiveGraph::from_stored(graph());
    let rules = Rules::default();
    let me = Arc::new(Principal {
        partner_id: "res-1".into(),
        tier: Tier::CloudReseller,
        distributor_id: Some("dist-1".into()),
        role: None,
    });
    let Some(route) = route_by_operation("create_partner_coupons") else {
        return;
    };
    let mut group = c.benchmark_group("scope_json_body_create_partner_coupons");
    for n in [1usize, 100] {
        let ids: Vec<String> = (0..n).map(|i| format!("cust-{i:04}")).collect();
        let body = serde_json::json!({"quota_id": "q-res-1", "customer_ids": ids, "face_value": 1})
            .to_string();
        let body = Bytes::from(body);
        group.bench_with_input(BenchmarkId::from_parameter(n), &body, |b, body| {
            b.iter(|| authz::authorize(&me, route, "", body.clone(), &live, &rules).is_ok())
        });
    }
    group.finish();
}

fn limiter_config(redis: bool) -> Result<tiergate_config::Config, String> {
    let mode = if redis { "leased" } else { "local" };
    let limits = high_limits(mode, &format!("tgcrit{}", std::process::id()));
    let text = format!(
        r#"listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[upstream]
url = "http://127.0.0.1:1"
[distributor]
partner_id = "dist-1"
access_key = "DISTAK0000000000001"
secret_key = {{ value = "dist-1-secret-key-0000000000000000000001" }}
[credentials]
master_key = {{ value = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=" }}
[audit]
signing_key = {{ value = "{key}" }}
{limits}"#,
        key = tiergate_tests::harness::AUDIT_KEY
    );
    tiergate_config::Config::parse(&text, Path::new(".")).map_err(|e| e.to_string())
}

fn limiter(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        eprintln!("limiter: no runtime");
        return;
    };
    let me = Principal {
        partner_id: "res-1".into(),
        tier: Tier::CloudReseller,
        distributor_id: Some("dist-1".into()),
        role: None,
    };
    let Some(route) = route_by_operation("list_issued_partner_coupons") else {
        eprintln!("limiter: no such route");
        return;
    };
    for (name, redis) in [
        ("limiter_check_local", false),
        ("limiter_check_leased_redis", true),
    ] {
        let limiter = limiter_config(redis)
            .and_then(|cfg| Limiter::new(cfg.ratelimit, &prometheus::Registry::new()));
        let Ok(limiter) = limiter else {
            eprintln!("{name}: {:?}", limiter.err());
            continue;
        };
        c.bench_function(name, |b| {
            b.iter(|| rt.block_on(limiter.check(&me, route, false)).allowed)
        });
    }
}

fn ledger(c: &mut Criterion) {
    let limits = |total: i64| Limits {
        total: Decimal::from(total),
        ..Limits::default()
    };
    let mut base = Ledger::default();
    let granted = base
        .grant("dist", None, "dist-1", "q-dist-1", limits(1_000_000_000))
        .and_then(|()| {
            base.grant(
                "res",
                Some("dist"),
                "res-1",
                "q-dist-1",
                limits(100_000_000),
            )
        })
        .and_then(|()| {
            base.grant(
                "alice",
                Some("res"),
                "alice",
                "q-dist-1",
                limits(10_000_000),
            )
        });
    if granted.is_err() {
        return;
    }
    let req = VoucherRequest {
        face_value: Decimal::ONE,
        customers: vec!["cust-0001".into()],
        services: vec![],
        products: vec![],
        valid_from: None,
        valid_until: None,
    };
    let now = datetime!(2026-11-21 10:16:00 UTC);
    c.bench_function("ledger_reserve_3_levels_pure", |b| {
        let mut n = 0u64;
        b.iter_batched(
            || base.clone(),
            |mut l| {
                n += 1;
                l.reserve(&format!("req-{n}"), "alice", &req, now).is_ok()
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, canonical, scoping, limiter, ledger);
criterion_main!(benches);
