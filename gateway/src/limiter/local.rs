//! In-process GCRA state: the embedded default without Redis, and each gateway's fallback
//! share while Redis is unreachable. One map of theoretical arrival times, on a monotonic
//! clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tiergate_policy::limit::{Decision, Quota};

/// Limits kept in this process.
pub struct Local {
    start: Instant,
    tats: Mutex<HashMap<String, u64>>,
}

impl Default for Local {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }
}

impl Local {
    /// Nanoseconds since this store began.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// One decision on `key` under `quota`.
    pub fn decide(&self, key: &str, quota: &Quota) -> Decision {
        let now = self.now_ns();
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        let tat = tats.get(key).copied().unwrap_or(0);
        let d = quota.decide(tat, now, 1);
        if d.allowed {
            tats.insert(key.to_owned(), d.tat);
        }
        // Keys whose state has run out carry nothing: drop them now and then.
        if tats.len() > 100_000 {
            tats.retain(|_, t| *t > now);
        }
        d
    }
}
