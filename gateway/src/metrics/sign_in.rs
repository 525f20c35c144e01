//! Sign-ins: customers through the identity broker (SAML) and staff to the console.

use prometheus::{IntCounterVec, Opts, Registry};

/// Sign-ins by kind and outcome.
pub struct SignIns(IntCounterVec);

impl SignIns {
    /// Registers it in `r`.
    pub fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let c = IntCounterVec::new(
            Opts::new(
                "tiergate_sign_ins_total",
                "Sign-ins by kind (saml: a customer through the identity broker; console) and \
                 outcome (ok, refused).",
            ),
            &["kind", "outcome"],
        )?;
        r.register(Box::new(c.clone()))?;
        Ok(Self(c))
    }

    /// Counts one.
    pub fn counted(&self, kind: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "refused" };
        self.0.with_label_values(&[kind, outcome]).inc();
    }
}
