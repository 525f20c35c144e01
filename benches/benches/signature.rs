//! Signature verification and canonical request building: the per-request cost of AK/SK.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tiergate_policy::aksk;
use time::macros::datetime;

const SK: &[u8] = b"SKvector/secret+1";
const PATH: &str = "/v2/promotions/benefits/partner-coupons";
const BODY: &[u8] = br#"{"quota_id":"q-res-1","customer_ids":["cust-r1-a","cust-r1-b"],"face_value":100.50,"indirect_partner_id":"res-1"}"#;

fn headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/json"),
        ("host", "tiergate.example.com:8443"),
        ("user-agent", "huaweicloud-usdk-python/3.0"),
        ("x-domain-id", "res-1"),
        ("x-sdk-date", "20261121T101500Z"),
    ]
}

fn bench(c: &mut Criterion) {
    let h = headers();
    let auth = aksk::sign(
        "POST",
        PATH,
        "",
        &h,
        &aksk::body_sha256(BODY),
        "AKBENCH",
        SK,
    );
    let now = datetime!(2026-11-21 10:16:00 UTC);
    c.bench_function("verify_post_json_body", |b| {
        b.iter(|| {
            let parsed = aksk::parse_authorization(black_box(&auth)).map_err(|_| ());
            let req = aksk::Request {
                method: "POST",
                path: PATH,
                query: "",
                headers: h.as_slice(),
                body: black_box(BODY),
            };
            parsed.and_then(|a| {
                aksk::verify(&req, &a, SK, now, time::Duration::minutes(15)).map_err(|_| ())
            })
        })
    });
    let query = "customer_id=c1&limit=10&offset=0&status=1";
    let auth_q = aksk::sign(
        "GET",
        PATH,
        query,
        &h,
        aksk::EMPTY_BODY_SHA256,
        "AKBENCH",
        SK,
    );
    c.bench_function("verify_get_with_query", |b| {
        b.iter(|| {
            let parsed = aksk::parse_authorization(black_box(&auth_q)).map_err(|_| ());
            let req = aksk::Request {
                method: "GET",
                path: PATH,
                query,
                headers: h.as_slice(),
                body: b"",
            };
            parsed.and_then(|a| {
                aksk::verify(&req, &a, SK, now, time::Duration::minutes(15)).map_err(|_| ())
            })
        })
    });
    c.bench_function("sign_upstream_post", |b| {
        b.iter(|| {
            aksk::sign(
                "POST",
                PATH,
                "",
                black_box(&h),
                &aksk::body_sha256(BODY),
                "AKBENCH",
                SK,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
