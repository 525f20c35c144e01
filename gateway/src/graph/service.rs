//! The background service that keeps the graph current. Gateways sharing a database elect
//! one syncer: the holder of a lease in the database ([`LEASE`], renewed every [`TICK`] while
//! it lives and while it syncs, given up when it stops, taken over when it lapses). The
//! syncer runs a full sync at once when nothing is stored, then every
//! `graph.full_sync_interval` or when asked by hand (`tiergate graph sync --full`), and an
//! incremental one every `graph.sync_interval` between (sooner again after a failure). Where
//! it stands is in the database, so a gateway taking over goes on from there. The others
//! reload the stored graph when its version moves (a full sync) and take in, each tick, what
//! was learned: an incremental sync's finds, and what any gateway learned from answers (a
//! customer created, a voucher issued through another).

use super::LiveGraph;
use super::sync::{self, Pace, Progress, Vendor};
use crate::credentials::UpstreamKey;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::graph::SyncState;
use crate::upstream::UpstreamClient;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Retry delay after a failed sync.
const RETRY: Duration = Duration::from_secs(5);
/// How often the lease is renewed or tried, and followers look for a newer graph.
pub const TICK: Duration = Duration::from_secs(2);
/// How long a lease holds without renewal: a dead syncer's is taken over after this.
pub const LEASE: Duration = Duration::from_secs(10);

/// Syncs the graph from the partner API.
pub struct SyncService {
    /// Upstream client.
    pub client: UpstreamClient,
    /// The distributor's key.
    pub key: UpstreamKey,
    /// The graph to replace.
    pub graph: Arc<LiveGraph>,
    /// Where the graph is stored.
    pub store: Store,
    /// Where the customers' names are kept for masking audit output (the audit database).
    pub names: Store,
    /// Time between incremental syncs.
    pub interval: Duration,
    /// Time between full syncs.
    pub full_interval: Duration,
    /// The sync's share of each list operation's vendor budget.
    pub pace: Pace,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This gateway, as the lease names its holder.
    pub me: String,
}

/// A random name for this gateway's claim on the lease.
pub fn holder_name() -> String {
    let mut b = [0u8; 8];
    let random = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map(|()| hex::encode(b))
        .unwrap_or_default();
    format!("pid{}-{random}", std::process::id())
}

/// How far back an incremental sync lists past the last one's start: the vendor's clock may
/// be behind ours, and its filters are to the second. What it finds again is harmless.
const OVERLAP: time::Duration = time::Duration::seconds(60);

/// The kinds of sync, as metrics and logs name them.
const FULL: &str = "full";
const INCREMENTAL: &str = "incremental";

/// A first sync's progress, put into the live graph as it goes (owner by owner), and into
/// the store for the other gateways: each part's rows first, then how many are listed.
struct First<'a> {
    graph: &'a LiveGraph,
    store: &'a Store,
    metrics: &'a Metrics,
    distributor: &'a str,
    /// Only while nothing whole was loaded: a later full sync replaces the graph at its end.
    on: bool,
    listed: std::sync::atomic::AtomicI64,
}

#[async_trait]
impl Progress for First<'_> {
    async fn resellers(&self, ids: &[String]) {
        if !self.on {
            return;
        }
        self.graph.start_partial(self.distributor, ids);
        self.metrics.graph_sync.progress(self.graph.progress());
        let edges: Vec<_> = ids
            .iter()
            .map(|r| tiergate_policy::Edge::Reseller {
                id: r.clone(),
                distributor: self.distributor.to_owned(),
            })
            .collect();
        let mut owners = vec![self.distributor.to_owned()];
        owners.extend(ids.iter().cloned());
        let owners = serde_json::to_string(&owners).unwrap_or_default();
        let stored = match self.store.graph().upsert(edges).await {
            Ok(()) => self.store.graph().first_progress(Some(owners), 0).await,
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not store a first sync's resellers");
        }
    }

    async fn part(&self, owner: &str, part: &tiergate_policy::Graph) {
        if !self.on {
            return;
        }
        let edges: Vec<_> = part.edges().collect();
        self.graph.part_loaded(owner, &edges);
        self.metrics.graph_sync.progress(self.graph.progress());
        let listed = self
            .listed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let stored = match self.store.graph().upsert(edges).await {
            Ok(()) => self.store.graph().first_progress(None, listed).await,
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, owner, "could not store a first sync's part");
        }
    }
}

