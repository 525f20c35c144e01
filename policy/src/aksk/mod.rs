//! The vendor's SDK-HMAC-SHA256 request signature, exactly as the vendor SDKs make it
//! (`huaweicloudsdkcore/signer/signer.py`), for verifying callers and for re-signing upstream.

mod authorization;
mod canonical;
mod sign;
mod verify;

pub use authorization::{Authorization, parse_authorization};
pub use canonical::{
    EMPTY_BODY_SHA256, QueryOrder, body_sha256, canonical_query, canonical_request, canonical_uri,
};
pub use sign::{sign, string_to_sign};
pub use verify::{AuthError, HeaderSource, Request, SignedRequest, verify};

/// The only algorithm name accepted: HMAC-SHA256 keyed with the SK itself.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The request date header, `YYYYMMDDTHHMMSSZ` in UTC.
pub const HEADER_DATE: &str = "x-sdk-date";
/// Optional payload hash header; `UNSIGNED-PAYLOAD` for non-JSON bodies.
pub const HEADER_CONTENT_SHA256: &str = "x-sdk-content-sha256";
/// The marker the SDK puts in [`HEADER_CONTENT_SHA256`] for non-JSON bodies.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Formats a time as the SDK's `X-Sdk-Date` value.
pub fn format_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an `X-Sdk-Date` value.
pub fn parse_date(s: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|p| p.assume_utc())
}

#[cfg(test)]
mod tests;
