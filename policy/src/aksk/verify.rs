//! Verifying a signed request, with what the signer leaves to the verifier: required
//! signed headers, a clock-skew window, payload hash and a constant-time comparison.

use super::canonical::{QueryOrder, body_sha256, canonical_query, canonical_request};
use super::sign::{hmac_key, string_to_sign};
use super::{Authorization, HEADER_CONTENT_SHA256, HEADER_DATE, UNSIGNED_PAYLOAD};
use time::{Duration, OffsetDateTime};

/// Why a request's signature is not accepted. Each has its own error code at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header at all.
    #[error("the request is not signed: Authorization header missing")]
    MissingAuthorization,
    /// The header is not `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..`.
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// Another signing algorithm than SDK-HMAC-SHA256.
    #[error("unsupported signing algorithm (only SDK-HMAC-SHA256 is accepted)")]
    UnsupportedAlgorithm,
    /// `host` or `x-sdk-date` not among the signed headers.
    #[error("header `{0}` must be signed")]
    RequiredHeaderNotSigned(&'static str),
    /// A header listed as signed is absent from the request.
    #[error("signed header `{0}` is missing from the request")]
    SignedHeaderMissing(String),
    /// `X-Sdk-Date` is not `YYYYMMDDTHHMMSSZ`.
    #[error("X-Sdk-Date is not a valid YYYYMMDDTHHMMSSZ date")]
    BadDate,
    /// `X-Sdk-Date` is outside the accepted clock-skew window.
    #[error("X-Sdk-Date is outside the accepted clock skew of {skew_seconds} s")]
    DateOutOfWindow {
        /// The window, in seconds either side of now.
        skew_seconds: i64,
    },
    /// The body was declared `UNSIGNED-PAYLOAD`; JSON bodies must be signed.
    #[error("the request body must be signed (UNSIGNED-PAYLOAD is not accepted)")]
    UnsignedPayload,
    /// `X-Sdk-Content-Sha256` does not match the body received.
    #[error("the body does not match X-Sdk-Content-Sha256")]
    PayloadHashMismatch,
    /// The signature does not match the request.
    #[error("the signature does not match the request")]
    SignatureMismatch,
}

/// Access to request headers by lower-case name.
pub trait HeaderSource {
    /// The first value of the header, if present and valid text.
    fn header(&self, lower_name: &str) -> Option<&str>;
}

impl HeaderSource for [(&str, &str)] {
    fn header(&self, lower_name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(lower_name))
            .map(|(_, v)| *v)
    }
}

/// A request as received: raw path and query as on the wire, headers and the whole body.
pub struct Request<'a, H: HeaderSource + ?Sized> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw path, possibly percent-encoded.
    pub path: &'a str,
    /// Raw query string without `?` (empty if none).
    pub query: &'a str,
    /// The request's headers.
    pub headers: &'a H,
    /// The complete body.
    pub body: &'a [u8],
}

/// Marker of a request whose signature [`verify`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRequest {
    /// When the caller says it signed the request.
    pub signed_at: OffsetDateTime,
}

/// Verifies `auth` over `req` with the secret key `sk`, at time `now`, with `skew` either side.
pub fn verify<H: HeaderSource + ?Sized>(
    req: &Request<'_, H>,
    auth: &Authorization<'_>,
    sk: &[u8],
    now: OffsetDateTime,
    skew: Duration,
) -> Result<SignedRequest, AuthError> {
    for required in ["host", HEADER_DATE] {
        if !auth.signed_headers.contains(&required) {
            return Err(AuthError::RequiredHeaderNotSigned(required));
        }
    }
    let mut headers = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let value = req
            .headers
            .header(name)
            .ok_or_else(|| AuthError::SignedHeaderMissing((*name).to_owned()))?;
        headers.push((*name, value));
    }
    let date = req.headers.header(HEADER_DATE).unwrap_or_default().trim();
    let signed_at = super::parse_date(date).ok_or(AuthError::BadDate)?;
    if (now - signed_at).abs() > skew {
        return Err(AuthError::DateOutOfWindow {
            skew_seconds: skew.whole_seconds(),
        });
    }
    let payload_hash = payload_hash(req)?;
    let key = hmac_key(sk);
    let try_order = |order| {
        let canonical = canonical_request(
            req.method,
            req.path,
            req.query,
            order,
            &headers,
            &payload_hash,
        );
        // ring compares in constant time.
        ring::hmac::verify(
            &key,
            string_to_sign(date, &canonical).as_bytes(),
            &auth.signature,
        )
        .is_ok()
    };
    if try_order(QueryOrder::KeyThenValue)
        || (canonical_query(req.query, QueryOrder::KeyThenValue)
            != canonical_query(req.query, QueryOrder::KeyThenReceived)
            && try_order(QueryOrder::KeyThenReceived))
    {
        return Ok(SignedRequest { signed_at });
    }
    Err(AuthError::SignatureMismatch)
}

fn payload_hash<H: HeaderSource + ?Sized>(req: &Request<'_, H>) -> Result<String, AuthError> {
    if req.body.is_empty() {
        return Ok(body_sha256(req.body));
    }
    let actual = body_sha256(req.body);
    match req.headers.header(HEADER_CONTENT_SHA256).map(str::trim) {
        None => Ok(actual),
        Some(UNSIGNED_PAYLOAD) => Err(AuthError::UnsignedPayload),
        Some(declared) if declared.eq_ignore_ascii_case(&actual) => Ok(declared.to_owned()),
        Some(_) => Err(AuthError::PayloadHashMismatch),
    }
}
