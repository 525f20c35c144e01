//! The audit log's health: its writes and their time, the chain's length, how far the head is
//! past the last signed checkpoint, and what the last verification found.

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// The audit log's metrics.
pub struct AuditMetrics {
    appends: IntCounterVec,
    append_seconds: Histogram,
    chain_length: IntGauge,
    uncheckpointed: Gauge,
    last_checkpoint: IntGauge,
    checkpoints: IntCounterVec,
    intact: IntGauge,
    verifications: IntCounterVec,
}

impl AuditMetrics {
    /// Registers them in `r`.
    pub fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let appends = IntCounterVec::new(
            Opts::new(
                "tiergate_audit_appends_total",
                "Writes to the audit chain (a money call's intent or outcome with what it holds \
                 or settles, an identity, access or system record), by outcome (ok, failed).",
            ),
            &["outcome"],
        )?;
        let append_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "tiergate_audit_append_duration_seconds",
                "Time to write to the audit chain, durably (with the ledger change it records).",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )?;
        let chain_length = IntGauge::new(
            "tiergate_audit_chain_length",
            "Records in the audit chain (its head's sequence number), read every checkpoint \
             interval.",
        )?;
        let uncheckpointed = Gauge::new(
            "tiergate_audit_uncheckpointed_seconds",
            "How long the chain's head has been past the last signed checkpoint (0 when a \
             checkpoint covers it): it grows while checkpoints fail.",
        )?;
        let last_checkpoint = IntGauge::new(
            "tiergate_audit_last_checkpoint_timestamp_seconds",
            "When this gateway last signed a checkpoint (Unix time).",
        )?;
        let checkpoints = IntCounterVec::new(
            Opts::new(
                "tiergate_audit_checkpoints_total",
                "Checkpoint rounds by outcome: ok (signed, or nothing new to sign) or failed.",
            ),
            &["outcome"],
        )?;
        let intact = IntGauge::new(
            "tiergate_audit_chain_intact",
            "What the last verification of the whole chain found: 1 intact, 0 broken, -1 not \
             verified yet (the gateway verifies at start and every hour, and whenever asked).",
        )?;
        intact.set(-1);
        let verifications = IntCounterVec::new(
            Opts::new(
                "tiergate_audit_verifications_total",
                "Verifications of the whole chain by result: intact, broken, or failed (the \
                 store or the checkpoint log could not be read).",
            ),
            &["result"],
        )?;
        r.register(Box::new(appends.clone()))?;
        r.register(Box::new(append_seconds.clone()))?;
        r.register(Box::new(chain_length.clone()))?;
        r.register(Box::new(uncheckpointed.clone()))?;
        r.register(Box::new(last_checkpoint.clone()))?;
        r.register(Box::new(checkpoints.clone()))?;
        r.register(Box::new(intact.clone()))?;
        r.register(Box::new(verifications.clone()))?;
        Ok(Self {
            appends,
            append_seconds,
            chain_length,
            uncheckpointed,
            last_checkpoint,
            checkpoints,
            intact,
            verifications,
        })
    }

    /// One write to the chain, its outcome and time.
    pub fn appended(&self, ok: bool, seconds: f64) {
        let outcome = if ok { "ok" } else { "failed" };
        self.appends.with_label_values(&[outcome]).inc();
        self.append_seconds.observe(seconds);
    }

    /// The chain's head as last read.
    pub fn head(&self, seq: i64) {
        self.chain_length.set(seq);
    }

    /// One checkpoint round: whether it worked, whether it signed a checkpoint, and for how
    /// long the head has been uncovered (0 when covered).
    pub fn checkpointed(&self, ok: bool, signed: bool, uncovered: f64) {
        let outcome = if ok { "ok" } else { "failed" };
        self.checkpoints.with_label_values(&[outcome]).inc();
        if signed {
            self.last_checkpoint.set(crate::store::now_ms() / 1000);
        }
        self.uncheckpointed.set(uncovered);
    }

    /// A verification's result: `Some(intact)`, or `None` when it could not run.
    pub fn verified(&self, intact: Option<bool>) {
        let result = match intact {
            Some(true) => "intact",
            Some(false) => "broken",
            None => "failed",
        };
        self.verifications.with_label_values(&[result]).inc();
        if let Some(i) = intact {
            self.intact.set(i64::from(i));
        }
    }
}
