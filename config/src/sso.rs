//! `[sso]`: the identity broker's browser-facing listener, Tiergate's IdP key for the vendor,
//! the vendor's SP metadata, and each reseller's IdP registration.
//!
//! ```toml
//! [sso]
//! listen = "0.0.0.0:8444"
//! public_url = "https://sso.tiergate.example"   # default: http://<listen address>
//! idp_key = { file = "sso/idp-key.pem" }        # RSA, PEM; signs assertions and AuthnRequests
//! idp_cert = "sso/idp-cert.pem"
//! vendor_metadata = "sso/vendor-sp.xml"         # the vendor's SP metadata
//! vendor_login_url = "https://auth.vendor.example/authui/saml/login"  # where IdP-initiated
//!                                               # logins continue (else: unsolicited Response)
//! x_account_type = "tiergate-dist-1"            # the platform id the vendor gave this IdP
//! allowed_targets = ["https://console.vendor.example"]
//! session_ttl = "15m"
//! redis = "redis://127.0.0.1:6379"              # default: ratelimit.redis; none: in process
//! [[sso.resellers]]
//! reseller = "res-1"
//! metadata = "sso/res-1-idp.xml"                # that reseller IdP's metadata (pinned keys)
//! idp_initiated = true
//! notify_url = "https://portal.res-1.example/saml/bind"
//! ```
//!
//! Files are read here; their XML and keys are checked when the gateway builds the broker.

use crate::duration::positive;
use crate::secret::{SecretSource, secret};
use crate::url::{Url, UrlSource};
use crate::{ConfigError, Secret};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The file section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    listen: String,
    #[serde(default)]
    plaintext: bool,
    #[serde(default)]
    public_url: Option<String>,
    idp_key: SecretSource,
    idp_cert: String,
    vendor_metadata: String,
    #[serde(default)]
    vendor_login_url: Option<String>,
    x_account_type: String,
    #[serde(default)]
    allowed_targets: Vec<String>,
    #[serde(default = "default_session")]
    session_ttl: String,
    #[serde(default)]
    redis: Option<UrlSource>,
    #[serde(default)]
    resellers: Vec<ResellerSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResellerSection {
    reseller: String,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    metadata_url: Option<String>,
    #[serde(default)]
    cert_sha256: Vec<String>,
    #[serde(default)]
    idp_initiated: bool,
    #[serde(default)]
    notify_url: Option<String>,
}

fn default_session() -> String {
    "15m".into()
}

/// A reseller IdP registration.
#[derive(Debug, Clone)]
pub struct ResellerIdpSettings {
    /// The reseller.
    pub reseller: String,
    /// Its IdP metadata XML (empty when it is fetched from `metadata_url`).
    pub metadata: String,
    /// Where the metadata is fetched at start instead.
    pub metadata_url: Option<String>,
    /// SHA-256 fingerprints (lower-case hex) the metadata's signing certificates must have.
    pub cert_sha256: Vec<String>,
    /// Whether it may start logins itself.
    pub idp_initiated: bool,
    /// Where its bind notifications are forwarded.
    pub notify_url: Option<String>,
}

/// The identity broker's settings.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// The browser-facing listener.
    pub listen: SocketAddr,
    /// Whether it may be on a non-loopback address without TLS (TLS ends in front of it).
    pub plaintext: bool,
    /// The public URL prefix (none: `http://<bound address>`).
    pub public_url: Option<String>,
    /// Tiergate's IdP/SP signing key, PEM.
    pub idp_key: Secret<String>,
    /// Its certificate, PEM.
    pub idp_cert: String,
    /// The vendor's SP metadata XML.
    pub vendor_metadata: String,
    /// The vendor's console login link (IdP-initiated logins continue there).
    pub vendor_login_url: Option<String>,
    /// The vendor's platform id for this IdP.
    pub x_account_type: String,
    /// Origins browsers may be sent to.
    pub allowed_targets: Vec<String>,
    /// Browser session lifetime.
    pub session_ttl: Duration,
    /// Redis for single-use ids and sessions (none: in process).
    pub redis: Option<Url>,
    /// Reseller IdPs.
    pub resellers: Vec<ResellerIdpSettings>,
}

fn read(path: &str, name: &str, base: &Path, errors: &mut Vec<ConfigError>) -> Option<String> {
    let p = base.join(name);
    std::fs::read_to_string(&p)
        .map_err(|e| {
            errors.push(ConfigError::new(
                path,
                format!("cannot read {}: {e}", p.display()),
            ))
        })
        .ok()
}