impl SyncService {
    fn vendor(&self) -> Vendor<'_> {
        Vendor {
            client: &self.client,
            key: &self.key,
            pace: &self.pace,
        }
    }

    /// A full sync, stored whole (the others reload it); on a first start, served owner by
    /// owner as it goes.
    async fn full(&self) -> Option<OffsetDateTime> {
        let began = OffsetDateTime::now_utc();
        let t0 = std::time::Instant::now();
        self.graph.mark();
        let first = First {
            graph: &self.graph,
            store: &self.store,
            metrics: &self.metrics,
            distributor: &self.key.domain_id,
            // A gateway taking over a first sync another began goes on serving part by part.
            on: !self.graph.ready() || self.graph.progress().is_some(),
            listed: Default::default(),
        };
        match sync::full(self.vendor(), &first).await {
            Ok(synced) => {
                if let Err(e) = self.names.graph().replace_names(synced.names).await {
                    tracing::warn!(error = %e, "could not store the customers' names");
                }
                let merged = self.graph.replace(synced.graph);
                self.metrics.graph_sync.progress(None);
                let sizes = merged.sizes();
                if let Err(e) = self.store.graph().replace(merged.edges().collect()).await {
                    tracing::warn!(error = %e, "could not store the synced graph");
                }
                tracing::info!(?sizes, took = ?t0.elapsed(), "relationship graph synced in full");
                self.succeeded(FULL, began, t0.elapsed()).await;
                Some(began)
            }
            Err(e) => self.failed(FULL, &e),
        }
    }

    /// What is new since the last sync, added to the graph and stored as learned (the others
    /// take it in within a tick).
    async fn incremental(&self, since: &str) -> Option<OffsetDateTime> {
        let began = OffsetDateTime::now_utc();
        let t0 = std::time::Instant::now();
        let known = self.graph.resellers();
        match sync::increment(self.vendor(), since, &known).await {
            Ok(synced) => {
                let edges: Vec<_> = synced.graph.edges().collect();
                let found = edges.len();
                if !edges.is_empty() {
                    self.graph.learn(&edges);
                    if let Err(e) = self.store.graph().upsert(edges).await {
                        tracing::warn!(error = %e, "could not store what the sync found");
                    }
                }
                if let Err(e) = self.names.graph().add_names(synced.names).await {
                    tracing::warn!(error = %e, "could not store the customers' names");
                }
                tracing::info!(since, found, took = ?t0.elapsed(), "relationship graph synced incrementally");
                self.succeeded(INCREMENTAL, began, t0.elapsed()).await;
                Some(began)
            }
            Err(e) => self.failed(INCREMENTAL, &e),
        }
    }
}

impl SyncService {
    /// A sync of `kind` that began at `began` succeeded after `took`: where it stands is
    /// recorded where a gateway taking over finds it (the next incremental sync lists from a
    /// little before it began; a full one's start), and it is counted.
    async fn succeeded(&self, kind: &'static str, began: OffsetDateTime, took: Duration) {
        let since = sync::vendor_time(began - OVERLAP);
        let full_at = (kind == FULL).then(|| crate::store::unix_ms(began));
        if let Err(e) = self.store.graph().synced(full_at, since).await {
            tracing::warn!(error = %e, "could not record the graph sync's place");
        }
        self.metrics.graph_synced(kind, "ok", &self.graph.sizes());
        let unix = (began.unix_timestamp_nanos() as f64) / 1e9;
        self.metrics.graph_sync.succeeded(kind, unix, took);
    }

    /// A sync of `kind` failed: logged and counted.
    fn failed(&self, kind: &'static str, e: &crate::upstream::CallError) -> Option<OffsetDateTime> {
        tracing::warn!(error = %e, kind, "relationship graph sync failed");
        self.metrics
            .graph_synced(kind, "error", &self.graph.sizes());
        None
    }

    /// One sync, full when one is due (none yet, asked for by hand, or the last is older than
    /// `graph.full_sync_interval`), else incremental; when it began, if it succeeded.
    async fn round(&self, state: &SyncState) -> Option<OffsetDateTime> {
        let age = crate::store::now_ms().saturating_sub(state.full_at);
        let full_every = i64::try_from(self.full_interval.as_millis()).unwrap_or(i64::MAX);
        let full = !self.graph.ready()
            || state.since.is_empty()
            || state.full_asked > state.full_at
            || age >= full_every;
        if full {
            self.leading(self.full()).await.flatten()
        } else {
            self.leading(self.incremental(&state.since)).await.flatten()
        }
    }
}

