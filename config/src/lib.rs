//! Tiergate's configuration: the file schema (a serde mirror with `deny_unknown_fields`) and
//! the typed [`Config`] the rest of the code sees.
//!
//! Invariants: this is the only crate that reads configuration files and the environment;
//! conversion is the only place validation happens, and it collects every error with its
//! path (`upstream.url: ...`) instead of stopping at the first.
#![forbid(unsafe_code)]

pub mod audit_reader;
mod convert;
mod duration;
pub mod env;
mod errors;
mod file;
mod places;
pub mod ratelimit;
mod secret;
pub mod sso;
pub mod tokens;
pub mod url;

pub use audit_reader::AuditReader;
pub use duration::parse_duration;
pub use errors::{ConfigError, ConfigErrors};
pub use secret::Secret;
pub use url::Url;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The partner API listener (port 0: any free port).
    pub listen: SocketAddr,
    /// The admin listener: metrics, health, readiness.
    pub admin_listen: SocketAddr,
    /// Whether the admin listener stays plaintext although TLS is configured (or may be on a
    /// non-loopback address without TLS): only when set explicitly.
    pub admin_plaintext: bool,
    /// A plaintext listener serving only `/metrics` (for a scraper that cannot do TLS).
    pub metrics_listen: Option<SocketAddr>,
    /// Process settings.
    pub server: ServerSettings,
    /// The vendor's partner API.
    pub upstream: Upstream,
    /// The distributor whose credentials sign every forwarded call.
    pub distributor: Distributor,
    /// The distributor's cloud resellers known to Tiergate.
    pub resellers: Vec<String>,
    /// Where credentials are stored.
    pub storage: Storage,
    /// Credential store settings.
    pub credentials: CredentialSettings,
    /// Accepted clock skew of `X-Sdk-Date`, either side.
    pub clock_skew: Duration,
    /// Log output format.
    pub log_format: LogFormat,
    /// What each tier and reseller staff role may call.
    pub rules: tiergate_policy::Rules,
    /// Relationship graph settings.
    pub graph: GraphSettings,
    /// TLS policy and the listener's certificates.
    pub tls: TlsSettings,
    /// The audit log.
    pub audit: AuditSettings,
    /// Rate limits (per principal, per tier, and the shared upstream budget).
    pub ratelimit: ratelimit::RateLimits,
    /// Bearer tokens for staff and auditors (absent: token mode off).
    pub tokens: Option<tokens::TokenSettings>,
    /// The identity broker (absent: SSO off).
    pub sso: Option<sso::SsoSettings>,
    /// The keys the environment set (`TIERGATE__...`, [`env`]), dotted.
    pub from_env: Vec<String>,
    /// Where request spans go (none: nowhere).
    pub telemetry: Telemetry,
}

/// Trace export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Telemetry {
    /// An OpenTelemetry collector's OTLP/HTTP endpoint: spans are posted to its
    /// `/v1/traces` (none: no export).
    pub otlp: Option<Otlp>,
}

/// An OTLP/HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otlp {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// HTTPS.
    pub tls: bool,
    /// `service.name` of the spans.
    pub service_name: String,
}

/// The audit log's settings.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Ed25519 signing key, base64 PKCS#8 (`tiergate audit keygen`); kept out of the database.
    pub signing_key: Secret<String>,
    /// Where records are written (default: the main storage).
    pub storage: Storage,
    /// File (outside the database) every signed checkpoint is appended to.
    pub checkpoint_log: std::path::PathBuf,
    /// Time between checkpoints.
    pub checkpoint_interval: Duration,
    /// How far back queries reach by default.
    pub retention: Duration,
}

/// The TLS policy (listener and upstream) and the listener's certificates.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The compiled policy.
    pub policy: tiergate_certs::TlsPolicy,
    /// Certificates to serve, the first being the default; none means a plain listener.
    pub certificates: Vec<tiergate_certs::CertSpec>,
    /// How often certificate files are checked for changes (SIGHUP reloads at once).
    pub reload_interval: Duration,
}

/// How the relationship graph is kept current.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphSettings {
    /// Time between incremental syncs (what the list operations' time filters say is new).
    pub sync_interval: Duration,
    /// Time between full syncs (which also catch removals and changes).
    pub full_sync_interval: Duration,
    /// The share of each list operation's vendor budget the sync may spend (0 to 1).
    pub budget_share: f64,
}

/// Worker threads and shutdown timing.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Worker threads of the proxy service.
    pub threads: NonZeroUsize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub grace_period: Duration,
    /// How long to wait for services to stop after the grace period.
    pub shutdown_timeout: Duration,
}

/// The upstream partner API endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS towards the upstream.
    pub tls: bool,
    /// Timeout for connecting and for each read.
    pub timeout: Duration,
    /// Trust anchors for an `https` upstream (else the system's).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Upstream {
    /// `host:port`, as sent in the `Host` header upstream.
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The distributor's own vendor credentials.
#[derive(Debug, Clone)]
pub struct Distributor {
    /// Its partner (account) id, sent as `X-Domain-Id` upstream.
    pub partner_id: String,
    /// Its AK.
    pub access_key: String,
    /// Its SK.
    pub secret_key: Secret<String>,
}

/// The credential database. `Debug` hides a password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Storage {
    /// Embedded SQLite (the default): a file path, created if missing.
    Sqlite {
        /// `sqlite://` URL.
        url: String,
    },
    /// PostgreSQL.
    Postgres {
        /// `postgres://` URL: the role the gateway runs as.
        url: String,
        /// The schema owner's URL (`migrate_url`), if separate: migrations run as the owner,
        /// and the gateway's role gets only the privileges it needs (the audit tables: read
        /// and insert only).
        owner: Option<String>,
    },
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Sqlite { url } => write!(f, "Sqlite({url:?})"),
            Storage::Postgres { url, owner } => write!(
                f,
                "Postgres({:?}, owner: {:?})",
                url::redacted(url),
                owner.as_deref().map(url::redacted)
            ),
        }
    }
}

/// How Tiergate-issued credentials are kept.
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// Key that encrypts SKs at rest (AES-256-GCM).
    pub master_key: Secret<[u8; 32]>,
    /// How long a credential looked up from storage is trusted before it is read again
    /// (bounds how long a revocation takes to reach a running gateway).
    pub cache_ttl: Duration,
    /// While the store does not answer, how long past its last successful lookup a cached
    /// credential still serves calls that move nothing (0: not at all).
    pub stale_for: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::one("", format!("cannot read {}: {e}", path.display())))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let base = std::fs::canonicalize(dir.unwrap_or(Path::new(".")))
            .unwrap_or_else(|_| dir.unwrap_or(Path::new(".")).to_path_buf());
        Self::parse(&text, &base)
    }

    /// Parses configuration text with the process environment's overrides ([`env`]);
    /// relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigErrors> {
        Self::parse_with(text, base, std::env::vars())
    }

    /// Parses configuration text with the overrides among `vars`.
    pub fn parse_with(
        text: &str,
        base: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let (raw, from_env): (file::File, _) = env::parse(text, vars)?;
        let mut config = convert::convert(raw, base, &|name| std::env::var(name).ok())?;
        config.from_env = from_env;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
