//! Starting and running the server, in named steps: the TLS policy first, every problem found
//! at once ([`preflight`]), the state the listeners share, the listeners ([`listeners`]) and
//! background services, then Pingora until a signal; on the way out, the audit log's stop
//! record and checkpoint.

mod listeners;
mod preflight;
pub(crate) use preflight::key_problems;

use crate::audit::Audit;
use crate::audit::keeper::Keeper;
use crate::chain::record::{Entry, Kind};
use crate::credentials::{Credentials, Subject, UpstreamKey};
use crate::graph::LiveGraph;
use crate::graph::service::SyncService;
use crate::guard::Guard;
use crate::ledger::reconcile::{self, Reconciler};
use crate::limiter::{Heartbeat, Limiter};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::upstream::UpstreamClient;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use preflight::{Checked, Resources};
use std::net::SocketAddr;
use std::sync::Arc;
use tiergate_broker::tokens::Issuer;
use tiergate_config::Config;
use tiergate_policy::{Principal, Tier};
use tokio::runtime::Runtime;

/// Runs until SIGINT (immediate) or SIGTERM (graceful). Every startup problem is returned,
/// never a panic.
pub fn run(
    config: Config,
    demo_partner: Option<String>,
    demo_auditor: Option<String>,
) -> Result<(), String> {
    install_tls_policy(&config)?;
    let storage = storage_runtime()?;
    let Checked {
        certs,
        sso,
        resources,
    } = preflight::check(&config, &storage)?;
    let shared = Shared::open(&config, resources, &storage)?;
    if let Some(partner) = demo_partner {
        demo_credential(&shared, Subject::Partner(partner), &storage)?;
    }
    if let Some(name) = demo_auditor {
        let scheme = if config.tls.certificates.is_empty() || config.admin_plaintext {
            "http"
        } else {
            "https"
        };
        println!("console: {scheme}://{}/console/", shared.admin);
        demo_credential(&shared, Subject::Auditor { name, role: None }, &storage)?;
    }
    let mut server = pingora_server(&config);
    let reload = listeners::add(&mut server, &config, &shared, certs, sso)?;
    let keeper = background(&mut server, &config, &shared, reload);
    if let Some(m) = shared.metrics_at {
        println!("tiergate metrics on {m}");
    }
    println!(
        "tiergate listening on {} admin {}",
        shared.listen, shared.admin
    );
    tracing::info!(listen = %shared.listen, admin = %shared.admin,
        upstream = %config.upstream.authority(), "started");
    server.run(RunArgs::default());
    storage.block_on(async {
        keeper.flush_counts().await;
        keeper.system("stop").await;
        keeper.checkpoint().await;
    });
    drop(storage);
    Ok(())
}

/// First of all: the TLS policy becomes the process-wide provider, before Pingora (or
/// anything else) builds a rustls configuration from the default one.
fn install_tls_policy(config: &Config) -> Result<(), String> {
    config
        .tls
        .policy
        .provider()
        .install_default()
        .map_err(|_| "a TLS crypto provider was installed before the TLS policy".to_owned())
}

/// The runtime the storage pool (and the broker's Redis connection) lives on for the whole
/// process (see `store/db.rs`).
fn storage_runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tiergate-storage")
        .enable_all()
        .build()
        .map_err(|e| format!("storage runtime: {e}"))
}

/// What the listeners and background services share.
struct Shared {
    listen: SocketAddr,
    admin: SocketAddr,
    metrics_at: Option<SocketAddr>,
    upstream: SocketAddr,
    store: Store,
    audit: Audit,
    graph: Arc<LiveGraph>,
    credentials: Arc<Credentials>,
    guard: Arc<Guard>,
    metrics: Arc<Metrics>,
    limiter: Arc<Limiter>,
    tokens: Option<Arc<Issuer>>,
    distributor_key: UpstreamKey,
    /// Wakes the ledger's reconciliation (a reclaim to credit).
    reconcile: Arc<tokio::sync::Notify>,
    /// Where request spans go, when an OTLP endpoint is configured.
    spans: Option<crate::otlp::Exporter>,
    /// The service posting them (taken once, by [`background`]).
    span_service: std::sync::Mutex<Option<crate::otlp::Service>>,
}

impl Shared {
    /// The stored graph loaded, the audit log and credential service over their stores.
    fn open(config: &Config, r: Resources, storage: &Runtime) -> Result<Self, String> {
        let stored = storage
            .block_on(r.store.graph().edges())
            .map_err(|e| format!("storage.url: {e}"))?;
        let state = storage
            .block_on(r.store.graph().sync_state())
            .map_err(|e| format!("storage.url: {e}"))?;
        // Rows a first sync is storing as it goes are not a whole graph: the sync service
        // serves them part by part ([`crate::graph::service`]).
        let graph = match state.first_owners.is_empty() {
            true => LiveGraph::from_stored(stored.into_iter().collect()),
            false => LiveGraph::default(),
        };
        let graph = Arc::new(graph);
        let log = Some(config.audit.checkpoint_log.clone());
        let audit = Audit::new(r.audit_store, r.signer, log).with_metrics(r.metrics.clone());
        let credentials = Credentials::new(r.store.clone(), config).map_err(|e| e.to_string())?;
        credentials
            .register(r.metrics.registry())
            .map_err(|e| format!("metrics: {e}"))?;
        let guard = Guard::new(config.ratelimit.unauthenticated, r.metrics.registry())
            .map_err(|e| format!("metrics: {e}"))?;
        let (spans, span_service) = match &config.telemetry.otlp {
            Some(o) => {
                let (e, service) = crate::otlp::start(o, r.metrics.registry())?;
                (Some(e), Some(service))
            }
            None => (None, None),
        };
        Ok(Self {
            guard: Arc::new(guard),
            listen: r.listen,
            admin: r.admin,
            metrics_at: r.metrics_at,
            upstream: r.upstream,
            store: r.store,
            metrics: r.metrics,
            limiter: r.limiter,
            tokens: r.tokens,
            audit,
            graph,
            credentials: Arc::new(credentials),
            distributor_key: UpstreamKey::from(&config.distributor),
            reconcile: Arc::new(tokio::sync::Notify::new()),
            spans,
            span_service: std::sync::Mutex::new(span_service),
        })
    }

