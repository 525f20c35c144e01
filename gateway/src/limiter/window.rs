//! The vendor's own rule for each API: at most N calls in any window of W (the vendor counts a
//! sliding one-second window, not a long-run rate, so a rate with a burst lets a refilled
//! burst overrun a window). Every forwarded call of the distributor's account is recorded in
//! one log per API, in Redis for every gateway (`window.lua`, on Redis' clock) or in process.
//! The window is widened a little ([`widened`]): a call is counted when it leaves the gateway
//! and the vendor counts it when it arrives, a network's jitter later or sooner.
//!
//! A free call goes to the waiting partner that used the fewest calls in the window (a fair
//! queue across partners and gateways); Tiergate's own calls go only when no caller waits and
//! some calls stay free. After a vendor 429 the API is held back, then its window halved and
//! recovered ([`Log::adapt`], in Redis for every gateway).
//!
//! With Redis unreachable each gateway keeps its own log at its share (N divided by the live
//! gateways), after holding the API back for one window: what the others admitted in the last
//! window is unknown to it. Once Redis answers again, the gateway keeps to its share too for
//! one more window, while what it admitted alone ages out of the vendor's window. Without
//! Redis at all, a gateway holds each API back for its first window after start: what the
//! process before it sent is unknown.

use super::redis::Shared;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window as Tiergate keeps it: the vendor's, plus a fiftieth and 5 ms (at 10 per second
/// that is 9.8 calls per second sustained, within the 5% the budget may leave unused).
pub fn widened(w: Duration) -> Duration {
    w + w / 50 + Duration::from_millis(5)
}

/// A waiter's claim on a free call lapses this long after the time it was told to ask again
/// (as in `window.lua`).
const GRACE: Duration = Duration::from_millis(100);

/// Who asks for a call.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    /// A partner's call.
    Caller(&'a str),
    /// Tiergate's own, leaving this many calls free for callers.
    Tiergate(u32),
}

/// One try at an API's window.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Who.
    pub asker: Asker<'a>,
    /// The budget's N, before any halving.
    pub limit: u32,
    /// The window (widened already).
    pub window: Duration,
    /// How long the asker may still wait (a waiter with no patience claims nothing).
    pub patience: Duration,
    /// How long a halved window takes to recover.
    pub recover: Duration,
}

/// What a try gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Admitted and recorded; this many calls stay free in the window.
    Go(u32),
    /// Not now: worth asking again after this.
    Wait(Duration),
}

/// The vendor's 429 as this gateway last heard it.
#[derive(Debug, Default, Clone, Copy)]
struct Adapt {
    hold_until: Option<Instant>,
    halved_at: Option<Instant>,
}

/// The window's N after a halving at `at`: half at once, back linearly over `recover`.
fn adapted(limit: u32, at: Option<Instant>, recover: Duration, now: Instant) -> u32 {
    let Some(left) = at
        .map(|a| recover.saturating_sub(now.saturating_duration_since(a)))
        .filter(|l| !l.is_zero())
    else {
        return limit;
    };
    let cut = f64::from(limit) / 2.0 * left.as_secs_f64() / recover.as_secs_f64().max(1e-9);
    ((f64::from(limit) - cut).floor() as u32).max(1)
}

#[derive(Default)]
struct Log {
    entries: VecDeque<(Instant, Arc<str>)>,
    counts: HashMap<Arc<str>, u32>,
    /// Partner -> when its claim lapses.
    waiting: HashMap<Arc<str>, Instant>,
    adapt: Adapt,
    /// Held back until then (Redis just became unreachable, or, without Redis, the process
    /// just started).
    blocked_until: Option<Instant>,
    /// Deciding alone (Redis unreachable).
    alone: bool,
    /// Redis answers again; this gateway's share still binds until then.
    recovering_until: Option<Instant>,
}

const TIERGATE: &str = "~tiergate";

