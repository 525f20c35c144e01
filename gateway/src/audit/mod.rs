//! The audit log: write-ahead for money-moving calls, tamper-evident (hash chain, per-record
//! Ed25519 signatures, signed checkpoints also logged outside the database), queryable and
//! exportable for auditors.

pub mod export;
pub mod keeper;
pub mod mask;
pub mod read;
pub mod tally;

use crate::chain::record::{Entry, Kind};
use crate::chain::sign::{Signer, checkpoint_message};
use crate::chain::verify::{self, Checkpoint, Report};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// An audit failure.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit store did not take the record.
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    /// The checkpoint log file could not be written or read.
    #[error("checkpoint log {path}: {why}")]
    Log {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}

/// The audit service.
#[derive(Clone)]
pub struct Audit {
    store: Store,
    signer: Arc<Signer>,
    checkpoint_log: Option<PathBuf>,
    tally: Arc<tally::Tally>,
    /// The gateway's metrics (none for a command line).
    metrics: Option<Arc<Metrics>>,
}

impl Audit {
    /// An audit log over `store`, signing with `signer`, checkpoints also appended to
    /// `checkpoint_log` (a file outside the database).
    pub fn new(store: Store, signer: Signer, checkpoint_log: Option<PathBuf>) -> Self {
        Self {
            store,
            signer: Arc::new(signer),
            checkpoint_log,
            tally: Arc::default(),
            metrics: None,
        }
    }

    /// Counts its writes, checkpoints and verifications in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The gateway's metrics, where it has them: for what is counted beside a record
    /// (reservations, sign-ins).
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    /// Counts one write to the chain that began at `started`.
    pub fn appended<T, E>(&self, started: Instant, result: &Result<T, E>) {
        if let Some(m) = &self.metrics {
            m.audit
                .appended(result.is_ok(), started.elapsed().as_secs_f64());
        }
    }

    /// The audit log a configuration names (`audit.storage`, `audit.signing_key`,
    /// `audit.checkpoint_log`).
    pub async fn open(config: &tiergate_config::Config) -> Result<Self, String> {
        let store = Store::connect(&config.audit.storage)
            .await
            .map_err(|e| format!("audit.storage: {e}"))?;
        let signer = Signer::from_base64_pkcs8(config.audit.signing_key.expose())
            .map_err(|e| format!("audit.signing_key: {e}"))?;
        let log = Some(config.audit.checkpoint_log.clone());
        Ok(Self::new(store, signer, log))
    }

    /// The signer, for records written inside another store transaction.
    pub fn signer(&self) -> Arc<Signer> {
        self.signer.clone()
    }

    /// The public key that verifies this log.
    pub fn public_key(&self) -> String {
        self.signer.public_key()
    }

    /// Counts a refusal for the next summary instead of recording it alone ([`tally`]).
    pub fn count(&self, key: tally::Key, sample: Option<String>) {
        self.tally.add(key, sample);
    }

    /// Writes what was counted since the last flush, as summary records.
    pub async fn flush_counts(&self) -> Result<(), AuditError> {
        let entries = self.tally.drain();
        if entries.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let written = self
            .store
            .audit()
            .append(entries, self.signer.clone())
            .await;
        self.appended(started, &written);
        written?;
        Ok(())
    }

    /// Appends one entry durably; returns its sequence number.
    pub async fn append(&self, entry: Entry) -> Result<i64, AuditError> {
        let started = Instant::now();
        let written = self
            .store
            .audit()
            .append(vec![entry], self.signer.clone())
            .await;
        self.appended(started, &written);
        let seq = written?.first().copied().unwrap_or_default();
        if let Some(m) = &self.metrics {
            m.audit.head(seq);
        }
        Ok(seq)
    }

    /// Signs the current head, if it moved since the last checkpoint.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let Some((seq, head)) = self.store.audit().head().await? else {
            return Ok(None);
        };
        if let Some(m) = &self.metrics {
            m.audit.head(seq);
        }
        // Cheap when nothing moved: the keeper asks every `checkpoint_interval` (1 s).
        if self.store.audit().last_checkpoint().await? >= Some(seq) {
            return Ok(None);
        }
        let at = crate::store::now_ms();
        let signature = self.signer.sign(&checkpoint_message(seq, &head, at));
        let c = Checkpoint {
            seq,
            head,
            at,
            signature,
        };
        if let Some(path) = &self.checkpoint_log {
            let log_err = |e: std::io::Error| AuditError::Log {
                path: path.display().to_string(),
                why: e.to_string(),
            };
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(log_err)?;
            let line = serde_json::to_string(&c).unwrap_or_default();
            writeln!(f, "{line}")
                .and_then(|()| f.sync_data())
                .map_err(log_err)?;
        }
        self.store.audit().add_checkpoint(c.clone()).await?;
        Ok(Some(c))
    }

    /// Verifies the whole chain against the database's and the log file's checkpoints.
    pub async fn verify(&self) -> Result<Report, AuditError> {
        let log = self.checkpoint_log.as_deref();
        let report = verify_store(&self.store, log, &self.public_key()).await;
        if let Some(m) = &self.metrics {
            m.audit.verified(report.as_ref().ok().map(Report::intact));
        }
        report
    }

    /// Verifies the chain and records the run: who ran it, intact or the first broken record
    /// (the overview shows the last run).
    pub async fn verify_recorded(&self, by: &str) -> Result<Report, AuditError> {
        let report = self.verify().await?;
        let entry = Entry {
            kind: Some(Kind::System),
            operation: Some("verify".into()),
            principal: Some(by.to_owned()),
            outcome: Some(if report.intact() { "intact" } else { "broken" }.into()),
            detail: serde_json::json!({
                "records": report.records, "checkpoints": report.checkpoints,
                "first_broken": report.broken.first(),
            }),
            ..Entry::default()
        };
        self.append(entry).await?;
        Ok(report)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// An RFC 3339 time in Unix milliseconds (for query filters).
pub fn parse_time_ms(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(crate::store::unix_ms)
        .map_err(|_| format!("`{s}` is not an RFC 3339 time"))
}

/// The start of the default query window: `retention` back from now.
pub fn window_start(retention: std::time::Duration) -> i64 {
    let window = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    crate::store::now_ms().saturating_sub(window)
}

/// Checkpoints from a log file (missing file: none).
pub fn read_log(path: &std::path::Path) -> Result<Vec<Checkpoint>, AuditError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(AuditError::Log {
                path: path.display().to_string(),
                why: e.to_string(),
            });
        }
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| AuditError::Log {
                path: path.display().to_string(),
                why: e.to_string(),
            })
        })
        .collect()
}

/// Verifies the chain in `store` against its checkpoints and those in `checkpoint_log`, with
/// the public key alone (the gateway's log, or an auditor's read-only configuration).
pub async fn verify_store(
    store: &Store,
    checkpoint_log: Option<&std::path::Path>,
    public_key: &str,
) -> Result<Report, AuditError> {
    let rows = store.audit().rows().await?;
    let mut checkpoints = store.audit().checkpoints().await?;
    if let Some(path) = checkpoint_log {
        checkpoints.extend(read_log(path)?);
    }
    checkpoints.sort_by_key(|c| c.seq);
    checkpoints.dedup();
    Ok(verify::verify(&rows, &checkpoints, public_key))
}
