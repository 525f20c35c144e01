//! A read-only audit configuration, for auditors with separated duties: the audit database
//! and the public key that verifies it, nothing of the gateway's secrets (no signing key, no
//! master key, no vendor key). `tiergate audit query|export|verify --config FILE` take it in
//! place of the gateway's configuration:
//!
//! ```toml
//! [audit]
//! storage = { env = "TIERGATE_AUDIT_DATABASE_URL" }   # a role that may only read
//! public_key = "..."                                   # `tiergate audit keygen` printed it
//! checkpoint_log = "/var/lib/tiergate/audit-checkpoints.jsonl"   # optional
//! retention = "365d"                                   # optional
//! ```

use crate::convert::storage;
use crate::url::{UrlSource, url};
use crate::{ConfigError, ConfigErrors, Storage, parse_duration};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    audit: Section,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    storage: UrlSource,
    public_key: String,
    #[serde(default)]
    checkpoint_log: Option<String>,
    #[serde(default = "default_retention")]
    retention: String,
}

fn default_retention() -> String {
    "365d".into()
}

/// What an auditor reading the log needs.
#[derive(Debug, Clone)]
pub struct AuditReader {
    /// The audit database (best opened as a role that may only read).
    pub storage: Storage,
    /// The Ed25519 public key (base64) that verifies the chain.
    pub public_key: String,
    /// The checkpoint log file, when the auditor has a copy.
    pub checkpoint_log: Option<PathBuf>,
    /// How far back queries reach by default.
    pub retention: Duration,
}

impl AuditReader {
    /// Whether `text` is a read-only audit configuration: `[audit]` is its only table and
    /// names a `public_key`.
    pub fn is_one(text: &str) -> bool {
        let Ok(v) = text.parse::<toml::Table>() else {
            return false;
        };
        v.len() == 1
            && v.get("audit")
                .and_then(toml::Value::as_table)
                .is_some_and(|a| a.contains_key("public_key"))
    }

    /// Reads one from a file; relative paths are resolved against its folder.
    pub fn load(path: &Path) -> Result<AuditReader, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::one("", format!("cannot read {}: {e}", path.display())))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let base = dir.unwrap_or(Path::new("."));
        Self::parse_with(
            &text,
            base,
            &|name| std::env::var(name).ok(),
            std::env::vars(),
        )
    }

    /// Parses one; `env` reads environment variables (secret sources).
    pub fn parse(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AuditReader, ConfigErrors> {
        Self::parse_with(text, base, env, [])
    }

    /// Parses one with the overrides among `vars` (`TIERGATE__AUDIT__STORAGE`, [`crate::env`]).
    pub fn parse_with(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<AuditReader, ConfigErrors> {
        let (f, _): (File, _) = crate::env::parse(text, vars)?;
        let mut errors = Vec::new();
        let mut push = |path: &str, message: String| {
            errors.push(ConfigError {
                path: path.into(),
                message,
            });
        };
        let storage = url(&f.audit.storage, base, env)
            .and_then(|u| storage(&u, base))
            .map_err(|m| push("audit.storage", m))
            .ok();
        let key = f.audit.public_key.trim().to_owned();
        let decoded = base64_len(&key);
        if decoded != Some(32) {
            push(
                "audit.public_key",
                "must be the base64 Ed25519 public key `tiergate audit keygen` printed".into(),
            );
        }
        let retention = parse_duration(&f.audit.retention)
            .map_err(|m| push("audit.retention", m))
            .ok();
        let checkpoint_log = f.audit.checkpoint_log.map(|p| base.join(p));
        match (storage, retention) {
            (Some(storage), Some(retention)) if errors.is_empty() => Ok(AuditReader {
                storage,
                public_key: key,
                checkpoint_log,
                retention,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }
}

/// The length a standard base64 text decodes to (none: not base64).
fn base64_len(s: &str) -> Option<usize> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .map(|b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "bDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=";

    #[test]
    fn a_reader_needs_the_audit_database_and_the_public_key_only() {
        let text = format!(
            "[audit]\nstorage = {{ env = \"AUDIT_DB\" }}\npublic_key = \"{KEY}\"\n\
             checkpoint_log = \"checkpoints.jsonl\"\n"
        );
        assert!(AuditReader::is_one(&text));
        let env = |n: &str| (n == "AUDIT_DB").then(|| "postgres://reader@db/tiergate".to_owned());
        let r = AuditReader::parse(&text, Path::new("/etc/tiergate"), &env);
        let r = r.map_err(|e| e.to_string());
        assert!(
            matches!(&r, Ok(r) if r.checkpoint_log == Some(PathBuf::from("/etc/tiergate/checkpoints.jsonl"))),
            "{r:?}"
        );
        let bad = "[audit]\nstorage = \"mysql://x\"\npublic_key = \"nope\"\n";
        let e = AuditReader::parse(bad, Path::new("."), &env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("audit.storage") && e.contains("audit.public_key"),
            "{e}"
        );
        // The gateway's own configuration is not one.
        assert!(!AuditReader::is_one(
            "listen = \"127.0.0.1:0\"\n[audit]\npublic_key = \"x\"\n"
        ));
    }
}
