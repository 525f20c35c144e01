//! The three listeners: the partner API (the pipeline of [`crate::proxy`]), the admin
//! listener and, with `[sso]`, the sign-in listener; and, with `metrics_listen`, a plaintext
//! one serving only `/metrics`. With certificates, all three serve them and the cipher policy
//! and reload them together (the admin listener stays plaintext only with `admin_plaintext`).

use super::Shared;
use crate::admin::{
    Admin, MetricsOnly, audit::AuditApi, delegations::DelegationApi, tokens::TokenApi,
};
use crate::console::Console;
use crate::console::session::Sessions;
use crate::graph::lookup::Lookup;
use crate::proxy::Gateway;
use crate::sso::{Broker, Parts, SsoApp};
use crate::tls::CertReload;
use crate::upstream::UpstreamClient;
use pingora::server::Server;
use pingora::services::listening::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use tiergate_certs::{CertStore, LoadedCert};
use tiergate_config::Config;

/// Adds the listeners; answers the certificate reloader when there are certificates.
pub(super) fn add(
    server: &mut Server,
    config: &Config,
    s: &Shared,
    certs: Vec<LoadedCert>,
    sso: Option<(Broker, SocketAddr)>,
) -> Result<Option<CertReload>, String> {
    let reload = (!certs.is_empty()).then(|| cert_store(config, s, certs));
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        gateway(config, s),
        "tiergate",
    );
    let listen = s.listen.to_string();
    match &reload {
        Some(r) => {
            let tls = crate::tls::settings(r.store.clone(), s.metrics.clone())
                .map_err(|e| format!("TLS listener: {e}"))?;
            proxy.add_tls_with_settings(&listen, None, tls);
        }
        None => proxy.add_tcp(&listen),
    }
    server.add_service(proxy);
    let shown = Shown {
        certs: reload.as_ref().map(|r| r.store.clone()),
        idps: sso.as_ref().map(|(b, _)| b.federation()),
    };
    let mut admin = Service::new("tiergate-admin".into(), admin(config, s, shown));
    match (&reload, config.admin_plaintext) {
        (Some(r), false) => {
            let tls = crate::tls::settings(r.store.clone(), s.metrics.clone())
                .map_err(|e| format!("admin TLS listener: {e}"))?;
            admin.add_tls_with_settings(&s.admin.to_string(), None, tls);
        }
        _ => admin.add_tcp(&s.admin.to_string()),
    }
    server.add_service(admin);
    if let Some(at) = s.metrics_at {
        let mut m = Service::new("tiergate-metrics".into(), MetricsOnly(s.metrics.clone()));
        m.add_tcp(&at.to_string());
        server.add_service(m);
    }
    if let Some((broker, bound)) = sso {
        let parts = Parts {
            guard: s.guard.clone(),
            store: s.store.clone(),
            graph: s.graph.clone(),
            audit: s.audit.clone(),
            distributor: config.distributor.partner_id.clone(),
        };
        let app = SsoApp(Arc::new(broker.serve(parts)));
        let mut svc = Service::new("tiergate-sso".into(), app);
        match &reload {
            Some(r) => {
                let tls = crate::tls::settings(r.store.clone(), s.metrics.clone())
                    .map_err(|e| format!("sso TLS listener: {e}"))?;
                svc.add_tls_with_settings(&bound.to_string(), None, tls);
            }
            None => svc.add_tcp(&bound.to_string()),
        }
        server.add_service(svc);
        println!("tiergate sso on {bound}");
    }
    Ok(reload)
}

/// The certificates as served (handshake failures counted), and their reloader.
fn cert_store(config: &Config, s: &Shared, certs: Vec<LoadedCert>) -> CertReload {
    let served = config
        .tls
        .policy
        .effective
        .iter()
        .map(|cs| u16::from(cs.suite()))
        .collect();
    let m = s.metrics.clone();
    let store = Arc::new(
        CertStore::new(certs)
            .observe_failures(served, Arc::new(move |reason| m.tls_failure(reason))),
    );
    crate::tls::publish_expiry(&s.metrics, &store.current());
    CertReload {
        store,
        specs: config.tls.certificates.clone(),
        interval: config.tls.reload_interval,
        metrics: s.metrics.clone(),
    }
}

