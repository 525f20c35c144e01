//! The vendor's own rule for each API: at most N calls in any window of W (the vendor counts a
//! sliding one-second window, not a long-run rate, so a rate with a burst lets a refilled
//! burst overrun a window). Every forwarded call of the distributor's account is recorded in
//! one log per API, in Redis for every gateway (`window.lua`, on Redis' clock) or in process.
//! The window is widened a little ([`widened`]): a call is counted when it leaves the gateway
//! and the vendor counts it when it arrives, a network's jitter later or sooner.
//!
//! With Redis unreachable each gateway keeps its own log at its share (N divided by the live
//! gateways), after holding the API back for one window: what the others admitted in the last
//! window is unknown to it. Once Redis answers again, the gateway keeps to its share too for
//! one more window, while what it admitted alone ages out of the vendor's window.

use super::redis::Shared;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window as Tiergate keeps it: the vendor's, plus a fiftieth and 5 ms (at 10 per second
/// that is 9.8 calls per second sustained, within the 5% the budget may leave unused).
pub fn widened(w: Duration) -> Duration {
    w + w / 50 + Duration::from_millis(5)
}

#[derive(Default)]
struct Log {
    times: VecDeque<Instant>,
    /// Held back until then (Redis just became unreachable).
    blocked_until: Option<Instant>,
    /// Deciding alone (Redis unreachable).
    alone: bool,
    /// Redis answers again; this gateway's share still binds until then.
    recovering_until: Option<Instant>,
}

impl Log {
    /// One try in this log: admitted (recorded now) or the wait until a slot frees.
    fn try_take(&mut self, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
        self.try_take_leaving(limit, 0, window, now)
    }

    /// [`Log::try_take`], admitting only while more than `reserve` calls stay free.
    fn try_take_leaving(
        &mut self,
        limit: u32,
        reserve: u32,
        window: Duration,
        now: Instant,
    ) -> Option<Duration> {
        if let Some(b) = self.blocked_until.filter(|b| now < *b) {
            return Some(b - now);
        }
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.times.pop_front();
        }
        if self.times.len() < limit.saturating_sub(reserve) as usize {
            self.times.push_back(now);
            return None;
        }
        let oldest = self.times.front().copied().unwrap_or(now);
        Some(
            (oldest + window)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        )
    }
}

/// The logs of this gateway, per API.
#[derive(Default)]
pub struct Windows {
    logs: Mutex<HashMap<String, Log>>,
}

impl Windows {
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Log) -> T) -> T {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        f(logs.entry(key.to_owned()).or_default())
    }

    /// One try at the window of `key` (`limit` calls per `window`, widened already), leaving
    /// `reserve` calls free (Tiergate's own calls leave room for callers): `None` admitted,
    /// `Some(wait)` full until then.
    pub async fn try_take(
        &self,
        shared: Option<&Shared>,
        redis_key: &str,
        key: &str,
        (limit, reserve): (u32, u32),
        window: Duration,
    ) -> Option<Duration> {
        let Some(shared) = shared else {
            return self.with(key, |l| {
                l.try_take_leaving(limit, reserve, window, Instant::now())
            });
        };
        let share = (limit / shared.live().max(1)).max(1);
        match shared.window(redis_key, limit, window, reserve).await {
            Ok(decided) => self.with(key, |l| {
                let now = Instant::now();
                if l.alone {
                    l.alone = false;
                    l.recovering_until = Some(now + window);
                }
                match (decided, l.recovering_until.filter(|u| now < *u)) {
                    (Some(wait), _) => Some(wait),
                    // Admitted by Redis; while recovering, the share binds as well (a slot
                    // recorded in Redis and left unused only errs on the safe side).
                    (None, Some(_)) => l.try_take(share, window, now),
                    (None, None) => None,
                }
            }),
            Err(e) => self.with(key, |l| {
                let now = Instant::now();
                if !l.alone {
                    tracing::warn!(error = %e, api = key, "vendor budget: Redis unreachable, this gateway keeps to its share");
                    l.alone = true;
                    l.times.clear();
                    l.blocked_until = Some(now + window);
                }
                l.try_take(share, window, now)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let mut l = Log::default();
        let w = Duration::from_millis(1000);
        let t0 = Instant::now();
        let mut admitted = Vec::new();
        // A caller trying every 7 ms for 5 s, waiting when told to.
        let mut t = t0;
        while t < t0 + Duration::from_secs(5) {
            match l.try_take(10, w, t) {
                None => admitted.push(t),
                Some(wait) => assert!(wait > Duration::ZERO),
            }
            t += Duration::from_millis(7);
        }
        for (i, a) in admitted.iter().enumerate() {
            let inside = admitted[i..]
                .iter()
                .filter(|b| b.duration_since(*a) < w)
                .count();
            assert!(inside <= 10, "{inside} calls within one window from {i}");
        }
        // Fully used: 10 a window, 50 in 5 s (give or take the last window's edge).
        assert!(admitted.len() >= 49, "{}", admitted.len());
    }

    #[test]
    fn tiergates_own_calls_leave_room_for_callers() {
        let mut l = Log::default();
        let (w, t) = (Duration::from_secs(1), Instant::now());
        for _ in 0..8 {
            assert_eq!(l.try_take_leaving(10, 2, w, t), None);
        }
        assert!(l.try_take_leaving(10, 2, w, t).is_some(), "two stay free");
        assert_eq!(l.try_take(10, w, t), None, "for a caller");
    }

    #[test]
    fn the_widened_window_leaves_under_five_percent_unused() {
        let w = Duration::from_secs(1);
        let rate = 10.0 / widened(w).as_secs_f64();
        assert!((9.5..10.0).contains(&rate), "{rate}");
    }
}
