//! Single-use values shared by every gateway: assertion ids (a replayed assertion is refused
//! until it would have expired anyway) and outstanding AuthnRequests (each answered once).
//! Redis when configured (`SET NX` with an expiry, `GETDEL`: one atomic step each, so two
//! gateways cannot both accept the same assertion); in process otherwise (one gateway).

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where single-use values live.
pub enum OneTime {
    /// Shared by every gateway.
    Redis {
        /// The connection (reconnects by itself).
        conn: redis::aio::ConnectionManager,
        /// Key prefix.
        prefix: String,
    },
    /// This process only.
    Memory(Mutex<HashMap<String, (String, Instant)>>),
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
        Self::Memory(Mutex::new(HashMap::new()))
    }

    fn memory_put(
        map: &Mutex<HashMap<String, (String, Instant)>>,
        key: String,
        value: &str,
        ttl: Duration,
        only_new: bool,
    ) -> bool {
        let now = Instant::now();
        let Ok(mut m) = map.lock() else { return false };
        m.retain(|_, (_, until)| *until > now);
        if only_new && m.contains_key(&key) {
            return false;
        }
        m.insert(key, (value.to_owned(), now + ttl));
        true
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
            Self::Memory(m) => Ok(Self::memory_put(
                m,
                format!("{space}:{id}"),
                value,
                ttl,
                only_new,
            )),
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
                Ok(m.get(&format!("{space}:{id}"))
                    .filter(|(_, until)| *until > now)
                    .map(|(v, _)| v.clone()))
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
                Ok(m.remove(&format!("{space}:{id}"))
                    .filter(|(_, until)| *until > now)
                    .map(|(v, _)| v))
            }
        }
    }
}
