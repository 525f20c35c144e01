//! Stage 4: the caller's limits and the vendor budget of the API it calls; after the answer,
//! a vendor 429 holds that API back for every caller.

use crate::credentials::Credential;
use crate::ctx::Ctx;
use crate::limiter::{Limiter, Verdict};
use crate::rejection::Rejection;
use bytes::{Bytes, BytesMut};
use pingora::http::{RequestHeader, ResponseHeader};
use std::time::Duration;
use tiergate_policy::Route;

/// How long the vendor's own 429 holds an API back, in every gateway.
const VENDOR_HOLD: Duration = Duration::from_secs(1);

/// Admitted: the limit closest to refusing (for the `RateLimit-*` headers). A call that
/// waits for its turn in the vendor budget never waits past its signature's validity (its
/// `X-Sdk-Date` and the clock skew): the vendor would refuse it then.
pub async fn check(
    limiter: &Limiter,
    credential: &Credential,
    route: &Route,
    req: &RequestHeader,
    skew: time::Duration,
) -> Result<Verdict, Rejection> {
    // Callers with their own vendor key spend their own vendor budget, not the distributor's.
    let own_key = credential.upstream.is_some();
    let valid_for = req
        .headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .and_then(tiergate_policy::aksk::parse_date)
        .map(|d| d + skew - time::OffsetDateTime::now_utc())
        .map(|left| Duration::try_from(left).unwrap_or(Duration::ZERO));
    let verdict = limiter
        .check_within(&credential.principal, route, own_key, valid_for)
        .await;
    if verdict.allowed {
        Ok(verdict)
    } else {
        Err(Rejection::RateLimited(verdict))
    }
}

/// The vendor answered 429 anyway (its limit changed, or another system spends the same
/// account): the API is held back and its budget halved for a while
/// ([`Limiter::vendor_throttled`]), and the caller gets `TG.6002` with `Retry-After` instead
/// of the vendor's raw refusal (its body is kept for the audit outcome and the log).
pub async fn vendor_answered(
    limiter: &Limiter,
    ctx: &mut Ctx,
    resp: &mut ResponseHeader,
) -> pingora::Result<()> {
    let (429, Some(route)) = (resp.status.as_u16(), ctx.route) else {
        return Ok(());
    };
    limiter.vendor_throttled(route.operation, VENDOR_HOLD).await;
    let r = Rejection::RateLimited(Verdict {
        allowed: false,
        name: format!("upstream:{}", route.operation),
        upstream: true,
        limit: 0,
        remaining: 0,
        reset: VENDOR_HOLD,
        retry_after: VENDOR_HOLD,
        mode: "vendor",
    });
    let body = crate::answer::envelope(&r);
    resp.insert_header("content-type", crate::answer::JSON)?;
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header("retry-after", VENDOR_HOLD.as_secs().max(1).to_string())?;
    ctx.throttled = Some(Bytes::from(body));
    if ctx.kept.is_none() {
        ctx.kept = Some(BytesMut::new());
    }
    Ok(())
}

/// The body of a vendor 429 on its way back: replaced by Tiergate's answer; at its end the
/// event is counted and logged with the vendor's own code.
pub fn throttled_body(limiter: &Limiter, ctx: &Ctx, body: &mut Option<Bytes>, end_of_stream: bool) {
    let Some(answer) = &ctx.throttled else { return };
    *body = end_of_stream.then(|| answer.clone());
    if !end_of_stream {
        return;
    }
    let vendor: serde_json::Value = ctx
        .kept
        .as_deref()
        .and_then(|k| serde_json::from_slice(k).ok())
        .unwrap_or_default();
    let code = vendor["error_code"].as_str().unwrap_or("(none)");
    let operation = ctx.route.map_or("", |r| r.operation);
    limiter.count_vendor_429(operation, code);
    tracing::warn!(
        request_id = %ctx.request_id,
        operation,
        vendor_code = code,
        "the vendor answered 429: answered TG.6002, the API held back and its budget halved"
    );
}
