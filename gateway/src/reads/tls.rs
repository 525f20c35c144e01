//! The TLS report (`tiergate tls report`, `GET /tls`, the console's TLS page): what the policy
//! allows, what is actually served per version, what is allowlisted but cannot be served and
//! why, and the certificates with key type and expiry.

use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use tiergate_certs::suites::{self, Auth};
use tiergate_certs::{KeyType, LoadedCert, TlsPolicy, Version};

/// Certificates expiring sooner than this are warned about.
const WARN_DAYS: i64 = 30;

/// An allowlisted suite.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Suite {
    /// Its IANA name.
    pub name: String,
    /// Its code point, `0x1301`.
    pub code: String,
    /// The TLS version it belongs to.
    pub version: String,
}

/// An allowlisted suite the backend cannot serve.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Unserved {
    /// Its IANA name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// A served certificate.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Certificate {
    /// Its subject.
    pub subject: String,
    /// The names it serves.
    pub names: Vec<String>,
    /// `ECDSA P-256`, `RSA 2048`...
    pub key_type: String,
    /// Where its chain was loaded from.
    pub chain: String,
    /// Its expiry date.
    pub not_after: String,
    /// Days left.
    pub days_left: i64,
}

/// The TLS report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// The named profile the allowlist follows.
    pub profile: String,
    /// TLS versions served.
    pub versions: Vec<String>,
    /// The allowlist.
    pub allowlist: Vec<Suite>,
    /// Suites allowed outside the profile (each a warning).
    pub outside_profile: Vec<String>,
    /// Suites served, in preference order, per version (`TLSv1.3`, `TLSv1.2`).
    pub effective: BTreeMap<String, Vec<String>>,
    /// Allowlisted but not served, and why.
    pub unsupported: Vec<Unserved>,
    /// Served certificates.
    pub certificates: Vec<Certificate>,
    /// What needs attention.
    pub warnings: Vec<String>,
}

/// A policy value by the name it is configured and reported with (its serde name).
fn named(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The policy and certificates as a report (the CLI prints it; the admin API and console
/// serve it for the running gateway).
pub fn report(policy: &TlsPolicy, certs: &[&LoadedCert], now: i64) -> Report {
    let names = |v: Version| -> Vec<String> {
        policy
            .effective_names(v)
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    };
    let mut warnings: Vec<String> = Vec::new();
    let certificates: Vec<Certificate> = certs
        .iter()
        .map(|c| {
            let days_left = (c.not_after - now) / 86_400;
            if days_left < WARN_DAYS {
                warnings.push(format!(
                    "certificate {} expires in {days_left} days",
                    c.subject
                ));
            }
            let key_type = match c.key_type {
                KeyType::EcdsaP256 => "ECDSA P-256".to_owned(),
                KeyType::EcdsaP384 => "ECDSA P-384".to_owned(),
                KeyType::Rsa(bits) => format!("RSA {bits}"),
            };
            let not_after = time::OffsetDateTime::from_unix_timestamp(c.not_after)
                .map(|t| t.date().to_string())
                .unwrap_or_default();
            Certificate {
                subject: c.subject.clone(),
                names: c.names.clone(),
                key_type,
                chain: c.chain_path.display().to_string(),
                not_after,
                days_left,
            }
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
    Report {
        profile: named(&policy.profile),
        versions: policy.versions.iter().map(named).collect(),
        allowlist: policy
            .allowlist
            .iter()
            .map(|s| Suite {
                name: s.name.to_owned(),
                code: format!("0x{:04X}", s.code),
                version: named(&s.version),
            })
            .collect(),
        outside_profile: policy
            .outside_profile
            .iter()
            .map(|s| s.name.to_owned())
            .collect(),
        effective: BTreeMap::from([
            ("TLSv1.3".to_owned(), names(Version::Tls13)),
            ("TLSv1.2".to_owned(), names(Version::Tls12)),
        ]),
        unsupported: policy
            .unsupported
            .iter()
            .map(|u| Unserved {
                name: u.suite.name.to_owned(),
                reason: u.reason.to_string(),
            })
            .collect(),
        certificates,
        warnings,
    }
}
