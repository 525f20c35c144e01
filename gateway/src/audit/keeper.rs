//! The audit log's own duties while the gateway runs: record its start and stop, sign
//! checkpoints periodically, and never leave an intent silent. An intent whose outcome never
//! came (the gateway stopped mid-call) is marked `unknown` once it is older than any call can
//! take, for reconciliation to settle.

use super::Audit;
use crate::chain::record::{Entry, Kind, Record};
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use serde_json::json;
use std::time::{Duration, Instant};

/// How often counted refusals are written as summaries.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// How often the whole chain is verified (also once at start), so a broken chain raises its
/// alert without anyone asking. It reads the whole chain: hourly keeps that cost small.
const VERIFY_EVERY: Duration = Duration::from_secs(3600);

/// Runs the audit log's periodic work.
#[derive(Clone)]
pub struct Keeper {
    /// The audit log.
    pub audit: Audit,
    /// Time between checkpoints.
    pub interval: Duration,
    /// An intent older than this without an outcome is marked unknown.
    pub stale_after: Duration,
    /// Fingerprint of the effective configuration (secrets redacted), recorded at start so
    /// configuration changes between runs show in the log.
    pub config_fingerprint: String,
}

impl Keeper {
    /// Records the audit system's own event (`start`, `stop`).
    pub async fn system(&self, what: &str) {
        let entry = Entry {
            kind: Some(Kind::System),
            operation: Some(what.to_owned()),
            detail: json!({"config_sha256": self.config_fingerprint, "version": env!("CARGO_PKG_VERSION")}),
            ..Entry::default()
        };
        if let Err(e) = self.audit.append(entry).await {
            tracing::error!(error = %e, what, "could not audit the audit system's own event");
        }
    }

    /// Marks stale intents without an outcome as unknown.
    pub async fn settle(&self) {
        let before = crate::store::now_ms()
            - i64::try_from(self.stale_after.as_millis()).unwrap_or(i64::MAX);
        let dangling = match self.audit.store().audit().dangling_intents(before).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for intents without an outcome");
                return;
            }
        };
        for (request_id, body) in dangling {
            let Ok(intent) = serde_json::from_str::<Record>(&body) else {
                continue;
            };
            let entry = Entry {
                kind: Some(Kind::Outcome),
                outcome: Some("unknown".into()),
                detail: json!({"reason": "no answer was recorded for this intent (the gateway stopped mid-call); reconcile with the vendor's records", "intent_seq": intent.seq}),
                ..intent.entry
            };
            if let Err(e) = self.audit.append(entry).await {
                tracing::error!(error = %e, request_id, "could not mark an intent unknown");
            }
        }
    }

    /// Writes the refusals counted since the last flush as summaries ([`super::tally`]).
    pub async fn flush_counts(&self) {
        if let Err(e) = self.audit.flush_counts().await {
            tracing::error!(error = %e, "could not write refusal summaries");
        }
    }

    /// Signs a checkpoint of the current head.
    pub async fn checkpoint(&self) {
        self.checkpoint_round(&mut None).await;
    }

    /// Signs a checkpoint of the current head; `uncovered` is since when the head has been
    /// past the last checkpoint (kept between rounds), for the metric an alert watches.
    async fn checkpoint_round(&self, uncovered: &mut Option<Instant>) {
        let done = self.audit.checkpoint().await;
        if let Err(e) = &done {
            tracing::error!(error = %e, "audit checkpoint failed");
        }
        let Some(m) = self.audit.metrics() else {
            return;
        };
        // A failed round leaves the head uncovered: since the first failure in a row (the
        // records it leaves are at most a round older).
        let since = match &done {
            Ok(_) => None,
            Err(_) => Some(*uncovered.get_or_insert_with(Instant::now)),
        };
        *uncovered = since;
        let age = since.map_or(0.0, |t| {
            t.elapsed().as_secs_f64() + self.interval.as_secs_f64()
        });
        m.audit
            .checkpointed(done.is_ok(), matches!(done, Ok(Some(_))), age);
    }

    /// Verifies the whole chain (the result is in the metrics; a broken chain is logged).
    async fn verify(&self) {
        match self.audit.verify().await {
            Ok(r) if !r.intact() => {
                tracing::error!(first_broken = ?r.broken.first(), "audit chain verification: broken")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "audit chain verification could not run"),
        }
    }
}

#[async_trait]
impl BackgroundService for Keeper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        self.system("start").await;
        self.settle().await;
        let mut checkpoints =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        let mut minutes =
            tokio::time::interval_at(tokio::time::Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
        let mut verifications = tokio::time::interval(VERIFY_EVERY);
        let mut uncovered = None;
        loop {
            tokio::select! {
                // Often (default every second): a signed checkpoint whenever the head moved, so
                // records past the last checkpoint are at most that old.
                _ = checkpoints.tick() => self.checkpoint_round(&mut uncovered).await,
                _ = verifications.tick() => self.verify().await,
                _ = minutes.tick() => {
                    self.flush_counts().await;
                    self.settle().await;
                }
                // The stop is recorded by `serve::run` once Pingora has stopped (its runtimes
                // drop their tasks at shutdown, so this one cannot be relied on to finish).
                _ = shutdown.changed() => return,
            }
        }
    }
}
