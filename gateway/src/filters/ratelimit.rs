//! Stage 4: the caller's limits and the vendor budget of the API it calls; after the answer,
//! a vendor 429 holds that API back for every caller.

use crate::credentials::Credential;
use crate::limiter::{Limiter, Verdict};
use crate::rejection::Rejection;
use std::time::Duration;
use tiergate_policy::Route;

/// How long the vendor's own 429 holds an API back, in every gateway.
const VENDOR_HOLD: Duration = Duration::from_secs(1);

/// Admitted: the limit closest to refusing (for the `RateLimit-*` headers).
pub async fn check(
    limiter: &Limiter,
    credential: &Credential,
    route: &Route,
) -> Result<Verdict, Rejection> {
    // Callers with their own vendor key spend their own vendor budget, not the distributor's.
    let own_key = credential.upstream.is_some();
    let verdict = limiter.check(&credential.principal, route, own_key).await;
    if verdict.allowed {
        Ok(verdict)
    } else {
        Err(Rejection::RateLimited(verdict))
    }
}

/// The vendor answered: its own 429 holds this API back for every caller, in every gateway.
pub async fn vendor_answered(limiter: &Limiter, route: Option<&Route>, status: u16) {
    if let (429, Some(route)) = (status, route) {
        limiter.vendor_throttled(route.operation, VENDOR_HOLD).await;
    }
}
