//! The last hour of the gateway's counters, for the overview: a snapshot of every counter a
//! minute, 61 kept. What happened in the last hour is now minus the oldest snapshot; what
//! happened in a minute is one snapshot minus the one before. The request path pays nothing
//! for it (the counters are Prometheus's own).

use prometheus::Registry;
use prometheus::proto::MetricType;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// A counter's name and labels (sorted by name).
pub type Series = (String, Vec<(String, String)>);

/// Every counter's value at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Unix seconds.
    pub at: i64,
    /// Values by series.
    pub values: BTreeMap<Series, f64>,
}

impl Snapshot {
    /// The counters and gauges in `registry` now.
    pub fn take(registry: &Registry, at: i64) -> Self {
        let mut values = BTreeMap::new();
        for family in registry.gather() {
            let kind = family.get_field_type();
            for m in family.get_metric() {
                let v = match kind {
                    MetricType::COUNTER => m.get_counter().get_value(),
                    MetricType::GAUGE => m.get_gauge().get_value(),
                    _ => continue,
                };
                let mut labels: Vec<(String, String)> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_owned(), l.value().to_owned()))
                    .collect();
                labels.sort();
                values.insert((family.name().to_owned(), labels), v);
            }
        }
        Snapshot { at, values }
    }

    /// `name`'s series and values.
    pub fn family<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a [(String, String)], f64)> + 'a {
        self.values
            .iter()
            .filter(move |((n, _), _)| n == name)
            .map(|((_, l), v)| (l.as_slice(), *v))
    }

    /// What each of `name`'s series grew by since `earlier` (series new since then count
    /// from zero; counters reset by a restart count from zero too).
    pub fn since(&self, earlier: &Snapshot, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
        self.family(name)
            .map(|(labels, now)| {
                let before = earlier
                    .values
                    .get(&(name.to_owned(), labels.to_vec()))
                    .copied()
                    .unwrap_or(0.0);
                let grew = if now >= before { now - before } else { now };
                (labels.to_vec(), grew)
            })
            .filter(|(_, d)| *d > 0.0)
            .collect()
    }

    /// The sum of `name`'s series.
    pub fn total(&self, name: &str) -> f64 {
        self.family(name).map(|(_, v)| v).sum()
    }
}

/// The value of `label` in a series' labels.
pub fn label<'a>(labels: &'a [(String, String)], label: &str) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| n == label)
        .map_or("", |(_, v)| v.as_str())
}

/// Snapshots a minute apart, the newest last.
#[derive(Default)]
pub struct Hour {
    kept: Mutex<VecDeque<Snapshot>>,
}

/// Snapshots kept: an hour of minutes and the one before it.
const KEPT: usize = 61;

impl Hour {
    /// Keeps a snapshot (called once a minute, and once at start).
    pub fn keep(&self, s: Snapshot) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.push_back(s);
        while kept.len() > KEPT {
            kept.pop_front();
        }
    }

    /// The snapshots kept, oldest first.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter().cloned().collect()
    }
}

/// Keeps a snapshot of the gateway's counters every minute.
pub struct Sampler(pub std::sync::Arc<super::Metrics>);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Sampler {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        loop {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            self.0.hour.keep(Snapshot::take(self.0.registry(), now));
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounterVec, Opts};

    #[test]
    fn deltas_over_the_kept_window() -> Result<(), prometheus::Error> {
        let r = Registry::new();
        let c = IntCounterVec::new(Opts::new("t_total", "t"), &["route"])?;
        r.register(Box::new(c.clone()))?;
        c.with_label_values(&["a"]).inc_by(5);
        let hour = Hour::default();
        hour.keep(Snapshot::take(&r, 0));
        c.with_label_values(&["a"]).inc_by(2);
        c.with_label_values(&["b"]).inc();
        let now = Snapshot::take(&r, 60);
        let first = &hour.snapshots()[0];
        let mut grew = now.since(first, "t_total");
        grew.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(grew.len(), 2);
        assert_eq!((label(&grew[0].0, "route"), grew[0].1), ("a", 2.0));
        assert_eq!((label(&grew[1].0, "route"), grew[1].1), ("b", 1.0));
        assert_eq!(now.total("t_total"), 8.0);
        for i in 0..70 {
            hour.keep(Snapshot::take(&r, i));
        }
        assert_eq!(hour.snapshots().len(), KEPT);
        Ok(())
    }
}
