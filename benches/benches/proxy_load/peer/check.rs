//! Before the peer is measured it must really do what its row claims. An instance in front of
//! a capturing upstream gets correctly signed requests, which must come back 200, arrive
//! upstream with the caller's target and body, and carry an Authorization that Tiergate's own
//! verifier (`tiergate_policy::aksk::verify`) accepts with the distributor's key; and the same
//! requests broken (a wrong signature, a tampered body, a stale X-Sdk-Date), which must come
//! back 401 with the vendor's error body and never arrive upstream.

use super::{DIST_AK, DIST_DOMAIN, DIST_SK};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tiergate_benches::canned::COUPONS;
use tiergate_benches::http1::encode_json;
use tiergate_policy::aksk;
use tiergate_tests::harness::{Cred, Result, Signer, http};

/// A request as the capturing upstream received it.
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// The whole request at the front of `buf`, and its length.
fn parse(buf: &[u8]) -> Result<Option<(Seen, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf).map_err(|e| e.to_string())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(Ok(0), |(_, v)| v.trim().parse::<usize>())
        .map_err(|e| e.to_string())?;
    if buf.len() < head + length {
        return Ok(None);
    }
    let seen = Seen {
        method: req.method.unwrap_or("").to_owned(),
        target: req.path.unwrap_or("").to_owned(),
        headers,
        body: buf[head..head + length].to_vec(),
    };
    Ok(Some((seen, head + length)))
}

/// Records each request, then answers 200 on the kept-alive connection.
fn record(mut conn: TcpStream, log: &Log) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        while let Some((seen, len)) = parse(&buf)? {
            buf.drain(..len);
            log.lock().map_err(|_| "capture log poisoned")?.push(seen);
            conn.write_all(&encode_json(r#"{"captured":true}"#))
                .map_err(|e| e.to_string())?;
        }
        let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A capturing upstream on a thread of its own (left running: the check is short).
fn capture() -> Result<(SocketAddr, Log)> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let log = Log::default();
    let shared = log.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let log = shared.clone();
            std::thread::spawn(move || record(conn, &log));
        }
    });
    Ok((addr, log))
}

/// How a case's request is signed.
#[derive(Clone, Copy, PartialEq)]
enum Signing {
    Correct,
    WrongSecret,
    /// Signed for the body, another one sent.
    TamperedBody,
    /// Signed 16 minutes ago (the window is 15).
    Stale,
}

/// A request the bench's mix sends.
struct Call {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    body: &'static str,
}

const READ: Call = Call {
    method: "GET",
    path: COUPONS,
    query: "limit=10&offset=0",
    body: "",
};
/// A read whose query the canonical form reorders and re-encodes.
const ODD_QUERY: Call = Call {
    method: "GET",
    path: "/v2/accounts/partner-accounts/balances",
    query: "offset=0&name=a%20b%7Ec&tag=x%2Fy&tag=a&limit=10",
    body: "",
};
const POST: Call = Call {
    method: "POST",
    path: COUPONS,
    query: "",
    body: r#"{"quota_id":"bq-res","customer_ids":["bc-3"],"face_value":1,"memo":"check"}"#,
};
/// What the tampered POST sends instead of the body it signed.
const TAMPERED: &str =
    r#"{"quota_id":"bq-res","customer_ids":["bc-3"],"face_value":900,"memo":"check"}"#;

/// What is sent, how it is signed.
const CASES: &[(&str, Call, Signing)] = &[
    ("signed read", READ, Signing::Correct),
    (
        "signed read, query unsorted and percent-encoded",
        ODD_QUERY,
        Signing::Correct,
    ),
    ("signed POST with a body", POST, Signing::Correct),
    ("read, wrong signature", READ, Signing::WrongSecret),
    ("read, stale X-Sdk-Date", READ, Signing::Stale),
    ("POST, wrong signature", POST, Signing::WrongSecret),
    ("POST, tampered body", POST, Signing::TamperedBody),
    ("POST, stale X-Sdk-Date", POST, Signing::Stale),
];

