//! Prometheus metrics, served on the admin listener; [`hour`] keeps the last hour of them for
//! the overview.

pub mod audit;
#[cfg(test)]
mod documented;
pub mod graph_sync;
pub mod hour;
pub mod ledger;
pub mod sign_in;
pub mod vendor;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The gateway's metrics.
pub struct Metrics {
    /// The last hour of every counter, a snapshot a minute.
    pub hour: hour::Hour,
    registry: Registry,
    requests: IntCounterVec,
    refusals: IntCounterVec,
    duration: HistogramVec,
    graph_entries: IntGaugeVec,
    graph_syncs: IntCounterVec,
    graph_loads: prometheus::IntCounter,
    graph_learned: prometheus::IntCounter,
    graph_syncer: prometheus::IntGauge,
    /// The graph sync's calls, durations, lag and progress.
    pub graph_sync: graph_sync::GraphSync,
    /// The vendor's answers and time, and idempotent replays.
    pub vendor: vendor::Vendor,
    /// The audit log's writes, chain, checkpoints and verification.
    pub audit: audit::AuditMetrics,
    /// Reservations and holds.
    pub ledger: ledger::LedgerMetrics,
    /// Sign-ins.
    pub sign_ins: sign_in::SignIns,
    tls_handshakes: IntCounterVec,
    tls_failures: IntCounterVec,
    tls_reloads: IntCounterVec,
    cert_expiry: IntGaugeVec,
}

impl Metrics {
    /// The registry, for metrics kept by other parts (the limiter).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

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
        let refusals = IntCounterVec::new(
            Opts::new(
                "tiergate_refusals_total",
                "Requests Tiergate refused, by error code (TG.xxxx, or the vendor's).",
            ),
            &["code"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tiergate_request_duration_seconds",
                "Time from the request's arrival to the end of its answer.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
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
                "Graph syncs from the partner API, by kind (full, incremental) and outcome.",
            ),
            &["kind", "outcome"],
        )?;
        let graph_loads = prometheus::IntCounter::new(
            "tiergate_graph_loads_total",
            "Stored graphs reloaded after another gateway synced them.",
        )?;
        let graph_syncer = prometheus::IntGauge::new(
            "tiergate_graph_syncer",
            "1 while this gateway holds the graph sync lease (syncs for all on its database).",
        )?;
        let graph_learned = prometheus::IntCounter::new(
            "tiergate_graph_learned_total",
            "Relationships taken in from what gateways sharing the database learned from answers.",
        )?;
        registry.register(Box::new(graph_learned.clone()))?;
        registry.register(Box::new(graph_loads.clone()))?;
        registry.register(Box::new(graph_syncer.clone()))?;
        let tls_handshakes = IntCounterVec::new(
            Opts::new(
                "tiergate_tls_handshakes_total",
                "Completed TLS handshakes by negotiated version and cipher suite.",
            ),
            &["version", "suite"],
        )?;
        let tls_failures = IntCounterVec::new(
            Opts::new(
                "tiergate_tls_handshake_failures_total",
                "TLS handshakes refused, by reason (those decidable from the ClientHello).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(tls_failures.clone()))?;
        let tls_reloads = IntCounterVec::new(
            Opts::new(
                "tiergate_tls_reloads_total",
                "Certificate reloads by outcome.",
            ),
            &["outcome"],
        )?;
        let cert_expiry = IntGaugeVec::new(
            Opts::new(
                "tiergate_tls_certificate_expiry_timestamp_seconds",
                "When each served certificate expires (Unix time).",
            ),
            &["subject"],
        )?;
        registry.register(Box::new(tls_handshakes.clone()))?;
        registry.register(Box::new(tls_reloads.clone()))?;
        registry.register(Box::new(cert_expiry.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(graph_entries.clone()))?;
        registry.register(Box::new(graph_syncs.clone()))?;
        let graph_sync = graph_sync::GraphSync::new(&registry)?;
        let vendor = vendor::Vendor::new(&registry)?;
        let audit = audit::AuditMetrics::new(&registry)?;
        let ledger = ledger::LedgerMetrics::new(&registry)?;
        let sign_ins = sign_in::SignIns::new(&registry)?;
        build_info(&registry)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            hour: hour::Hour::default(),
            registry,
            requests,
            refusals,
            duration,
            graph_entries,
            graph_syncs,
            graph_loads,
            graph_learned,
            graph_syncer,
            graph_sync,
            vendor,
            audit,
            ledger,
            sign_ins,
            tls_handshakes,
            tls_failures,
            tls_reloads,
            cert_expiry,
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

    /// Counts a refusal by its code.
    pub fn refused(&self, code: &str) {
        self.refusals.with_label_values(&[code]).inc();
    }

    /// Records a graph sync and the graph's size after it.
    pub fn graph_synced(&self, kind: &str, outcome: &str, sizes: &[(&str, usize)]) {
        self.graph_syncs.with_label_values(&[kind, outcome]).inc();
        self.graph_sizes(sizes);
    }

    /// Records a reload of the stored graph and its size after it.
    pub fn graph_loaded(&self, sizes: &[(&str, usize)]) {
        self.graph_loads.inc();
        self.graph_sizes(sizes);
    }

    /// Counts relationships taken in from what gateways learned.
    pub fn graph_learned(&self, n: usize) {
        self.graph_learned
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// Whether this gateway holds the graph sync lease.
    pub fn graph_syncer(&self, held: bool) {
        self.graph_syncer.set(i64::from(held));
    }

    fn graph_sizes(&self, sizes: &[(&str, usize)]) {
        for (kind, n) in sizes {
            self.graph_entries
                .with_label_values(&[kind])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    /// Counts a completed handshake.
    pub fn tls_handshake(&self, version: &str, suite: &str) {
        self.tls_handshakes
            .with_label_values(&[version, suite])
            .inc();
    }

    /// Counts a refused handshake.
    pub fn tls_failure(&self, reason: &str) {
        self.tls_failures.with_label_values(&[reason]).inc();
    }

    /// Counts a certificate reload.
    pub fn tls_reload(&self, outcome: &str) {
        self.tls_reloads.with_label_values(&[outcome]).inc();
    }

    /// Sets a certificate's expiry.
    pub fn certificate_expiry(&self, subject: &str, not_after: i64) {
        self.cert_expiry
            .with_label_values(&[subject])
            .set(not_after);
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// `tiergate_build_info{version,revision,rustc}` 1: which build runs (for dashboards and
/// alerts across an upgrade).
fn build_info(r: &Registry) -> Result<(), prometheus::Error> {
    let info = prometheus::IntGaugeVec::new(
        Opts::new(
            "tiergate_build_info",
            "The running build: its version, git revision and compiler (always 1).",
        ),
        &["version", "revision", "rustc"],
    )?;
    info.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        env!("TIERGATE_GIT_REVISION"),
        env!("TIERGATE_RUSTC"),
    ])
    .set(1);
    r.register(Box::new(info))
}
