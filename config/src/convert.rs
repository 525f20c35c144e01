//! File schema -> typed [`Config`]: the one place where values are validated.

use crate::duration::positive;
use crate::file::{File, GrantSection, PolicySection};
use crate::secret::secret;
use crate::url::url;
use crate::{
    Config, ConfigError, ConfigErrors, CredentialSettings, Distributor, LogFormat, Secret,
    ServerSettings, Storage, Upstream, parse_duration,
};
use base64::Engine;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use tiergate_policy::{GrantSpec, Rules, RulesSpec, Tier};

struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }
    fn take<T>(&mut self, path: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.push(path, m)).ok()
    }
}

pub fn convert(
    f: File,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut e = Errors(Vec::new());
    let ratelimit = crate::ratelimit::convert(f.ratelimit, base, env, &mut e.0);
    let tokens = crate::tokens::convert(f.tokens, base, env, &mut e.0);
    let listen = e.take("listen", addr(&f.listen));
    let admin_listen = e.take("admin_listen", addr(&f.admin_listen));
    if let (Some(a), Some(b)) = (listen, admin_listen)
        && a == b
        && a.port() != 0
    {
        e.push("admin_listen", "must differ from listen");
    }
    let threads = NonZeroUsize::new(f.server.threads);
    if threads.is_none() {
        e.push("server.threads", "must be at least 1");
    }
    let grace = e.take(
        "server.grace_period",
        parse_duration(&f.server.grace_period),
    );
    let shutdown = e.take(
        "server.shutdown_timeout",
        parse_duration(&f.server.shutdown_timeout),
    );
    let timeout = e.take("upstream.timeout", positive(&f.upstream.timeout));
    let upstream = e.take("upstream.url", upstream_url(&f.upstream.url));
    for (path, v) in [
        ("distributor.partner_id", &f.distributor.partner_id),
        ("distributor.access_key", &f.distributor.access_key),
    ] {
        if v.trim().is_empty() {
            e.push(path, "must not be empty");
        }
    }
    let dist_sk = e.take(
        "distributor.secret_key",
        secret(&f.distributor.secret_key, base, env),
    );
    if dist_sk.as_ref().is_some_and(String::is_empty) {
        e.push("distributor.secret_key", "must not be empty");
    }
    let mut resellers = Vec::new();
    for (i, r) in f.resellers.iter().enumerate() {
        let path = format!("resellers[{i}].partner_id");
        if r.partner_id.trim().is_empty() {
            e.push(&path, "must not be empty");
        } else if r.partner_id == f.distributor.partner_id {
            e.push(&path, "is the distributor itself");
        } else if resellers.contains(&r.partner_id) {
            e.push(&path, format!("`{}` is listed twice", r.partner_id));
        } else {
            resellers.push(r.partner_id.clone());
        }
    }
    let owner = |path: &str, u: Option<&crate::url::UrlSource>, e: &mut Errors| match u {
        Some(u) => e.take(path, url(u, base, env)).map(Some),
        None => Some(None),
    };
    let storage_owner = owner(
        "storage.migrate_url",
        f.storage.migrate_url.as_ref(),
        &mut e,
    );
    let storage = e
        .take("storage.url", url(&f.storage.url, base, env))
        .and_then(|u| e.take("storage.url", storage(&u, base)))
        .zip(storage_owner)
        .and_then(|(s, o)| e.take("storage.migrate_url", owned(s, o)));
    let master_key = e
        .take(
            "credentials.master_key",
            secret(&f.credentials.master_key, base, env),
        )
        .and_then(|k| e.take("credentials.master_key", master_key(&k)));
    let cache_ttl = e.take(
        "credentials.cache_ttl",
        parse_duration(&f.credentials.cache_ttl),
    );
    let stale_for = e.take(
        "credentials.stale_for",
        parse_duration(&f.credentials.stale_for),
    );
    let cache_ttl = cache_ttl.zip(stale_for);
    let clock_skew = e.take("clock_skew", positive(&f.clock_skew));
    let rules = rules(&f.policy, &mut e);
    let sync_interval = graph(&f.graph, &mut e);
    let telemetry = telemetry(&f.telemetry, &mut e);
    let tls = tls(&f.tls, base, &mut e);
    let audit_key = e.take("audit.signing_key", secret(&f.audit.signing_key, base, env));
    // The audit database is the main one (with its owner) unless `audit.storage` names
    // another, whose owner is then `audit.migrate_url`.
    let audit_storage = match (&f.audit.storage, &f.audit.migrate_url) {
        (None, None) => storage.clone(),
        (at, m) => {
            let o = owner("audit.migrate_url", m.as_ref(), &mut e);
            e.take(
                "audit.storage",
                url(at.as_ref().unwrap_or(&f.storage.url), base, env),
            )
            .and_then(|u| e.take("audit.storage", self::storage(&u, base)))
            .zip(o)
            .and_then(|(s, o)| e.take("audit.migrate_url", owned(s, o)))
        }
    };
    let checkpoint_interval = e.take(
        "audit.checkpoint_interval",
        positive(&f.audit.checkpoint_interval),
    );
    let retention = e.take("audit.retention", positive(&f.audit.retention));
    let audit = match (audit_key, audit_storage, checkpoint_interval, retention) {
        (Some(k), Some(s), Some(c), Some(r)) => Some(crate::AuditSettings {
            signing_key: Secret::new(k),
            storage: s,
            checkpoint_log: base.join(&f.audit.checkpoint_log),
            checkpoint_interval: c,
            retention: r,
        }),
        _ => None,
    };
    let ca_file = f.upstream.ca_file.as_ref().map(|p| base.join(p));
    if let Some(p) = &ca_file
        && !p.is_file()
    {
        e.push(
            "upstream.ca_file",
            format!("{} is not a readable file", p.display()),
        );
    }
    let log_format = match f.log_format.as_str() {
        "json" => Some(LogFormat::Json),
        "pretty" => Some(LogFormat::Pretty),
        other => {
            e.push(
                "log_format",
                format!("`{other}`: expected `json` or `pretty`"),
            );
            None
        }
    };
    let sso = crate::sso::convert(
        f.sso,
        base,
        env,
        &resellers,
        ratelimit.redis.as_ref(),
        &mut e.0,
    );
    let metrics_listen = f
        .metrics_listen
        .as_ref()
        .and_then(|m| e.take("metrics_listen", addr(m)));
    // Plaintext only on loopback, or where the file says so: a listener anyone can reach
    // carries signatures, sessions and audit records.
    let tls_on = tls.as_ref().is_some_and(|t| !t.certificates.is_empty());
    let plain = |at: Option<SocketAddr>, allowed: bool| {
        !tls_on && !allowed && at.is_some_and(|a| !a.ip().is_loopback())
    };
    let refuse = "plaintext on a non-loopback address: configure [[tls.certificates]], or set";
    if plain(listen, f.listen_plaintext) {
        e.push(
            "listen",
            format!("{refuse} listen_plaintext = true (TLS ends in front)"),
        );
    }
    if plain(admin_listen, f.admin_plaintext) {
        e.push("admin_listen", format!("{refuse} admin_plaintext = true"));
    }
    if let Some(s) = &sso
        && plain(Some(s.listen), s.plaintext)
    {
        e.push(
            "sso.listen",
            format!("{refuse} sso.plaintext = true (TLS ends in front)"),
        );
    }
    match (
        listen,
        admin_listen,
        threads,
        grace,
        shutdown,
        timeout,
        upstream,
        dist_sk,
        storage,
        master_key,
        cache_ttl,
        clock_skew,
        log_format,
        rules,
        sync_interval,
        tls,
        audit,
    ) {
        (
            Some(listen),
            Some(admin_listen),
            Some(threads),
            Some(grace_period),
            Some(shutdown_timeout),
            Some(timeout),
            Some((host, port, tls)),
            Some(sk),
            Some(storage),
            Some(master_key),
            Some((cache_ttl, stale_for)),
            Some(clock_skew),
            Some(log_format),
            Some(rules),
            Some(sync_interval),
            Some(tls_settings),
            Some(audit),
        ) if e.0.is_empty() => Ok(Config {
            listen,
            admin_listen,
            admin_plaintext: f.admin_plaintext,
            metrics_listen,
            server: ServerSettings {
                threads,
                grace_period,
                shutdown_timeout,
            },
            upstream: Upstream {
                host,
                port,
                tls,
                timeout,
                ca_file,
            },
            distributor: Distributor {
                partner_id: f.distributor.partner_id,
                access_key: f.distributor.access_key,
                secret_key: Secret::new(sk),
            },
            resellers,
            storage,
            credentials: CredentialSettings {
                master_key: Secret::new(master_key),
                cache_ttl,
                stale_for,
            },
            clock_skew,
            log_format,
            rules,
            graph: sync_interval,
            tls: tls_settings,
            audit,
            ratelimit: crate::ratelimit::RateLimits {
                // A call never waits for the vendor budget past the upstream timeout.
                upstream_wait: ratelimit.upstream_wait.min(timeout),
                ..ratelimit
            },
            tokens,
            sso,
            telemetry,
            from_env: Vec::new(),
        }),
        _ => Err(ConfigErrors(e.0)),
    }
}

