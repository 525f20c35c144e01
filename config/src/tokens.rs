//! `[tokens]`: short-lived bearer tokens for token-mode access by partner staff and auditors.
//!
//! ```toml
//! [tokens]
//! signing_key = { file = "tokens.key" }          # base64 PKCS#8 Ed25519 (`tiergate tokens keygen`)
//! previous_keys = [{ file = "tokens-old.key" }]   # still verifying, for one token lifetime
//! ttl = "15m"
//! issuer = "tiergate"
//! audience = "tiergate-admin"
//! ```
//!
//! Absent: no tokens are issued and bearer tokens are refused.

use crate::duration::positive;
use crate::secret::{SecretSource, secret};
use crate::{ConfigError, Secret};
use base64::Engine;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// The file section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    signing_key: SecretSource,
    #[serde(default)]
    previous_keys: Vec<SecretSource>,
    #[serde(default = "default_ttl")]
    ttl: String,
    #[serde(default = "default_issuer")]
    issuer: String,
    #[serde(default = "default_audience")]
    audience: String,
}

fn default_ttl() -> String {
    "15m".into()
}
fn default_issuer() -> String {
    "tiergate".into()
}
fn default_audience() -> String {
    "tiergate-admin".into()
}

/// Token issuance settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The key that signs new tokens (PKCS#8 DER, Ed25519).
    pub signing_key: Secret<Vec<u8>>,
    /// Keys that only verify (a rotation in progress), PKCS#8 DER.
    pub previous_keys: Vec<Secret<Vec<u8>>>,
    /// Token lifetime.
    pub ttl: Duration,
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
}

/// The longest lifetime accepted: tokens are meant to be short-lived.
const MAX_TTL: Duration = Duration::from_secs(12 * 3600);

fn key(
    path: &str,
    src: &SecretSource,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<Secret<Vec<u8>>> {
    let decoded = secret(src, base, env).and_then(|b64| {
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| "not base64 (`tiergate tokens keygen` makes one)".to_owned())
    });
    match decoded {
        Ok(der) if !der.is_empty() => Some(Secret::new(der)),
        Ok(_) => {
            errors.push(ConfigError::new(path, "must not be empty"));
            None
        }
        Err(m) => {
            errors.push(ConfigError::new(path, m));
            None
        }
    }
}

/// Validates the section; errors go to `errors` with their paths.
pub(crate) fn convert(
    s: Option<Section>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<TokenSettings> {
    let s = s?;
    let signing_key = key("tokens.signing_key", &s.signing_key, base, env, errors);
    let previous_keys: Vec<_> = s
        .previous_keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| key(&format!("tokens.previous_keys[{i}]"), k, base, env, errors))
        .collect();
    let ttl = match positive(&s.ttl) {
        Ok(d) if d > MAX_TTL => {
            errors.push(ConfigError::new("tokens.ttl", "must be at most 12h"));
            None
        }
        Ok(d) => Some(d),
        Err(m) => {
            errors.push(ConfigError::new("tokens.ttl", m));
            None
        }
    };
    for (path, v) in [
        ("tokens.issuer", &s.issuer),
        ("tokens.audience", &s.audience),
    ] {
        if v.trim().is_empty() {
            errors.push(ConfigError::new(path, "must not be empty"));
        }
    }
    Some(TokenSettings {
        signing_key: signing_key?,
        previous_keys,
        ttl: ttl?,
        issuer: s.issuer,
        audience: s.audience,
    })
}
