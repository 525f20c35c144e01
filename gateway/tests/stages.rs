//! The partner API's stages run in the order `filters/mod.rs` states, and a request refused at
//! one stage never runs the next. Driven through the real spine (the gateway's Pingora hooks)
//! over an in-memory connection, with real storage (an SQLite file), limiter and graph.

use std::path::Path;
use std::sync::Arc;
use tiergate_config::Config;
use tiergate_gateway::audit::Audit;
use tiergate_gateway::chain::sign::Signer;
use tiergate_gateway::credentials::{Credentials, Subject, UpstreamKey};
use tiergate_gateway::ctx::Ctx;
use tiergate_gateway::ctx::Stage;
use tiergate_gateway::filters::idempotency::scoped;
use tiergate_gateway::graph::LiveGraph;
use tiergate_gateway::guard::Guard;
use tiergate_gateway::limiter::Limiter;
use tiergate_gateway::metrics::Metrics;
use tiergate_gateway::proxy::Gateway;
use tiergate_gateway::store::Store;
use tiergate_gateway::store::audit::{Filter, Match};
use tiergate_gateway::store::idempotency::Claim;
use tiergate_policy::aksk;
use tiergate_policy::ledger::funds::{Caps, Direction};
use tiergate_policy::{Edge, Graph};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use pingora::http::RequestHeader;
use pingora::proxy::{ProxyHttp, Session};

type R = Result<(), String>;

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

const ADJUST: &str = "/v2/accounts/partner-accounts/adjust-amount";
const AUDIT_KEY: &str = "MFECAQEwBQYDK2VwBCIEIDmdT4ji0OB2Kwxco+mLltCzxzi2onc04xySgnKE/IU4gSEAbDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=";

