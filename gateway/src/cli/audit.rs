//! `tiergate audit keygen|verify|query|export|archive|verify-archive`. `verify`, `query` and
//! `export` also take a read-only audit configuration (the audit database and the public key,
//! [`tiergate_config::AuditReader`]), for auditors kept apart from the gateway's secrets.

use crate::audit::export::{Format, export};
use crate::audit::read::{Query, Source, records};
use crate::audit::{Audit, AuditError, verify_store};
use crate::chain::record::{Entry, Kind};
use crate::chain::sign::Signer;
use crate::chain::verify::{self, Checkpoint, Report, Row};
use crate::store::Store;
use crate::store::audit::{Filter, Match};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use tiergate_config::{AuditReader, Config};

/// What `tiergate audit` does.
#[derive(Subcommand)]
pub enum Action {
    /// Generate a signing key (base64 PKCS#8 on stdout; the public key on stderr).
    Keygen,
    /// Recompute the chain, check every signature and checkpoint; non-zero exit if broken.
    Verify {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Records matching filters, newest first (masked unless --unmasked).
    Query(QueryArgs),
    /// Export records as CSV or JSON Lines (masked unless --unmasked).
    Export {
        /// Which records.
        #[command(flatten)]
        query: QueryArgs,
        /// `csv` or `jsonl`.
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
    /// Write the whole chain with its checkpoints and public key, verifiable offline.
    Archive {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an archive with the public key alone.
    VerifyArchive {
        /// The archive.
        file: PathBuf,
        /// The public key (base64), as `tiergate audit keygen` printed it.
        #[arg(long)]
        public_key: String,
    },
}

impl Action {
    /// The configuration a command reads (none: it needs none).
    pub fn config(&self) -> Option<PathBuf> {
        match self {
            Action::Verify { config, .. } | Action::Archive { config, .. } => Some(config.clone()),
            Action::Query(q) | Action::Export { query: q, .. } => Some(q.config.clone()),
            Action::Keygen | Action::VerifyArchive { .. } => None,
        }
    }
}

/// Which records: filters and paging.
#[derive(Args)]
pub struct QueryArgs {
    /// Configuration file.
    #[arg(long)]
    config: PathBuf,
    /// From, RFC 3339 (default: the retention window).
    #[arg(long)]
    from: Option<String>,
    /// Until, RFC 3339.
    #[arg(long)]
    until: Option<String>,
    /// Record kind (intent, outcome, credential, access, system).
    #[arg(long)]
    kind: Option<String>,
    /// Caller's partner id.
    #[arg(long)]
    principal: Option<String>,
    /// Caller's tier.
    #[arg(long)]
    tier: Option<String>,
    /// Reseller acted for.
    #[arg(long)]
    reseller: Option<String>,
    /// A customer concerned.
    #[arg(long)]
    customer: Option<String>,
    /// Operation.
    #[arg(long)]
    operation: Option<String>,
    /// Outcome.
    #[arg(long)]
    outcome: Option<String>,
    /// Minimum amount.
    #[arg(long)]
    amount_min: Option<String>,
    /// Maximum amount.
    #[arg(long)]
    amount_max: Option<String>,
    /// Records to skip.
    #[arg(long, default_value_t = 0)]
    offset: i64,
    /// Records to return (query: default 100; export: default all).
    #[arg(long)]
    limit: Option<i64>,
    /// Show personal data unmasked (recorded in the audit log itself).
    #[arg(long)]
    unmasked: bool,
    /// Who is asking (recorded with unmasked access).
    #[arg(long, default_value = "cli")]
    auditor: String,
}

/// The audit log as a command opens it: with the gateway's configuration (it can record the
/// run and unmasked reads), or with a read-only audit configuration
/// ([`tiergate_config::AuditReader`]: the database and the public key).
enum Opened {
    Log(Audit, Box<Config>),
    ReadOnly(Store, AuditReader),
}

impl Opened {
    async fn open(path: &Path) -> Result<Opened, String> {
        if is_reader(path) {
            let r = AuditReader::load(path).map_err(|e| format!("{}:\n{e}", path.display()))?;
            let store = Store::connect(&r.storage)
                .await
                .map_err(|e| format!("audit.storage: {e}"))?;
            return Ok(Opened::ReadOnly(store, r));
        }
        let c = super::load(path)?;
        Ok(Opened::Log(Audit::open(&c).await?, Box::new(c)))
    }

    fn source(&self) -> Source<'_> {
        match self {
            Opened::Log(a, _) => Source::Log(a),
            Opened::ReadOnly(s, _) => Source::ReadOnly(s),
        }
    }

    fn retention(&self) -> std::time::Duration {
        match self {
            Opened::Log(_, c) => c.audit.retention,
            Opened::ReadOnly(_, r) => r.retention,
        }
    }

    async fn verify(&self) -> Result<Report, String> {
        match self {
            Opened::Log(a, _) => a.verify().await,
            Opened::ReadOnly(s, r) => {
                verify_store(s, r.checkpoint_log.as_deref(), &r.public_key).await
            }
        }
        .map_err(|e| e.to_string())
    }

    /// Records a run of the audit system itself, when it can (a read-only configuration
    /// cannot write: said on stderr).
    async fn log_run(&self, what: &str, detail: Value) -> Result<(), String> {
        match self {
            Opened::Log(a, _) => log_run(a, what, detail)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Opened::ReadOnly(..) => {
                eprintln!(
                    "(a read-only audit configuration: this {what} is not recorded in the log)"
                );
                Ok(())
            }
        }
    }
}

/// Whether the file is a read-only audit configuration.
pub(super) fn is_reader(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| AuditReader::is_one(&t))
}

fn filter(q: &QueryArgs, retention: std::time::Duration) -> Result<Filter, String> {
    Query {
        from: q.from.clone(),
        until: q.until.clone(),
        matching: Match {
            kind: q.kind.clone(),
            principal: q.principal.clone(),
            tier: q.tier.clone(),
            reseller: q.reseller.clone(),
            customer: q.customer.clone(),
            operation: q.operation.clone(),
            outcome: q.outcome.clone(),
            amount_min: q.amount_min.clone(),
            amount_max: q.amount_max.clone(),
            ..Match::default()
        },
        offset: q.offset,
        limit: q.limit.unwrap_or(100),
    }
    .filter(retention)
}

/// Records a run of the audit system itself (verification, archive).
async fn log_run(audit: &Audit, what: &str, detail: Value) -> Result<i64, AuditError> {
    let entry = Entry {
        kind: Some(Kind::System),
        operation: Some(what.to_owned()),
        detail,
        ..Entry::default()
    };
    audit.append(entry).await
}

/// Runs an audit command.
pub fn run(action: Action) -> Result<(), String> {
    if let Action::Keygen = action {
        let key = Signer::generate().map_err(|e| e.to_string())?;
        let public = Signer::from_base64_pkcs8(&key)
            .map_err(|e| e.to_string())?
            .public_key();
        println!("{key}");
        eprintln!("public key: {public}");
        return Ok(());
    }
    if let Action::VerifyArchive { file, public_key } = action {
        return verify_archive(&file, &public_key);
    }
    super::runtime()?.block_on(async move {
        match action {
            Action::Verify { config, json } => {
                let opened = Opened::open(&config).await?;
                let report = opened.verify().await?;
                let summary = json!({"intact": report.intact(), "records": report.records, "first_broken": report.broken.first()});
                opened.log_run("verify", summary).await?;
                if json {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                } else if report.intact() {
                    println!("intact: {} records, {} checkpoints, {} trailing records not yet covered by a checkpoint", report.records, report.checkpoints, report.uncovered);
                } else {
                    for b in &report.broken {
                        println!("BROKEN at record {}: {}", b.seq, b.what);
                    }
                }
                if report.intact() { Ok(()) } else { Err(format!("audit chain broken at record {}", report.broken[0].seq)) }
            }
            Action::Query(q) => {
                let opened = Opened::open(&q.config).await?;
                let f = filter(&q, opened.retention())?;
                for v in records(opened.source(), f, q.unmasked, &q.auditor).await? {
                    println!("{v}");
                }
                Ok(())
            }
            Action::Export { query: q, format } => {
                let format: Format = format.parse()?;
                let opened = Opened::open(&q.config).await?;
                let f = filter(&q, opened.retention())?;
                let limit = q.limit.map(|l| u64::try_from(l).unwrap_or(0));
                // Buffered, unlocked: the export awaits between pages.
                let out = std::io::BufWriter::new(std::io::stdout());
                export(opened.source(), f, limit, q.unmasked, &q.auditor, format, out).await?;
                Ok(())
            }
            Action::Archive { config, out } => {
                let c = super::load(&config)?;
                let audit = Audit::open(&c).await?;
                audit.checkpoint().await.map_err(|e| e.to_string())?;
                let rows = audit.store().audit().rows().await.map_err(|e| e.to_string())?;
                let checkpoints = audit.store().audit().checkpoints().await.map_err(|e| e.to_string())?;
                let mut f = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
                let w = |f: &mut std::fs::File, v: Value| writeln!(f, "{v}").map_err(|e| e.to_string());
                w(&mut f, json!({"tiergate_audit_archive": 1, "public_key": audit.public_key()}))?;
                for r in &rows {
                    w(&mut f, json!({"row": {"seq": r.seq, "body": r.body, "prev_hash": r.prev_hash,
                        "hash": r.hash, "signature": r.signature}}))?;
                }
                for c in &checkpoints {
                    w(&mut f, json!({"checkpoint": c}))?;
                }
                log_run(&audit, "archive", json!({"records": rows.len(), "file": out})).await.map_err(|e| e.to_string())?;
                println!("archived {} records and {} checkpoints to {}", rows.len(), checkpoints.len(), out.display());
                Ok(())
            }
            Action::Keygen | Action::VerifyArchive { .. } => Ok(()),
        }
    })
}

fn verify_archive(file: &PathBuf, public_key: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (mut rows, mut checkpoints) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(r) = v.get("row") {
            let body = r["body"].as_str().unwrap_or_default().to_owned();
            let record: Option<crate::chain::record::Record> = serde_json::from_str(&body).ok();
            rows.push(Row {
                seq: r["seq"].as_i64().unwrap_or_default(),
                prev_hash: r["prev_hash"].as_str().unwrap_or_default().to_owned(),
                hash: r["hash"].as_str().unwrap_or_default().to_owned(),
                signature: r["signature"].as_str().unwrap_or_default().to_owned(),
                // An archive carries bodies only; its columns are the body's by construction.
                columns: record.as_ref().map(verify::columns_of).unwrap_or_default(),
                body,
            });
        } else if let Some(c) = v.get("checkpoint") {
            let c: Checkpoint = serde_json::from_value(c.clone()).map_err(|e| e.to_string())?;
            checkpoints.push(c);
        }
    }
    let report = verify::verify(&rows, &checkpoints, public_key);
    if report.intact() {
        println!(
            "intact: {} records, {} checkpoints, {} trailing records not covered by a checkpoint",
            report.records, report.checkpoints, report.uncovered
        );
        Ok(())
    } else {
        for b in &report.broken {
            println!("BROKEN at record {}: {}", b.seq, b.what);
        }
        Err(format!("archive broken at record {}", report.broken[0].seq))
    }
}
