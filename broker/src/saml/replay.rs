//! Single-use values shared by every gateway: assertion ids (a replayed assertion is refused
//! until it would have expired anyway), the vendor's AuthnRequest ids and bind notifications
//! (likewise, until they would be refused as too old) and outstanding AuthnRequests (each
//! answered once).
//! Redis when configured (`SET NX` with an expiry, `GETDEL`: one atomic step each, so two
//! gateways cannot both accept the same assertion); in process otherwise (one gateway).

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most values the in-process store holds. Past it, new ones are refused (the caller's
/// sign-in is refused), never an unexpired one evicted: evicting would let it be used again.
pub const MEMORY_CAPACITY: usize = 100_000;

/// The in-process store: values with their expiry, and the order they came in, so expired
/// ones leave from the front in O(1) amortized per insert (no scan of the whole map).
#[derive(Default)]
pub struct Memory {
    values: HashMap<String, (String, Instant)>,
    arrivals: VecDeque<(Instant, String)>,
}

impl Memory {
    fn sweep(&mut self, now: Instant) {
        // An arrival is current while the value it set is still there (not taken, not set
        // again). Stale arrivals leave as they reach the front; a current one leaves with its
        // value once expired; the first current, unexpired one stops the sweep.
        while let Some((until, key)) = self.arrivals.front() {
            let current = self.values.get(key).is_some_and(|(_, u)| u == until);
            if current && *until > now {
                break;
            }
            if let Some((_, key)) = self.arrivals.pop_front().filter(|_| current) {
                self.values.remove(&key);
            }
        }
        // Stale arrivals queued behind a long-lived one: compacted now and then (amortized
        // O(1) per insert), so the queue stays within a few times the values held.
        if self.arrivals.len() > 4 * MEMORY_CAPACITY {
            let values = &self.values;
            self.arrivals
                .retain(|(until, key)| values.get(key).is_some_and(|(_, u)| u == until));
        }
    }

    fn live(&self, key: &str, now: Instant) -> Option<&String> {
        self.values
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v)
    }
}

/// Where single-use values live.
pub enum OneTime {
    /// Shared by every gateway.
    Redis {
        /// The connection (reconnects by itself).
        conn: redis::aio::ConnectionManager,
        /// Key prefix.
        prefix: String,
    },
    /// This process only (bounded: [`MEMORY_CAPACITY`]).
    Memory(Mutex<Memory>),
}

impl OneTime {
    /// A store on Redis at `url`, keys under `prefix`.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("{url}: {e}"))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(Self::Redis {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// A store in this process.
    pub fn memory() -> Self {
        Self::Memory(Mutex::new(Memory::default()))
    }

    fn memory_put(
        map: &Mutex<Memory>,
        key: String,
        value: &str,
        ttl: Duration,
        only_new: bool,
    ) -> Result<bool, String> {
        let now = Instant::now();
        let Ok(mut m) = map.lock() else {
            return Err("store poisoned".into());
        };
        m.sweep(now);
        if only_new && m.live(&key, now).is_some() {
            return Ok(false);
        }
        if m.values.len() >= MEMORY_CAPACITY && !m.values.contains_key(&key) {
            return Err(format!(
                "the in-process single-use store holds {MEMORY_CAPACITY} values"
            ));
        }
        let until = now + ttl;
        m.values.insert(key.clone(), (value.to_owned(), until));
        m.arrivals.push_back((until, key));
        Ok(true)
    }

    /// Sets `value` under `id` for `ttl` (`only_new`: only if nothing is there): whether it
    /// was set.
    async fn set(
        &self,
        space: &str,
        id: &str,
        value: &str,
        ttl: Duration,
        only_new: bool,
    ) -> Result<bool, String> {
        match self {
            Self::Redis { conn, prefix } => {
                let mut opts = redis::SetOptions::default()
                    .with_expiration(redis::SetExpiry::PX(ttl.as_millis() as u64));
                if only_new {
                    opts = opts.conditional_set(redis::ExistenceCheck::NX);
                }
                let set: Option<String> = conn
                    .clone()
                    .set_options(format!("{prefix}{space}:{id}"), value, opts)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(set.is_some())
            }
            Self::Memory(m) => Self::memory_put(m, format!("{space}:{id}"), value, ttl, only_new),
        }
    }

    /// Claims `id` in `space` until `until`: true the first time, false ever after (until then).
    pub async fn claim(&self, space: &str, id: &str, until: DateTime<Utc>) -> Result<bool, String> {
        let ttl = (until - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1));
        self.set(space, id, "1", ttl, true).await
    }

    /// Remembers `value` under `id` for `ttl`.
    pub async fn put(
        &self,
        space: &str,
        id: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), String> {
        self.set(space, id, value, ttl, false).await.map(|_| ())
    }

    /// What is under `id`, left in place.
    pub async fn get(&self, space: &str, id: &str) -> Result<Option<String>, String> {
        match self {
            Self::Redis { conn, prefix } => conn
                .clone()
                .get(format!("{prefix}{space}:{id}"))
                .await
                .map_err(|e| e.to_string()),
            Self::Memory(m) => {
                let now = Instant::now();
                let Ok(m) = m.lock() else {
                    return Err("store poisoned".into());
                };
                Ok(m.live(&format!("{space}:{id}"), now).cloned())
            }
        }
    }

    /// Takes what is under `id`, once.
    pub async fn take(&self, space: &str, id: &str) -> Result<Option<String>, String> {
        match self {
            Self::Redis { conn, prefix } => conn
                .clone()
                .get_del(format!("{prefix}{space}:{id}"))
                .await
                .map_err(|e| e.to_string()),
            Self::Memory(m) => {
                let now = Instant::now();
                let Ok(mut m) = m.lock() else {
                    return Err("store poisoned".into());
                };
                Ok(m.values
                    .remove(&format!("{space}:{id}"))
                    .filter(|(_, until)| *until > now)
                    .map(|(v, _)| v))
            }
        }
    }
}