fn config(dir: &Path, ratelimit: &str) -> Result<Config, String> {
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
url = "sqlite://{}"
[credentials]
master_key = {{ value = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=" }}
[audit]
signing_key = {{ value = "{AUDIT_KEY}" }}
checkpoint_log = "{}"
{ratelimit}
"#,
        dir.join("t.db").display(),
        dir.join("checkpoints.jsonl").display(),
    );
    Config::parse(&text, dir).map_err(e)
}

fn world() -> Graph {
    [
        Edge::Reseller {
            id: "res-1".into(),
            distributor: "dist-1".into(),
        },
        Edge::Reseller {
            id: "res-2".into(),
            distributor: "dist-1".into(),
        },
        Edge::Customer {
            id: "c-mine".into(),
            owner: "res-1".into(),
            resale: true,
        },
        Edge::Customer {
            id: "c-theirs".into(),
            owner: "res-2".into(),
            resale: true,
        },
    ]
    .into_iter()
    .collect()
}

/// A gateway over `store`, and its metrics.
struct Under {
    gw: Gateway,
    metrics: Arc<Metrics>,
}

fn gateway(cfg: &Config, store: Store, graph: LiveGraph) -> Result<Under, String> {
    let metrics = Arc::new(Metrics::new().map_err(e)?);
    let signer = Signer::from_base64_pkcs8(AUDIT_KEY).map_err(e)?;
    let guard = Guard::new(cfg.ratelimit.unauthenticated, metrics.registry()).map_err(e)?;
    let upstream_addr = "127.0.0.1:1".parse().map_err(e)?;
    let client =
        tiergate_gateway::upstream::UpstreamClient::new(cfg.upstream.clone(), upstream_addr);
    let direct =
        tiergate_gateway::upstream::UpstreamClient::new(cfg.upstream.clone(), upstream_addr);
    let lookup = tiergate_gateway::graph::lookup::Lookup::new(
        client,
        UpstreamKey::from(&cfg.distributor),
        cfg.distributor.partner_id.clone(),
    );
    let gw = Gateway {
        guard: Arc::new(guard),
        credentials: Arc::new(Credentials::new(store.clone(), cfg).map_err(e)?),
        metrics: metrics.clone(),
        upstream: cfg.upstream.clone(),
        upstream_addr,
        distributor_key: UpstreamKey::from(&cfg.distributor),
        skew: time::Duration::minutes(15),
        rules: cfg.rules.clone(),
        graph: Arc::new(graph),
        store: store.clone(),
        audit: Audit::new(store, signer, None),
        reconcile: Arc::default(),
        limiter: Arc::new(Limiter::new(cfg.ratelimit.clone(), metrics.registry())?),
        lookup: Arc::new(lookup),
        direct: Arc::new(direct),
        spans: None,
    };
    Ok(Under { gw, metrics })
}

/// A request as the vendor SDK signs it (none: unsigned).
fn request(
    method: &str,
    path: &str,
    body: &str,
    key: Option<(&str, &str)>,
    more: &[(&str, &str)],
) -> Vec<u8> {
    let date = aksk::format_date(time::OffsetDateTime::now_utc());
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: gw.test\r\nx-sdk-date: {date}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some((ak, sk)) = key {
        let signed = [
            ("content-type", "application/json"),
            ("host", "gw.test"),
            ("x-sdk-date", date.as_str()),
        ];
        let hash = aksk::body_sha256(body.as_bytes());
        let auth = aksk::sign(method, path, "", &signed, &hash, ak, sk.as_bytes());
        head.push_str(&format!("authorization: {auth}\r\n"));
    }
    for (n, v) in more {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.as_bytes());
    raw
}

/// What the spine did with one request: whether it answered locally, how far it got, and the
/// answer's status and error code.
struct Ran {
    answered: bool,
    ctx: Ctx,
    status: u16,
    code: String,
}

async fn run(gw: &Gateway, raw: Vec<u8>) -> Result<Ran, String> {
    let (mut client, server) = tokio::io::duplex(1 << 20);
    client.write_all(&raw).await.map_err(e)?;
    let mut session = Session::new_h1(Box::new(server));
    if !session.read_request().await.map_err(e)? {
        return Err("the request was not read".into());
    }
    let mut ctx = gw.new_ctx();
    let answered = gw.request_filter(&mut session, &mut ctx).await.map_err(e)?;
    drop(session);
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.map_err(e)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let code = serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v["error_code"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    Ok(Ran {
        answered,
        ctx,
        status,
        code,
    })
}

fn limiter_decisions(metrics: &Metrics) -> usize {
    String::from_utf8_lossy(&metrics.render())
        .lines()
        .filter(|l| l.starts_with("tiergate_ratelimit_decisions_total{"))
        .count()
}

#[test]
fn requests_refused_before_authentication_never_touch_the_store_or_the_limiter() -> R {
    let dir = tempfile::tempdir().map_err(e)?;
    let cfg = config(dir.path(), "")?;
    // The store lives on a runtime that is gone: any use of it answers TG.5003, not the
    // refusal each request below must get.
    let gone = tokio::runtime::Runtime::new().map_err(e)?;
    let store = gone.block_on(Store::connect(&cfg.storage)).map_err(e)?;
    gone.shutdown_background();
    let u = gateway(&cfg, store, LiveGraph::from_stored(world()))?;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let cases = [
        (
            request("GET", "/v2/no/such/api", "", None, &[]),
            Stage::Route,
            404,
            "TG.2001",
        ),
        (
            request("POST", ADJUST, &big, None, &[]),
            Stage::Body,
            413,
            "TG.4001",
        ),
        (
            request("POST", ADJUST, "{}", None, &[]),
            Stage::Authn,
            401,
            "TG.1001",
        ),
    ];
    let rt = tokio::runtime::Runtime::new().map_err(e)?;
    for (raw, stage, status, code) in cases {
        let r = rt.block_on(run(&u.gw, raw))?;
        assert!(r.answered);
        assert_eq!((r.status, r.code.as_str()), (status, code));
        assert_eq!(r.ctx.reached(), Some(stage));
    }
    assert_eq!(limiter_decisions(&u.metrics), 0, "the limiter was asked");
    // An access key of a shape Tiergate never issues is refused without the store.
    let signed = request("POST", ADJUST, "{}", Some(("TGUNKNOWN", "sk")), &[]);
    let r = rt.block_on(run(&u.gw, signed))?;
    assert_eq!((r.status, r.code.as_str()), (401, "TG.1003"));
    // The first stage that needs the store finds it gone.
    let signed = request(
        "POST",
        ADJUST,
        "{}",
        Some(("TGUNKNOWNUNKNOWN0000", "sk")),
        &[],
    );
    let r = rt.block_on(run(&u.gw, signed))?;
    assert_eq!((r.status, r.code.as_str()), (503, "TG.5003"));
    assert_eq!(r.ctx.reached(), Some(Stage::Authn));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_refusal_ends_the_request_at_its_stage() -> R {
    let dir = tempfile::tempdir().map_err(e)?;
    let limits = "[ratelimit.tiers.cloud_reseller]\nall = { rate = \"1/m\" }\n";
    let cfg = config(dir.path(), limits)?;
    let store = Store::connect(&cfg.storage).await.map_err(e)?;
    let issued = Credentials::new(store.clone(), &cfg)
        .map_err(e)?
        .issue(Subject::Partner("res-1".into()), &Graph::default())
        .await
        .map_err(e)?;
    let (ak, sk) = (
        issued.access_key.clone(),
        issued.secret_key.expose().clone(),
    );

    // Authn passes, the limiter admits, authz refuses (the graph is not synced yet)...
    let unsynced = gateway(&cfg, store.clone(), LiveGraph::default())?;
    let body = r#"{"customer_id":"c-mine","amount":1}"#;
    let signed = |ak: &str, sk: &str, body: &str, more: &[(&str, &str)]| {
        request("POST", ADJUST, body, Some((ak, sk)), more)
    };
    let r = run(&unsynced.gw, signed(&ak, &sk, body, &[])).await?;
    assert_eq!((r.status, r.code.as_str()), (503, "TG.5005"));
    assert_eq!(r.ctx.reached(), Some(Stage::Authz));
    // ... and the next call over the limit never gets to authz.
    let r = run(&unsynced.gw, signed(&ak, &sk, body, &[])).await?;
    assert_eq!((r.status, r.code.as_str()), (429, "TG.6001"));
    assert_eq!(r.ctx.reached(), Some(Stage::RateLimit));

    // The rest on a gateway without that limit.
    let open = config(dir.path(), "")?;
    let u = gateway(&open, store.clone(), LiveGraph::from_stored(world()))?;
    // Authz refuses a customer of another reseller: its idempotency key is never claimed.
    let foreign = r#"{"customer_id":"c-theirs","amount":1}"#;
    let r = run(
        &u.gw,
        signed(&ak, &sk, foreign, &[("x-idempotency-key", "k-foreign")]),
    )
    .await?;
    assert_eq!((r.status, r.code.as_str()), (403, "TG.2004"));
    assert_eq!(r.ctx.reached(), Some(Stage::Authz));
    let unclaimed = store
        .idempotency()
        .claim(scoped(&ak, "k-foreign"), "probe".into(), "probe".into())
        .await
        .map_err(e)?;
    assert_eq!(unclaimed, Claim::New, "a refused request claimed its key");

    // Idempotency refuses a key used for another request: nothing is held or audited as
    // forwarding.
    let r = run(
        &u.gw,
        signed(&ak, &sk, body, &[("x-idempotency-key", "k-foreign")]),
    )
    .await?;
    assert_eq!((r.status, r.code.as_str()), (422, "TG.3011"));
    assert_eq!(r.ctx.reached(), Some(Stage::Idempotency));
    let forwarding = Filter {
        matching: Match {
            outcome: Some("forwarding".into()),
            ..Match::default()
        },
        limit: 100,
        ..Filter::default()
    };
    let intents = store.audit().query(forwarding.clone()).await.map_err(e)?;
    assert!(intents.is_empty(), "{intents:?}");

    // Money refuses over the caller's cap: answered here, never forwarded.
    let caps = Caps {
        per_operation: Some(rust_decimal::Decimal::ONE),
        per_day: None,
        per_month: None,
    };
    let signer = Arc::new(Signer::from_base64_pkcs8(AUDIT_KEY).map_err(e)?);
    store
        .funds()
        .set_caps(
            "res-1".into(),
            Direction::Allocate,
            caps,
            "test".into(),
            signer,
        )
        .await
        .map_err(e)?;
    let over = r#"{"customer_id":"c-mine","amount":5}"#;
    let r = run(&u.gw, signed(&ak, &sk, over, &[])).await?;
    assert!(r.answered, "a refused call must not be forwarded");
    assert_eq!((r.status, r.code.as_str()), (403, "TG.3013"));
    assert_eq!(r.ctx.reached(), Some(Stage::Money));

    // A permitted call goes on: its intent written, nothing answered locally, and re-signed.
    let r = run(&u.gw, signed(&ak, &sk, body, &[])).await?;
    assert!(!r.answered, "{} {}", r.status, r.code);
    assert_eq!(r.ctx.reached(), Some(Stage::Money));
    let intents = store.audit().query(forwarding).await.map_err(e)?;
    assert_eq!(intents.len(), 1);
    let mut ctx = r.ctx;
    let mut upstream = RequestHeader::build("POST", ADJUST.as_bytes(), None).map_err(e)?;
    let (_, server) = tokio::io::duplex(64);
    let mut session = Session::new_h1(Box::new(server));
    u.gw.upstream_request_filter(&mut session, &mut upstream, &mut ctx)
        .await
        .map_err(e)?;
    assert_eq!(ctx.reached(), Some(Stage::Resign));
    let auth = upstream
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        auth.contains("Access=AK,"),
        "signed by the distributor: {auth}"
    );
    Ok(())
}
