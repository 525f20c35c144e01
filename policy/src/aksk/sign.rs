//! Producing a signature, as the vendor SDK does (used to re-sign requests upstream).

use super::ALGORITHM;
use super::canonical::{QueryOrder, canonical_request, hex_lower};
use ring::{digest, hmac};

/// The HMAC-SHA256 key: the SK itself (no derived key chain).
pub(crate) fn hmac_key(secret_key: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret_key)
}

/// `SDK-HMAC-SHA256\n<date>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{date}\n{}",
        hex_lower(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    )
}

/// Signs a request and returns the `Authorization` header value.
///
/// `headers` are `(lower-case name, value)` pairs to sign; they must include `host` and
/// `x-sdk-date` (whose value is the signing date). `payload_hash` is the hex SHA-256 of
/// the body ([`super::canonical::body_sha256`]).
pub fn sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
    access_key: &str,
    secret_key: &[u8],
) -> String {
    let mut sorted: Vec<(&str, &str)> = headers.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let date = sorted
        .iter()
        .find(|(n, _)| *n == super::HEADER_DATE)
        .map(|(_, v)| v.trim())
        .unwrap_or_default();
    let canonical = canonical_request(
        method,
        path,
        query,
        QueryOrder::KeyThenValue,
        &sorted,
        payload_hash,
    );
    let signature = hmac::sign(
        &hmac_key(secret_key),
        string_to_sign(date, &canonical).as_bytes(),
    );
    let names: Vec<&str> = sorted.iter().map(|(n, _)| *n).collect();
    format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={}",
        names.join(";"),
        hex_lower(signature.as_ref())
    )
}
