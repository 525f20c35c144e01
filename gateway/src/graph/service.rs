//! The background service that keeps the graph current: a full sync at start and every
//! `graph.sync_interval`, sooner again after a failure.

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

#[async_trait]
impl BackgroundService for SyncService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            let wait = if self.once().await {
                self.interval
            } else {
                self.interval.min(RETRY)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
