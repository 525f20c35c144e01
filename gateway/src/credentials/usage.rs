//! Writes when credentials were last used, once a minute: lookups only mark the cache entry
//! they already hold the lock of, so the request path never waits on the store for it.

use super::Credentials;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

/// The background writer.
pub struct UsageWriter(pub Arc<Credentials>);

#[async_trait]
impl BackgroundService for UsageWriter {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.0.flush_use().await {
                tracing::warn!(error = %e, "could not write when credentials were last used");
            }
        }
    }
}
