//! Vectors produced by the vendor's Python SDK signer (huaweicloudsdkcore 3.x,
//! `Signer(GlobalCredentials("AKVECTOR", "SKvector/secret+1")).sign(..)`).

use super::*;
use time::{Duration, macros::datetime};

const SK: &[u8] = b"SKvector/secret+1";
const NOW: time::OffsetDateTime = datetime!(2026-11-21 10:20:00 UTC);
const SKEW: Duration = Duration::minutes(15);
const GET_QUERY: &str = "customer_id=c%201%2F%C3%BC&flag=true&limit=10&status=2&status=3&status=10";
const GET_AUTH: &str = "SDK-HMAC-SHA256 Access=AKVECTOR, SignedHeaders=content-type;host;x-domain-id;x-sdk-date, Signature=b907ccd08db7189bf4c30d624117de1fb860ce128a51fe722a95facccd79fa09";
const POST_BODY: &[u8] = br#"{"customer_id": "cust-1", "amount": 12.34}"#;
const POST_AUTH: &str = "SDK-HMAC-SHA256 Access=AKVECTOR, SignedHeaders=content-type;host;x-sdk-date, Signature=bcd0c872a8fec79f0ff8bf60344ed636f1291274ffafa75f45da915c4d7c774d";

fn get_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("X-Sdk-Date", "20261121T101500Z"),
        ("Content-Type", "application/json"),
        ("X-Domain-Id", "dist-1"),
        ("skip_me", "x"),
        ("Host", "bss.example.com:8443"),
        ("User-Agent", "not signed"),
    ]
}

fn post_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("X-Sdk-Date", "20261121T101500Z"),
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Host", "bss.example.com:8443"),
    ]
}

fn check(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    auth: &str,
    now: time::OffsetDateTime,
) -> Result<SignedRequest, AuthError> {
    let auth = parse_authorization(auth)?;
    let req = Request {
        method,
        path,
        query,
        headers,
        body,
    };
    verify(&req, &auth, SK, now, SKEW)
}

#[test]
fn accepts_the_sdk_get_with_numeric_list_order() {
    let h = get_headers();
    let path = "/v2/promotions/benefits/partner-coupons";
    assert!(check("GET", path, GET_QUERY, &h, b"", GET_AUTH, NOW).is_ok());
}

#[test]
fn accepts_the_sdk_post_with_body() {
    let h = post_headers();
    let path = "/v2/accounts/partner-accounts/adjust-amount";
    assert!(check("POST", path, "", &h, POST_BODY, POST_AUTH, NOW).is_ok());
}

#[test]
fn our_signer_reproduces_the_sdk_signature() {
    let h: Vec<(&str, &str)> = post_headers()
        .into_iter()
        .map(|(n, v)| (if n == "Host" { "host" } else { n }, v))
        .map(|(n, v)| match n {
            "X-Sdk-Date" => ("x-sdk-date", v),
            "Content-Type" => ("content-type", v),
            other => (other, v),
        })
        .collect();
    let auth = sign(
        "POST",
        "/v2/accounts/partner-accounts/adjust-amount",
        "",
        &h,
        &body_sha256(POST_BODY),
        "AKVECTOR",
        SK,
    );
    assert_eq!(auth, POST_AUTH);
}

#[test]
fn refuses_a_changed_body_query_or_header() {
    let path = "/v2/accounts/partner-accounts/adjust-amount";
    let h = post_headers();
    let tampered = br#"{"customer_id": "cust-1", "amount": 99.34}"#;
    assert_eq!(
        check("POST", path, "", &h, tampered, POST_AUTH, NOW),
        Err(AuthError::SignatureMismatch)
    );
    let gpath = "/v2/promotions/benefits/partner-coupons";
    let q = GET_QUERY.replace("limit=10", "limit=11");
    assert_eq!(
        check("GET", gpath, &q, &get_headers(), b"", GET_AUTH, NOW),
        Err(AuthError::SignatureMismatch)
    );
    let mut h = get_headers();
    h[2] = ("X-Domain-Id", "dist-2");
    assert_eq!(
        check("GET", gpath, GET_QUERY, &h, b"", GET_AUTH, NOW),
        Err(AuthError::SignatureMismatch)
    );
    assert_eq!(
        check("PUT", path, "", &post_headers(), POST_BODY, POST_AUTH, NOW),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn refuses_a_stale_or_future_date() {
    let path = "/v2/accounts/partner-accounts/adjust-amount";
    let h = post_headers();
    let late = NOW + Duration::minutes(16);
    let early = NOW - Duration::minutes(21);
    for now in [late, early] {
        assert_eq!(
            check("POST", path, "", &h, POST_BODY, POST_AUTH, now),
            Err(AuthError::DateOutOfWindow { skew_seconds: 900 })
        );
    }
}

#[test]
fn requires_host_and_date_signed_and_present() {
    let path = "/v2/accounts/partner-accounts/adjust-amount";
    let h = post_headers();
    let no_host = POST_AUTH.replace("content-type;host;x-sdk-date", "content-type;x-sdk-date");
    assert_eq!(
        check("POST", path, "", &h, POST_BODY, &no_host, NOW),
        Err(AuthError::RequiredHeaderNotSigned("host"))
    );
    let no_date = POST_AUTH.replace("content-type;host;x-sdk-date", "content-type;host");
    assert_eq!(
        check("POST", path, "", &h, POST_BODY, &no_date, NOW),
        Err(AuthError::RequiredHeaderNotSigned("x-sdk-date"))
    );
    let missing: Vec<_> = h
        .iter()
        .copied()
        .filter(|(n, _)| *n != "Content-Type")
        .collect();
    assert_eq!(
        check("POST", path, "", &missing, POST_BODY, POST_AUTH, NOW),
        Err(AuthError::SignedHeaderMissing("content-type".into()))
    );
}

#[test]
fn payload_hash_header_is_checked_and_unsigned_payload_refused() {
    let path = "/v2/accounts/partner-accounts/adjust-amount";
    let mut h = post_headers();
    h.push(("X-Sdk-Content-Sha256", UNSIGNED_PAYLOAD));
    assert_eq!(
        check("POST", path, "", &h, POST_BODY, POST_AUTH, NOW),
        Err(AuthError::UnsignedPayload)
    );
    h.pop();
    h.push(("X-Sdk-Content-Sha256", EMPTY_BODY_SHA256));
    assert_eq!(
        check("POST", path, "", &h, POST_BODY, POST_AUTH, NOW),
        Err(AuthError::PayloadHashMismatch)
    );
}

#[test]
fn malformed_authorization_headers_are_refused() {
    for bad in [
        "",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host;x-sdk-date, Signature=00",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=zz",
        "SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=00",
    ] {
        assert_eq!(
            parse_authorization(bad),
            Err(AuthError::MalformedAuthorization),
            "{bad}"
        );
    }
    assert_eq!(
        parse_authorization("V11-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=00"),
        Err(AuthError::UnsupportedAlgorithm)
    );
}

#[test]
fn canonical_uri_matches_python_quote() {
    assert_eq!(canonical_uri("/v2/a b/%7Ex"), "/v2/a%20b/~x/");
    assert_eq!(canonical_uri("/v2/x/"), "/v2/x/");
    assert_eq!(canonical_uri("/v2/%C3%BC"), "/v2/%C3%BC/");
}

#[test]
fn dates_round_trip() {
    assert_eq!(format_date(NOW), "20261121T102000Z");
    assert_eq!(parse_date("20261121T102000Z"), Some(NOW));
    assert_eq!(parse_date("2026-11-21T10:20:00Z"), None);
}
