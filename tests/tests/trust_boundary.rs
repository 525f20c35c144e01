//! The trust boundary, tried from outside as an eavesdropper and a careless or hostile client
//! would: captured requests sent again byte for byte (to the same gateway and to another one
//! sharing the database), and requests Tiergate and the vendor could read two ways.

use serde_json::{Value, json};
use tiergate_tests::harness::{Cred, Db, Gateway, HttpResponse, Signer, TempDb, http, start_sim};
use time::{Duration, OffsetDateTime};

type R = Result<(), String>;

const ADJUST: &str = "/v2/accounts/partner-accounts/adjust-amount";
const BALANCES: &str = "/v2/accounts/partner-accounts/balances";
const COUPONS: &str = "/v2/promotions/benefits/partner-coupons";

/// A request as it went over the wire: its request line, headers and body, to send again.
struct Captured {
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn signed(gw: &Gateway, c: &Cred, method: &'static str, path: &str, body: &[u8]) -> Self {
        Self::signed_at(gw, c, method, path, "", body, OffsetDateTime::now_utc())
    }

    fn signed_at(
        gw: &Gateway,
        c: &Cred,
        method: &'static str,
        path: &str,
        query: &str,
        body: &[u8],
        at: OffsetDateTime,
    ) -> Self {
        let signer = Signer {
            addr: gw.addr,
            ak: &c.ak,
            sk: &c.sk,
        };
        let target = match query {
            "" => path.to_owned(),
            q => format!("{path}?{q}"),
        };
        Captured {
            method,
            target,
            headers: signer.headers(method, path, query, body, at),
            body: body.to_vec(),
        }
    }

    /// Sends it to `gw` with `extra` headers added (unsigned, as an attacker may).
    fn send(&self, gw: &Gateway, extra: &[(&str, &str)]) -> Result<HttpResponse, String> {
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        headers.extend_from_slice(extra);
        http(gw.addr, self.method, &self.target, &headers, &self.body)
    }
}

