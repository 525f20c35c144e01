//! The TLS listener: certificates served through a resolver that reloads on SIGHUP or when
//! their files change (existing connections keep theirs), handshake metrics, expiry gauges.
//! The cipher-suite policy itself is the process-wide provider installed at start.

use crate::metrics::Metrics;
use async_trait::async_trait;
use pingora::listeners::TlsAccept;
use pingora::listeners::tls::TlsSettings;
use pingora::protocols::tls::TlsRef;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tiergate_certs::{CertSpec, CertStore, LoadedCert};

/// Loads every certificate, reporting each failure.
pub fn load_all(specs: &[CertSpec]) -> Result<Vec<LoadedCert>, Vec<String>> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut loaded = Vec::with_capacity(specs.len());
    let mut problems = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match tiergate_certs::load(spec, now) {
            Ok(c) => loaded.push(c),
            Err(e) => problems.push(format!("tls.certificates[{i}]: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems)
    }
}

/// Counts completed handshakes by negotiated version and suite.
struct HandshakeMetrics(Arc<Metrics>);

#[async_trait]
impl TlsAccept for HandshakeMetrics {
    async fn handshake_complete_callback(
        &self,
        tls: &TlsRef,
    ) -> Option<Arc<dyn Any + Send + Sync>> {
        let version = tls.version().unwrap_or("unknown");
        let suite = tls.current_cipher_name().unwrap_or("unknown");
        self.0.tls_handshake(version, suite);
        None
    }
}

/// The listener settings for a certificate store.
pub fn settings(store: Arc<CertStore>, metrics: Arc<Metrics>) -> pingora::Result<TlsSettings> {
    let mut settings = TlsSettings::with_callbacks(Box::new(HandshakeMetrics(metrics)))?;
    settings.set_cert_resolver(store);
    Ok(settings)
}

/// Publishes the expiry of the certificates being served.
pub fn publish_expiry(metrics: &Metrics, certs: &[Arc<LoadedCert>]) {
    for c in certs {
        metrics.certificate_expiry(&c.subject, c.not_after);
    }
}

/// Reloads certificates on SIGHUP, or when a file's modification time changes.
pub struct CertReload {
    /// The store being served.
    pub store: Arc<CertStore>,
    /// What to load.
    pub specs: Vec<CertSpec>,
    /// How often to look at the files.
    pub interval: Duration,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl CertReload {
    fn stamps(&self) -> Vec<Option<SystemTime>> {
        self.specs
            .iter()
            .flat_map(|s| [&s.chain, &s.key])
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    fn reload(&self, why: &str) {
        match load_all(&self.specs) {
            Ok(certs) => {
                self.store.replace(certs);
                publish_expiry(&self.metrics, &self.store.current());
                self.metrics.tls_reload("ok");
                tracing::info!(why, "certificates reloaded");
            }
            Err(errors) => {
                self.metrics.tls_reload("error");
                tracing::error!(
                    why,
                    ?errors,
                    "certificate reload failed; still serving the previous ones"
                );
            }
        }
    }
}

#[async_trait]
impl BackgroundService for CertReload {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP handler; reloading on file change only");
                None
            }
        };
        let mut seen = self.stamps();
        loop {
            let hangup = async {
                match hup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = hangup => self.reload("SIGHUP"),
                _ = tokio::time::sleep(self.interval) => {
                    let now = self.stamps();
                    if now != seen {
                        seen = now;
                        self.reload("files changed");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
