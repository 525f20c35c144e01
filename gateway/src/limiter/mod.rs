//! The rate-limit stage: which limits apply to a request (the caller's, by partner or tier
//! and route class, and the vendor budget of the API that all callers share), and whether
//! each admits it, in Redis (strict or leased) or in process (no Redis configured, or the
//! bounded fallback while Redis is unreachable).

mod fair;
pub mod local;
pub mod metrics;
pub mod redis;
pub mod window;

use local::Local;
use metrics::LimitMetrics;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tiergate_config::ratelimit::{Fallback, Limit, Mode, RateLimits, RouteClass};
use tiergate_policy::limit::Quota;
use tiergate_policy::{Method, Principal, Route};
use window::{Ask, Asker, Turn};

/// The class of a route.
pub fn class_of(route: &Route) -> RouteClass {
    let op = route.operation;
    if route.money_moving {
        RouteClass::Money
    } else if route.method == Method::Get
        || op.starts_with("list_")
        || op.starts_with("query_")
        || op.starts_with("show_")
        || op.contains("query")
    {
        RouteClass::List
    } else {
        RouteClass::Customer
    }
}

/// What one limit said.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Admitted (a shadow limit always admits).
    pub allowed: bool,
    /// Which limit (`partner:res-1:all`, `tier:cloud_reseller:money`, `upstream:op`).
    pub name: String,
    /// Whether it is the vendor budget shared by all callers.
    pub upstream: bool,
    /// `RateLimit-Limit`: requests per period.
    pub limit: u32,
    /// `RateLimit-Remaining`.
    pub remaining: u32,
    /// `RateLimit-Reset`.
    pub reset: Duration,
    /// `Retry-After` (refusals).
    pub retry_after: Duration,
    /// How it was decided.
    pub mode: &'static str,
}

/// The limiter.
pub struct Limiter {
    cfg: RateLimits,
    local: Local,
    shared: Option<redis::Shared>,
    metrics: LimitMetrics,
    backoff: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    active: fair::Active,
    windows: window::Windows,
}

/// How long the API's window takes to recover after a vendor 429 halved it.
const HALVED_FOR: Duration = Duration::from_secs(30);

/// Vendor budgets above this many calls per second are kept by the (leased) rate alone: a
/// window log per call would cost a Redis round trip on every request for a limit that a
/// burst cannot meaningfully overrun.
const WINDOW_UP_TO_PER_SECOND: f64 = 1000.0;

/// Whether a vendor budget is kept by the window log as well as the rate.
fn windowed(l: &Limit) -> bool {
    f64::from(l.quota.rate.get()) / l.quota.period.as_secs_f64() <= WINDOW_UP_TO_PER_SECOND
}

fn scaled(q: &Quota, live: u32) -> Quota {
    let div = |n: std::num::NonZeroU32| {
        std::num::NonZeroU32::new(n.get() / live.max(1)).unwrap_or(std::num::NonZeroU32::MIN)
    };
    Quota {
        rate: div(q.rate),
        period: q.period,
        burst: div(q.burst),
    }
}

impl Limiter {
    /// A limiter for the configuration; with Redis when one is configured.
    pub fn new(cfg: RateLimits, registry: &prometheus::Registry) -> Result<Self, String> {
        let shared = cfg
            .redis
            .as_deref()
            .map(|url| redis::Shared::new(url, &cfg.prefix))
            .transpose()?;
        let metrics = LimitMetrics::new(registry).map_err(|e| format!("metrics: {e}"))?;
        Ok(Self {
            cfg,
            local: Local::default(),
            shared,
            metrics,
            backoff: std::sync::Mutex::new(std::collections::HashMap::new()),
            active: fair::Active::default(),
            windows: window::Windows::default(),
        })
    }

    /// The vendor budget of an API: its own (`upstream.routes`), else the default.
    fn budget_of(&self, route: &Route) -> &Limit {
        self.cfg
            .upstream_routes
            .get(route.operation)
            .unwrap_or(&self.cfg.upstream)
    }

