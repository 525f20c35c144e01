//! Assembling and running the server: storage runtime, credentials, listeners, Pingora.

use crate::admin::Admin;
use crate::credentials::UpstreamKey;
use crate::credentials::{Credentials, Subject};
use crate::graph::LiveGraph;
use crate::graph::service::SyncService;
use crate::metrics::Metrics;
use crate::proxy::Gateway;
use crate::store::Store;
use crate::upstream::UpstreamClient;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use tiergate_config::Config;

/// Runs until SIGINT (immediate) or SIGTERM (graceful). Every startup problem is returned,
/// never a panic.
pub fn run(config: Config, demo_partner: Option<String>) -> Result<(), String> {
    // First of all: the TLS policy becomes the process-wide provider, before Pingora (or
    // anything else) builds a rustls configuration from the default one.
    config
        .tls
        .policy
        .provider()
        .install_default()
        .map_err(|_| "a TLS crypto provider was installed before the TLS policy".to_owned())?;
    let certs = crate::tls::load_all(&config.tls.certificates).map_err(|e| e.join("\n"))?;
    // The storage pool lives on its own runtime for the whole process (see store.rs).
    let storage_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tiergate-storage")
        .enable_all()
        .build()
        .map_err(|e| format!("storage runtime: {e}"))?;
    let store = storage_rt
        .block_on(Store::connect(&config.storage))
        .map_err(|e| format!("storage: {e}"))?;
    let stored = storage_rt
        .block_on(store.graph().edges())
        .map_err(|e| format!("storage: {e}"))?;
    let graph = Arc::new(LiveGraph::from_stored(stored.into_iter().collect()));
    let audit_store = if config.audit.storage == config.storage {
        store.clone()
    } else {
        storage_rt
            .block_on(Store::connect(&config.audit.storage))
            .map_err(|e| format!("audit storage: {e}"))?
    };
    let signer = crate::audit::sign::Signer::from_base64_pkcs8(config.audit.signing_key.expose())
        .map_err(|e| e.to_string())?;
    let audit = crate::audit::Audit::new(
        audit_store,
        signer,
        Some(config.audit.checkpoint_log.clone()),
    );
    let credentials =
        Arc::new(Credentials::new(store.clone(), &config).map_err(|e| e.to_string())?);
    if let Some(partner) = demo_partner {
        let issued = graph
            .with(|g| storage_rt.block_on(credentials.issue(Subject::Partner(partner), g)))
            .map_err(|e| format!("demo credential: {e}"))?;
        let entry = crate::audit::record::Entry {
            kind: Some(crate::audit::record::Kind::Credential),
            operation: Some("issue".into()),
            principal: Some(issued.principal.partner_id.clone()),
            tier: Some(issued.principal.tier.to_string()),
            credential: Some(issued.access_key.clone()),
            outcome: Some("ok".into()),
            source: Some("serve --demo-credential".into()),
            ..Default::default()
        };
        storage_rt
            .block_on(audit.append(entry))
            .map_err(|e| format!("audit: {e}"))?;
        println!(
            "demo credential for {} ({}): access key {} secret key {}",
            issued.principal.partner_id,
            issued.principal.tier,
            issued.access_key,
            issued.secret_key.expose()
        );
    }
    let listen = pick(config.listen).map_err(|e| format!("listen {}: {e}", config.listen))?;
    let admin = pick(config.admin_listen)
        .map_err(|e| format!("admin_listen {}: {e}", config.admin_listen))?;
    let upstream_addr = crate::upstream::resolve(&config.upstream)?;
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let distributor_key = UpstreamKey::from(&config.distributor);
    // Config bounds the skew to what a Duration holds; the fallback is the vendor's window.
    let skew = time::Duration::try_from(config.clock_skew).unwrap_or(time::Duration::minutes(15));

    let ca_file = config
        .upstream
        .ca_file
        .as_ref()
        .map(|p| p.display().to_string());
    let conf = ServerConf {
        threads: config.server.threads.get(),
        ca_file: ca_file.clone(),
        grace_period_seconds: Some(config.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(config.server.shutdown_timeout.as_secs()),
        ..ServerConf::default()
    };
    let limiter = Arc::new(crate::limiter::Limiter::new(
        config.ratelimit.clone(),
        metrics.registry(),
    )?);
    let wake = Arc::new(tokio::sync::Notify::new());
    let distributor_principal = tiergate_policy::Principal {
        partner_id: config.distributor.partner_id.clone(),
        tier: tiergate_policy::Tier::Distributor,
        distributor_id: Some(config.distributor.partner_id.clone()),
        role: None,
    };
    let in_flight = crate::ledger::reconcile::in_flight(config.upstream.timeout);
    let reconcile = crate::ledger::reconcile::Service {
        reconciler: crate::ledger::reconcile::Reconciler {
            audit: audit.clone(),
            client: UpstreamClient::new(config.upstream.clone(), upstream_addr)
                .with_budget(limiter.clone(), distributor_principal.clone()),
            key: distributor_key.clone(),
            distributor: config.distributor.partner_id.clone(),
            horizon: in_flight,
        },
        wake: wake.clone(),
        interval: std::time::Duration::from_secs(60),
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let gateway = Gateway {
        credentials: credentials.clone(),
        metrics: metrics.clone(),
        upstream: config.upstream.clone(),
        upstream_addr,
        distributor_key: distributor_key.clone(),
        skew,
        rules: config.rules.clone(),
        graph: graph.clone(),
        store: store.clone(),
        audit: audit.clone(),
        reconcile: wake.clone(),
        limiter: limiter.clone(),
    };
    let sync = SyncService {
        client: UpstreamClient::new(config.upstream.clone(), upstream_addr)
            .with_budget(limiter.clone(), distributor_principal.clone()),
        key: distributor_key,
        graph: graph.clone(),
        store: store.clone(),
        interval: config.graph.sync_interval,
        metrics: metrics.clone(),
    };
    let mut proxy =
        pingora::proxy::http_proxy_service_with_name(&server.configuration, gateway, "tiergate");
    let tls_reload = if certs.is_empty() {
        proxy.add_tcp(&listen.to_string());
        None
    } else {
        let served = config
            .tls
            .policy
            .effective
            .iter()
            .map(|cs| u16::from(cs.suite()))
            .collect();
        let m = metrics.clone();
        let store = Arc::new(
            tiergate_certs::CertStore::new(certs)
                .observe_failures(served, Arc::new(move |reason| m.tls_failure(reason))),
        );
        crate::tls::publish_expiry(&metrics, &store.current());
        let settings = crate::tls::settings(store.clone(), metrics.clone())
            .map_err(|e| format!("TLS listener: {e}"))?;
        proxy.add_tls_with_settings(&listen.to_string(), None, settings);
        Some(crate::tls::CertReload {
            store,
            specs: config.tls.certificates.clone(),
            interval: config.tls.reload_interval,
            metrics: metrics.clone(),
        })
    };
    let tokens = match &config.tokens {
        Some(t) => Some(Arc::new(
            issuer(t).map_err(|e| format!("tokens.signing_key: {e}"))?,
        )),
        None => None,
    };
    let admin_app = Admin {
        metrics: metrics.clone(),
        store: store.clone(),
        graph: graph.clone(),
        audit: crate::admin::audit::AuditApi {
            credentials: credentials.clone(),
            audit: audit.clone(),
            skew,
            retention: config.audit.retention,
            tokens: tokens.clone(),
        },
        tokens: crate::admin::tokens::TokenApi {
            credentials: credentials.clone(),
            issuer: tokens.clone(),
            audit: audit.clone(),
            skew,
        },
        delegations: crate::admin::delegations::DelegationApi {
            credentials: credentials.clone(),
            audit: audit.clone(),
            skew,
            client: Arc::new(
                UpstreamClient::new(config.upstream.clone(), upstream_addr)
                    .with_budget(limiter.clone(), distributor_principal.clone()),
            ),
            key: UpstreamKey::from(&config.distributor),
            tokens,
            graph: graph.clone(),
            store: store.clone(),
        },
    };
    let mut admin_service = Service::new("tiergate-admin".into(), admin_app);
    admin_service.add_tcp(&admin.to_string());
    let sso_service = match &config.sso {
        Some(settings) => {
            let bound = pick(settings.listen)
                .map_err(|e| format!("sso.listen {}: {e}", settings.listen))?;
            let parts = crate::sso::Parts {
                store: store.clone(),
                graph: graph.clone(),
                audit: audit.clone(),
                distributor: config.distributor.partner_id.clone(),
            };
            // Built on the storage runtime, which outlives the server: the Redis connection's
            // driver task lives there.
            // The browser-facing listener serves the same certificates and cipher policy as
            // the partner API listener (and reloads with them).
            let certs = tls_reload.as_ref().map(|r| r.store.clone());
            let tls = certs.is_some();
            let broker = crate::sso::Broker::build(settings, bound, tls);
            let sso = storage_rt.block_on(broker)?.serve(parts);
            let mut svc = Service::new("tiergate-sso".into(), crate::sso::SsoApp(Arc::new(sso)));
            match certs {
                Some(store) => {
                    let tls = crate::tls::settings(store, metrics.clone())
                        .map_err(|e| format!("sso TLS listener: {e}"))?;
                    svc.add_tls_with_settings(&bound.to_string(), None, tls);
                }
                None => svc.add_tcp(&bound.to_string()),
            }
            println!("tiergate sso on {bound}");
            Some(svc)
        }
        None => None,
    };
    server.add_service(proxy);
    server.add_service(admin_service);
    if let Some(svc) = sso_service {
        server.add_service(svc);
    }
    server.add_service(background_service("graph sync", sync));
    server.add_service(background_service("ledger reconciliation", reconcile));
    if config.ratelimit.redis.is_some() {
        let beat = crate::limiter::Heartbeat(limiter.clone());
        server.add_service(background_service("rate limit heartbeat", beat));
    }
    let keeper = crate::audit::keeper::Keeper {
        audit: audit.clone(),
        interval: config.audit.checkpoint_interval,
        stale_after: in_flight,
        // Debug output redacts every secret (Secret's Debug prints `***`).
        config_fingerprint: hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            format!("{config:?}").as_bytes(),
        )),
    };
    let stopper = keeper.clone();
    server.add_service(background_service("audit", keeper));
    if let Some(reload) = tls_reload {
        server.add_service(background_service("certificate reload", reload));
    }
    println!("tiergate listening on {listen} admin {admin}");
    tracing::info!(%listen, %admin, upstream = %config.upstream.authority(), "started");
    server.run(RunArgs::default());
    storage_rt.block_on(async {
        stopper.system("stop").await;
        stopper.checkpoint().await;
    });
    drop(storage_rt);
    Ok(())
}

/// Checks that an address can be bound (Pingora panics on a failed bind); port 0 picks a
/// free port. The port is released again for Pingora to bind.
fn pick(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    TcpListener::bind(addr)?.local_addr()
}

/// The token issuer `[tokens]` describes.
fn issuer(
    t: &tiergate_config::tokens::TokenSettings,
) -> Result<tiergate_broker::tokens::Issuer, tiergate_broker::tokens::TokenError> {
    let previous: Vec<&[u8]> = t
        .previous_keys
        .iter()
        .map(|k| k.expose().as_slice())
        .collect();
    let signing = t.signing_key.expose();
    tiergate_broker::tokens::Issuer::rotated(&t.issuer, &t.audience, t.ttl, signing, &previous)
}
