//! The one writer of Tiergate's own answers, for all three listeners (partner API, admin,
//! sign-in). Every refusal is a [`Rejection`] rendered by [`refusal`]: the vendor's envelope
//! (`{"error_code", "error_msg"}`), `X-Request-Id`, the rate-limit headers; on the
//! browser-facing sign-in listener every answer also carries `Cache-Control: no-store` and
//! `X-Frame-Options: DENY` (sign-in pages must never be cached or framed). No other code
//! builds an error body.

use crate::limiter::Verdict;
use crate::rejection::Rejection;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

/// The content type of every JSON answer.
pub const JSON: &str = "application/json;charset=UTF-8";

/// Which listener answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The partner API (the vendor SDK's callers).
    Partner,
    /// The admin listener (operators, auditors, metrics).
    Admin,
    /// The browser-facing sign-in listener.
    SignIn,
}

/// A new request id (32 hex characters).
pub fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A refusal. `limit` is the limit closest to refusing, when the rejection is not itself the
/// rate limit's.
pub fn refusal(
    r: &Rejection,
    on: Listener,
    request_id: &str,
    limit: Option<&Verdict>,
) -> Response<Vec<u8>> {
    let a = r.answer();
    let body = envelope(r).into_bytes();
    let mut headers = vec![("x-request-id", request_id.to_owned())];
    headers.extend(limit_headers(r.limit().or(limit), true));
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply(on, status, JSON, body, &headers)
}

/// The vendor's error envelope: the body of every refusal.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Envelope {
    /// Tiergate's code (`TG.` and four digits), or the vendor's when it refused.
    pub error_code: String,
    /// What was wrong, for a person.
    pub error_msg: String,
}

/// A refusal's body: the vendor's envelope.
pub fn envelope(r: &Rejection) -> String {
    let e = Envelope {
        error_code: r.answer().code.to_owned(),
        error_msg: r.to_string(),
    };
    serde_json::to_string(&e).unwrap_or_default()
}

/// The first answer to an idempotent request, given again to its retry.
pub fn replay(on: Listener, status: u16, body: String, request_id: &str) -> Response<Vec<u8>> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = [
        ("x-request-id", request_id.to_owned()),
        ("x-idempotent-replay", "true".to_owned()),
    ];
    reply(on, status, JSON, body.into_bytes(), &headers)
}

/// The vendor's answer, returned once Tiergate checked it (with the `RateLimit-*` headers of
/// the limit closest to refusing, as on every answer).
pub fn checked(
    on: Listener,
    status: u16,
    body: Vec<u8>,
    request_id: &str,
    limit: Option<&Verdict>,
) -> Response<Vec<u8>> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = vec![("x-request-id", request_id.to_owned())];
    headers.extend(limit_headers(limit, false));
    reply(on, status, JSON, body, &headers)
}

/// An answer with a content type and extra headers (a header that is not valid HTTP is left
/// out), with what its listener puts on every answer.
pub fn reply(
    on: Listener,
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let len = r.body().len();
    let h = r.headers_mut();
    let typed = ("content-type", content_type.to_owned());
    for (name, value) in std::iter::once(&typed).chain(headers) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    if on == Listener::SignIn {
        h.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds, rounded up) and, on a
/// refusal by that limit, `Retry-After`: on Tiergate's answers and the vendor's alike.
pub fn limit_headers(v: Option<&Verdict>, refused: bool) -> Vec<(&'static str, String)> {
    let Some(v) = v else {
        return Vec::new();
    };
    let secs = |d: std::time::Duration| d.as_millis().div_ceil(1000).to_string();
    // A refusal without a known limit (the vendor's own 429) still says when to come back.
    let mut out = if v.limit > 0 {
        vec![
            ("ratelimit-limit", v.limit.to_string()),
            ("ratelimit-remaining", v.remaining.to_string()),
            ("ratelimit-reset", secs(v.reset)),
        ]
    } else {
        Vec::new()
    };
    if refused && !v.allowed {
        let retry = v.retry_after.max(std::time::Duration::from_millis(1));
        out.push(("retry-after", secs(retry)));
    }
    out
}

/// The answer of an app listener (admin, sign-in): its own, or its refusal.
pub fn app(on: Listener, answered: Result<Response<Vec<u8>>, Rejection>) -> Response<Vec<u8>> {
    answered.unwrap_or_else(|r| refusal(&r, on, &request_id(), None))
}

/// Writes an answer on the partner listener's session.
pub async fn write(session: &mut Session, answer: Response<Vec<u8>>) -> pingora::Result<()> {
    let (parts, body) = answer.into_parts();
    let header = ResponseHeader::from(parts);
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session
        .write_response_body(Some(bytes::Bytes::from(body)), true)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_the_vendor_envelope_with_its_request_id() {
        let r = Rejection::BodyTooLarge { limit: 65536 };
        let a = refusal(&r, Listener::Admin, "rid", None);
        assert_eq!(a.status(), 413);
        let v: serde_json::Value = serde_json::from_slice(a.body()).unwrap_or_default();
        assert_eq!(v["error_code"], "TG.4001");
        assert_eq!(v["error_msg"], "request body over 65536 bytes");
        assert_eq!(a.headers()["x-request-id"], "rid");
        assert_eq!(a.headers()["content-type"], JSON);
        assert!(a.headers().get("cache-control").is_none());
    }

    #[test]
    fn the_sign_in_listener_is_never_cached_or_framed() {
        for a in [
            refusal(&Rejection::NotSignedIn, Listener::SignIn, "rid", None),
            reply(
                Listener::SignIn,
                StatusCode::OK,
                "text/html",
                Vec::new(),
                &[],
            ),
        ] {
            assert_eq!(a.headers()["cache-control"], "no-store");
            assert_eq!(a.headers()["x-frame-options"], "DENY");
        }
    }
}