impl SyncService {
    /// Takes or renews the lease; false when another gateway holds it (or the store is away).
    async fn lead(&self) -> bool {
        let now = crate::store::now_ms();
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let held = match self.store.graph().lease(&self.me, now, until).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "could not take or renew the graph sync lease");
                false
            }
        };
        self.metrics.graph_syncer(held);
        held
    }

    /// A sync, the lease renewed while it runs; given up (none) when the lease is lost, so two
    /// gateways never sync at once.
    async fn leading<T>(&self, sync: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::pin!(sync);
        let mut renew = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                done = &mut sync => return Some(done),
                _ = renew.tick() => {
                    if !self.lead().await {
                        tracing::warn!("the graph sync lease was lost: this sync stops");
                        return None;
                    }
                }
            }
        }
    }

    /// Takes in what any gateway learned from answers since `seen` (its own too: harmless).
    async fn catch_up(&self, seen: &mut i64) {
        match self.store.graph().learned_since(*seen).await {
            Ok((edges, last)) if !edges.is_empty() => {
                self.graph.learn(&edges);
                self.metrics.graph_learned(edges.len());
                *seen = last;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read learned relationships"),
        }
    }

    /// Serves what another gateway's first sync has listed so far.
    async fn follow_first(&self, learned: &mut i64) {
        let Ok(state) = self.store.graph().sync_state().await else {
            return;
        };
        let Ok(owners) = serde_json::from_str::<Vec<String>>(&state.first_owners) else {
            return;
        };
        self.catch_up(learned).await;
        let listed = usize::try_from(state.first_listed).unwrap_or(0);
        self.graph.follow_first(&owners, listed);
        self.metrics.graph_sync.progress(self.graph.progress());
    }

    /// Reloads the stored graph when another gateway stored a newer one.
    async fn follow(&self, seen: &mut Option<i64>, learned: &mut i64) {
        let Ok(version) = self.store.graph().version().await else {
            return;
        };
        // Nothing stored whole yet: the syncer's first sync runs. An empty graph is not one
        // to serve from; the owners it has listed are (their rows were stored before the
        // count, so taking in the rows after reading the count has them all).
        if version == 0 {
            self.follow_first(learned).await;
            return;
        }
        // Started from the stored graph: nothing to reload until it moves (a graph served
        // part by part, as a first sync lists it, is to be replaced whole).
        let loaded = self.graph.ready() && self.graph.progress().is_none();
        if *seen == Some(version) || (seen.is_none() && loaded) {
            *seen = Some(version);
            return;
        }
        match self.store.graph().edges().await {
            Ok(edges) => {
                self.graph.replace(edges.into_iter().collect());
                self.metrics.graph_loaded(&self.graph.sizes());
                *seen = Some(version);
                tracing::info!(version, "relationship graph reloaded from the store");
            }
            Err(e) => tracing::warn!(error = %e, "could not reload the stored graph"),
        }
    }
}

#[async_trait]
impl BackgroundService for SyncService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut next = tokio::time::Instant::now();
        let mut failed: Option<tokio::time::Instant> = None;
        let mut last_ok: Option<OffsetDateTime> = None;
        let mut seen: Option<i64> = None;
        // From 0 at start: a sync stores its rows as 0, so what is past 0 is only what was
        // learned since the last stored sync (read once, then only what is new).
        let mut learned = 0;
        loop {
            self.catch_up(&mut learned).await;
            if self.lead().await {
                let state = self.store.graph().sync_state().await;
                let now = tokio::time::Instant::now();
                let calm = failed.is_none_or(|t| now >= t + RETRY);
                match state {
                    Ok(state) if calm && (now >= next || state.full_asked > state.full_at) => {
                        match self.round(&state).await {
                            Some(began) => {
                                last_ok = Some(began);
                                failed = None;
                            }
                            None => failed = Some(tokio::time::Instant::now()),
                        }
                        next = tokio::time::Instant::now() + self.interval;
                        // Its own store moved the version: nothing to reload.
                        seen = self.store.graph().version().await.ok();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not read the graph sync's place"),
                }
                if let Some(t) = last_ok {
                    let lag = OffsetDateTime::now_utc() - t;
                    self.metrics.graph_sync.lag(lag.as_seconds_f64());
                }
            } else {
                // Whoever leads next syncs at once; this one, should it lead, too.
                next = tokio::time::Instant::now();
                self.follow(&mut seen, &mut learned).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => {
                    if let Err(e) = self.store.graph().release(&self.me).await {
                        tracing::warn!(error = %e, "could not give up the graph sync lease");
                    }
                    return;
                }
            }
        }
    }
}