    /// A client for Tiergate's own calls to the vendor, as the distributor, spending the
    /// distributor's vendor budget like every caller.
    fn vendor_client(&self, config: &Config) -> UpstreamClient {
        let p = &config.distributor.partner_id;
        let distributor = Principal {
            partner_id: p.clone(),
            tier: Tier::Distributor,
            distributor_id: Some(p.clone()),
            role: None,
        };
        UpstreamClient::new(config.upstream.clone(), self.upstream)
            .with_budget(self.limiter.clone(), distributor)
    }
}

/// `serve --demo-credential P` / `--demo-auditor NAME`: a credential, issued, audited and
/// printed.
fn demo_credential(s: &Shared, subject: Subject, storage: &Runtime) -> Result<(), String> {
    // Partners and auditors are decided from the configuration alone: no customer to look up.
    let issued = storage
        .block_on(
            s.credentials
                .issue(subject, &tiergate_policy::Graph::default()),
        )
        .map_err(|e| format!("demo credential: {e}"))?;
    let entry = Entry {
        kind: Some(Kind::Credential),
        operation: Some("issue".into()),
        principal: Some(issued.principal.partner_id.clone()),
        tier: Some(issued.principal.tier.to_string()),
        credential: Some(issued.access_key.clone()),
        outcome: Some("ok".into()),
        source: Some("serve --demo-credential".into()),
        ..Default::default()
    };
    storage
        .block_on(s.audit.append(entry))
        .map_err(|e| format!("audit: {e}"))?;
    println!(
        "demo credential for {} ({}): access key {} secret key {}",
        issued.principal.partner_id,
        issued.principal.tier,
        issued.access_key,
        issued.secret_key.expose()
    );
    Ok(())
}

/// Pingora, with the worker threads, trust anchors and shutdown timing configured.
fn pingora_server(config: &Config) -> Server {
    let conf = ServerConf {
        threads: config.server.threads.get(),
        ca_file: config
            .upstream
            .ca_file
            .as_ref()
            .map(|p| p.display().to_string()),
        grace_period_seconds: Some(config.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(config.server.shutdown_timeout.as_secs()),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    server
}

/// The background services: graph sync, ledger reconciliation, the rate limiter's heartbeat,
/// the audit keeper (returned: it writes the stop record) and certificate reloads.
fn background(
    server: &mut Server,
    config: &Config,
    s: &Shared,
    reload: Option<crate::tls::CertReload>,
) -> Keeper {
    let sync = SyncService {
        client: s.vendor_client(config),
        key: s.distributor_key.clone(),
        graph: s.graph.clone(),
        store: s.store.clone(),
        names: s.audit.store().clone(),
        interval: config.graph.sync_interval,
        full_interval: config.graph.full_sync_interval,
        pace: crate::graph::sync::Pace::new(
            Some(s.limiter.clone()),
            config.graph.budget_share,
            Some(s.metrics.clone()),
        ),
        metrics: s.metrics.clone(),
        me: crate::graph::service::holder_name(),
    };
    server.add_service(background_service("graph sync", sync));
    let usage = crate::credentials::usage::UsageWriter(s.credentials.clone());
    server.add_service(background_service("credential use", usage));
    let sampler = crate::metrics::hour::Sampler(s.metrics.clone());
    server.add_service(background_service("metrics for the last hour", sampler));
    let in_flight = reconcile::in_flight(config.upstream.timeout);
    let reconciliation = reconcile::Service {
        reconciler: Reconciler {
            audit: s.audit.clone(),
            client: s.vendor_client(config),
            key: s.distributor_key.clone(),
            distributor: config.distributor.partner_id.clone(),
            horizon: in_flight,
        },
        wake: s.reconcile.clone(),
        interval: std::time::Duration::from_secs(60),
    };
    server.add_service(background_service("ledger reconciliation", reconciliation));
    let holds = crate::ledger::holds::Holds {
        store: s.audit.store().clone(),
        metrics: s.metrics.clone(),
    };
    server.add_service(background_service("ledger holds", holds));
    if config.ratelimit.redis.is_some() {
        let beat = Heartbeat(s.limiter.clone());
        server.add_service(background_service("rate limit heartbeat", beat));
    }
    let keeper = Keeper {
        audit: s.audit.clone(),
        interval: config.audit.checkpoint_interval,
        stale_after: in_flight,
        // Debug output redacts every secret (Secret's Debug prints `***`).
        config_fingerprint: hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            format!("{config:?}").as_bytes(),
        )),
    };
    server.add_service(background_service("audit", keeper.clone()));
    if let Some(reload) = reload {
        server.add_service(background_service("certificate reload", reload));
    }
    let spans = s.span_service.lock().ok().and_then(|mut x| x.take());
    if let Some(spans) = spans {
        server.add_service(background_service("span export", spans));
    }
    keeper
}
