//! The `tiergate` command line.

use crate::credentials::Credentials;
use crate::store::Store;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tiergate_config::{Config, LogFormat};

/// Tiergate: gateway and identity broker in front of a cloud vendor's partner API.
#[derive(Parser)]
#[command(name = "tiergate", version)]
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
        action: CredentialAction,
    },
}

#[derive(Subcommand)]
enum CredentialAction {
    /// Issue an AK/SK pair for a partner; the SK is shown once.
    Issue {
        /// The partner (the distributor or one of its resellers).
        #[arg(long)]
        partner: String,
    },
    /// List credentials (never their secrets).
    List,
    /// Revoke a credential.
    Revoke {
        /// Its access key.
        access_key: String,
    },
}

fn load(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| format!("{}:\n{e}", path.display()))
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TIERGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            demo_credential,
        } => load(&config).and_then(|c| {
            init_logs(c.log_format);
            crate::serve::run(c, demo_credential)
        }),
        Command::CheckConfig { files } => check(&files),
        Command::Credentials { config, action } => {
            load(&config).and_then(|c| credentials(c, action))
        }
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
            Ok(_) => println!("{}: ok", f.display()),
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

fn credentials(config: Config, action: CredentialAction) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let store = Store::connect(&config.storage)
            .await
            .map_err(|e| format!("storage: {e}"))?;
        let creds = Credentials::new(store, &config).map_err(|e| e.to_string())?;
        match action {
            CredentialAction::Issue { partner } => {
                let i = creds.issue(&partner).await.map_err(|e| e.to_string())?;
                println!(
                    "partner:    {} ({})",
                    i.principal.partner_id, i.principal.tier
                );
                println!("access key: {}", i.access_key);
                println!("secret key: {}", i.secret_key.expose());
                println!("The secret key is shown only now; store it safely.");
            }
            CredentialAction::List => {
                println!(
                    "{:<22} {:<16} {:<16} {:<12} status",
                    "access key", "partner", "tier", "created"
                );
                for r in creds.list().await.map_err(|e| e.to_string())? {
                    let created = time::OffsetDateTime::from_unix_timestamp(r.created_at)
                        .map(|t| t.date().to_string())
                        .unwrap_or_default();
                    let status = if r.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<22} {:<16} {:<16} {:<12} {status}",
                        r.access_key, r.partner_id, r.tier, created
                    );
                }
            }
            CredentialAction::Revoke { access_key } => {
                if !creds.revoke(&access_key).await.map_err(|e| e.to_string())? {
                    return Err(format!("no active credential {access_key}"));
                }
                println!("revoked {access_key}");
            }
        }
        Ok(())
    })
}