/// The forwarded request is the caller's, re-signed for `upstream` with the distributor's key,
/// and carries none of the caller's credentials.
fn resigned(
    seen: &Seen,
    sent: &Call,
    target: &str,
    upstream: SocketAddr,
    cred: &Cred,
) -> Result<String> {
    if (
        seen.method.as_str(),
        seen.target.as_str(),
        seen.body.as_slice(),
    ) != (sent.method, target, sent.body.as_bytes())
    {
        return Err(format!(
            "forwarded {} {} with {} body bytes, not the caller's request",
            seen.method,
            seen.target,
            seen.body.len()
        ));
    }
    let headers: Vec<(&str, &str)> = seen
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    if headers.iter().any(|(_, v)| v.contains(&cred.ak)) {
        return Err("the caller's access key went upstream".into());
    }
    if header("host") != Some(&upstream.to_string()) || header("x-domain-id") != Some(DIST_DOMAIN) {
        return Err("not sent with the upstream's host and the distributor's X-Domain-Id".into());
    }
    let value = header("authorization").ok_or("no Authorization upstream")?;
    let auth = aksk::parse_authorization(value).map_err(|e| format!("{value}: {e}"))?;
    if auth.access_key != DIST_AK {
        return Err(format!("signed upstream by {}", auth.access_key));
    }
    let (path, query) = seen.target.split_once('?').unwrap_or((&seen.target, ""));
    let request = aksk::Request {
        method: &seen.method,
        path,
        query,
        headers: headers.as_slice(),
        body: &seen.body,
    };
    let window = time::Duration::minutes(15);
    let now = time::OffsetDateTime::now_utc();
    aksk::verify(&request, &auth, DIST_SK.as_bytes(), now, window)
        .map_err(|e| format!("the re-signed request does not verify: {e}"))?;
    Ok(format!(
        "200, forwarded as sent, re-signed by {DIST_AK} over {} and verified",
        auth.signed_headers.join(";")
    ))
}

/// One case against the peer at `addr`: what it showed, or what was wrong.
fn run(
    sent: &Call,
    signing: Signing,
    addr: SocketAddr,
    upstream: SocketAddr,
    log: &Log,
    cred: &Cred,
) -> Result<String> {
    let sk = match signing {
        Signing::WrongSecret => "not-the-secret-key-of-this-access-key-00",
        _ => cred.sk.as_str(),
    };
    let signer = Signer {
        addr,
        ak: &cred.ak,
        sk,
    };
    let mut at = time::OffsetDateTime::now_utc();
    if signing == Signing::Stale {
        at -= time::Duration::minutes(16);
    }
    let signed = signer.headers(sent.method, sent.path, sent.query, sent.body.as_bytes(), at);
    let headers: Vec<(&str, &str)> = signed
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let body = match signing {
        Signing::TamperedBody => TAMPERED,
        _ => sent.body,
    };
    let target = if sent.query.is_empty() {
        sent.path.to_owned()
    } else {
        format!("{}?{}", sent.path, sent.query)
    };
    let before = log.lock().map_err(|_| "capture log poisoned")?.len();
    let r = http(addr, sent.method, &target, &headers, body.as_bytes())?;
    // The capture records a request before answering it, and nginx answers after that.
    let mut seen = log.lock().map_err(|_| "capture log poisoned")?;
    let arrived: Vec<Seen> = seen.drain(before..).collect();
    let answer = String::from_utf8_lossy(&r.body);
    match (signing, r.status, arrived.as_slice()) {
        (Signing::Correct, 200, [one]) => resigned(one, sent, &target, upstream, cred),
        (Signing::Correct, ..) => Err(format!(
            "{} and {} requests upstream, wanted 200 and one: {answer}",
            r.status,
            arrived.len()
        )),
        (_, 401, []) if r.code() == "APIGW.0301" => Ok(format!("401, not forwarded: {answer}")),
        _ => Err(format!(
            "{} and {} requests upstream, wanted 401 with APIGW.0301 and none: {answer}",
            r.status,
            arrived.len()
        )),
    }
}

/// Starts an instance in `dir` in front of a capturing upstream and runs every case: a line
/// per case, or every failure at once.
pub fn check(cpus: &str, cred: &Cred, dir: &Path) -> Result<Vec<String>> {
    let (upstream, log) = capture()?;
    let peer = super::start(cpus, upstream, cred, dir)?;
    let (mut shown, mut failed) = (Vec::new(), Vec::new());
    for (what, sent, signing) in CASES {
        match run(sent, *signing, peer.addr, upstream, &log, cred) {
            Ok(line) => shown.push(format!("{what}: {line}")),
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(shown)
    } else {
        Err(format!(
            "the nginx + njs peer does not work, not measuring it:\n  {}",
            failed.join("\n  ")
        ))
    }
}
