//! Fault injection, switchable at run time through `PUT /__sim/faults`.

use serde::{Deserialize, Serialize};

/// What goes wrong, for reliability tests. All off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added latency before an API request is processed, in milliseconds.
    pub latency_ms: u64,
    /// Share of API requests answered 500 `CBC.0999` before anything changes, in percent.
    /// Deterministic: request n fails when `floor((n+1)p/100) > floor(np/100)`.
    pub error_percent: u8,
    /// Accept API requests and never answer them.
    pub hang: bool,
    /// Apply API requests, then drop the connection without answering.
    pub drop_after_commit: bool,
    /// Answer the next this many API requests 429 `CBC.0250`, as when another system spends
    /// the same account's window.
    #[serde(default)]
    pub throttle_next: u32,
    /// Answer partners' reads without scoping them to the partner they act as (a vendor bug
    /// that a gateway must not pass on to a reseller).
    #[serde(default)]
    pub unscoped: bool,
}

impl Faults {
    /// Whether the n-th API request (0-based) gets an injected 500.
    pub fn fails(&self, n: u64) -> bool {
        let p = u64::from(self.error_percent.min(100));
        (n + 1) * p / 100 > n * p / 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_percent_is_exact_over_a_hundred_requests() {
        for p in [0u8, 1, 10, 33, 50, 100] {
            let f = Faults {
                error_percent: p,
                ..Faults::default()
            };
            let failed = (0..100).filter(|n| f.fails(*n)).count();
            assert_eq!(failed, usize::from(p));
        }
    }
}
