//! `tiergate tls report`: what the TLS policy allows, what is actually served, what is
//! allowlisted but cannot be served and why, and the certificates with their expiry.

use serde_json::{Value, json};
use std::path::PathBuf;
use tiergate_certs::suites::{self, Auth};
use tiergate_certs::{KeyType, LoadedCert, TlsPolicy, TlsSpec, Version};

/// Certificates expiring sooner than this are warned about.
const WARN_DAYS: i64 = 30;

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

fn report(policy: &TlsPolicy, certs: &[LoadedCert], now: i64) -> Value {
    let per_version = |v: Version| json!(policy.effective_names(v));
    let mut warnings: Vec<String> = Vec::new();
    let certificates: Vec<Value> = certs
        .iter()
        .map(|c| {
            let days_left = (c.not_after - now) / 86_400;
            if days_left < WARN_DAYS {
                warnings.push(format!(
                    "certificate {} expires in {days_left} days",
                    c.subject
                ));
            }
            let key = match c.key_type {
                KeyType::EcdsaP256 => "ECDSA P-256".to_owned(),
                KeyType::EcdsaP384 => "ECDSA P-384".to_owned(),
                KeyType::Rsa(bits) => format!("RSA {bits}"),
            };
            let expires = time::OffsetDateTime::from_unix_timestamp(c.not_after)
                .map(|t| t.date().to_string())
                .unwrap_or_default();
            json!({"subject": c.subject, "names": c.names, "key_type": key,
                   "chain": c.chain_path, "not_after": expires, "days_left": days_left})
        })
        .collect();
    if !certs.is_empty() {
        for name in policy.effective_names(Version::Tls12) {
            let auth = suites::by_name(name).map(|s| s.auth);
            let servable = certs.iter().any(|c| match auth {
                Some(Auth::Ecdsa) => c.key_type.is_ecdsa(),
                Some(Auth::Rsa) => !c.key_type.is_ecdsa(),
                _ => true,
            });
            if !servable {
                warnings.push(format!(
                    "{name} needs a certificate of its key type; none is configured"
                ));
            }
        }
    }
    json!({
        "profile": policy.profile,
        "versions": policy.versions,
        "allowlist": policy.allowlist.iter().map(|s| json!({
            "name": s.name, "code": format!("0x{:04X}", s.code), "version": s.version})).collect::<Vec<_>>(),
        "outside_profile": policy.outside_profile.iter().map(|s| s.name).collect::<Vec<_>>(),
        "effective": {"TLSv1.3": per_version(Version::Tls13), "TLSv1.2": per_version(Version::Tls12)},
        "unsupported": policy.unsupported.iter().map(|u| json!({
            "name": u.suite.name, "reason": u.reason})).collect::<Vec<_>>(),
        "certificates": certificates,
        "warnings": warnings,
    })
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
    let r = report(
        &policy,
        &certs,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    if json {
        println!("{r}");
    } else {
        print_text(&r);
    }
    Ok(())
}
