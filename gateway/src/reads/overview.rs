//! The overview (`GET /overview`, the console's first page): the last hour of requests by
//! tier, route and outcome, refusals by code, vendor budget use per API, the limiter's state,
//! the audit chain's last verification and checkpoint, certificates' expiry and the graph's
//! sync, all from the gateway's own counters ([`crate::metrics::hour`]) and stores.

use crate::audit::Audit;
use crate::graph::LiveGraph;
use crate::metrics::Metrics;
use crate::metrics::hour::{Snapshot, label};
use crate::rejection::Rejection;
use crate::store::audit::{Filter, Match};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tiergate_certs::CertStore;
use tiergate_policy::Principal;
use tiergate_policy::admin::{self, Area};

/// What the overview reads from.
pub struct Sources {
    /// Counters and their last hour.
    pub metrics: Arc<Metrics>,
    /// The audit log.
    pub audit: Audit,
    /// The relationship graph.
    pub graph: Arc<LiveGraph>,
    /// The served certificates, when the gateway serves TLS.
    pub certs: Option<Arc<CertStore>>,
    /// Vendor budgets: (API, calls per second); `*` is every API without its own.
    pub budgets: Vec<(String, f64)>,
}

/// A count under some labels.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Count {
    /// What was counted (tier, route, outcome, code... as the table says).
    pub labels: BTreeMap<String, String>,
    /// How many in the window.
    pub count: u64,
}

/// One minute of traffic.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Minute {
    /// The minute's end, RFC 3339.
    pub at: String,
    /// Requests answered in it.
    pub requests: u64,
    /// Of them, refused by Tiergate.
    pub refused: u64,
}

/// A vendor API's budget and its use.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Budget {
    /// The API (operation), or `*` for the shared budget.
    pub api: String,
    /// Calls per second the vendor allows.
    pub limit_per_second: f64,
    /// Calls forwarded per second in the busiest minute of the window.
    pub busiest_per_second: f64,
    /// That, as a percentage of the limit.
    pub busiest_percent: f64,
    /// Calls refused after waiting for the budget (`TG.6002`) in the window.
    pub refused_after_waiting: u64,
    /// The vendor's own 429 answers in the window.
    pub vendor_429: u64,
}

/// The rate limiter now.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LimiterState {
    /// Calls waiting for the vendor budget now.
    pub queued_now: i64,
    /// Gateways sharing the limits through Redis, as last seen.
    pub live_gateways: i64,
    /// Refusals by limit in the window.
    pub refused: Vec<Count>,
    /// Redis calls that failed in the window.
    pub redis_errors: u64,
}

/// The audit chain's upkeep.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditState {
    /// The last verification: when, by whom, intact or broken, and what it said.
    pub last_verification: Option<serde_json::Value>,
    /// The last checkpoint: the record it covers and when.
    pub last_checkpoint: Option<Checkpoint>,
}

/// A checkpoint.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Checkpoint {
    /// The last record it covers.
    pub seq: i64,
    /// When, RFC 3339.
    pub at: String,
}

/// A served certificate's expiry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CertExpiry {
    /// Its subject.
    pub subject: String,
    /// Its expiry, RFC 3339.
    pub not_after: String,
    /// Days left.
    pub days_left: i64,
}

/// The relationship graph's sync.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GraphState {
    /// A graph is loaded.
    pub ready: bool,
    /// Relationships known, by kind.
    pub entries: BTreeMap<String, u64>,
    /// Syncs in the window, by outcome.
    pub syncs: BTreeMap<String, u64>,
}

/// The overview.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Overview {
    /// The window's start, RFC 3339 (an hour back, or the gateway's start).
    pub from: String,
    /// Now, RFC 3339.
    pub until: String,
    /// Requests by tier, route and outcome, most first.
    pub requests: Vec<Count>,
    /// Refusals by code, most first.
    pub refusals: Vec<Count>,
    /// Requests per minute, oldest first.
    pub per_minute: Vec<Minute>,
    /// Vendor budgets and their use.
    pub vendor_budget: Vec<Budget>,
    /// The rate limiter.
    pub limiter: LimiterState,
    /// The audit chain.
    pub audit: AuditState,
    /// Served certificates.
    pub certificates: Vec<CertExpiry>,
    /// The relationship graph.
    pub graph: GraphState,
}

fn counts(now: &Snapshot, then: &Snapshot, name: &str, keep: &[&str]) -> Vec<Count> {
    let mut merged: BTreeMap<BTreeMap<String, String>, u64> = BTreeMap::new();
    for (labels, grew) in now.since(then, name) {
        let key: BTreeMap<String, String> = keep
            .iter()
            .map(|k| ((*k).to_owned(), label(&labels, k).to_owned()))
            .collect();
        *merged.entry(key).or_default() += grew as u64;
    }
    let mut out: Vec<Count> = merged
        .into_iter()
        .map(|(labels, count)| Count { labels, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.labels.cmp(&b.labels)));
    out
}

const REQUESTS: &str = "tiergate_requests_total";

/// Requests of `route` (all routes: none) forwarded to the vendor between two snapshots.
fn forwarded(now: &Snapshot, then: &Snapshot, route: Option<&str>) -> f64 {
    now.since(then, REQUESTS)
        .into_iter()
        .filter(|(l, _)| route.is_none_or(|r| label(l, "route") == r))
        .filter(|(l, _)| matches!(label(l, "outcome"), "ok" | "upstream_error"))
        .map(|(_, d)| d)
        .sum()
}

