//! The file schema: a serde mirror of the TOML file. No validation here beyond shape.

use crate::secret::SecretSource;
use crate::url::UrlSource;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub listen: String,
    pub admin_listen: String,
    #[serde(default)]
    pub listen_plaintext: bool,
    #[serde(default)]
    pub admin_plaintext: bool,
    #[serde(default)]
    pub metrics_listen: Option<String>,
    #[serde(default)]
    pub server: ServerSection,
    pub upstream: UpstreamSection,
    pub distributor: DistributorSection,
    #[serde(default)]
    pub resellers: Vec<ResellerSection>,
    #[serde(default)]
    pub storage: StorageSection,
    pub credentials: CredentialsSection,
    #[serde(default)]
    pub policy: PolicySection,
    #[serde(default)]
    pub tls: TlsSection,
    pub audit: AuditSection,
    #[serde(default)]
    pub graph: GraphSection,
    #[serde(default)]
    pub telemetry: TelemetrySection,
    #[serde(default)]
    pub ratelimit: crate::ratelimit::Section,
    #[serde(default)]
    pub tokens: Option<crate::tokens::Section>,
    #[serde(default)]
    pub sso: Option<crate::sso::Section>,
    #[serde(default = "default_skew")]
    pub clock_skew: String,
    #[serde(default = "default_log")]
    pub log_format: String,
}

fn default_skew() -> String {
    "15m".into()
}
fn default_log() -> String {
    "json".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default = "default_threads")]
    pub threads: usize,
    #[serde(default = "default_grace")]
    pub grace_period: String,
    #[serde(default = "default_grace")]
    pub shutdown_timeout: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            grace_period: default_grace(),
            shutdown_timeout: default_grace(),
        }
    }
}

fn default_threads() -> usize {
    2
}
fn default_grace() -> String {
    "10s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    pub url: String,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: String,
}

fn default_timeout() -> String {
    "30s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributorSection {
    pub partner_id: String,
    pub access_key: String,
    pub secret_key: SecretSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResellerSection {
    pub partner_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    #[serde(default = "default_db")]
    pub url: UrlSource,
    #[serde(default)]
    pub migrate_url: Option<UrlSource>,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            url: default_db(),
            migrate_url: None,
        }
    }
}

fn default_db() -> UrlSource {
    UrlSource::Plain("sqlite://tiergate.db".into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSection {
    pub master_key: SecretSource,
    #[serde(default = "default_ttl")]
    pub cache_ttl: String,
    #[serde(default = "default_stale_for")]
    pub stale_for: String,
}

fn default_ttl() -> String {
    "5s".into()
}

fn default_stale_for() -> String {
    "5m".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    #[serde(default)]
    pub tiers: BTreeMap<String, GrantSection>,
    #[serde(default)]
    pub roles: BTreeMap<String, GrantSection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GrantSection {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    pub otlp_endpoint: Option<String>,
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: default_service_name(),
        }
    }
}

fn default_service_name() -> String {
    "tiergate".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSection {
    #[serde(default = "default_sync")]
    pub sync_interval: String,
    #[serde(default = "default_full_sync")]
    pub full_sync_interval: String,
    #[serde(default = "default_budget_share")]
    pub budget_share: f64,
}

impl Default for GraphSection {
    fn default() -> Self {
        Self {
            sync_interval: default_sync(),
            full_sync_interval: default_full_sync(),
            budget_share: default_budget_share(),
        }
    }
}

fn default_sync() -> String {
    "5m".into()
}

fn default_full_sync() -> String {
    "1d".into()
}

fn default_budget_share() -> f64 {
    0.3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    #[serde(default = "default_profile")]
    pub profile: String,
    #[serde(default = "default_versions")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub suites: Vec<String>,
    #[serde(default)]
    pub dangerously_allow_outside_profile: Vec<String>,
    #[serde(default)]
    pub certificates: Vec<CertSection>,
    #[serde(default = "default_reload")]
    pub reload_interval: String,
}

impl Default for TlsSection {
    fn default() -> Self {
        Self {
            profile: default_profile(),
            versions: default_versions(),
            suites: Vec::new(),
            dangerously_allow_outside_profile: Vec::new(),
            certificates: Vec::new(),
            reload_interval: default_reload(),
        }
    }
}

fn default_profile() -> String {
    tiergate_certs::VENDOR_DEFAULT.into()
}
fn default_versions() -> Vec<String> {
    vec!["1.2".into(), "1.3".into()]
}
fn default_reload() -> String {
    "10s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertSection {
    pub chain: String,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    pub signing_key: SecretSource,
    #[serde(default)]
    pub storage: Option<UrlSource>,
    #[serde(default)]
    pub migrate_url: Option<UrlSource>,
    #[serde(default = "default_checkpoint_log")]
    pub checkpoint_log: String,
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: String,
    #[serde(default = "default_retention")]
    pub retention: String,
}

fn default_checkpoint_log() -> String {
    "audit-checkpoints.jsonl".into()
}
fn default_checkpoint_interval() -> String {
    "1s".into()
}
fn default_retention() -> String {
    "365d".into()
}
