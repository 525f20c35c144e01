//! Protocol edges of the gateway, with hand-made requests: dates, bodies, routes, upstream
//! failures, request ids and metrics.

use serde_json::Value;
use tiergate_tests::harness::{Cred, Db, Gateway, HttpResponse, Signer, fixture, http, start_sim};
use tiergate_tests::sim::Simulator;
use time::{Duration, OffsetDateTime};

type R = Result<(), String>;

const ADJUST: &str = "/v2/accounts/partner-accounts/adjust-amount";

fn signed(
    gw: &Gateway,
    c: &Cred,
    method: &str,
    path: &str,
    body: &[u8],
    at: OffsetDateTime,
) -> Result<HttpResponse, String> {
    let signer = Signer {
        addr: gw.addr,
        ak: &c.ak,
        sk: &c.sk,
    };
    signer.send_at(method, path, "", body, at)
}

/// A simulator, a ready gateway, a reseller credential, and how many requests the
/// simulator had seen (the gateway's graph sync) before the test's own.
async fn setup() -> Result<(Simulator, Gateway, Cred, usize), String> {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let c = gw.issue("res-1")?;
    let seen = sim.seen();
    Ok((sim, gw, c, seen))
}

fn code(r: &HttpResponse) -> Value {
    r.json()["error_code"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_signature_passes_and_a_stale_or_future_one_does_not() -> R {
    let (sim, gw, c, seen) = setup().await?;
    let body = br#"{"customer_id":"cust-r1-a","amount":1.25}"#;
    let now = OffsetDateTime::now_utc();
    let ok = signed(&gw, &c, "POST", ADJUST, body, now)?;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    for at in [now - Duration::minutes(16), now + Duration::minutes(16)] {
        let r = signed(&gw, &c, "POST", ADJUST, body, at)?;
        assert_eq!((r.status, code(&r)), (401, "TG.1005".into()));
    }
    assert_eq!(sim.requests_since(seen).len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_malformed_and_unknown_route_requests_are_refused_locally() -> R {
    let (sim, gw, c, seen) = setup().await?;
    let r = http(gw.addr, "POST", ADJUST, &[], b"{}")?;
    assert_eq!((r.status, code(&r)), (401, "TG.1001".into()));
    let r = http(
        gw.addr,
        "POST",
        ADJUST,
        &[("authorization", "Basic abc")],
        b"{}",
    )?;
    assert_eq!((r.status, code(&r)), (401, "TG.1002".into()));
    let r = signed(&gw, &c, "DELETE", ADJUST, b"", OffsetDateTime::now_utc())?;
    assert_eq!((r.status, code(&r)), (404, "TG.2001".into()));
    let r = signed(
        &gw,
        &c,
        "GET",
        "/v2/partners/nothing-here",
        b"",
        OffsetDateTime::now_utc(),
    )?;
    assert_eq!((r.status, code(&r)), (404, "TG.2001".into()));
    assert!(r.header("x-request-id").is_some_and(|v| v.len() == 32));
    // A dot segment is not even looked up: a server normalising it would see another path.
    let r = signed(
        &gw,
        &c,
        "GET",
        "/v2/partners/../admin",
        b"",
        OffsetDateTime::now_utc(),
    )?;
    assert_eq!((r.status, code(&r)), (400, "TG.4002".into()));
    assert!(sim.requests_since(seen).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_64_kib_and_non_objects_are_refused() -> R {
    let (sim, gw, c, seen) = setup().await?;
    let big = format!(
        r#"{{"customer_id":"cust-r1-a","amount":1,"memo":"{}"}}"#,
        "x".repeat(70_000)
    );
    let r = signed(
        &gw,
        &c,
        "POST",
        ADJUST,
        big.as_bytes(),
        OffsetDateTime::now_utc(),
    )?;
    assert_eq!((r.status, code(&r)), (413, "TG.4001".into()));
    let r = signed(&gw, &c, "POST", ADJUST, b"[1,2]", OffsetDateTime::now_utc())?;
    assert_eq!((r.status, code(&r)), (400, "TG.4002".into()));
    assert!(sim.requests_since(seen).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_request_id_comes_back_with_the_answer_unchanged() -> R {
    let (sim, gw, c, seen) = setup().await?;
    let r = signed(
        &gw,
        &c,
        "POST",
        ADJUST,
        br#"{"customer_id":"cust-r1-a","amount":0.001}"#,
        OffsetDateTime::now_utc(),
    )?;
    assert_eq!((r.status, code(&r)), (400, "CBC.0100".into()));
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));
    assert_eq!(sim.requests_since(seen).len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_gone_away_is_a_502_in_the_vendor_envelope() -> R {
    let (sim, gw, c, _) = setup().await?;
    drop(sim);
    let body = br#"{"customer_id":"cust-r1-a","amount":1}"#;
    let r = signed(&gw, &c, "POST", ADJUST, body, OffsetDateTime::now_utc())?;
    assert_eq!((r.status, code(&r)), (502, "TG.5002".into()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn before_the_first_graph_sync_requests_are_refused_503() -> R {
    // Bind and release a port so nothing listens there: the graph can never sync.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?;
    let gw = Gateway::start_unready(dead)?;
    let ready = http(gw.admin, "GET", "/readyz", &[], b"")?;
    assert_eq!(ready.status, 503);
    let c = gw.issue("res-1")?;
    let body = br#"{"customer_id":"cust-r1-a","amount":1}"#;
    let r = signed(&gw, &c, "POST", ADJUST, body, OffsetDateTime::now_utc())?;
    assert_eq!((r.status, code(&r)), (503, "TG.5005".into()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_route_tier_and_outcome() -> R {
    let (_sim, gw, c, _) = setup().await?;
    let now = OffsetDateTime::now_utc();
    signed(
        &gw,
        &c,
        "POST",
        ADJUST,
        br#"{"customer_id":"cust-r1-a","amount":2}"#,
        now,
    )?;
    signed(
        &gw,
        &c,
        "POST",
        "/v2/partners/indirect-partners/query",
        b"{}",
        now,
    )?;
    let m = http(gw.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body);
    assert!(text.contains(r#"tiergate_requests_total{outcome="ok",route="update_customer_account_amount",tier="cloud_reseller"} 1"#), "{text}");
    assert!(text.contains(r#"tiergate_requests_total{outcome="denied",route="list_indirect_partners",tier="cloud_reseller"} 1"#), "{text}");
    assert!(text.contains("tiergate_request_duration_seconds_bucket"));
    let h = http(gw.admin, "GET", "/healthz", &[], b"")?;
    assert_eq!(h.status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_refuses_in_the_vendor_envelope_too() -> R {
    let (_sim, gw, _c, _) = setup().await?;
    for (path, status, expected) in [
        ("/no/such/endpoint", 404, "TG.2001"),
        ("/audit/records", 401, "TG.1001"),
        ("/delegations?quota_id=q", 401, "TG.1001"),
    ] {
        let r = http(gw.admin, "GET", path, &[], b"")?;
        assert_eq!((r.status, code(&r)), (status, expected.into()), "{path}");
        assert!(r.json()["error_msg"].is_string(), "{path}");
        let id = r.header("x-request-id").unwrap_or_default();
        assert_eq!(id.len(), 32, "{path}: x-request-id {id:?}");
    }
    Ok(())
}

#[test]
fn a_gateway_that_cannot_start_names_every_problem_at_once() -> R {
    // Two ports taken, a database that does not answer, an upstream that does not resolve.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let taken2 = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = |l: &std::net::TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("tiergate.toml");
    let text = format!(
        r#"listen = "127.0.0.1:{}"
admin_listen = "127.0.0.1:{}"
[upstream]
url = "http://no-such-host.invalid"
[distributor]
partner_id = "dist-1"
access_key = "AK"
secret_key = {{ value = "sk" }}
[storage]
url = "sqlite:///nonexistent/dir/t.db"
[credentials]
master_key = {{ value = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=" }}
[audit]
signing_key = {{ value = "{}" }}
"#,
        port(&taken),
        port(&taken2),
        tiergate_tests::harness::AUDIT_KEY,
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let out = std::process::Command::new(tiergate_tests::harness::binary("tiergate")?)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .map_err(|e| e.to_string())?;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    for setting in [
        "listen: ",
        "admin_listen: ",
        "upstream.url: ",
        "storage.url: ",
    ] {
        assert!(
            said.lines().any(|l| l.starts_with(setting)),
            "{setting} not named in: {said}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_trace_goes_on_to_the_vendor_and_every_request_is_logged_flat() -> R {
    let (sim, gw, res1, _) = setup().await?;
    let signer = Signer {
        addr: gw.addr,
        ak: &res1.ak,
        sk: &res1.sk,
    };
    let list = "/v2/promotions/benefits/partner-coupons";
    let mut headers = signer.headers(
        "GET",
        list,
        "limit=10&offset=0",
        b"",
        OffsetDateTime::now_utc(),
    );
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let given = format!("00-{trace}-b7ad6b7169203331-01");
    headers.push(("traceparent".into(), given.clone()));
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let seen = sim.seen();
    let r = http(
        gw.addr,
        "GET",
        &format!("{list}?limit=10&offset=0"),
        &refs,
        b"",
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let request_id = r.header("x-request-id").ok_or("no request id")?.to_owned();

    // The vendor got the same trace, this request's span as its parent.
    let sent = sim.requests_since(seen);
    let upstream = sent
        .iter()
        .find(|x| x.path == list)
        .and_then(|x| x.traceparent.clone())
        .ok_or("no traceparent upstream")?;
    let parts: Vec<&str> = upstream.split('-').collect();
    assert_eq!(
        (parts[0], parts[1], parts[3]),
        ("00", trace, "01"),
        "{upstream}"
    );
    assert_ne!(
        parts[2], "b7ad6b7169203331",
        "the vendor's parent is this request's span"
    );

    let answers = "tiergate_vendor_answers_total{code=\"(none)\",\
                   operation=\"list_issued_partner_coupons\",status=\"200\"}";
    assert_eq!(gw.metric_sum(answers)?, 1.0);
    let timed = "tiergate_vendor_duration_seconds_count{operation=\"list_issued_partner_coupons\"}";
    assert_eq!(gw.metric_sum(timed)?, 1.0);

    // A refusal is logged too; one flat JSON object a line for each.
    let refused = http(gw.addr, "GET", list, &[], b"")?;
    assert_eq!(refused.status, 401);
    // Lines are written after the answer, from a background writer: read until both are in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        let log = gw.log()?;
        let has = |f: &dyn Fn(&Value) -> bool| log.iter().any(f);
        if has(&|l| l["request_id"] == request_id.as_str()) && has(&|l| l["status"] == 401) {
            break log;
        }
        if std::time::Instant::now() > deadline {
            return Err("the log lines were not written within 10 s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let line = log
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .ok_or("the request's log line")?;
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], list);
    assert_eq!(line["route"], "list_issued_partner_coupons");
    assert_eq!(line["status"], 200);
    assert_eq!(line["upstream_status"], 200);
    assert!(
        line["upstream_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert!(line["latency_ms"].as_f64().is_some(), "{line}");
    assert_eq!(line["partner"], "res-1");
    assert_eq!(line["outcome"], "ok");
    assert_eq!(line["trace_id"], trace);
    assert_eq!(line["parent_span_id"], "b7ad6b7169203331");
    assert_eq!(line["span_id"], parts[2]);
    assert!(
        line["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{line}"
    );
    let refusal = log
        .iter()
        .find(|l| l["message"] == "request" && l["status"] == 401)
        .ok_or("the refusal's log line")?;
    assert_eq!(refusal["outcome"], "unauthenticated");
    assert!(
        refusal["trace_id"].as_str().is_some_and(|t| t.len() == 32),
        "{refusal}"
    );
    assert!(
        refusal.get("upstream_status").is_none_or(|v| v.is_null()),
        "{refusal}"
    );
    Ok(())
}