fn budgets(s: &Sources, minutes: &[Snapshot], now: &Snapshot, then: &Snapshot) -> Vec<Budget> {
    let refused_after = counts(
        now,
        then,
        "tiergate_vendor_budget_refused_total",
        &["operation"],
    );
    let vendor_429 = counts(now, then, "tiergate_vendor_429_total", &["operation"]);
    let of = |list: &[Count], api: &str| -> u64 {
        list.iter()
            .filter(|c| api == "*" || c.labels.get("operation").map(String::as_str) == Some(api))
            .map(|c| c.count)
            .sum()
    };
    s.budgets
        .iter()
        .map(|(api, limit)| {
            let route = (api != "*").then_some(api.as_str());
            let busiest = minutes
                .windows(2)
                .map(|w| {
                    let secs = (w[1].at - w[0].at).max(1) as f64;
                    forwarded(&w[1], &w[0], route) / secs
                })
                .fold(0.0_f64, f64::max);
            Budget {
                api: api.clone(),
                limit_per_second: *limit,
                busiest_per_second: (busiest * 100.0).round() / 100.0,
                busiest_percent: if *limit > 0.0 {
                    (busiest / limit * 1000.0).round() / 10.0
                } else {
                    0.0
                },
                refused_after_waiting: of(&refused_after, api),
                vendor_429: of(&vendor_429, api),
            }
        })
        .collect()
}

async fn audit_state(audit: &Audit) -> Result<AuditState, Rejection> {
    let unavailable = |_| Rejection::AuditUnavailable;
    let f = Filter {
        matching: Match {
            kind: Some("system".into()),
            operation: Some("verify".into()),
            ..Match::default()
        },
        limit: 1,
        ..Filter::default()
    };
    let last = audit.store().audit().query(f).await.map_err(unavailable)?;
    let last_verification = last
        .first()
        .and_then(|(_, body)| serde_json::from_str(body).ok());
    let checkpoints = audit
        .store()
        .audit()
        .checkpoints()
        .await
        .map_err(unavailable)?;
    let last_checkpoint = checkpoints.last().map(|c| Checkpoint {
        seq: c.seq,
        at: super::rfc3339(c.at / 1000),
    });
    Ok(AuditState {
        last_verification,
        last_checkpoint,
    })
}

/// The overview, for those who read it.
pub async fn overview(s: &Sources, reader: &Principal) -> Result<Overview, Rejection> {
    admin::reads(reader, Area::Overview)?;
    let at = time::OffsetDateTime::now_utc().unix_timestamp();
    let now = Snapshot::take(s.metrics.registry(), at);
    let mut minutes: Vec<Snapshot> = s
        .metrics
        .hour
        .snapshots()
        .into_iter()
        .filter(|m| m.at >= at - 3600)
        .collect();
    let then = minutes.first().cloned().unwrap_or_default();
    minutes.push(now.clone());
    let per_minute = minutes
        .windows(2)
        .map(|w| Minute {
            at: super::rfc3339(w[1].at),
            requests: counts(&w[1], &w[0], REQUESTS, &[])
                .iter()
                .map(|c| c.count)
                .sum(),
            refused: counts(&w[1], &w[0], "tiergate_refusals_total", &[])
                .iter()
                .map(|c| c.count)
                .sum(),
        })
        .collect();
    let gauge = |name: &str| now.total(name) as i64;
    let served = s.certs.as_ref().map(|c| c.current()).unwrap_or_default();
    let certificates = served
        .iter()
        .map(|c| CertExpiry {
            subject: c.subject.clone(),
            not_after: super::rfc3339(c.not_after),
            days_left: (c.not_after - at) / 86_400,
        })
        .collect();
    let graph = GraphState {
        ready: s.graph.ready(),
        entries: s
            .graph
            .sizes()
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n as u64))
            .collect(),
        syncs: counts(&now, &then, "tiergate_graph_syncs_total", &["outcome"])
            .into_iter()
            .map(|c| {
                let outcome = c.labels.get("outcome").cloned().unwrap_or_default();
                (outcome, c.count)
            })
            .collect(),
    };
    let refused_limits: Vec<Count> = counts(
        &now,
        &then,
        "tiergate_ratelimit_decisions_total",
        &["limit", "outcome"],
    )
    .into_iter()
    .filter(|c| c.labels.get("outcome").map(String::as_str) == Some("refused"))
    .collect();
    let redis_errors = counts(
        &now,
        &then,
        "tiergate_ratelimit_redis_calls_total",
        &["result"],
    )
    .iter()
    .filter(|c| c.labels.get("result").map(String::as_str) != Some("ok"))
    .map(|c| c.count)
    .sum();
    Ok(Overview {
        from: super::rfc3339(if then.at > 0 { then.at } else { at }),
        until: super::rfc3339(at),
        requests: counts(&now, &then, REQUESTS, &["tier", "route", "outcome"]),
        refusals: counts(&now, &then, "tiergate_refusals_total", &["code"]),
        vendor_budget: budgets(s, &minutes, &now, &then),
        per_minute,
        limiter: LimiterState {
            queued_now: gauge("tiergate_vendor_budget_queued"),
            live_gateways: gauge("tiergate_ratelimit_live_gateways"),
            refused: refused_limits,
            redis_errors,
        },
        audit: audit_state(&s.audit).await?,
        certificates,
        graph,
    })
}