fn code(r: &HttpResponse) -> String {
    r.json()["error_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn says(r: &HttpResponse) -> String {
    format!("{} {}", r.status, String::from_utf8_lossy(&r.body))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_captured_fund_allocation_replayed_to_two_gateways_moves_money_once() -> R {
    let db = TempDb::create().await?;
    let sim = start_sim(tiergate_tests::harness::fixture()?).await?;
    let one = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    let two = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    let c = one.issue("res-1")?;
    let seen = sim.seen();
    let adjusts = |since: usize| {
        sim.requests_since(since)
            .iter()
            .filter(|r| r.path == ADJUST)
            .count()
    };

    let body = br#"{"customer_id":"cust-r1-a","amount":1.25}"#;
    let wire = Captured::signed(&one, &c, "POST", ADJUST, body);
    let first = wire.send(&one, &[])?;
    assert_eq!(first.status, 200, "{}", says(&first));
    assert_eq!(first.header("x-idempotent-replay"), None);

    // Sent again byte for byte, to the same gateway, to another one, and with an idempotency
    // key of the attacker's choosing: the first answer, never the vendor again.
    for (gw, extra) in [
        (&one, vec![]),
        (&two, vec![]),
        (&two, vec![("x-idempotency-key", "looks-new-1")]),
        (&one, vec![("x-request-id", "looks-new-2")]),
    ] {
        let again = wire.send(gw, &extra)?;
        assert_eq!(again.status, 200, "{}", says(&again));
        assert_eq!(again.header("x-idempotent-replay"), Some("true"));
        assert_eq!(again.json(), first.json());
    }
    assert_eq!(adjusts(seen), 1, "a replay reached the vendor");
    let replays = |g: &Gateway| g.metric_sum("tiergate_idempotent_replays_total");
    assert_eq!(
        (replays(&one)?, replays(&two)?),
        (2.0, 2.0),
        "replays counted"
    );

    // A client that signs again (a new date: a new signature) makes a new request, governed
    // by its idempotency key as before.
    let later = OffsetDateTime::now_utc() + Duration::seconds(2);
    let retry = Captured::signed_at(&one, &c, "POST", ADJUST, "", body, later);
    let r = retry.send(&two, &[("x-idempotency-key", "k-1")])?;
    assert_eq!((r.status, r.header("x-idempotent-replay")), (200, None));
    let resigned = Captured::signed_at(
        &one,
        &c,
        "POST",
        ADJUST,
        "",
        body,
        later + Duration::seconds(1),
    );
    let r = resigned.send(&one, &[("x-idempotency-key", "k-1")])?;
    assert_eq!(
        r.header("x-idempotent-replay"),
        Some("true"),
        "{}",
        says(&r)
    );
    assert_eq!(adjusts(seen), 2);

    // A read sent again is answered again (it moves nothing), each time from the vendor.
    let read = Captured::signed(&one, &c, "GET", BALANCES, b"");
    for gw in [&one, &two] {
        let r = read.send(gw, &[])?;
        assert_eq!(r.status, 200, "{}", says(&r));
        assert_eq!(r.header("x-idempotent-replay"), None);
    }
    let reads = sim.requests_since(seen);
    assert_eq!(reads.iter().filter(|r| r.path == BALANCES).count(), 2);
    drop((one, two));
    db.drop_db().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_embedded_default_a_replayed_voucher_issue_is_answered_from_the_first() -> R {
    let sim = start_sim(tiergate_tests::harness::fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let c = gw.issue("res-1")?;
    let seen = sim.seen();
    let body =
        json!({"quota_id": "q-res-1", "customer_ids": ["cust-r1-a"], "face_value": 5}).to_string();
    let wire = Captured::signed(&gw, &c, "POST", COUPONS, body.as_bytes());
    let first = wire.send(&gw, &[("x-idempotency-key", "v-1")])?;
    assert_eq!(first.status, 200, "{}", says(&first));
    for key in ["v-2", "v-3"] {
        let again = wire.send(&gw, &[("x-idempotency-key", key)])?;
        assert_eq!(
            again.header("x-idempotent-replay"),
            Some("true"),
            "{}",
            says(&again)
        );
        assert_eq!(again.json(), first.json());
    }
    let issued = sim.requests_since(seen);
    assert_eq!(issued.iter().filter(|r| r.path == COUPONS).count(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_that_could_be_read_two_ways_are_refused_naming_the_field() -> R {
    let sim = start_sim(tiergate_tests::harness::fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let c = gw.issue("res-1")?;
    let seen = sim.seen();
    let refused = |wire: Captured, extra: &[(&str, &str)], field: &str| -> R {
        let r = wire.send(&gw, extra)?;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (400, "TG.4002"),
            "{}",
            says(&r)
        );
        let msg = r.json()["error_msg"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(msg.contains(&format!("`{field}`")), "{field}: {msg}");
        Ok(())
    };
    let post = |body: &str| Captured::signed(&gw, &c, "POST", ADJUST, body.as_bytes());

    // Duplicate keys, at the top and deeper: which one would the vendor take?
    refused(
        post(r#"{"customer_id":"cust-r1-a","customer_id":"cust-r2-a","amount":1}"#),
        &[],
        "customer_id",
    )?;
    refused(
        post(r#"{"customer_id":"cust-r1-a","amount":1,"x":{"y":[{"z":1,"z":2}]}}"#),
        &[],
        "x.y[0].z",
    )?;
    // An amount as a string, an identifier as a number or a list.
    refused(
        post(r#"{"customer_id":"cust-r1-a","amount":"1.00"}"#),
        &[],
        "amount",
    )?;
    refused(
        post(r#"{"customer_id":["cust-r1-a"],"amount":1}"#),
        &[],
        "customer_id",
    )?;
    // Not UTF-8.
    let mut bytes = br#"{"customer_id":"cust-r1-a","amount":1,"memo":""}"#.to_vec();
    bytes.insert(bytes.len() - 2, 0xff);
    let wire = Captured::signed(&gw, &c, "POST", ADJUST, &bytes);
    refused(wire, &[], "body")?;
    // A body declared as something else than JSON.
    let ok = r#"{"customer_id":"cust-r1-a","amount":1}"#;
    let mut wire = post(ok);
    wire.headers.retain(|(n, _)| n != "content-type");
    refused(
        wire,
        &[("content-type", "application/x-www-form-urlencoded")],
        "Content-Type",
    )?;
    // Two dates, two domains: a header Tiergate reads, given twice.
    let wire = post(ok);
    refused(wire, &[("x-sdk-date", "20200101T000000Z")], "x-sdk-date")?;
    // Path segments a server could normalise into another path.
    let now = OffsetDateTime::now_utc();
    for path in [
        "/v2/orders/customer-orders/details/..%2F..%2Fpartners%2Fsub-customers",
        "/v2/orders/customer-orders/details/%2e%2e",
        "/v2/orders/customer-orders/details/a%5Cb",
        "/v2/orders/customer-orders/details/a%00",
        "/v2/orders/customer-orders//details/x",
    ] {
        let wire = Captured::signed_at(&gw, &c, "GET", path, "", b"", now);
        refused(wire, &[], "path")?;
    }
    // A query parameter Tiergate reads, given twice (or with a `+` that reads two ways).
    for query in [
        "customer_id=cust-r1-a&customer_id=cust-r2-a",
        "customer_id=cust-r1-a&customer%5Fid=cust-r2-a",
        "customer_id=cust+r1",
    ] {
        let wire = Captured::signed_at(&gw, &c, "GET", COUPONS, query, b"", now);
        refused(wire, &[], "customer_id")?;
    }
    assert!(
        sim.requests_since(seen).is_empty(),
        "an ambiguous request was forwarded"
    );

    // What is forwarded is what was read: JSON, declared as JSON whatever the caller sent.
    let r = post(ok).send(&gw, &[])?;
    assert_eq!(r.status, 200, "{}", says(&r));
    let forwarded = sim.requests_since(seen);
    let types: Vec<Option<String>> = forwarded.iter().map(|r| r.content_type.clone()).collect();
    assert_eq!(
        types,
        vec![Some("application/json;charset=UTF-8".to_owned())]
    );
    let answer: Value = r.json();
    assert!(answer.is_object());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_unknown_keys_spends_its_address_budget_and_a_legitimate_caller_keeps_working()
-> R {
    let sim = start_sim(tiergate_tests::harness::fixture()?).await?;
    let limits = r#"
[ratelimit.unauthenticated]
rate = "1/m"
burst = 20
[ratelimit.tiers.cloud_reseller]
money = { rate = "1/m", burst = 1 }
[ratelimit.upstream]
rate = "100000/s"
burst = 100000
"#;
    let gw = Gateway::start_with(sim.addr(), limits)?;
    let c = gw.issue("res-1")?;
    let legit = Signer {
        addr: gw.addr,
        ak: &c.ak,
        sk: &c.sk,
    };
    assert_eq!(legit.send("GET", BALANCES, "", b"")?.status, 200);

    // Random access keys of Tiergate's shape, each signed with a made-up secret: the first
    // twenty cost a lookup and are unknown; then the address is out of budget.
    let mut codes = Vec::new();
    for i in 0..60 {
        let ak = format!("TG{i:018}");
        let junk = Signer {
            addr: gw.addr,
            ak: &ak,
            sk: "not-a-secret",
        };
        let r = junk.send("GET", BALANCES, "", b"")?;
        if r.status == 429 {
            assert!(r.header("retry-after").is_some(), "{}", says(&r));
        }
        codes.push((r.status, code(&r)));
    }
    let unknown = codes
        .iter()
        .filter(|c| *c == &(401, "TG.1003".into()))
        .count();
    let limited = codes
        .iter()
        .filter(|c| *c == &(429, "TG.1011".into()))
        .count();
    assert_eq!((unknown, limited), (20, 40), "{codes:?}");
    // Keys of another shape and garbage signatures never cost a lookup at all.
    let r = http(
        gw.addr,
        "GET",
        BALANCES,
        &[(
            "authorization",
            "SDK-HMAC-SHA256 Access=AKIAEXAMPLE, SignedHeaders=host;x-sdk-date, Signature=00",
        )],
        b"",
    )?;
    assert_eq!(r.status, 401, "{}", says(&r));

    // The reseller, calling from the same address with its (known) credential, is served.
    for _ in 0..3 {
        let r = legit.send("GET", BALANCES, "", b"")?;
        assert_eq!(r.status, 200, "{}", says(&r));
    }
    assert_eq!(
        gw.metric_sum("tiergate_address_limited_total{listener=\"partner\"}")?,
        40.0
    );
    assert!(
        gw.metric_sum(
            "tiergate_unauthenticated_refusals_total{listener=\"partner\",reason=\"unknown_key\"}"
        )? >= 20.0
    );

    // A reseller over its money limit: each refusal is counted, not written as records.
    let before = gw.audit("query", &["--limit", "10000"])?.lines().count();
    let body = br#"{"customer_id":"cust-r1-a","amount":1}"#;
    let mut refused = 0;
    for i in 0..10 {
        let at = OffsetDateTime::now_utc() + Duration::seconds(i);
        let r = Captured::signed_at(&gw, &c, "POST", ADJUST, "", body, at).send(&gw, &[])?;
        if r.status == 429 {
            refused += 1;
        }
    }
    assert_eq!(refused, 9);
    let after = gw.audit("query", &["--limit", "10000"])?.lines().count();
    // The one admitted call: its intent and outcome. The nine refusals: nothing yet.
    assert_eq!(
        after - before,
        2,
        "a refusal storm was written record by record"
    );
    // Their summary is written at the next minute, or when the gateway stops.
    let mut gw = gw;
    gw.signal("TERM")?;
    gw.wait_exit(std::time::Duration::from_secs(30))?;
    let summaries: Vec<Value> = gw
        .audit("query", &["--kind", "summary"])?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let storm = summaries
        .iter()
        .find(|s| s["operation"] == "update_customer_account_amount")
        .ok_or_else(|| format!("no summary of the storm: {summaries:?}"))?;
    assert_eq!(storm["detail"]["count"], 9, "{storm}");
    assert_eq!(storm["principal"], "res-1");
    assert_eq!(storm["detail"]["code"], "TG.6001");
    gw.audit("verify", &[])?;
    Ok(())
}

/// A Redis server of this machine's `redis-server` speaking only TLS (the test CA's
/// certificate for 127.0.0.1) with a password, on a free port; killed on drop.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_redis(password: &str) -> Result<TlsRedis, String> {
    let tls = tiergate_tests::harness::tls_fixtures();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let file = |n: &str| tls.join(n).display().to_string();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
        .args([
            "--tls-cert-file",
            &file("rsa.pem"),
            "--tls-key-file",
            &file("rsa.key"),
        ])
        .args([
            "--tls-ca-cert-file",
            &file("ca.pem"),
            "--requirepass",
            password,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server is required for this test: {e}"))?;
    let redis = TlsRedis { child, port };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err("the TLS Redis did not listen within 10 s".into());
        }
        std::thread::yield_now();
    }
    Ok(redis)
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_on_redis_over_tls_with_the_url_from_the_environment() -> R {
    let redis = tls_redis("s3cret")?;
    let sim = start_sim(tiergate_tests::harness::fixture()?).await?;
    // The URL, password included, never sits in the file; the CA comes from SSL_CERT_FILE.
    let limits = r#"
[ratelimit]
redis = { env = "TIERGATE_TEST_REDIS_URL" }
mode = "strict"
fallback = "closed"
prefix = "tls-test"
[ratelimit.tiers.cloud_reseller]
all = { rate = "1/m", burst = 2 }
[ratelimit.upstream]
rate = "100000/s"
burst = 100000
"#;
    let url = format!("rediss://:s3cret@127.0.0.1:{}", redis.port);
    let ca = tiergate_tests::harness::tls_fixtures().join("ca.pem");
    let ca = ca.display().to_string();
    let env = [
        ("TIERGATE_TEST_REDIS_URL", url.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];
    let gw = Gateway::start_with_env(sim.addr(), limits, &env)?;
    let c = gw.issue("res-1")?;
    let signer = Signer {
        addr: gw.addr,
        ak: &c.ak,
        sk: &c.sk,
    };
    // Closed when Redis is unreachable: two admitted calls are Redis' answer.
    let statuses: Vec<u16> = (0..3)
        .map(|_| signer.send("GET", BALANCES, "", b"").map(|r| r.status))
        .collect::<Result<_, _>>()?;
    assert_eq!(statuses, vec![200, 200, 429]);
    let config = std::fs::read_to_string(&gw.config).map_err(|e| e.to_string())?;
    assert!(!config.contains("s3cret"));
    Ok(())
}

/// Reads one HTTP/1.1 answer with a Content-Length from `s`: its status.
fn read_answer(s: &mut std::net::TcpStream) -> Result<u16, String> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).map_err(|e| e.to_string())? == 0 {
            return Err(format!("closed after {}", String::from_utf8_lossy(&head)));
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no content-length: {text}"))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).map_err(|e| e.to_string())?;
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "no status".to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_caller_keeps_its_connection_for_the_next_request() -> R {
    use std::io::Write;
    let sim = start_sim(tiergate_tests::harness::fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let c = gw.issue("res-1")?;
    let request = |ak: &str, sk: &str| {
        let signer = Signer {
            addr: gw.addr,
            ak,
            sk,
        };
        let mut text = format!("GET {BALANCES} HTTP/1.1\r\n");
        for (n, v) in signer.headers("GET", BALANCES, "", b"", OffsetDateTime::now_utc()) {
            text.push_str(&format!("{n}: {v}\r\n"));
        }
        text + "content-length: 0\r\n\r\n"
    };
    let mut s = std::net::TcpStream::connect(gw.addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    for (ak, sk, status) in [
        ("TG000000000000000001", "junk", 401),
        (c.ak.as_str(), "wrong secret", 401),
        (c.ak.as_str(), c.sk.as_str(), 200),
    ] {
        s.write_all(request(ak, sk).as_bytes())
            .map_err(|e| e.to_string())?;
        assert_eq!(read_answer(&mut s)?, status);
    }
    Ok(())
}