impl Log {
    fn expire(&mut self, window: Duration, now: Instant) {
        while let Some((t, who)) = self.entries.front()
            && now.duration_since(*t) >= window
        {
            if let Some(c) = self.counts.get_mut(who) {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    self.counts.remove(who);
                }
            }
            self.entries.pop_front();
        }
        self.waiting.retain(|_, lapse| *lapse > now);
    }

    fn used_by(&self, who: &str) -> u32 {
        self.counts.get(who).copied().unwrap_or(0)
    }

    /// One try, as `window.lua` decides it, with `limit` in place of the budget's N (a
    /// gateway's share while it decides alone).
    fn try_take(&mut self, ask: &Ask<'_>, limit: u32, now: Instant) -> Turn {
        let refuse = |log: &mut Log, wait: Duration| {
            let wait = wait.max(Duration::from_millis(1));
            if let Asker::Caller(p) = ask.asker
                && wait <= ask.patience
            {
                log.waiting.insert(Arc::from(p), now + wait + GRACE);
            }
            Turn::Wait(wait)
        };
        if let Some(b) = self.blocked_until.filter(|b| now < *b) {
            return refuse(self, b - now);
        }
        self.expire(ask.window, now);
        if let Some(h) = self.adapt.hold_until.filter(|h| now < *h) {
            return refuse(self, h - now);
        }
        let n = adapted(limit, self.adapt.halved_at, ask.recover, now);
        let free = i64::from(n) - self.entries.len() as i64;
        let next_free = self.entries.front().map_or(ask.window, |(t, _)| {
            (*t + ask.window).saturating_duration_since(now) + Duration::from_millis(1)
        });
        let (ahead, lapse) = match ask.asker {
            Asker::Tiergate(reserve) => (i64::from(reserve) + self.waiting.len() as i64, None),
            Asker::Caller(p) => {
                let mine = self.used_by(p);
                let lighter: Vec<Instant> = self
                    .waiting
                    .iter()
                    .filter(|(q, _)| &***q != p && self.used_by(q) < mine)
                    .map(|(_, l)| *l)
                    .collect();
                (lighter.len() as i64, lighter.into_iter().min())
            }
        };
        if free > ahead {
            let who: Arc<str> = match ask.asker {
                Asker::Caller(p) => Arc::from(p),
                Asker::Tiergate(_) => Arc::from(TIERGATE),
            };
            self.waiting.remove(&who);
            *self.counts.entry(who.clone()).or_default() += 1;
            self.entries.push_back((now, who));
            return Turn::Go(u32::try_from(free - 1).unwrap_or(0));
        }
        match lapse.map(|l| l.saturating_duration_since(now)) {
            Some(l) if free > 0 && l < next_free => refuse(self, l),
            _ => refuse(self, next_free),
        }
    }

    /// Admitted by Redis while this gateway's share still binds (just back from deciding
    /// alone): the share is checked by count alone; a call Redis recorded and this refuses only
    /// errs on the safe side.
    fn within_share(&mut self, share: u32, window: Duration, now: Instant) -> Option<Duration> {
        self.expire(window, now);
        if self.entries.len() < share as usize {
            self.entries.push_back((now, Arc::from(TIERGATE)));
            return None;
        }
        let oldest = self.entries.front().map_or(now, |(t, _)| *t);
        Some((oldest + window).saturating_duration_since(now) + Duration::from_millis(1))
    }
}

/// A partner's calls waiting for one API on this gateway: one at a time asks the window
/// (in order of arrival), so a flood's hundred waiters cost one Redis call per free turn, not
/// a hundred.
pub struct Queue {
    turn: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
}

/// A place in a [`Queue`] (left when dropped).
pub struct Place(Arc<Queue>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Place {
    /// This call's turn, if nobody of its partner is ahead of it.
    pub fn now(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.0.turn.try_acquire().ok()
    }

    /// Waits until it is this call's turn to ask the window, or until `deadline`.
    pub async fn turn(&self, deadline: Instant) -> Option<tokio::sync::SemaphorePermit<'_>> {
        tokio::time::timeout_at(deadline.into(), self.0.turn.acquire())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// The logs and queues of this gateway, per API.
pub struct Windows {
    logs: Mutex<HashMap<String, Log>>,
    queues: Mutex<HashMap<(String, String), Arc<Queue>>>,
    started: Instant,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            logs: Mutex::default(),
            queues: Mutex::default(),
            started: Instant::now(),
        }
    }
}