    /// The limits that apply to a call, in the order they are checked: (name, key, limit,
    /// whether it is the vendor budget). A tier's limit is each partner's own, under one name.
    fn limits(
        &self,
        p: &Principal,
        route: &Route,
        own_key: bool,
    ) -> Vec<(String, String, Limit, bool)> {
        let class = class_of(route);
        let mut out = Vec::new();
        for c in [class, RouteClass::All] {
            if let Some(l) = self.cfg.principals.get(&(p.partner_id.clone(), c)) {
                let name = format!("partner:{}:{}", p.partner_id, c.as_str());
                out.push((name.clone(), name, *l, false));
            } else if let Some(l) = self.cfg.tiers.get(&(p.tier, c)) {
                let name = format!("tier:{}:{}", p.tier, c.as_str());
                let key = format!("{name}:{}", p.partner_id);
                out.push((name, key, *l, false));
            }
        }
        // Callers with their own vendor key spend their own vendor budget, not the distributor's.
        // A budget the window keeps is shared fairly there ([`Limiter::window`]).
        let l = self.budget_of(route);
        if !own_key && !windowed(l) {
            // Fair sharing: while several partners draw on one vendor API, each may use its
            // share of the budget first, so a flood from one never starves the others.
            let n = self.active.partners(route.operation);
            if n > 1 {
                let share = Limit {
                    quota: scaled(&l.quota, n),
                    ..*l
                };
                let name = format!("upstream-share:{}", route.operation);
                let key = format!("{name}:{}", p.partner_id);
                out.push((name, key, share, true));
            }
            let name = format!("upstream:{}", route.operation);
            out.push((name.clone(), name, *l, true));
        }
        out
    }

    fn lease_size(&self, q: &Quota, live: u32) -> u32 {
        let per_sec = f64::from(q.rate.get()) / q.period.as_secs_f64().max(1e-9);
        // Admissions granted by Redis are never exceeded; what a lease can do is shift them
        // in time (spent up to a lease later) and lapse unused. Sized so that both stay
        // within `max_error` of what passes in a 20 s window.
        let n = (per_sec * self.cfg.max_error * 20.0 / f64::from(live.max(1))).floor();
        let cap = (q.burst.get() / live.max(1)).clamp(1, 100);
        (n as u32).clamp(1, cap)
    }

    /// Checks every limit of a call; the first refusal (or, all admitting, the tightest
    /// admission) is the answer.
    pub async fn check(&self, p: &Principal, route: &Route, own_key: bool) -> Verdict {
        self.check_within(p, route, own_key, self.deadline(None))
            .await
    }

    /// Until when a call that finds the vendor budget spent may wait for its turn: the
    /// configured wait, and never past `valid_for` (what is left of its signature's validity).
    pub fn deadline(&self, valid_for: Option<Duration>) -> Instant {
        let wait = valid_for.map_or(self.cfg.upstream_wait, |v| v.min(self.cfg.upstream_wait));
        Instant::now() + wait
    }

