//! Money held in flight: reservations made and refused (by the ledger's own code), and the
//! voucher reservations still held, their amount and the oldest one's age.

use prometheus::{Gauge, IntCounterVec, IntGauge, Opts, Registry};

/// The ledger's metrics.
pub struct LedgerMetrics {
    reservations: IntCounterVec,
    refusals: IntCounterVec,
    holds: IntGauge,
    held: Gauge,
    oldest: Gauge,
}

impl LedgerMetrics {
    /// Registers them in `r`.
    pub fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let reservations = IntCounterVec::new(
            Opts::new(
                "tiergate_ledger_reservations_total",
                "Money calls checked against a delegation slice or a fund cap, by outcome \
                 (reserved, refused).",
            ),
            &["outcome"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "tiergate_ledger_refusals_total",
                "Reservations the ledger refused, by error code.",
            ),
            &["code"],
        )?;
        let holds = IntGauge::new(
            "tiergate_ledger_holds",
            "Voucher reservations held, waiting for the vendor's answer or reconciliation.",
        )?;
        let held = Gauge::new(
            "tiergate_ledger_held_amount",
            "The face value those reservations hold, in the quota's currency units.",
        )?;
        let oldest = Gauge::new(
            "tiergate_ledger_oldest_hold_age_seconds",
            "Age of the oldest voucher reservation still held (0 when none).",
        )?;
        r.register(Box::new(reservations.clone()))?;
        r.register(Box::new(refusals.clone()))?;
        r.register(Box::new(holds.clone()))?;
        r.register(Box::new(held.clone()))?;
        r.register(Box::new(oldest.clone()))?;
        Ok(Self {
            reservations,
            refusals,
            holds,
            held,
            oldest,
        })
    }

    /// A reservation made.
    pub fn reserved(&self) {
        self.reservations.with_label_values(&["reserved"]).inc();
    }

    /// A reservation refused, with the code the caller got.
    pub fn refused(&self, code: &str) {
        self.reservations.with_label_values(&["refused"]).inc();
        self.refusals.with_label_values(&[code]).inc();
    }

    /// What is held now: count, amount and the oldest's age.
    pub fn holding(&self, count: usize, amount: f64, oldest_seconds: f64) {
        self.holds.set(i64::try_from(count).unwrap_or(i64::MAX));
        self.held.set(amount);
        self.oldest.set(oldest_seconds);
    }
}
