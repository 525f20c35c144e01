//! Keeps the ledger's hold metrics current: how many voucher reservations are held, their
//! amount and the oldest one's age (a hold that outlives every call's timeout waits on
//! reconciliation; one that stays for long is what an operator is alerted to).

use crate::metrics::Metrics;
use crate::store::Store;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use rust_decimal::prelude::ToPrimitive;
use std::sync::Arc;
use std::time::Duration;

/// How often the holds are read: a metric scraped every 15 to 60 s needs no fresher value.
const EVERY: Duration = Duration::from_secs(15);

/// The background service.
pub struct Holds {
    /// The store holding the ledger.
    pub store: Store,
    /// Where the figures go.
    pub metrics: Arc<Metrics>,
}

impl Holds {
    async fn sample(&self) {
        match self.store.ledger().holds().await {
            Ok((count, amount, oldest)) => {
                let age = oldest.map_or(0.0, |at| {
                    let ms = (crate::store::now_ms() - at).max(0);
                    ms.to_f64().unwrap_or_default() / 1000.0
                });
                // A gauge is a float; the ledger's own arithmetic stays decimal.
                let amount = amount.to_f64().unwrap_or_default();
                self.metrics.ledger.holding(count, amount, age);
            }
            Err(e) => tracing::warn!(error = %e, "could not read the ledger's holds"),
        }
    }
}

#[async_trait]
impl BackgroundService for Holds {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut every = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => self.sample().await,
                _ = shutdown.changed() => return,
            }
        }
    }
}
