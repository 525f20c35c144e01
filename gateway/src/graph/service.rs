//! The background service that keeps the graph current. Gateways sharing a database elect
//! one syncer: the holder of a lease in the database ([`LEASE`], renewed every [`TICK`] while
//! it lives and while it syncs, given up when it stops, taken over when it lapses). The
//! syncer runs a full sync at once and every `graph.sync_interval` (sooner again after a
//! failure) and stores it; the others reload the stored graph when its version moves, within
//! a tick. A gateway alone is its own syncer. Every gateway also takes in, each tick, what the
//! others learned from answers (a customer created, a voucher issued through another).

use super::LiveGraph;
use super::sync::sync;
use crate::credentials::UpstreamKey;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::upstream::UpstreamClient;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

/// Retry delay after a failed sync.
const RETRY: Duration = Duration::from_secs(5);
/// How often the lease is renewed or tried, and followers look for a newer graph.
pub const TICK: Duration = Duration::from_secs(2);
/// How long a lease holds without renewal: a dead syncer's is taken over after this.
pub const LEASE: Duration = Duration::from_secs(10);

/// Syncs the graph from the partner API.
pub struct SyncService {
    /// Upstream client.
    pub client: UpstreamClient,
    /// The distributor's key.
    pub key: UpstreamKey,
    /// The graph to replace.
    pub graph: Arc<LiveGraph>,
    /// Where the graph is stored.
    pub store: Store,
    /// Where the customers' names are kept for masking audit output (the audit database).
    pub names: Store,
    /// Time between syncs.
    pub interval: Duration,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This gateway, as the lease names its holder.
    pub me: String,
}

/// A random name for this gateway's claim on the lease.
pub fn holder_name() -> String {
    let mut b = [0u8; 8];
    let random = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map(|()| hex::encode(b))
        .unwrap_or_default();
    format!("pid{}-{random}", std::process::id())
}

impl SyncService {
    async fn once(&self) -> bool {
        match sync(&self.client, &self.key).await {
            Ok(synced) => {
                if let Err(e) = self.names.graph().replace_names(synced.names).await {
                    tracing::warn!(error = %e, "could not store the customers' names");
                }
                let merged = self.graph.replace(synced.graph);
                let sizes = merged.sizes();
                if let Err(e) = self.store.graph().replace(merged.edges().collect()).await {
                    tracing::warn!(error = %e, "could not store the synced graph");
                }
                tracing::info!(?sizes, "relationship graph synced");
                self.metrics.graph_synced("ok", &self.graph.sizes());
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "relationship graph sync failed");
                self.metrics.graph_synced("error", &self.graph.sizes());
                false
            }
        }
    }
}

impl SyncService {
    /// Takes or renews the lease; false when another gateway holds it (or the store is away).
    async fn lead(&self) -> bool {
        let now = crate::store::now_ms();
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let held = match self.store.graph().lease(&self.me, now, until).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "could not take or renew the graph sync lease");
                false
            }
        };
        self.metrics.graph_syncer(held);
        held
    }

    /// A sync, the lease renewed while it runs.
    async fn sync_leading(&self) -> bool {
        let sync = self.once();
        tokio::pin!(sync);
        let mut renew = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                ok = &mut sync => return ok,
                _ = renew.tick() => { self.lead().await; }
            }
        }
    }

    /// Takes in what any gateway learned from answers since `seen` (its own too: harmless).
    async fn catch_up(&self, seen: &mut i64) {
        match self.store.graph().learned_since(*seen).await {
            Ok((edges, last)) if !edges.is_empty() => {
                self.graph.learn(&edges);
                self.metrics.graph_learned(edges.len());
                *seen = last;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read learned relationships"),
        }
    }

    /// Reloads the stored graph when another gateway stored a newer one.
    async fn follow(&self, seen: &mut Option<i64>) {
        let Ok(version) = self.store.graph().version().await else {
            return;
        };
        if *seen == Some(version) || (seen.is_none() && self.graph.ready()) {
            *seen = Some(version);
            return;
        }
        match self.store.graph().edges().await {
            Ok(edges) => {
                self.graph.replace(edges.into_iter().collect());
                self.metrics.graph_loaded(&self.graph.sizes());
                *seen = Some(version);
                tracing::info!(version, "relationship graph reloaded from the store");
            }
            Err(e) => tracing::warn!(error = %e, "could not reload the stored graph"),
        }
    }
}

#[async_trait]
impl BackgroundService for SyncService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut next = tokio::time::Instant::now();
        let mut seen: Option<i64> = None;
        // From 0 at start: a sync stores its rows as 0, so what is past 0 is only what was
        // learned since the last stored sync (read once, then only what is new).
        let mut learned = 0;
        loop {
            self.catch_up(&mut learned).await;
            if self.lead().await {
                if tokio::time::Instant::now() >= next {
                    let wait = if self.sync_leading().await {
                        self.interval
                    } else {
                        self.interval.min(RETRY)
                    };
                    next = tokio::time::Instant::now() + wait;
                    // Its own store moved the version: nothing to reload.
                    seen = self.store.graph().version().await.ok();
                }
            } else {
                // Whoever leads next syncs at once; this one, should it lead, too.
                next = tokio::time::Instant::now();
                self.follow(&mut seen).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => {
                    if let Err(e) = self.store.graph().release(&self.me).await {
                        tracing::warn!(error = %e, "could not give up the graph sync lease");
                    }
                    return;
                }
            }
        }
    }
}
