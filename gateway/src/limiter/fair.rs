//! Which partners are drawing on a vendor API right now, for fair sharing of its budget: kept
//! in Redis (shared by every gateway) when there is one, announced and read at most once a
//! second per API and partner, so it costs next to nothing on the hot path.

use super::redis::Shared;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A partner counts as active this long after its last call.
const WINDOW: Duration = Duration::from_secs(2);
/// How often a gateway re-announces a partner and re-reads the count.
const REFRESH: Duration = Duration::from_secs(1);

/// Active partners per operation.
#[derive(Default)]
pub struct Active {
    /// (operation, partner) -> last seen here.
    seen: Mutex<HashMap<(String, String), Instant>>,
    /// operation -> (count, read at), from Redis.
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Active {
    /// Notes a call; refreshes the shared count when due.
    pub async fn announce(
        &self,
        shared: Option<&Shared>,
        prefix: &str,
        operation: &str,
        partner: &str,
    ) {
        let now = Instant::now();
        let due = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let k = (operation.to_owned(), partner.to_owned());
            let due = seen
                .get(&k)
                .is_none_or(|t| now.duration_since(*t) >= REFRESH);
            if due {
                seen.insert(k, now);
            }
            if seen.len() > 10_000 {
                seen.retain(|_, t| now.duration_since(*t) < WINDOW);
            }
            due
        };
        let (Some(shared), true) = (shared, due) else {
            return;
        };
        let key = format!("{prefix}:active:{operation}");
        match shared.active(&key, partner, WINDOW).await {
            Ok(n) => {
                self.counts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(operation.to_owned(), (n, now));
            }
            Err(e) => tracing::debug!(error = %e, "fair share: active partners not shared"),
        }
    }

    /// How many partners share `operation` now (at least 1): the shared count while fresh,
    /// else what this gateway saw itself.
    pub fn partners(&self, operation: &str) -> u32 {
        let now = Instant::now();
        if let Some((n, at)) = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(operation)
            && now.duration_since(*at) < WINDOW
        {
            return (*n).max(1);
        }
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let local = seen
            .iter()
            .filter(|((op, _), t)| op == operation && now.duration_since(**t) < WINDOW)
            .count();
        u32::try_from(local).unwrap_or(u32::MAX).max(1)
    }
}