    /// [`Limiter::check`], waiting for a turn in the vendor budget until `deadline`.
    pub async fn check_within(
        &self,
        p: &Principal,
        route: &Route,
        own_key: bool,
        deadline: Instant,
    ) -> Verdict {
        if !own_key && !windowed(self.budget_of(route)) {
            self.active
                .announce(
                    self.shared.as_ref(),
                    &self.cfg.prefix,
                    route.operation,
                    &p.partner_id,
                )
                .await;
        }
        let mut tightest: Option<Verdict> = None;
        for (name, key, limit, upstream) in self.limits(p, route, own_key) {
            let mut v = self.decide(&name, &key, &limit).await;
            if upstream && !limit.shadow {
                v = self.wait_turn(&name, &key, &limit, v, deadline).await;
            }
            v.upstream = upstream;
            let outcome = match (v.allowed, limit.shadow) {
                (true, _) => "admitted",
                (false, true) => "shadow_refused",
                (false, false) => "refused",
            };
            self.metrics
                .decisions
                .with_label_values(&[name.as_str(), outcome, v.mode])
                .inc();
            if v.allowed && v.remaining < limit.quota.burst.get().div_ceil(10) {
                self.metrics
                    .near_limit
                    .with_label_values(&[name.as_str()])
                    .inc();
            }
            if !v.allowed && limit.shadow {
                v.allowed = true;
            }
            if !v.allowed {
                return v;
            }
            if tightest.as_ref().is_none_or(|t| v.remaining < t.remaining) {
                tightest = Some(v);
            }
        }
        if !own_key {
            match self
                .window(route, Asker::Caller(&p.partner_id), deadline)
                .await
            {
                Err(refused) => return refused,
                Ok(Some(v)) if tightest.as_ref().is_none_or(|t| v.remaining < t.remaining) => {
                    tightest = Some(v);
                }
                Ok(_) => {}
            }
        }
        tightest.unwrap_or(Verdict {
            allowed: true,
            name: String::new(),
            upstream: false,
            limit: 0,
            remaining: u32::MAX,
            reset: Duration::ZERO,
            retry_after: Duration::ZERO,
            mode: "none",
        })
    }

    /// A vendor budget's refusal waited out while its retry time falls before `deadline`.
    async fn wait_turn(
        &self,
        name: &str,
        key: &str,
        limit: &Limit,
        mut v: Verdict,
        deadline: Instant,
    ) -> Verdict {
        let started = Instant::now();
        while !v.allowed && Instant::now() + v.retry_after <= deadline {
            let _waiting = metrics::Waiting::new(&self.metrics.queued);
            tokio::time::sleep(v.retry_after.max(Duration::from_millis(1))).await;
            v = self.decide(name, key, limit).await;
        }
        if v.allowed {
            self.metrics.waited.observe(started.elapsed().as_secs_f64());
        }
        v
    }

    /// How many of one partner's calls may wait for one API on this gateway: what the whole
    /// budget could serve within the wait (`upstream.queue` overrides it); the rest could
    /// never be served in time, so they are refused at once.
    fn queue_bound(&self, l: &Limit) -> usize {
        self.cfg.upstream_queue.unwrap_or_else(|| {
            let per_wait = f64::from(l.quota.rate.get()) * self.cfg.upstream_wait.as_secs_f64()
                / l.quota.period.as_secs_f64().max(1e-9);
            (per_wait.ceil() as usize).max(1)
        })
    }