/// Metadata comes over https, or plain http only from this machine (tests, sidecars).
fn check_metadata_url(path: &str, url: &str, errors: &mut Vec<ConfigError>) {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    let ok = url.starts_with("https://")
        || loopback.iter().any(|l| {
            url.strip_prefix(l)
                .is_some_and(|r| r.starts_with([':', '/']))
        });
    if !ok {
        errors.push(ConfigError::new(
            path,
            "must be an https:// URL (http:// only on loopback)",
        ));
    }
}

/// Validates the section; errors go to `errors` with their paths.
pub(crate) fn convert(
    s: Option<Section>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    known_resellers: &[String],
    default_redis: Option<&Url>,
    errors: &mut Vec<ConfigError>,
) -> Option<SsoSettings> {
    let s = s?;
    let before = errors.len();
    let redis = match &s.redis {
        Some(src) => crate::url::url(src, base, env)
            .map(Url::new)
            .map_err(|message| {
                errors.push(ConfigError {
                    path: "sso.redis".into(),
                    message,
                })
            })
            .ok(),
        None => default_redis.cloned(),
    };
    let listen = s
        .listen
        .parse::<SocketAddr>()
        .map_err(|_| {
            errors.push(ConfigError::new(
                "sso.listen",
                "not an address like 0.0.0.0:8444",
            ))
        })
        .ok();
    if let Some(u) = &s.public_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        errors.push(ConfigError::new(
            "sso.public_url",
            "must start with https:// or http://",
        ));
    }
    let idp_key = secret(&s.idp_key, base, env)
        .map_err(|m| errors.push(ConfigError::new("sso.idp_key", m)))
        .ok();
    let idp_cert = read("sso.idp_cert", &s.idp_cert, base, errors);
    let vendor_metadata = read("sso.vendor_metadata", &s.vendor_metadata, base, errors);
    if s.x_account_type.trim().is_empty() {
        errors.push(ConfigError::new("sso.x_account_type", "must not be empty"));
    }
    let session_ttl = positive(&s.session_ttl)
        .map_err(|m| errors.push(ConfigError::new("sso.session_ttl", m)))
        .ok();
    let mut resellers = Vec::new();
    for (i, r) in s.resellers.iter().enumerate() {
        let at = |f: &str| format!("sso.resellers[{i}].{f}");
        if !known_resellers.contains(&r.reseller) {
            errors.push(ConfigError::new(
                &at("reseller"),
                format!("`{}` is not one of [[resellers]]", r.reseller),
            ));
        }
        if resellers
            .iter()
            .any(|x: &ResellerIdpSettings| x.reseller == r.reseller)
        {
            errors.push(ConfigError::new(&at("reseller"), "registered twice"));
        }
        let metadata = match (&r.metadata, &r.metadata_url) {
            (Some(file), None) => read(&at("metadata"), file, base, errors),
            (None, Some(url)) => {
                check_metadata_url(&at("metadata_url"), url, errors);
                if r.cert_sha256.is_empty() {
                    errors.push(ConfigError::new(
                        &at("cert_sha256"),
                        "required with metadata_url: the signing certificates must be pinned",
                    ));
                }
                Some(String::new())
            }
            _ => {
                errors.push(ConfigError::new(
                    &at("metadata"),
                    "exactly one of `metadata` (a file) and `metadata_url`",
                ));
                None
            }
        };
        let mut pins = Vec::new();
        for (j, f) in r.cert_sha256.iter().enumerate() {
            let hex: String = f
                .chars()
                .filter(|c| *c != ':')
                .collect::<String>()
                .to_ascii_lowercase();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                errors.push(ConfigError::new(
                    &format!("sso.resellers[{i}].cert_sha256[{j}]"),
                    "not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                ));
            }
            pins.push(hex);
        }
        resellers.push(ResellerIdpSettings {
            reseller: r.reseller.clone(),
            metadata: metadata.unwrap_or_default(),
            metadata_url: r.metadata_url.clone(),
            cert_sha256: pins,
            idp_initiated: r.idp_initiated,
            notify_url: r.notify_url.clone(),
        });
    }
    if errors.len() > before {
        return None;
    }
    Some(SsoSettings {
        listen: listen?,
        plaintext: s.plaintext,
        public_url: s.public_url.map(|u| u.trim_end_matches('/').to_owned()),
        idp_key: Secret::new(idp_key?),
        idp_cert: idp_cert?,
        vendor_metadata: vendor_metadata?,
        vendor_login_url: s.vendor_login_url,
        x_account_type: s.x_account_type,
        allowed_targets: s.allowed_targets,
        session_ttl: session_ttl?,
        redis,
        resellers,
    })
}
