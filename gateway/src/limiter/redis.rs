//! Limits shared by every gateway through Redis: the GCRA script on Redis' clock, in strict
//! mode (one call per request) or leased (a small batch of admissions per call, spent locally;
//! a refusal is remembered until its retry time, so a flood costs no round trips). Gateways
//! register themselves so each knows how many share a limit (lease size, fallback share).

use super::window::{Ask, Asker, Turn};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tiergate_policy::limit::Quota;

/// How long a Redis call may take before the gateway falls back to its share (generous: a
/// busy gateway's own scheduling delay must not pass for an outage).
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failure, Redis is tried again this much later.
pub const RETRY_AFTER_DOWN: Duration = Duration::from_secs(1);
/// The shortest life of a lease.
pub const LEASE_MIN_LIFE: Duration = Duration::from_millis(250);
/// A gateway not seen for this long is not counted as live.
pub const LIVENESS: Duration = Duration::from_secs(5);

const GCRA: &str = include_str!("gcra.lua");
const WINDOW: &str = include_str!("window.lua");

/// A set of members with their last-seen time (Redis' clock, ms): add or refresh one, drop
/// those older than the window, count the rest. ARGV: member, window (ms).
const MEMBERS: &str = "local t = redis.call('TIME') \
     local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
     redis.call('ZADD', KEYS[1], now, ARGV[1]) \
     redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2])) \
     redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2) \
     return redis.call('ZCARD', KEYS[1])";

/// What Redis granted.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    /// Admissions granted (0: refused).
    pub granted: u32,
    /// Left after them.
    pub remaining: u32,
    /// Until the limit is full again.
    pub reset_after: Duration,
    /// Until one more would be granted (refusals).
    pub retry_after: Duration,
}

/// A lease held by this gateway for one limit.
#[derive(Debug, Clone, Copy)]
struct Lease {
    tokens: u32,
    valid_until: Instant,
    blocked_until: Instant,
    reset_at: Instant,
    /// A request of this gateway is fetching the next lease (single flight).
    refreshing_since: Option<Instant>,
    /// The last answer gave less than a full lease: the limit binds.
    binding: bool,
}