    /// A turn in the vendor's own window of the API ([`windowed`] budgets only; others
    /// `Ok(None)`), waited for until `deadline`: the admission, or the refusal. A partner's
    /// calls wait in order of arrival, one of them asking the window at a time; the window
    /// gives a free call to the waiting partner that used the fewest.
    async fn window(
        &self,
        route: &Route,
        asker: Asker<'_>,
        deadline: Instant,
    ) -> Result<Option<Verdict>, Verdict> {
        let l = self.budget_of(route);
        let q = &l.quota;
        if l.shadow || !windowed(l) {
            return Ok(None);
        }
        let name = format!("upstream-window:{}", route.operation);
        let verdict = |allowed, remaining, wait| Verdict {
            allowed,
            name: name.clone(),
            upstream: true,
            limit: q.rate.get(),
            remaining,
            reset: if allowed { q.period } else { wait },
            retry_after: wait,
            mode: "window",
        };
        let decided = |allowed: bool| {
            let outcome = if allowed { "admitted" } else { "refused" };
            self.metrics
                .decisions
                .with_label_values(&[name.as_str(), outcome, "window"])
                .inc();
            if !allowed {
                self.metrics
                    .budget_refused
                    .with_label_values(&[route.operation])
                    .inc();
            }
        };
        let started = Instant::now();
        let place = match asker {
            Asker::Caller(p) => {
                let Some(place) = self
                    .windows
                    .enqueue(route.operation, p, self.queue_bound(l))
                else {
                    decided(false);
                    return Err(verdict(false, 0, q.period));
                };
                Some(place)
            }
            Asker::Tiergate(_) => None,
        };
        // Counted as queued from the moment it has to wait.
        let mut waiting = None;
        let _turn = match &place {
            Some(place) => match place.now() {
                Some(turn) => Some(turn),
                None => {
                    waiting = Some(metrics::Waiting::new(&self.metrics.queued));
                    let Some(turn) = place.turn(deadline).await else {
                        decided(false);
                        return Err(verdict(false, 0, q.period));
                    };
                    Some(turn)
                }
            },
            None => None,
        };
        let key = format!("{}:win:{}", self.cfg.prefix, route.operation);
        loop {
            let ask = Ask {
                asker,
                limit: q.rate.get(),
                window: window::widened(q.period),
                patience: deadline.saturating_duration_since(Instant::now()),
                recover: HALVED_FOR,
            };
            match self
                .windows
                .try_take(self.shared.as_ref(), &key, &ask)
                .await
            {
                Turn::Go(left) => {
                    self.metrics.waited.observe(started.elapsed().as_secs_f64());
                    decided(true);
                    return Ok(Some(verdict(true, left, Duration::ZERO)));
                }
                Turn::Wait(wait) if Instant::now() + wait > deadline => {
                    decided(false);
                    return Err(verdict(false, 0, wait));
                }
                Turn::Wait(wait) => {
                    waiting.get_or_insert_with(|| metrics::Waiting::new(&self.metrics.queued));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A second try after the vendor's 429 (a call that moves no money): its turn in the
    /// budget again, waited for until `deadline`, or the refusal to answer instead.
    pub async fn retry_turn(
        &self,
        p: &Principal,
        route: &Route,
        deadline: Instant,
    ) -> Result<(), Verdict> {
        if windowed(self.budget_of(route)) {
            return self
                .window(route, Asker::Caller(&p.partner_id), deadline)
                .await
                .map(|_| ());
        }
        let name = format!("upstream:{}", route.operation);
        if let Some(until) = self.backed_off(&name) {
            let left = until.saturating_duration_since(Instant::now());
            if until > deadline {
                return Err(Verdict {
                    allowed: false,
                    name,
                    upstream: true,
                    limit: 0,
                    remaining: 0,
                    reset: left,
                    retry_after: left,
                    mode: "vendor",
                });
            }
            tokio::time::sleep(left).await;
        }
        Ok(())
    }

    async fn decide(&self, name: &str, key: &str, limit: &Limit) -> Verdict {
        let q = &limit.quota;
        let verdict = |allowed, remaining, reset, retry_after, mode| Verdict {
            allowed,
            name: name.to_owned(),
            upstream: false,
            limit: q.rate.get(),
            remaining,
            reset,
            retry_after,
            mode,
        };
        if let Some(until) = self.backed_off(key) {
            let left = until.saturating_duration_since(Instant::now());
            return verdict(false, 0, left, left, "backoff");
        }
        let Some(shared) = &self.shared else {
            let d = self.local.decide(key, q);
            let ns = Duration::from_nanos;
            return verdict(
                d.allowed,
                d.remaining,
                ns(d.reset_after),
                ns(d.retry_after),
                "local",
            );
        };
        let key = format!("{}:rl:{key}", self.cfg.prefix);
        let started = Instant::now();
        let result = match limit.mode {
            Mode::Strict => shared
                .take(&key, q, 1, 1)
                .await
                .map(|g| (g, true, "strict")),
            Mode::Leased => {
                let live = shared.live();
                let n = self.lease_size(q, live);
                shared.leased(&key, q, n, live).await.map(|(g, trip)| {
                    if trip {
                        self.metrics.lease_size.observe(f64::from(n));
                    }
                    (g, trip, "leased")
                })
            }
        };
        match result {
            Ok((g, trip, mode)) => {
                if trip {
                    self.metrics.redis_calls.with_label_values(&["ok"]).inc();
                    self.metrics
                        .redis_seconds
                        .observe(started.elapsed().as_secs_f64());
                }
                verdict(
                    g.granted > 0,
                    g.remaining,
                    g.reset_after,
                    g.retry_after,
                    mode,
                )
            }
            Err(e) => {
                self.metrics.redis_calls.with_label_values(&["error"]).inc();
                tracing::debug!(error = %e, limit = name, "rate limit: Redis unavailable, falling back");
                match limit.fallback {
                    Fallback::Open => verdict(
                        true,
                        q.burst.get(),
                        Duration::ZERO,
                        Duration::ZERO,
                        "fallback_open",
                    ),
                    Fallback::Closed => verdict(
                        false,
                        0,
                        Duration::from_secs(1),
                        Duration::from_secs(1),
                        "fallback_closed",
                    ),
                    Fallback::Share => {
                        let d = self.local.decide(&key, &scaled(q, shared.live()));
                        let ns = Duration::from_nanos;
                        verdict(
                            d.allowed,
                            d.remaining,
                            ns(d.reset_after),
                            ns(d.retry_after),
                            "fallback_share",
                        )
                    }
                }
            }
        }
    }

    fn backed_off(&self, name: &str) -> Option<Instant> {
        let b = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        b.get(name).copied().filter(|t| Instant::now() < *t)
    }

    /// Tiergate's own call (graph sync, reconciliation, quota issue) on the distributor's
    /// account: below every caller, it neither counts as a partner sharing the API nor takes
    /// its rate, and goes only while no caller waits for the API's window and a fifth of its
    /// calls (at least one) stay free for callers; it waits for that until `deadline`.
    /// `None`: go.
    pub async fn background(&self, route: &Route, deadline: Instant) -> Option<Verdict> {
        let l = self.budget_of(route);
        let reserve = (l.quota.rate.get() / 5).max(1);
        self.window(route, Asker::Tiergate(reserve), deadline)
            .await
            .err()
    }

    /// The vendor's budget for `route`, in calls a second (for the graph sync's share).
    pub fn vendor_rate(&self, route: &Route) -> f64 {
        let q = &self.budget_of(route).quota;
        f64::from(q.rate.get()) / q.period.as_secs_f64().max(1e-9)
    }

    /// Counts a vendor 429 with the vendor's own code.
    pub fn count_vendor_429(&self, operation: &str, code: &str) {
        self.metrics
            .vendor_429
            .with_label_values(&[operation, code])
            .inc();
    }

    /// The vendor answered 429 for `operation`: hold that API back for everyone for `for_`,
    /// and halve its window, recovering over [`HALVED_FOR`] (the vendor's limit may have
    /// changed), in every gateway through Redis.
    pub async fn vendor_throttled(&self, operation: &str, for_: Duration) {
        let window_key = format!("{}:win:{operation}", self.cfg.prefix);
        self.windows.throttled(&window_key, for_);
        let name = format!("upstream:{operation}");
        self.backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), Instant::now() + for_);
        let Some(shared) = &self.shared else { return };
        let shared_too = async {
            shared
                .back_off(&format!("{}:rl:{name}", self.cfg.prefix), for_)
                .await?;
            shared.throttled(&window_key, for_, HALVED_FOR).await
        };
        if let Err(e) = shared_too.await {
            tracing::warn!(error = %e, operation, "could not share the vendor's 429 through Redis");
        }
    }

    /// Keeps this gateway's membership in Redis fresh (for lease sizes and fallback shares).
    pub async fn heartbeat(&self) {
        if let Some(shared) = &self.shared {
            match shared.heartbeat().await {
                Ok(n) => self.metrics.live.set(i64::from(n)),
                Err(e) => tracing::debug!(error = %e, "rate limit heartbeat failed"),
            }
        }
    }
}

/// The heartbeat as a background service.
pub struct Heartbeat(pub Arc<Limiter>);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Heartbeat {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        loop {
            self.0.heartbeat().await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
