//! In-process limits with governor's keyed GCRA: the embedded default without Redis, and each
//! gateway's fallback share while Redis is unreachable. One keyed limiter per distinct quota.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota as GovQuota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tiergate_policy::limit::{Decision, Quota};

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Limits kept in this process.
#[derive(Default)]
pub struct Local {
    limiters: Mutex<HashMap<(u64, u32), Arc<Keyed>>>,
    clock: DefaultClock,
}

impl Local {
    fn limiter(&self, q: &Quota) -> Arc<Keyed> {
        let id = (q.interval_ns(), q.burst.get());
        let mut all = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(id)
            .or_insert_with(|| {
                let period = Duration::from_nanos(id.0);
                let quota = GovQuota::with_period(period)
                    .unwrap_or_else(|| GovQuota::per_second(NonZeroU32::MIN))
                    .allow_burst(q.burst);
                Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>())
            })
            .clone()
    }

    /// One decision on `key` under `quota`.
    pub fn decide(&self, key: &str, quota: &Quota) -> Decision {
        let limiter = self.limiter(quota);
        let t = quota.interval_ns();
        let burst = quota.burst.get();
        let decision = match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    tat: 0,
                    remaining,
                    reset_after: t.saturating_mul(u64::from(burst - remaining.min(burst))),
                    retry_after: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let wait = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
                Decision {
                    allowed: false,
                    tat: 0,
                    remaining: 0,
                    reset_after: t.saturating_mul(u64::from(burst - 1)).saturating_add(wait),
                    retry_after: wait,
                }
            }
        };
        // Keys whose state has run out carry nothing: drop them now and then.
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        decision
    }
}