fn addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not an address like 127.0.0.1:8080"))
}

fn upstream_url(url: &str) -> Result<(String, u16, bool), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("`{url}` must start with https:// or http://"));
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "`{url}` must be scheme://host[:port] with no path, query or user info"
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{p}` is not a port number"))?;
            (h.to_owned(), port)
        }
        _ => (authority.to_owned(), if tls { 443 } else { 80 }),
    };
    Ok((host, port, tls))
}

pub(crate) fn storage(url: &str, base: &Path) -> Result<Storage, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Storage::Postgres {
            url: url.into(),
            owner: None,
        });
    }
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Err(format!("`{url}` must start with sqlite:// or postgres://"));
    };
    if path.is_empty() {
        return Err("sqlite:// needs a file path".into());
    }
    let path = if path == ":memory:" || Path::new(path).is_absolute() {
        path.to_owned()
    } else {
        base.join(path).display().to_string()
    };
    Ok(Storage::Sqlite {
        url: format!("sqlite://{path}"),
    })
}

/// A storage with its schema owner's URL: PostgreSQL only, and the same database.
fn owned(s: Storage, owner: Option<String>) -> Result<Storage, String> {
    let Some(o) = owner else { return Ok(s) };
    let Storage::Postgres { url, .. } = s else {
        return Err("needs a postgres:// storage (SQLite has no roles)".into());
    };
    if !(o.starts_with("postgres://") || o.starts_with("postgresql://")) {
        return Err("must be a postgres:// URL".into());
    }
    // The database is the last path segment, before any parameters.
    let database = |u: &str| {
        u.rsplit_once('/')
            .map(|(_, d)| d.split('?').next().unwrap_or_default().to_owned())
    };
    if database(&o) != database(&url) {
        return Err("must name the same database as the storage URL".into());
    }
    Ok(Storage::Postgres {
        url,
        owner: Some(o),
    })
}

fn master_key(b64: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "must be base64 (e.g. `openssl rand -base64 32`)".to_owned())?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("must decode to 32 bytes, got {}", b.len()))
}

fn grant(g: &GrantSection) -> GrantSpec {
    GrantSpec {
        allow: g.allow.clone(),
        deny: g.deny.clone(),
    }
}

fn rules(p: &PolicySection, e: &mut Errors) -> Option<Rules> {
    let mut spec = RulesSpec::default();
    for (name, g) in &p.tiers {
        match name.parse::<Tier>() {
            Ok(t) => {
                spec.tiers.insert(t, grant(g));
            }
            Err(err) => e.push(&format!("policy.tiers.{name}"), err.to_string()),
        }
    }
    for (name, g) in &p.roles {
        spec.roles.insert(name.clone(), grant(g));
    }
    match Rules::compile(&spec) {
        Ok(r) => Some(r),
        Err(errs) => {
            for r in errs {
                e.push(&format!("policy.{}", r.path), r.message);
            }
            None
        }
    }
}

fn tls(t: &crate::file::TlsSection, base: &Path, e: &mut Errors) -> Option<crate::TlsSettings> {
    let spec = tiergate_certs::TlsSpec {
        profile: t.profile.clone(),
        versions: t.versions.clone(),
        suites: t.suites.clone(),
        dangerously_allow_outside_profile: t.dangerously_allow_outside_profile.clone(),
    };
    let policy = match tiergate_certs::TlsPolicy::compile(&spec) {
        Ok(p) => Some(p),
        Err(errs) => {
            for err in errs {
                e.push(&format!("tls.{}", err.path), err.message);
            }
            None
        }
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut certificates = Vec::new();
    for (i, c) in t.certificates.iter().enumerate() {
        let spec = tiergate_certs::CertSpec {
            chain: base.join(&c.chain),
            key: base.join(&c.key),
        };
        // Checked here so `check-config` and startup report every bad file, never a panic.
        if let Err(err) = tiergate_certs::load(&spec, now) {
            e.push(&format!("tls.certificates[{i}]"), err.to_string());
        }
        certificates.push(spec);
    }
    let reload_interval = e.take("tls.reload_interval", positive(&t.reload_interval));
    Some(crate::TlsSettings {
        policy: policy?,
        certificates,
        reload_interval: reload_interval?,
    })
}

fn telemetry(f: &crate::file::TelemetrySection, e: &mut Errors) -> crate::Telemetry {
    let Some(url) = &f.otlp_endpoint else {
        return crate::Telemetry::default();
    };
    let otlp = e
        .take("telemetry.otlp_endpoint", upstream_url(url))
        .map(|(host, port, tls)| crate::Otlp {
            host,
            port,
            tls,
            service_name: f.service_name.clone(),
        });
    crate::Telemetry { otlp }
}

fn graph(f: &crate::file::GraphSection, e: &mut Errors) -> Option<crate::GraphSettings> {
    let sync_interval = e.take("graph.sync_interval", positive(&f.sync_interval));
    let full_sync_interval = e.take("graph.full_sync_interval", positive(&f.full_sync_interval));
    let share = f.budget_share;
    let budget_share = e.take(
        "graph.budget_share",
        if share > 0.0 && share <= 1.0 {
            Ok(share)
        } else {
            Err(format!(
                "must be above 0 and at most 1 (a share), not {share}"
            ))
        },
    );
    Some(crate::GraphSettings {
        sync_interval: sync_interval?,
        full_sync_interval: full_sync_interval?,
        budget_share: budget_share?,
    })
}
