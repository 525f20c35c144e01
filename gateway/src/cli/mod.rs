//! The `tiergate` command line.

pub mod audit;
mod credentials;
mod delegation;
mod funds;
mod graph;
mod ledger;
mod migrate;
mod policy;
mod tls;
mod tokens;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tiergate_config::{Config, LogFormat};

/// Tiergate: gateway and identity broker in front of a cloud vendor's partner API.
#[derive(Parser)]
#[command(name = "tiergate", version = crate::VERSION)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway.
    Serve {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Issue a credential for this partner at start and print it (for demos).
        #[arg(long)]
        demo_credential: Option<String>,
        /// Issue an auditor's credential under this name at start and print the console's
        /// sign-in (for demos).
        #[arg(long)]
        demo_auditor: Option<String>,
    },
    /// Validate configuration files and print every error with its path.
    CheckConfig {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Manage Tiergate-issued credentials.
    Credentials {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: credentials::Action,
    },
    /// The audit log: keys, verification, queries, exports, archives.
    Audit {
        #[command(subcommand)]
        action: audit::Action,
    },
    /// Slices of voucher quota delegated to resellers and their staff.
    Delegation {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: delegation::Action,
    },
    /// Caps on fund adjustments to customers, per grantee.
    Funds {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: funds::Action,
    },
    /// The delegation ledger against the vendor's records.
    Ledger {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: ledger::Action,
    },
    /// Bring the database schema up to date as its owner and grant the gateway's role what it
    /// needs (see `storage.migrate_url`).
    Migrate {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// An environment variable holding the schema owner's URL (instead of
        /// `storage.migrate_url`).
        #[arg(long)]
        owner_env: Option<String>,
        /// The same for a separate audit database (instead of `audit.migrate_url`).
        #[arg(long)]
        audit_owner_env: Option<String>,
    },
    /// Report on the TLS policy and certificates.
    Tls {
        #[command(subcommand)]
        action: tls::Action,
    },
    /// Keys for token mode (bearer tokens for staff and auditors).
    Tokens {
        #[command(subcommand)]
        action: tokens::Action,
    },
    /// Print the admin API's OpenAPI document (as served at `/openapi.json`).
    Openapi,
    /// The relationship graph's syncs: ask for a full one, see where they stand.
    Graph {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: graph::Action,
    },
    /// Ask the tier policy.
    Policy {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: policy::Action,
    },
}

fn load(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| format!("{}:\n{e}", path.display()))
}

/// Logs to stderr from a background thread, through a buffer flushed whenever the thread has
/// caught up: a request's log line costs its formatting, not a write system call. Nothing is
/// dropped (a full queue makes callers wait). Keep the guard until the end: it flushes.
fn init_logs(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TIERGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("tiergate-log")
        .finish(out);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        // Flat: each field a top-level key of the line's one JSON object.
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    guard
}

/// A single-threaded runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// After a command that may have written audit records (a verification run, an unmasked
/// read, a credential or delegation change): a signed checkpoint of the head, so what it
/// wrote is covered before it exits (nothing happens when the head did not move).
fn seal(config: &Path) -> Result<(), String> {
    // A read-only audit configuration wrote nothing, and cannot sign.
    if audit::is_reader(config) {
        return Ok(());
    }
    let c = load(config)?;
    runtime()?.block_on(async move {
        let audit = crate::audit::Audit::open(&c).await?;
        audit
            .checkpoint()
            .await
            .map(drop)
            .map_err(|e| format!("the audit checkpoint after the command: {e}"))
    })
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let sealed = match &cli.command {
        Command::Credentials { config, .. }
        | Command::Delegation { config, .. }
        | Command::Ledger { config, .. }
        | Command::Funds { config, .. } => Some(config.clone()),
        Command::Audit { action } => action.config(),
        _ => None,
    };
    let result = match cli.command {
        Command::Serve {
            config,
            demo_credential,
            demo_auditor,
        } => load(&config).and_then(|c| {
            let _flush_at_exit = init_logs(c.log_format);
            crate::serve::run(c, demo_credential, demo_auditor)
        }),
        Command::CheckConfig { files } => check(&files),
        Command::Credentials { config, action } => {
            load(&config).and_then(|c| credentials::run(c, action))
        }
        Command::Policy { config, action } => load(&config).and_then(|c| policy::run(c, action)),
        Command::Graph { config, action } => load(&config).and_then(|c| graph::run(c, action)),
        Command::Tls { action } => tls::run(action),
        Command::Audit { action } => audit::run(action),
        Command::Tokens { action } => tokens::run(action),
        Command::Openapi => {
            println!("{}", *crate::admin::openapi::DOCUMENT);
            Ok(())
        }
        Command::Delegation { config, action } => {
            load(&config).and_then(|c| delegation::run(c, action))
        }
        Command::Ledger { config, action } => load(&config).and_then(|c| ledger::run(c, action)),
        Command::Funds { config, action } => load(&config).and_then(|c| funds::run(c, action)),
        Command::Migrate {
            config,
            owner_env,
            audit_owner_env,
        } => load(&config).and_then(|c| migrate::run(c, owner_env, audit_owner_env)),
    };
    // Also after a failed command: what it wrote before failing is covered too.
    let result = match (result, sealed.as_deref().map(seal)) {
        (Ok(()), Some(Err(e))) => Err(e),
        (result, _) => result,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tiergate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(files: &[PathBuf]) -> Result<(), String> {
    let mut failed = 0;
    for f in files {
        match Config::load(f) {
            // The keys it gives must be usable too (a key the file reads but nothing can
            // sign with would only fail at start).
            Ok(config) => match crate::serve::key_problems(&config).as_slice() {
                [] if config.from_env.is_empty() => println!("{}: ok", f.display()),
                [] => println!(
                    "{}: ok (from the environment: {})",
                    f.display(),
                    config.from_env.join(", ")
                ),
                problems => {
                    failed += 1;
                    for p in problems {
                        println!("{}: {p}", f.display());
                    }
                }
            },
            Err(e) => {
                failed += 1;
                for err in &e.0 {
                    let at = if err.path.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", err.path)
                    };
                    println!("{}: {at}{}", f.display(), err.message);
                }
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(format!(
            "{n} of {} configuration files are invalid",
            files.len()
        )),
    }
}
