//! The TLS report (`tiergate tls report`, `GET /tls`, the console's TLS page): what the policy
//! allows, what is actually served per version, what is allowlisted but cannot be served and
//! why, and the certificates with key type and expiry.

use serde_json::{Value, json};
use tiergate_certs::suites::{self, Auth};
use tiergate_certs::{KeyType, LoadedCert, TlsPolicy, Version};

/// Certificates expiring sooner than this are warned about.
const WARN_DAYS: i64 = 30;

/// The policy and certificates as a report (the CLI prints it; the admin API and console
/// serve it for the running gateway).
pub fn report(policy: &TlsPolicy, certs: &[&LoadedCert], now: i64) -> Value {
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
