//! The canonical request: six lines the signature covers.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use ring::digest;

/// Python's `quote(s, safe='~')`: everything but unreserved characters is encoded.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Hex SHA-256 of the empty body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How values of one repeated query parameter are ordered.
///
/// The Python SDK sends parameters already in canonical order (values sorted as their own
/// type, so integers numerically), the Go SDK sorts values as strings but sends them in
/// insertion order. A verifier tries [`QueryOrder::KeyThenValue`] first and
/// [`QueryOrder::KeyThenReceived`] when that fails and differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOrder {
    /// Sorted by name, then by value as a string.
    KeyThenValue,
    /// Sorted by name only; a name's values stay in the order received.
    KeyThenReceived,
}

fn encode(bytes: &[u8]) -> String {
    percent_encode(bytes, ENCODE).to_string()
}

/// Canonical URI: decoded path, each segment re-encoded, always ending in `/`.
pub fn canonical_uri(path: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(path).collect();
    let mut out = decoded
        .split(|b| *b == b'/')
        .map(encode)
        .collect::<Vec<_>>()
        .join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Canonical query string from the raw query as received (or as about to be sent).
pub fn canonical_query(raw: &str, order: QueryOrder) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k: Vec<u8> = percent_decode_str(k).collect();
            let v: Vec<u8> = percent_decode_str(v).collect();
            (encode(&k), encode(&v))
        })
        .collect();
    match order {
        QueryOrder::KeyThenValue => pairs.sort(),
        QueryOrder::KeyThenReceived => pairs.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The six-line canonical request. `headers` are the signed `(name, value)` pairs with
/// lower-case names in signed order; values are trimmed here.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    order: QueryOrder,
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(&method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_uri(path));
    out.push('\n');
    out.push_str(&canonical_query(query, order));
    out.push('\n');
    for (name, value) in headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push('\n');
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// Lower-case hex, by table (the `hex` crate's iterator showed up in the request profile:
/// three digests per forwarded request).
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Only ASCII digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// Hex SHA-256 of a body as the signature covers it.
pub fn body_sha256(body: &[u8]) -> String {
    if body.is_empty() {
        return EMPTY_BODY_SHA256.to_owned();
    }
    hex_lower(digest::digest(&digest::SHA256, body).as_ref())
}
