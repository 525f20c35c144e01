//! Span export: with `telemetry.otlp_endpoint` set, each request's spans reach an OTLP/HTTP
//! receiver that decodes them with OpenTelemetry's own protobuf definitions: the request
//! (server) on the caller's trace with the caller's span as parent and the span id the vendor
//! got in `traceparent`, its gateway stage and its vendor call as children; a refusal carries
//! its code as an error status. A collector that is away costs the requests nothing.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tiergate_tests::harness::{Gateway, Signer, fixture, http, repo_root, sdk_python, start_sim};
use time::OffsetDateTime;

type R = Result<(), String>;

const LIST: &str = "/v2/promotions/benefits/partner-coupons";

/// The receiver, killed on drop; its printed lines arrive on a channel.
struct Receiver {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn receiver() -> Result<Receiver, String> {
    let mut child = Command::new(sdk_python()?)
        .arg(repo_root().join("tests/otlp/receiver.py"))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("the OTLP receiver: {e}"))?;
    let out: ChildStdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(out).lines();
    let port = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.trim().parse::<u16>().ok())
        .ok_or("the receiver printed no port")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    Ok(Receiver {
        child,
        port,
        lines: rx,
    })
}

/// Spans received until `done` says enough, within 20 s (the exporter sends every second).
fn spans_until(r: &Receiver, done: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>, String> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done(&got) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = r
            .lines
            .recv_timeout(left)
            .map_err(|_| format!("spans so far: {got:?}"))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
        if let Some(e) = v.get("error") {
            return Err(format!("the receiver could not decode an export: {e}"));
        }
        got.push(v);
    }
    Ok(got)
}

fn named<'a>(spans: &'a [Value], trace: &str, name: &str) -> Option<&'a Value> {
    spans
        .iter()
        .find(|s| s["trace_id"] == trace && s["name"] == name)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_request_s_spans_reach_an_otlp_receiver_on_the_caller_s_trace() -> R {
    let rx = receiver()?;
    let sim = start_sim(fixture()?).await?;
    let extra = format!(
        "[telemetry]\notlp_endpoint = \"http://127.0.0.1:{}\"\nservice_name = \"tg-test\"\n",
        rx.port
    );
    let gw = Gateway::start_with(sim.addr(), &extra)?;
    let res1 = gw.issue("res-1")?;
    let signer = Signer {
        addr: gw.addr,
        ak: &res1.ak,
        sk: &res1.sk,
    };
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut headers = signer.headers(
        "GET",
        LIST,
        "limit=10&offset=0",
        b"",
        OffsetDateTime::now_utc(),
    );
    headers.push(("traceparent".into(), format!("00-{trace}-{caller_span}-01")));
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let seen = sim.seen();
    let r = http(
        gw.addr,
        "GET",
        &format!("{LIST}?limit=10&offset=0"),
        &refs,
        b"",
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let upstream = sim
        .requests_since(seen)
        .iter()
        .find(|x| x.path == LIST)
        .and_then(|x| x.traceparent.clone())
        .ok_or("no traceparent upstream")?;
    let vendor_parent = upstream.split('-').nth(2).ok_or("traceparent")?.to_owned();

    // A refusal, on a trace of its own.
    let refused = http(gw.addr, "GET", LIST, &[], b"")?;
    assert_eq!(refused.status, 401);
    let refused_id = refused
        .header("x-request-id")
        .ok_or("no request id")?
        .to_owned();

    let spans = spans_until(&rx, |s| {
        ["request", "gateway", "vendor"]
            .iter()
            .all(|n| named(s, trace, n).is_some())
            && s.iter().any(|x| {
                x["name"] == "request" && x["attributes"]["tiergate.request_id"] == refused_id
            })
    })?;
    let request = named(&spans, trace, "request").ok_or("request span")?;
    assert_eq!(request["service"], "tg-test");
    assert_eq!(
        request["parent"], caller_span,
        "the caller's span is its parent"
    );
    assert_eq!(
        request["span_id"],
        vendor_parent.as_str(),
        "the vendor's parent is this span"
    );
    assert_eq!(request["kind"], 2, "server");
    assert_eq!(request["status"], 0, "{request}");
    let a = &request["attributes"];
    assert_eq!(a["http.request.method"], "GET");
    assert_eq!(a["url.path"], LIST);
    assert_eq!(a["http.response.status_code"], 200);
    assert_eq!(a["tiergate.route"], "list_issued_partner_coupons");
    assert_eq!(a["tiergate.partner"], "res-1");
    assert_eq!(a["tiergate.upstream_status"], 200);
    for (name, kind) in [("gateway", 1), ("vendor", 3)] {
        let s = named(&spans, trace, name).ok_or(name)?;
        assert_eq!(s["parent"], request["span_id"], "{name}");
        assert_eq!(s["kind"], kind, "{name}");
        assert_ne!(s["span_id"], request["span_id"], "{name}");
        let inside = s["start"].as_u64() >= request["start"].as_u64()
            && s["end"].as_u64() <= request["end"].as_u64();
        assert!(inside, "{name} inside the request: {s} {request}");
    }
    let gateway = named(&spans, trace, "gateway").ok_or("gateway")?;
    let vendor = named(&spans, trace, "vendor").ok_or("vendor")?;
    assert!(
        gateway["end"].as_u64() <= vendor["start"].as_u64(),
        "stages in order"
    );

    let refusal = spans
        .iter()
        .find(|x| x["name"] == "request" && x["attributes"]["tiergate.request_id"] == refused_id)
        .ok_or("the refusal's span")?;
    assert_eq!(
        (refusal["status"].as_i64(), refusal["message"].as_str()),
        (Some(2), Some("TG.1001")),
        "{refusal}"
    );
    assert_eq!(refusal["parent"], "", "a trace begun here has no parent");
    // Counted once the receiver's answer is in (it prints the spans before answering).
    tiergate_tests::harness::eventually(Duration::from_secs(10), "exports counted", || {
        Ok(gw.metric_sum("tiergate_otlp_spans_total{outcome=\"exported\"}")? >= 4.0)
    })?;

    // The collector goes away: requests go on, the spans are counted as failed.
    drop(rx);
    for _ in 0..3 {
        let r = signer.send("GET", LIST, "limit=10&offset=0", b"")?;
        assert_eq!(r.status, 200);
    }
    tiergate_tests::harness::eventually(Duration::from_secs(15), "failed exports counted", || {
        Ok(gw.metric_sum("tiergate_otlp_spans_total{outcome=\"failed\"}")? >= 1.0)
    })?;
    Ok(())
}
