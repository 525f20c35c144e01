//! What the graph sync spends and how current it is: calls per list operation, each run's
//! duration and last success by kind (full or incremental), its lag, and a first sync's
//! progress.

use prometheus::{GaugeVec, IntCounterVec, IntGauge, Opts, Registry};

/// The graph sync's own numbers.
pub struct GraphSync {
    calls: IntCounterVec,
    duration: GaugeVec,
    last_success: GaugeVec,
    lag: prometheus::Gauge,
    owners: IntGauge,
    listed: IntGauge,
}

impl GraphSync {
    /// Registers them in `r`.
    pub fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let calls = IntCounterVec::new(
            Opts::new(
                "tiergate_graph_sync_calls_total",
                "Pages the graph sync listed from the vendor, by list operation.",
            ),
            &["operation"],
        )?;
        let duration = GaugeVec::new(
            Opts::new(
                "tiergate_graph_sync_duration_seconds",
                "How long the last successful graph sync of each kind took.",
            ),
            &["kind"],
        )?;
        let last_success = GaugeVec::new(
            Opts::new(
                "tiergate_graph_sync_last_success_timestamp_seconds",
                "When the last successful graph sync of each kind began (Unix time).",
            ),
            &["kind"],
        )?;
        let lag = prometheus::Gauge::new(
            "tiergate_graph_sync_lag_seconds",
            "How far behind the vendor the synced graph may be: seconds since the last \
             successful sync (full or incremental) began (the syncer's view).",
        )?;
        let owners = IntGauge::new(
            "tiergate_graph_sync_owners",
            "Owners (the distributor and its resellers) a first sync lists (0: none runs).",
        )?;
        let listed = IntGauge::new(
            "tiergate_graph_sync_owners_listed",
            "Owners whose part a first sync has listed (they are served).",
        )?;
        r.register(Box::new(calls.clone()))?;
        r.register(Box::new(duration.clone()))?;
        r.register(Box::new(last_success.clone()))?;
        r.register(Box::new(lag.clone()))?;
        r.register(Box::new(owners.clone()))?;
        r.register(Box::new(listed.clone()))?;
        Ok(Self {
            calls,
            duration,
            last_success,
            lag,
            owners,
            listed,
        })
    }

    /// Counts one page listed by the sync.
    pub fn called(&self, operation: &str) {
        self.calls.with_label_values(&[operation]).inc();
    }

    /// Records a successful sync of `kind` that began at `began` (Unix seconds).
    pub fn succeeded(&self, kind: &str, began: f64, took: std::time::Duration) {
        self.duration
            .with_label_values(&[kind])
            .set(took.as_secs_f64());
        self.last_success.with_label_values(&[kind]).set(began);
    }

    /// Sets the lag: seconds since the last successful sync began.
    pub fn lag(&self, seconds: f64) {
        self.lag.set(seconds.max(0.0));
    }

    /// A first sync's progress (none: none runs).
    pub fn progress(&self, p: Option<(usize, usize)>) {
        let (listed, all) = p.unwrap_or((0, 0));
        self.listed.set(i64::try_from(listed).unwrap_or(i64::MAX));
        self.owners.set(i64::try_from(all).unwrap_or(i64::MAX));
    }
}
