//! Rate limits, pure: the generic cell rate algorithm (GCRA) as governor and the Redis script
//! apply it, on integer nanoseconds so every process computes the same answer.
//!
//! A limit of `rate` requests per `period` with `burst` admits one request every
//! `T = period / rate`, and up to `burst` at once. The state is one number, the theoretical
//! arrival time (TAT). A request at `now` is admitted when `TAT - now <= (burst - 1) * T`;
//! then `TAT = max(TAT, now) + T`.

use std::num::NonZeroU32;
use std::time::Duration;

/// A limit: `rate` per `period`, with `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per period.
    pub rate: NonZeroU32,
    /// The period.
    pub period: Duration,
    /// Requests admitted at once.
    pub burst: NonZeroU32,
}

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Admitted.
    pub allowed: bool,
    /// The new theoretical arrival time (unchanged when refused), ns.
    pub tat: u64,
    /// Requests that could still be admitted now.
    pub remaining: u32,
    /// Until the bucket is full again (`RateLimit-Reset`), ns.
    pub reset_after: u64,
    /// Until this request would be admitted (`Retry-After`), ns; 0 when admitted.
    pub retry_after: u64,
}

impl Quota {
    /// The emission interval `T`, ns (at least 1).
    pub fn interval_ns(&self) -> u64 {
        let ns = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        (ns / u64::from(self.rate.get())).max(1)
    }

    /// How far the TAT may run ahead of now, ns.
    pub fn tolerance_ns(&self) -> u64 {
        self.interval_ns()
            .saturating_mul(u64::from(self.burst.get()) - 1)
    }

    /// Decides on `cost` requests at `now` (ns on any clock shared by every caller of this
    /// limit) given the stored TAT (0 when none).
    pub fn decide(&self, tat: u64, now: u64, cost: u32) -> Decision {
        gcra(self.interval_ns(), self.tolerance_ns(), tat, now, cost)
    }

    /// The same quota in microseconds, for clocks that count them (Redis `TIME`).
    pub fn interval_us(&self) -> u64 {
        (self.interval_ns() / 1000).max(1)
    }
}

/// The GCRA step in any time unit: interval `t`, tolerance, stored TAT, now, cost. The Redis
/// script (`limiter/gcra.lua`) is this function line by line.
pub fn gcra(t: u64, tolerance: u64, tat: u64, now: u64, cost: u32) -> Decision {
    let tat = tat.max(now);
    let increment = t.saturating_mul(u64::from(cost.max(1)));
    let new_tat = tat.saturating_add(increment);
    // Admitted when the new TAT stays within the tolerance plus one interval of now.
    let allow_at = new_tat.saturating_sub(tolerance + t);
    if allow_at > now {
        let ahead = tat - now;
        return Decision {
            allowed: false,
            tat,
            remaining: remaining(tolerance + t, ahead, t),
            reset_after: ahead,
            retry_after: allow_at - now,
        };
    }
    let ahead = new_tat - now;
    Decision {
        allowed: true,
        tat: new_tat,
        remaining: remaining(tolerance + t, ahead, t),
        reset_after: ahead,
        retry_after: 0,
    }
}

fn remaining(capacity: u64, ahead: u64, t: u64) -> u32 {
    u32::try_from(capacity.saturating_sub(ahead) / t).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
