//! Stage 4: the caller's limits and the vendor budget of the API it calls; after the answer,
//! a vendor 429 holds that API back for every caller.

use crate::credentials::Credential;
use crate::ctx::{Ctx, VendorRetry};
use crate::limiter::{Limiter, Verdict};
use crate::rejection::Rejection;
use bytes::{Bytes, BytesMut};
use pingora::http::{RequestHeader, ResponseHeader};
use std::time::{Duration, Instant};
use tiergate_policy::Route;

/// How long the vendor's own 429 holds an API back, in every gateway.
const VENDOR_HOLD: Duration = Duration::from_secs(1);

/// Admitted: the limit closest to refusing (for the `RateLimit-*` headers), and until when
/// the call may wait for a turn in the vendor budget (again, after a vendor 429). A call
/// never waits past its signature's validity (its `X-Sdk-Date` and the clock skew): the
/// vendor would refuse it then.
pub async fn check(
    limiter: &Limiter,
    credential: &Credential,
    route: &Route,
    req: &RequestHeader,
    skew: time::Duration,
) -> Result<(Verdict, Instant), Rejection> {
    // Callers with their own vendor key spend their own vendor budget, not the distributor's.
    let own_key = credential.upstream.is_some();
    let valid_for = req
        .headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .and_then(tiergate_policy::aksk::parse_date)
        .map(|d| d + skew - time::OffsetDateTime::now_utc())
        .map(|left| Duration::try_from(left).unwrap_or(Duration::ZERO));
    let deadline = limiter.deadline(valid_for);
    let verdict = limiter
        .check_within(&credential.principal, route, own_key, deadline)
        .await;
    if verdict.allowed {
        Ok((verdict, deadline))
    } else {
        Err(Rejection::RateLimited(verdict))
    }
}

/// The vendor answered 429 to a call that moves no money, for the first time: the API is
/// held back and its budget halved ([`Limiter::vendor_throttled`]), and the call is to be
/// sent again (an error Pingora retries, see [`retry_turn`]); the caller never sees this 429.
pub async fn vendor_refused(
    limiter: &Limiter,
    ctx: &mut Ctx,
    resp: &ResponseHeader,
) -> pingora::Result<()> {
    let (429, Some(route), VendorRetry::No) = (resp.status.as_u16(), ctx.route, &ctx.vendor_retry)
    else {
        return Ok(());
    };
    if route.money_moving {
        return Ok(());
    }
    limiter.vendor_throttled(route.operation, VENDOR_HOLD).await;
    // Its body (the vendor's code) is not read: Pingora decides on a retry from the header,
    // and the connection is dropped. The vendor's request id traces it at the vendor.
    limiter.count_vendor_429(route.operation, "(retried)");
    let vendor_request_id = resp
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::warn!(
        request_id = %ctx.request_id,
        operation = route.operation,
        vendor_request_id,
        "the vendor answered 429: the API held back, its budget halved, the call sent again"
    );
    ctx.vendor_retry = VendorRetry::Due;
    let mut e = pingora::Error::explain(
        pingora::ErrorType::HTTPStatus(429),
        "the vendor answered 429",
    );
    e.set_retry(true);
    Err(e)
}

/// Before the second try: its turn in the vendor budget, waited for until the call's
/// deadline; `false` when it did not come in time (the refusal is kept for the answer).
pub async fn retry_turn(limiter: &Limiter, ctx: &mut Ctx) -> bool {
    let (VendorRetry::Due, Some(route), Some(c)) = (&ctx.vendor_retry, ctx.route, &ctx.credential)
    else {
        return true;
    };
    let deadline = ctx.budget_deadline();
    match limiter.retry_turn(&c.principal, route, deadline).await {
        Ok(()) => {
            ctx.vendor_retry = VendorRetry::Sent;
            true
        }
        Err(v) => {
            ctx.vendor_retry = VendorRetry::Refused(v);
            false
        }
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
    let r = Rejection::RateLimited(vendor_refusal(limiter, route.operation).await);
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

/// The vendor said 429 for `operation`: the API held back and its budget halved
/// ([`Limiter::vendor_throttled`]); the refusal Tiergate answers instead (`TG.6002`).
pub async fn vendor_refusal(limiter: &Limiter, operation: &str) -> Verdict {
    limiter.vendor_throttled(operation, VENDOR_HOLD).await;
    Verdict {
        allowed: false,
        name: format!("upstream:{operation}"),
        upstream: true,
        limit: 0,
        remaining: 0,
        reset: VENDOR_HOLD,
        retry_after: VENDOR_HOLD,
        mode: "vendor",
    }
}

/// The vendor's own error code in its answer's body (`(none)` when it gives none).
pub fn vendor_code(body: &[u8]) -> String {
    let vendor: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    vendor["error_code"].as_str().unwrap_or("(none)").to_owned()
}

/// The body of a vendor 429 on its way back: replaced by Tiergate's answer; at its end the
/// event is counted and logged with the vendor's own code.
pub fn throttled_body(limiter: &Limiter, ctx: &Ctx, body: &mut Option<Bytes>, end_of_stream: bool) {
    let Some(answer) = &ctx.throttled else { return };
    *body = end_of_stream.then(|| answer.clone());
    if !end_of_stream {
        return;
    }
    let code = vendor_code(ctx.kept.as_deref().unwrap_or_default());
    let code = code.as_str();
    let operation = ctx.route.map_or("", |r| r.operation);
    limiter.count_vendor_429(operation, code);
    tracing::warn!(
        request_id = %ctx.request_id,
        operation,
        vendor_code = code,
        "the vendor answered 429: answered TG.6002, the API held back and its budget halved"
    );
}
