//! Limits shared by every gateway through Redis: the GCRA script on Redis' clock, in strict
//! mode (one call per request) or leased (a small batch of admissions per call, spent locally;
//! a refusal is remembered until its retry time, so a flood costs no round trips). Gateways
//! register themselves so each knows how many share a limit (lease size, fallback share).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tiergate_policy::limit::Quota;

/// How long a Redis call may take before the gateway falls back to its share.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(100);
/// After a failure, Redis is tried again this much later.
pub const RETRY_AFTER_DOWN: Duration = Duration::from_secs(1);
/// A gateway not seen for this long is not counted as live.
pub const LIVENESS: Duration = Duration::from_secs(5);

const GCRA: &str = include_str!("gcra.lua");

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
}

/// The Redis side.
pub struct Shared {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    script: redis::Script,
    down_until: Mutex<Option<Instant>>,
    leases: Mutex<HashMap<String, Lease>>,
    live: Mutex<u32>,
    id: String,
    members: String,
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
    pub async fn take(&self, key: &str, quota: &Quota, want: u32) -> Result<Grant, String> {
        if self.is_down() {
            return Err("redis marked down".into());
        }
        let result = async {
            let mut conn = self.connection().await?;
            let interval = quota.interval_us();
            let tolerance = interval.saturating_mul(u64::from(quota.burst.get()) - 1);
            let mut invocation = self.script.key(key);
            invocation.arg(interval).arg(tolerance).arg(want);
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
                if now < l.blocked_until {
                    return Ok((
                        Grant {
                            granted: 0,
                            remaining: 0,
                            reset_after: l.reset_at.saturating_duration_since(now),
                            retry_after: l.blocked_until - now,
                        },
                        false,
                    ));
                }
            }
        }
        let g = self.take(key, quota, lease.max(1)).await?;
        let interval = Duration::from_micros(quota.interval_us());
        let lease_state = Lease {
            tokens: g.granted.saturating_sub(1),
            // Unused admissions lapse: a lease covers the time it represents, no longer.
            valid_until: now + interval * g.granted.max(1),
            blocked_until: now + g.retry_after,
            reset_at: now + g.reset_after,
        };
        self.leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), lease_state);
        let shown = Grant {
            granted: g.granted.min(1),
            remaining: g.remaining + lease_state.tokens,
            ..g
        };
        Ok((shown, true))
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

    /// Registers this gateway as live and reads how many are.
    pub async fn heartbeat(&self) -> Result<u32, String> {
        let mut conn = self.connection().await?;
        let script = redis::Script::new(
            "local t = redis.call('TIME') \
             local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
             redis.call('ZADD', KEYS[1], now, ARGV[1]) \
             redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2])) \
             redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2) \
             return redis.call('ZCARD', KEYS[1])",
        );
        let window = u64::try_from(LIVENESS.as_millis()).unwrap_or(5000);
        let n: u32 = tokio::time::timeout(
            CALL_TIMEOUT,
            script
                .key(&self.members)
                .arg(&self.id)
                .arg(window)
                .invoke_async::<u32>(&mut conn),
        )
        .await
        .map_err(|_| "redis call timed out".to_owned())?
        .map_err(|e| e.to_string())?;
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = n.max(1);
        Ok(n.max(1))
    }
}