/// The partner API pipeline.
fn gateway(config: &Config, s: &Shared) -> Gateway {
    Gateway {
        guard: s.guard.clone(),
        credentials: s.credentials.clone(),
        metrics: s.metrics.clone(),
        upstream: config.upstream.clone(),
        upstream_addr: s.upstream,
        distributor_key: s.distributor_key.clone(),
        skew: skew(config),
        rules: config.rules.clone(),
        graph: s.graph.clone(),
        store: s.store.clone(),
        audit: s.audit.clone(),
        reconcile: s.reconcile.clone(),
        limiter: s.limiter.clone(),
        lookup: Arc::new(Lookup::new(
            s.vendor_client(config),
            s.distributor_key.clone(),
            config.distributor.partner_id.clone(),
        )),
        direct: Arc::new(UpstreamClient::new(config.upstream.clone(), s.upstream)),
        spans: s.spans.clone(),
    }
}

/// What the console shows that only the listeners know: the served certificates and the
/// registered reseller IdPs.
struct Shown {
    certs: Option<Arc<CertStore>>,
    idps: Option<Vec<crate::reads::federation::Idp>>,
}

/// Vendor budgets in calls per second: `*` for every API without its own, then each own.
fn budgets(config: &Config) -> Vec<(String, f64)> {
    let per_second = |l: &tiergate_config::ratelimit::Limit| {
        f64::from(l.quota.rate.get()) / l.quota.period.as_secs_f64().max(1e-9)
    };
    let r = &config.ratelimit;
    std::iter::once(("*".to_owned(), per_second(&r.upstream)))
        .chain(
            r.upstream_routes
                .iter()
                .map(|(k, l)| (k.clone(), per_second(l))),
        )
        .collect()
}

/// The admin listener's app.
fn admin(config: &Config, s: &Shared, shown: Shown) -> Admin {
    let skew = skew(config);
    Admin {
        metrics: s.metrics.clone(),
        store: s.store.clone(),
        graph: s.graph.clone(),
        credentials: s.credentials.clone(),
        audit: AuditApi {
            guard: s.guard.clone(),
            credentials: s.credentials.clone(),
            audit: s.audit.clone(),
            skew,
            retention: config.audit.retention,
            tokens: s.tokens.clone(),
        },
        tokens: TokenApi {
            guard: s.guard.clone(),
            credentials: s.credentials.clone(),
            issuer: s.tokens.clone(),
            audit: s.audit.clone(),
            skew,
        },
        delegations: DelegationApi {
            guard: s.guard.clone(),
            credentials: s.credentials.clone(),
            audit: s.audit.clone(),
            skew,
            client: Arc::new(s.vendor_client(config)),
            key: s.distributor_key.clone(),
            tokens: s.tokens.clone(),
            graph: s.graph.clone(),
            store: s.store.clone(),
        },
        reads: crate::admin::reads::ReadApi {
            guard: s.guard.clone(),
            skew,
            tokens: s.tokens.clone(),
        },
        console: Console {
            sessions: Sessions::default(),
            credentials: s.credentials.clone(),
            audit: s.audit.clone(),
            guard: s.guard.clone(),
            retention: config.audit.retention,
            // Cookies are Secure when the admin listener serves TLS.
            secure: !config.tls.certificates.is_empty() && !config.admin_plaintext,
            overview: crate::reads::overview::Sources {
                metrics: s.metrics.clone(),
                audit: s.audit.clone(),
                graph: s.graph.clone(),
                certs: shown.certs,
                budgets: budgets(config),
            },
            tls: config.tls.policy.clone(),
            idps: shown.idps,
        },
    }
}

/// The accepted clock skew. Configuration bounds it to what a `Duration` holds; the fallback
/// is the vendor's window.
fn skew(config: &Config) -> time::Duration {
    time::Duration::try_from(config.clock_skew).unwrap_or(time::Duration::minutes(15))
}