/// The Redis side.
pub struct Shared {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    script: redis::Script,
    members_script: redis::Script,
    window_script: redis::Script,
    admissions: std::sync::atomic::AtomicU64,
    down_until: Mutex<Option<Instant>>,
    leases: Mutex<HashMap<String, Lease>>,
    live: Mutex<u32>,
    id: String,
    members: String,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn us(d: u64) -> Duration {
    Duration::from_micros(d)
}

impl Shared {
    /// A client for `url` (nothing is connected until first use).
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("ratelimit.redis: {e}"))?;
        Ok(Self {
            client,
            conn: tokio::sync::Mutex::new(None),
            script: redis::Script::new(GCRA),
            members_script: redis::Script::new(MEMBERS),
            window_script: redis::Script::new(WINDOW),
            admissions: std::sync::atomic::AtomicU64::new(0),
            down_until: Mutex::new(None),
            leases: Mutex::new(HashMap::new()),
            live: Mutex::new(1),
            id: uuid::Uuid::new_v4().simple().to_string(),
            members: format!("{prefix}:gateways"),
        })
    }

    /// Whether Redis is taken as down right now (a recent call failed).
    pub fn is_down(&self) -> bool {
        let d = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        d.is_some_and(|t| Instant::now() < t)
    }

    fn mark_down(&self) {
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + RETRY_AFTER_DOWN);
        // A reconnect is attempted on the next call.
        if let Ok(mut c) = self.conn.try_lock() {
            *c = None;
        }
    }

    /// Gateways sharing the limits (at least 1), as last seen.
    pub fn live(&self) -> u32 {
        *self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, String> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(
            CALL_TIMEOUT * 5,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs the script for `want` admissions on `key`; `Err` when Redis cannot answer (and
    /// marks it down for a moment).
    pub async fn take(
        &self,
        key: &str,
        quota: &Quota,
        want: u32,
        least: u32,
    ) -> Result<Grant, String> {
        if self.is_down() {
            return Err("redis marked down".into());
        }
        let result = async {
            let mut conn = self.connection().await?;
            let interval = quota.interval_us();
            let tolerance = interval.saturating_mul(u64::from(quota.burst.get()) - 1);
            let mut invocation = self.script.key(key);
            invocation.arg(interval).arg(tolerance).arg(want).arg(least);
            let call = invocation.invoke_async::<(u64, u64, u64, u64)>(&mut conn);
            tokio::time::timeout(CALL_TIMEOUT, call)
                .await
                .map_err(|_| "redis call timed out".to_owned())?
                .map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok((granted, remaining, ahead, retry)) => Ok(Grant {
                granted: u32::try_from(granted).unwrap_or(0),
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                reset_after: us(ahead),
                retry_after: us(retry),
            }),
            Err(e) => {
                self.mark_down();
                Err(e)
            }
        }
    }

    /// A leased admission: spent locally when a lease is held, refused locally while a
    /// refusal stands, otherwise one Redis call for a new lease of `lease` admissions.
    /// `Ok((grant, round_trip))`.
    pub async fn leased(
        &self,
        key: &str,
        quota: &Quota,
        lease: u32,
        live: u32,
    ) -> Result<(Grant, bool), String> {
        let now = Instant::now();
        {
            let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(l) = leases.get_mut(key) {
                if l.tokens > 0 && now < l.valid_until {
                    l.tokens -= 1;
                    return Ok((
                        Grant {
                            granted: 1,
                            remaining: l.tokens,
                            reset_after: l.reset_at.saturating_duration_since(now),
                            retry_after: Duration::ZERO,
                        },
                        false,
                    ));
                }
                // Refused a moment ago, or another request of this gateway is already
                // fetching the next lease: refuse here, without a round trip (under a flood
                // the lease it brings is spent by the requests that follow).
                // (Only while the limit binds: a limit with room is never refused this way.)
                let refreshing = l.binding
                    && l.refreshing_since
                        .is_some_and(|t| now.duration_since(t) < CALL_TIMEOUT);
                if now < l.blocked_until || refreshing {
                    let interval = Duration::from_micros(quota.interval_us());
                    return Ok((
                        Grant {
                            granted: 0,
                            remaining: 0,
                            reset_after: l.reset_at.saturating_duration_since(now),
                            retry_after: l
                                .blocked_until
                                .saturating_duration_since(now)
                                .max(interval),
                        },
                        false,
                    ));
                }
                l.refreshing_since = Some(now);
            } else {
                leases.insert(
                    key.to_owned(),
                    Lease {
                        tokens: 0,
                        valid_until: now,
                        blocked_until: now,
                        reset_at: now,
                        refreshing_since: Some(now),
                        binding: false,
                    },
                );
            }
        }
        // At least half a lease or nothing: small partial grants under contention would cost
        // a round trip for every admission or two.
        let taken = self
            .take(key, quota, lease.max(1), lease.div_ceil(2).max(1))
            .await;
        let g = match taken {
            Ok(g) => g,
            Err(e) => {
                if let Some(l) = self
                    .leases
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(key)
                {
                    l.refreshing_since = None;
                }
                return Err(e);
            }
        };
        let interval = Duration::from_micros(quota.interval_us());
        let lease_state = Lease {
            tokens: g.granted.saturating_sub(1),
            // Unused admissions lapse: a lease covers the time it represents (at least a
            // quarter second, or a fast limit would re-lease on every request).
            valid_until: now + (interval * g.granted.max(1)).max(LEASE_MIN_LIFE),
            // Refused: ask again when this gateway's turn could come (half a lease for each
            // live gateway), not at every interval: a flood then costs about one round trip
            // per lease, not one per request.
            blocked_until: if g.granted == 0 {
                now + g.retry_after.max(interval * lease.max(1) * live.max(1))
            } else {
                now
            },
            reset_at: now + g.reset_after,
            refreshing_since: None,
            binding: g.granted < lease.max(1),
        };
        {
            // Requests racing on an empty lease each bring one back: keep every admission
            // (overwriting would drop what another lease had left).
            let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            let merged = match leases.get(key) {
                Some(old) if old.tokens > 0 && now < old.valid_until => Lease {
                    tokens: old.tokens + lease_state.tokens,
                    valid_until: old.valid_until.max(lease_state.valid_until),
                    ..lease_state
                },
                _ => lease_state,
            };
            leases.insert(key.to_owned(), merged);
        }
        let shown = Grant {
            granted: g.granted.min(1),
            remaining: g.remaining + lease_state.tokens,
            ..g
        };
        Ok((shown, true))
    }

    /// One try at the window of `key` (`window.lua`); `Err` when Redis cannot answer (and
    /// marks it down for a moment).
    pub async fn window(&self, key: &str, ask: &Ask<'_>) -> Result<Turn, String> {
        if self.is_down() {
            return Err("redis marked down".into());
        }
        let seq = self
            .admissions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let member = format!("{}:{seq}", self.id);
        let (partner, reserve) = match ask.asker {
            Asker::Caller(p) => (p, 0),
            Asker::Tiergate(r) => ("", r),
        };
        let result = async {
            let mut conn = self.connection().await?;
            let mut call = self.window_script.prepare_invoke();
            for part in ["log", "count", "wait", "adapt"] {
                call.key(format!("{{{key}}}:{part}"));
            }
            call.arg(ask.limit)
                .arg(ms(ask.window))
                .arg(member)
                .arg(reserve)
                .arg(partner)
                .arg(ms(ask.patience))
                .arg(ms(ask.recover));
            tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<(u64, u64)>(&mut conn))
                .await
                .map_err(|_| "redis call timed out".to_owned())?
                .map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok((1, left)) => Ok(Turn::Go(u32::try_from(left).unwrap_or(u32::MAX))),
            Ok((_, wait)) => Ok(Turn::Wait(Duration::from_millis(wait.max(1)))),
            Err(e) => {
                self.mark_down();
                Err(e)
            }
        }
    }

    /// The vendor answered 429 for the API of window `key`: every gateway holds it back for
    /// `hold` and halves its window from now, recovering over `recover` (`window.lua`).
    pub async fn throttled(
        &self,
        key: &str,
        hold: Duration,
        recover: Duration,
    ) -> Result<(), String> {
        let mut conn = self.connection().await?;
        let script = redis::Script::new(
            "local t = redis.call('TIME') \
             local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
             local hold = now + tonumber(ARGV[1]) \
             if tonumber(redis.call('HGET', KEYS[1], 'hold') or '0') < hold then \
               redis.call('HSET', KEYS[1], 'hold', hold) end \
             redis.call('HSET', KEYS[1], 'halved', now) \
             redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[1])) \
             return 1",
        );
        let mut call = script.key(format!("{{{key}}}:adapt"));
        call.arg(ms(hold)).arg(ms(recover));
        tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<i64>(&mut conn))
            .await
            .map_err(|_| "redis call timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Holds a limit back for everyone until `for_` from now (the vendor said 429).
    pub async fn back_off(&self, key: &str, for_: Duration) -> Result<(), String> {
        let mut conn = self.connection().await?;
        let script = redis::Script::new(
            "local t = redis.call('TIME') \
             local until_ = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1]) \
             local tat = tonumber(redis.call('GET', KEYS[1]) or '0') \
             if tat < until_ then redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000) end \
             return 1",
        );
        let micros = u64::try_from(for_.as_micros()).unwrap_or(u64::MAX);
        tokio::time::timeout(
            CALL_TIMEOUT,
            script.key(key).arg(micros).invoke_async::<i64>(&mut conn),
        )
        .await
        .map_err(|_| "redis call timed out".to_owned())?
        .map_err(|e| e.to_string())?;
        self.leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    /// Marks `member` active in the set `key` (scores: Redis time, ms) and counts the members
    /// active within `window`.
    pub async fn active(&self, key: &str, member: &str, window: Duration) -> Result<u32, String> {
        if self.is_down() {
            return Err("redis marked down".into());
        }
        self.touch(key, member, window).await
    }

    async fn touch(&self, key: &str, member: &str, window: Duration) -> Result<u32, String> {
        let mut conn = self.connection().await?;
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut call = self.members_script.key(key);
        call.arg(member).arg(ms);
        tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<u32>(&mut conn))
            .await
            .map_err(|_| "redis call timed out".to_owned())?
            .map_err(|e| e.to_string())
    }

    /// Registers this gateway as live and reads how many are (tried even while Redis is
    /// marked down: membership is what the fallback shares divide by).
    pub async fn heartbeat(&self) -> Result<u32, String> {
        let n = self.touch(&self.members, &self.id, LIVENESS).await?;
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = n.max(1);
        Ok(n.max(1))
    }
}
