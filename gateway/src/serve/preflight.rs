//! Everything starting the server needs that can fail, tried before anything starts, every
//! problem reported at once with the setting it concerns (as `tiergate check-config` reports
//! the file's): certificates, listening ports, the upstream's address, keys, storage, rate
//! limiting, the sign-in broker.

use crate::chain::sign::Signer;
use crate::credentials::Sealer;
use crate::limiter::Limiter;
use crate::metrics::Metrics;
use crate::sso::Broker;
use crate::store::Store;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use tiergate_broker::tokens::Issuer;
use tiergate_certs::LoadedCert;
use tiergate_config::Config;
use tokio::runtime::Runtime;

/// What the checks produced, ready to assemble.
pub(super) struct Checked {
    /// The partner listener's certificates (none: plain TCP).
    pub certs: Vec<LoadedCert>,
    /// The sign-in broker and the address its listener binds.
    pub sso: Option<(Broker, SocketAddr)>,
    /// What the listeners and background services share.
    pub resources: Resources,
}

/// The resources the checks opened.
pub(super) struct Resources {
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    pub metrics_at: Option<SocketAddr>,
    pub upstream: SocketAddr,
    pub store: Store,
    pub audit_store: Store,
    pub signer: Signer,
    pub tokens: Option<Arc<Issuer>>,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<Limiter>,
}

/// Problems found so far, each naming its setting.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn take<T>(&mut self, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

/// Runs every check; `rt` is the storage runtime, which owns what storage and the broker
/// open for the life of the process.
pub(super) fn check(config: &Config, rt: &Runtime) -> Result<Checked, String> {
    let mut p = Problems::default();
    let certs = p.take(crate::tls::load_all(&config.tls.certificates).map_err(|e| e.join("\n")));
    let listen = p.take(bind("listen", config.listen));
    let admin = p.take(bind("admin_listen", config.admin_listen));
    let metrics_at = config
        .metrics_listen
        .and_then(|m| p.take(bind("metrics_listen", m)));
    let sso_at = config
        .sso
        .as_ref()
        .and_then(|s| p.take(bind("sso.listen", s.listen)));
    let upstream = p.take(crate::upstream::resolve(&config.upstream));
    let Keys { signer, tokens } = keys(config, &mut p);
    p.0.extend(place_problems(config));
    let metrics = p.take(Metrics::new().map_err(|e| format!("metrics: {e}")));
    let limiter = metrics.as_ref().and_then(|m| {
        p.take(
            Limiter::new(config.ratelimit.clone(), m.registry())
                .map_err(|e| format!("ratelimit: {e}")),
        )
    });
    let store = p.take(
        rt.block_on(Store::connect(&config.storage))
            .map_err(|e| format!("storage.url: {e}")),
    );
    let audit_store = if config.audit.storage == config.storage {
        store.clone()
    } else {
        p.take(
            rt.block_on(Store::connect(&config.audit.storage))
                .map_err(|e| format!("audit.storage: {e}")),
        )
    };
    // Built on the storage runtime, which outlives the server: the Redis connection's driver
    // task lives there. It serves the partner listener's certificates, if it has any.
    let tls = !config.tls.certificates.is_empty();
    let sso = match (&config.sso, sso_at) {
        (Some(s), Some(at)) => p
            .take(rt.block_on(Broker::build(s, at, tls)))
            .map(|b| (b, at)),
        _ => None,
    };
    if !p.0.is_empty() {
        return Err(format!(
            "cannot start; {} problem(s):\n{}",
            p.0.len(),
            p.0.join("\n")
        ));
    }
    // Without a problem, every check produced its value.
    let lost = || "a startup check lost its result".to_owned();
    Ok(Checked {
        certs: certs.ok_or_else(lost)?,
        sso,
        resources: Resources {
            listen: listen.ok_or_else(lost)?,
            admin: admin.ok_or_else(lost)?,
            metrics_at,
            upstream: upstream.ok_or_else(lost)?,
            store: store.ok_or_else(lost)?,
            audit_store: audit_store.ok_or_else(lost)?,
            signer: signer.ok_or_else(lost)?,
            tokens,
            metrics: Arc::new(metrics.ok_or_else(lost)?),
            limiter: Arc::new(limiter.ok_or_else(lost)?),
        },
    })
}

/// Checks that an address can be bound (Pingora panics on a failed bind); port 0 picks a
/// free port. The port is released again for Pingora to bind.
fn bind(setting: &str, addr: SocketAddr) -> Result<SocketAddr, String> {
    TcpListener::bind(addr)
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("{setting}: {addr}: {e}"))
}

/// The keys a configuration gives, opened (none where a key cannot be used).
struct Keys {
    signer: Option<Signer>,
    tokens: Option<Arc<Issuer>>,
}

/// Opens the audit signing key, the master key and the token keys; each one that cannot be
/// used is a problem naming its setting.
fn keys(config: &Config, p: &mut Problems) -> Keys {
    let signer = p.take(
        Signer::from_base64_pkcs8(config.audit.signing_key.expose())
            .map_err(|e| format!("audit.signing_key: {e}")),
    );
    p.take(
        Sealer::new(config.credentials.master_key.expose())
            .map_err(|e| format!("credentials.master_key: {e}")),
    );
    let tokens = match &config.tokens {
        Some(t) => p.take(issuer(t).map(Arc::new)),
        None => None,
    };
    Keys { signer, tokens }
}

/// What is wrong with the keys a configuration gives and the places its files go, each with
/// its setting: `tiergate check-config` reports these too, so a key that cannot be used or a
/// missing folder fails the check, not the start.
pub(crate) fn key_problems(config: &Config) -> Vec<String> {
    let mut p = Problems::default();
    keys(config, &mut p);
    p.0.extend(place_problems(config));
    p.0
}

/// Folders missing for the files it writes, each with its setting.
fn place_problems(config: &Config) -> impl Iterator<Item = String> {
    config
        .place_problems()
        .into_iter()
        .map(|e| format!("{}: {}", e.path, e.message))
}

/// The token issuer `[tokens]` describes.
fn issuer(t: &tiergate_config::tokens::TokenSettings) -> Result<Issuer, String> {
    let previous: Vec<&[u8]> = t
        .previous_keys
        .iter()
        .map(|k| k.expose().as_slice())
        .collect();
    let signing = t.signing_key.expose();
    Issuer::rotated(&t.issuer, &t.audience, t.ttl, signing, &previous)
        .map_err(|e| format!("tokens.signing_key: {e}"))
}
