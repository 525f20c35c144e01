//! Degraded mode: while the store does not answer, a credential looked up successfully within
//! `credentials.cache_ttl + credentials.stale_for` still serves the calls that need nothing of
//! the store (reads); revocations count as of that lookup. Calls that move money or change
//! state need the store (their ledger, audit intent or idempotency claim) and stay refused.
//! Counted and shown: `tiergate_credentials_stale_served_total`, `tiergate_storage_degraded`.

use super::{Credential, Credentials};
use prometheus::{IntCounter, IntGauge, Registry};
use std::sync::Arc;

/// The degraded mode's numbers.
pub struct StaleMetrics {
    served: IntCounter,
    degraded: IntGauge,
}

impl StaleMetrics {
    pub(super) fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            served: IntCounter::new(
                "tiergate_credentials_stale_served_total",
                "Calls authenticated from a cached credential the store could not refresh.",
            )?,
            degraded: IntGauge::new(
                "tiergate_storage_degraded",
                "1 while the last credential lookup found the store unavailable.",
            )?,
        })
    }
}

impl Credentials {
    /// Registers the degraded mode's metrics.
    pub fn register(&self, r: &Registry) -> Result<(), prometheus::Error> {
        r.register(Box::new(self.stale_metrics.served.clone()))?;
        r.register(Box::new(self.stale_metrics.degraded.clone()))
    }

    /// The store did not answer a lookup of `ak`: the credential as last looked up, if that
    /// was within the cache TTL and `stale_for` (counted), else none.
    pub fn stale(&self, ak: &str) -> Option<Arc<Credential>> {
        self.stale_metrics.degraded.set(1);
        let c = self.cache.lock().ok()?;
        let hit = c.peek(ak)?;
        let found = hit.found.clone()?;
        if hit.at.elapsed() >= self.ttl + self.stale_for {
            return None;
        }
        self.stale_metrics.served.inc();
        Some(found)
    }

    /// The store answered a lookup again.
    pub(super) fn recovered(&self) {
        self.stale_metrics.degraded.set(0);
    }

    /// Whether stale credentials may serve while the store is away (`stale_for` above 0).
    pub fn serves_stale(&self) -> bool {
        !self.stale_for.is_zero()
    }
}
