//! Prometheus metrics, served on the admin listener.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    graph_entries: IntGaugeVec,
    graph_syncs: IntCounterVec,
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
        let graph_entries = IntGaugeVec::new(
            Opts::new("tiergate_graph_entries", "Relationships known, by kind."),
            &["kind"],
        )?;
        let graph_syncs = IntCounterVec::new(
            Opts::new(
                "tiergate_graph_syncs_total",
                "Graph syncs from the partner API, by outcome.",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(graph_entries.clone()))?;
        registry.register(Box::new(graph_syncs.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            graph_entries,
            graph_syncs,
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

    /// Records a graph sync and the graph's size after it.
    pub fn graph_synced(&self, outcome: &str, sizes: &[(&str, usize)]) {
        self.graph_syncs.with_label_values(&[outcome]).inc();
        for (kind, n) in sizes {
            self.graph_entries
                .with_label_values(&[kind])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
