//! Prometheus metrics, served on the admin listener.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "tiergate_requests_total",
                "Requests by route, tier and outcome.",
            ),
            &["route", "tier", "outcome"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tiergate_request_duration_seconds",
                "Time from the request's arrival to the end of its answer.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route", "outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
        })
    }

    /// Records one finished request.
    pub fn observe(&self, route: &str, tier: &str, outcome: &str, seconds: f64) {
        self.requests
            .with_label_values(&[route, tier, outcome])
            .inc();
        self.duration
            .with_label_values(&[route, outcome])
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