impl Windows {
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Log) -> T) -> T {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        f(logs.entry(key.to_owned()).or_default())
    }

    /// A place among `partner`'s waiting calls for `api`; `None` when `bound` already wait.
    pub fn enqueue(&self, api: &str, partner: &str, bound: usize) -> Option<Place> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if queues.len() > 10_000 {
            queues.retain(|_, q| Arc::strong_count(q) > 1);
        }
        let q = queues
            .entry((api.to_owned(), partner.to_owned()))
            .or_insert_with(|| {
                Arc::new(Queue {
                    turn: tokio::sync::Semaphore::new(1),
                    waiting: std::sync::atomic::AtomicUsize::new(0),
                })
            })
            .clone();
        let before = q.waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let place = Place(q);
        (before < bound.max(1)).then_some(place)
    }

    /// One try at the window of `key` (its Redis keys share the tag `{key}`).
    pub async fn try_take(&self, shared: Option<&Shared>, key: &str, ask: &Ask<'_>) -> Turn {
        let Some(shared) = shared else {
            return self.with(key, |l| {
                let now = Instant::now();
                // What the process before this one sent in its last window is unknown.
                let first = self.started + ask.window;
                if now < first {
                    l.blocked_until = Some(first);
                }
                l.try_take(ask, ask.limit, now)
            });
        };
        let share = (ask.limit / shared.live().max(1)).max(1);
        match shared.window(key, ask).await {
            Ok(decided) => self.with(key, |l| {
                let now = Instant::now();
                if l.alone {
                    l.alone = false;
                    l.recovering_until = Some(now + ask.window);
                }
                match (decided, l.recovering_until.filter(|u| now < *u)) {
                    (Turn::Go(left), Some(_)) => {
                        l.within_share(share, ask.window, now).map_or(Turn::Go(left), Turn::Wait)
                    }
                    (turn, _) => turn,
                }
            }),
            Err(e) => self.with(key, |l| {
                let now = Instant::now();
                if !l.alone {
                    tracing::warn!(error = %e, api = key, "vendor budget: Redis unreachable, this gateway keeps to its share");
                    l.alone = true;
                    l.entries.clear();
                    l.counts.clear();
                    l.blocked_until = Some(now + ask.window);
                }
                l.try_take(ask, share, now)
            }),
        }
    }

    /// The vendor answered 429 for the API of `key`: held back for `hold`, its window halved
    /// (on this gateway; [`Shared::throttled`] tells the others).
    pub fn throttled(&self, key: &str, hold: Duration) {
        self.with(key, |l| {
            let now = Instant::now();
            l.adapt = Adapt {
                hold_until: Some(now + hold),
                halved_at: Some(now),
            };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(who: &str, window: Duration) -> Ask<'_> {
        Ask {
            asker: Asker::Caller(who),
            limit: 10,
            window,
            patience: Duration::from_secs(2),
            recover: Duration::from_secs(30),
        }
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let mut l = Log::default();
        let w = Duration::from_millis(1000);
        let t0 = Instant::now();
        let mut admitted = Vec::new();
        // A caller trying every 7 ms for 5 s, waiting when told to.
        let mut t = t0;
        while t < t0 + Duration::from_secs(5) {
            match l.try_take(&ask("a", w), 10, t) {
                Turn::Go(_) => admitted.push(t),
                Turn::Wait(wait) => assert!(wait > Duration::ZERO),
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

    fn goes(l: &mut Log, a: &Ask<'_>, at: Instant) -> bool {
        matches!(l.try_take(a, 10, at), Turn::Go(_))
    }

    #[test]
    fn a_free_call_goes_to_the_waiting_partner_that_used_fewest() {
        let mut l = Log::default();
        let (w, t, ms) = (
            Duration::from_secs(1),
            Instant::now(),
            Duration::from_millis,
        );
        let (heavy, light) = (ask("heavy", w), ask("light", w));
        assert!(goes(&mut l, &heavy, t));
        for _ in 0..8 {
            assert!(goes(&mut l, &heavy, t + ms(10)));
        }
        assert!(goes(&mut l, &light, t + ms(10)));
        // Full: both wait; when one call frees, the light one gets it, the heavy one waits on.
        assert!(!goes(&mut l, &light, t + ms(20)));
        assert!(!goes(&mut l, &heavy, t + ms(20)));
        let freed = t + w + ms(1);
        assert!(!goes(&mut l, &heavy, freed), "the lighter partner waits");
        assert!(goes(&mut l, &light, freed));
        assert!(!goes(&mut l, &heavy, freed), "full again");
        // Nobody else waits: the heavy one uses whatever frees.
        assert!(goes(&mut l, &heavy, freed + ms(10)));
    }

    #[test]
    fn a_waiter_that_went_away_holds_nothing_for_long() {
        let mut l = Log::default();
        let (w, t, ms) = (
            Duration::from_secs(1),
            Instant::now(),
            Duration::from_millis,
        );
        let heavy = ask("heavy", w);
        assert!(goes(&mut l, &heavy, t));
        for _ in 0..9 {
            assert!(goes(&mut l, &heavy, t + ms(200)));
        }
        assert!(!goes(&mut l, &ask("light", w), t + ms(20)));
        // The light caller never comes back: the heavy one gets the call once its claim lapses.
        let freed = t + w + ms(1);
        assert!(!goes(&mut l, &heavy, freed));
        assert!(goes(&mut l, &heavy, freed + GRACE + ms(1)));
    }

    #[test]
    fn tiergates_own_calls_leave_room_for_callers_and_never_jump_the_queue() {
        let mut l = Log::default();
        let (w, t, ms) = (
            Duration::from_secs(1),
            Instant::now(),
            Duration::from_millis,
        );
        let own = Ask {
            asker: Asker::Tiergate(2),
            ..ask("", w)
        };
        assert!(goes(&mut l, &own, t));
        for _ in 0..7 {
            assert!(goes(&mut l, &own, t + ms(10)));
        }
        assert!(!goes(&mut l, &own, t + ms(10)), "two stay free");
        let a = ask("a", w);
        assert!(goes(&mut l, &a, t + ms(10)));
        assert!(goes(&mut l, &a, t + ms(10)));
        assert!(!goes(&mut l, &a, t + ms(10)));
        let own = Ask {
            asker: Asker::Tiergate(0),
            ..own
        };
        assert!(!goes(&mut l, &own, t + w + ms(1)), "a caller waits for it");
        assert!(goes(&mut l, &a, t + w + ms(1)));
    }

    #[tokio::test]
    async fn without_redis_a_new_process_holds_its_first_window() {
        let w = Windows::default();
        let a = ask("a", Duration::from_secs(1));
        let Turn::Wait(wait) = w.try_take(None, "api", &a).await else {
            unreachable!("admitted in the first window")
        };
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        let old = Windows {
            started: Instant::now() - Duration::from_secs(2),
            ..Windows::default()
        };
        assert!(matches!(old.try_take(None, "api", &a).await, Turn::Go(_)));
    }

    #[test]
    fn a_vendor_429_holds_back_then_halves_and_recovers() {
        let recover = Duration::from_secs(30);
        let t = Instant::now();
        assert_eq!(adapted(10, Some(t), recover, t), 5);
        assert_eq!(adapted(10, Some(t), recover, t + recover / 2), 7);
        assert_eq!(adapted(10, Some(t), recover, t + recover), 10);
        assert_eq!(adapted(10, None, recover, t), 10);
    }

    #[test]
    fn the_widened_window_leaves_under_five_percent_unused() {
        let w = Duration::from_secs(1);
        let rate = 10.0 / widened(w).as_secs_f64();
        assert!((9.5..10.0).contains(&rate), "{rate}");
    }
}
