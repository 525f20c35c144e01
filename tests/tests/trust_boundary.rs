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
