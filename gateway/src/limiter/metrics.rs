//! The limiter's metrics: decisions by limit, outcome and mode; Redis round trips and their
//! latency; lease sizes; decisions near the limit.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// Limiter metrics.
pub struct LimitMetrics {
    /// Decisions.
    pub decisions: IntCounterVec,
    /// Redis calls by result.
    pub redis_calls: IntCounterVec,
    /// Redis call latency.
    pub redis_seconds: Histogram,
    /// Lease sizes asked for.
    pub lease_size: Histogram,
    /// Admissions with under a tenth of the burst left.
    pub near_limit: IntCounterVec,
    /// Gateways sharing the limits, as last seen in Redis.
    pub live: IntGauge,
    /// Calls waiting for the vendor budget now.
    pub queued: IntGauge,
    /// How long admitted calls waited for the vendor budget.
    pub waited: Histogram,
    /// Calls refused after waiting for the vendor budget until their deadline, by operation.
    pub budget_refused: IntCounterVec,
    /// The vendor's own 429s, by operation and vendor code.
    pub vendor_429: IntCounterVec,
}

impl LimitMetrics {
    /// Registers them in `r`.
    pub fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let decisions = IntCounterVec::new(
            Opts::new(
                "tiergate_ratelimit_decisions_total",
                "Rate-limit decisions by limit, outcome (admitted, refused, shadow_refused) and mode (local, strict, leased, fallback_share, fallback_open, fallback_closed).",
            ),
            &["limit", "outcome", "mode"],
        )?;
        let redis_calls = IntCounterVec::new(
            Opts::new(
                "tiergate_ratelimit_redis_calls_total",
                "Redis round trips by the limiter, by result.",
            ),
            &["result"],
        )?;
        let redis_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "tiergate_ratelimit_redis_seconds",
                "Latency of the limiter's Redis round trips.",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
            ]),
        )?;
        let lease_size = Histogram::with_opts(
            HistogramOpts::new(
                "tiergate_ratelimit_lease_size",
                "Admissions asked for per Redis call.",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )?;
        let near_limit = IntCounterVec::new(
            Opts::new(
                "tiergate_ratelimit_near_limit_total",
                "Admissions that left under a tenth of the burst, by limit.",
            ),
            &["limit"],
        )?;
        let live = IntGauge::new(
            "tiergate_ratelimit_live_gateways",
            "Gateways sharing the limits through Redis, as last seen (fallback shares divide by it).",
        )?;
        let queued = IntGauge::new(
            "tiergate_vendor_budget_queued",
            "Calls waiting for their turn in the vendor budget of their API.",
        )?;
        let waited = Histogram::with_opts(
            HistogramOpts::new(
                "tiergate_vendor_budget_waited_seconds",
                "How long calls waited for the vendor budget before they were forwarded.",
            )
            .buckets(vec![0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0]),
        )?;
        let budget_refused = IntCounterVec::new(
            Opts::new(
                "tiergate_vendor_budget_refused_total",
                "Calls refused (TG.6002) after waiting for the vendor budget until their deadline, by operation.",
            ),
            &["operation"],
        )?;
        let vendor_429 = IntCounterVec::new(
            Opts::new(
                "tiergate_vendor_429_total",
                "The vendor's own 429 answers (a read sent again once, else answered TG.6002), by operation and vendor code.",
            ),
            &["operation", "code"],
        )?;
        r.register(Box::new(vendor_429.clone()))?;
        r.register(Box::new(queued.clone()))?;
        r.register(Box::new(waited.clone()))?;
        r.register(Box::new(budget_refused.clone()))?;
        r.register(Box::new(live.clone()))?;
        r.register(Box::new(decisions.clone()))?;
        r.register(Box::new(redis_calls.clone()))?;
        r.register(Box::new(redis_seconds.clone()))?;
        r.register(Box::new(lease_size.clone()))?;
        r.register(Box::new(near_limit.clone()))?;
        Ok(Self {
            decisions,
            redis_calls,
            redis_seconds,
            lease_size,
            near_limit,
            live,
            queued,
            waited,
            budget_refused,
            vendor_429,
        })
    }
}

/// One call counted in a gauge while it lives (a call waiting for its turn).
pub struct Waiting(IntGauge);

impl Waiting {
    /// Counts it.
    pub fn new(g: &IntGauge) -> Self {
        g.inc();
        Self(g.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.dec();
    }
}
