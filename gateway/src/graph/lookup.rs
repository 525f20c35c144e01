//! A customer the graph does not know yet, asked of the vendor before a call naming it is
//! refused: one the vendor associated a moment ago, or one a reseller just created through
//! another gateway, is then used at once, on every gateway, instead of waiting for the next
//! sync. What the vendor does not confirm is remembered for a while, so unknown ids cost the
//! vendor budget at most once per [`MISS_FOR`] each.

use super::sync::{CUSTOMERS, list_filtered};
use crate::credentials::UpstreamKey;
use crate::upstream::UpstreamClient;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tiergate_policy::Edge;

/// How long a customer the vendor did not confirm is not asked about again.
const MISS_FOR: Duration = Duration::from_secs(30);
/// At most this many misses are remembered (the oldest go first).
const MISSES: usize = 10_000;

/// Asks the vendor about customers, as the distributor.
pub struct Lookup {
    client: UpstreamClient,
    key: UpstreamKey,
    distributor: String,
    misses: Mutex<HashMap<(String, String), Instant>>,
}

impl Lookup {
    /// A lookup through `client`, signed with the distributor's `key`.
    pub fn new(client: UpstreamClient, key: UpstreamKey, distributor: String) -> Self {
        Self {
            client,
            key,
            distributor,
            misses: Mutex::new(HashMap::new()),
        }
    }

    fn missed(&self, k: &(String, String)) -> bool {
        let misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        misses.get(k).is_some_and(|t| t.elapsed() < MISS_FOR)
    }

    fn miss(&self, k: (String, String)) {
        let mut misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        if misses.len() >= MISSES {
            misses.retain(|_, t| t.elapsed() < MISS_FOR);
            if misses.len() >= MISSES {
                misses.clear();
            }
        }
        misses.insert(k, Instant::now());
    }

    /// Asks about `id` ([`Lookup::customer`]) and, confirmed, learns it: in `graph` at once,
    /// in `store` in the background. Whether it was confirmed.
    pub async fn learn(
        &self,
        graph: &super::LiveGraph,
        store: &crate::store::Store,
        acting: &str,
        id: &str,
        deadline: Instant,
    ) -> bool {
        let Some(edge) = self.customer(acting, id, deadline).await else {
            return false;
        };
        graph.learn(std::slice::from_ref(&edge));
        store.graph().upsert_later(vec![edge]);
        true
    }

    /// The customer `id` as the vendor lists it among `acting`'s customers, if it does; not
    /// waited for past `deadline` (the caller's own: an answer not had by then is not a miss).
    pub async fn customer(&self, acting: &str, id: &str, deadline: Instant) -> Option<Edge> {
        let k = (acting.to_owned(), id.to_owned());
        if self.missed(&k) {
            return None;
        }
        let on_behalf = (acting != self.distributor).then_some(acting);
        let filter = format!(
            "&customer_id={}",
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        );
        let asked = list_filtered(&self.client, &self.key, &CUSTOMERS, on_behalf, &filter);
        let Ok(found) = tokio::time::timeout_at(deadline.into(), asked).await else {
            tracing::debug!(
                customer = id,
                "no turn to ask the vendor about a customer in time"
            );
            return None;
        };
        let edge = match found {
            Ok(items) => items.iter().find_map(|c| {
                (c["customer_id"].as_str() == Some(id)).then(|| Edge::Customer {
                    id: id.to_owned(),
                    owner: acting.to_owned(),
                    resale: c["association_type"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| c["association_type"].as_u64().map(|n| n.to_string()))
                        .as_deref()
                        == Some("2"),
                })
            }),
            Err(e) => {
                tracing::warn!(error = %e, customer = id, "could not ask the vendor about a customer");
                None
            }
        };
        if edge.is_none() {
            self.miss(k);
        }
        edge
    }
}
