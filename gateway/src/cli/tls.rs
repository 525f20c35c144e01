//! `tiergate tls report`: what the TLS policy allows, what is actually served, what is
//! allowlisted but cannot be served and why, and the certificates with their expiry.

use crate::reads::tls::report;
use serde_json::Value;
use std::path::PathBuf;
use tiergate_certs::{TlsPolicy, TlsSpec};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Report the TLS policy and certificates (default policy when no --config).
    Report {
        /// Configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn print_text(r: &Value) {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    println!("profile: {}", r["profile"].as_str().unwrap_or_default());
    println!("versions: {}", list(&r["versions"]).join(", "));
    for v in ["TLSv1.3", "TLSv1.2"] {
        println!("effective {v}:");
        for s in list(&r["effective"][v]) {
            println!("  {s}");
        }
    }
    println!("allowlisted but not served:");
    for u in r["unsupported"].as_array().into_iter().flatten() {
        println!(
            "  {} ({})",
            u["name"].as_str().unwrap_or_default(),
            u["reason"].as_str().unwrap_or_default()
        );
    }
    let outside = list(&r["outside_profile"]);
    if !outside.is_empty() {
        println!("ALLOWED OUTSIDE THE PROFILE: {}", outside.join(", "));
    }
    println!("certificates:");
    for c in r["certificates"].as_array().into_iter().flatten() {
        println!(
            "  {} [{}] {} expires {} ({} days)",
            c["subject"].as_str().unwrap_or_default(),
            list(&c["names"]).join(", "),
            c["key_type"].as_str().unwrap_or_default(),
            c["not_after"].as_str().unwrap_or_default(),
            c["days_left"]
        );
    }
    for w in list(&r["warnings"]) {
        println!("warning: {w}");
    }
}

pub fn run(action: Action) -> Result<(), String> {
    let Action::Report { config, json } = action;
    let (policy, certs) = match config {
        Some(path) => {
            let c = super::load(&path)?;
            let certs = crate::tls::load_all(&c.tls.certificates).map_err(|e| e.join("\n"))?;
            (c.tls.policy, certs)
        }
        None => {
            let p = TlsPolicy::compile(&TlsSpec::default())
                .map_err(|e| format!("default policy: {e:?}"))?;
            (p, Vec::new())
        }
    };
    let served: Vec<_> = certs.iter().collect();
    let r = serde_json::to_value(report(
        &policy,
        &served,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ))
    .map_err(|e| e.to_string())?;
    if json {
        println!("{r}");
    } else {
        print_text(&r);
    }
    Ok(())
}
