//! What the vendor answered: counts by operation, status and the vendor's own error code,
//! its time to answer, and the idempotent replays Tiergate answered without it.

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// The vendor's answers.
pub struct Vendor {
    answers: IntCounterVec,
    duration: HistogramVec,
    replays: IntCounter,
}

impl Vendor {
    /// Registers them in `r`.
    pub fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let answers = IntCounterVec::new(
            Opts::new(
                "tiergate_vendor_answers_total",
                "Answers the vendor gave to forwarded calls, by operation, HTTP status and the \
                 vendor's error code (`(none)` when it gives none, as on a success).",
            ),
            &["operation", "status", "code"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tiergate_vendor_duration_seconds",
                "Time from sending a call to the vendor to its answer's header.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["operation"],
        )?;
        let replays = IntCounter::new(
            "tiergate_idempotent_replays_total",
            "Requests answered with the answer their first arrival got (same signature or \
             idempotency key), without calling the vendor again.",
        )?;
        r.register(Box::new(answers.clone()))?;
        r.register(Box::new(duration.clone()))?;
        r.register(Box::new(replays.clone()))?;
        Ok(Self {
            answers,
            duration,
            replays,
        })
    }

    /// Counts one answer of the vendor and its time.
    pub fn answered(&self, operation: &str, status: u16, code: &str, seconds: f64) {
        self.answers
            .with_label_values(&[operation, &status.to_string(), code])
            .inc();
        self.duration
            .with_label_values(&[operation])
            .observe(seconds);
    }

    /// Counts an idempotent replay.
    pub fn replayed(&self) {
        self.replays.inc();
    }
}
