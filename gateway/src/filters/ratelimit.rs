//! Stage 4: the caller's limits and the vendor budget of the API it calls; after the answer,
//! a vendor 429 holds that API back for every caller.

use crate::credentials::Credential;
use crate::credentials::UpstreamKey;
use crate::ctx::{Ctx, VendorRetry};
use crate::limiter::{Limiter, Verdict};
use crate::rejection::Rejection;
use crate::upstream::{CallError, UpstreamClient};
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

/// What sending a call again needs: Tiergate's own client, the distributor's key and the
/// request's path.
pub struct Again<'a> {
    /// The vendor, called without Pingora.
    pub client: &'a UpstreamClient,
    /// The distributor's key.
    pub key: &'a UpstreamKey,
    /// The request's path.
    pub path: &'a str,
}

/// The vendor answered 429 to a call that moves no money, for the first time: the API is
/// held back and its budget halved ([`Limiter::vendor_throttled`]), and the call is sent again
/// by Tiergate's own client once its turn comes within the call's deadline. Its answer
/// replaces the 429, whose body is still read as it comes ([`retried_body`]), so the event is
/// counted and logged with the vendor's own code. (Pingora's own retry would decide from the
/// header alone and drop the body.) When the turn does not come, or the vendor refuses the
/// second try as well, the caller gets `TG.6002` ([`vendor_answered`]); never the raw 429.
pub async fn vendor_refused(
    limiter: &Limiter,
    again: Again<'_>,
    ctx: &mut Ctx,
    resp: &mut ResponseHeader,
) -> pingora::Result<()> {
    let (429, Some(route), VendorRetry::No) = (resp.status.as_u16(), ctx.route, &ctx.vendor_retry)
    else {
        return Ok(());
    };
    if route.money_moving {
        return Ok(());
    }
    limiter.vendor_throttled(route.operation, VENDOR_HOLD).await;
    ctx.vendor_retry = VendorRetry::Refused;
    let (Some(c), Some(fwd)) = (&ctx.credential, &ctx.forward) else {
        return Ok(());
    };
    let deadline = ctx.budget_deadline();
    if limiter
        .retry_turn(&c.principal, route, deadline)
        .await
        .is_err()
    {
        return Ok(());
    }
    let (query, body) = (fwd.query.clone(), fwd.body.clone());
    let sent = again
        .client
        .exchange(again.key, route.method.as_str(), again.path, &query, body)
        .await;
    let (status, second) = match sent {
        Ok((429, body)) => {
            let code = vendor_code(&body);
            limiter.count_vendor_429(route.operation, &code);
            limiter.vendor_throttled(route.operation, VENDOR_HOLD).await;
            tracing::warn!(request_id = %ctx.request_id, operation = route.operation, vendor_code = code, "the vendor answered 429 to the second try too");
            return Ok(());
        }
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "the second try after a vendor 429 failed");
            // Neither try moved anything unless the second may have reached the vendor.
            if matches!(e, CallError::NotSent(_)) {
                ctx.sent = false;
            }
            let r = Rejection::UpstreamUnavailable;
            (r.answer().status, Bytes::from(crate::answer::envelope(&r)))
        }
    };
    // What the vendor answered in the end (the first 429 is counted on its own).
    if let Some(sent) = ctx.upstream_sent {
        ctx.upstream_answer = Some((status, sent.elapsed()));
    }
    *resp = ResponseHeader::build(status, Some(4))?;
    resp.insert_header("content-type", crate::answer::JSON)?;
    resp.insert_header("content-length", second.len().to_string())?;
    ctx.vendor_retry = VendorRetry::Tried {
        first: BytesMut::new(),
        second,
    };
    Ok(())
}

/// The body of the vendor's first 429 to a call sent again: read (for the vendor's code, the
/// count and the log at its end) and replaced by the second answer.
pub fn retried_body(
    limiter: &Limiter,
    ctx: &mut Ctx,
    body: &mut Option<Bytes>,
    end_of_stream: bool,
) {
    let VendorRetry::Tried { first, second } = &mut ctx.vendor_retry else {
        return;
    };
    if let Some(b) = body.take() {
        first.extend_from_slice(&b);
    }
    if !end_of_stream {
        return;
    }
    *body = Some(second.clone());
    let code = vendor_code(first);
    let operation = ctx.route.map_or("", |r| r.operation);
    limiter.count_vendor_429(operation, &code);
    tracing::warn!(
        request_id = %ctx.request_id,
        operation,
        vendor_code = code,
        "the vendor answered 429: the API held back, its budget halved, the call sent again"
    );
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
    // A first 429 not sent again was held back already ([`vendor_refused`]).
    let verdict = if matches!(ctx.vendor_retry, VendorRetry::Refused) {
        refusal_verdict(route.operation)
    } else {
        vendor_refusal(limiter, route.operation).await
    };
    let r = Rejection::RateLimited(verdict);
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
    refusal_verdict(operation)
}

/// The refusal Tiergate answers in place of a vendor 429 (`TG.6002`, `Retry-After`).
fn refusal_verdict(operation: &str) -> Verdict {
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
