//! Syncs of the relationship graph from the partner API's list operations, as the
//! distributor: its resellers, then for itself and each reseller the customers, voucher
//! quotas and vouchers. A full sync lists everything; an incremental one only what the lists'
//! time filters say is new. Every call takes its turn in a share of its API's vendor budget
//! ([`Pace`]).

use crate::credentials::UpstreamKey;
use crate::limiter::Limiter;
use crate::metrics::Metrics;
use crate::upstream::{CallError, UpstreamClient};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tiergate_policy::{Edge, Graph};
use time::OffsetDateTime;

/// Pause between two calls of one list operation (the vendor allows 10 per second).
const PACE: Duration = Duration::from_millis(120);
/// Page size (the vendor's maximum).
const PAGE: u64 = 100;

/// One list operation: where it is and how to read a page.
pub struct Listing {
    method: &'static str,
    path: &'static str,
    items: &'static str,
    total: &'static str,
}

/// The vendor's voucher records (issues and reclaims), for ledger reconciliation.
pub(crate) const COUPON_RECORDS: Listing = Listing {
    method: "GET",
    path: "/v2/promotions/benefits/partner-coupons/records/query",
    items: "records",
    total: "total_count",
};

/// The vendor's quota records (issues to and reclaims from resellers), for reconciliation.
pub(crate) const QUOTA_RECORDS: Listing = Listing {
    method: "GET",
    path: "/v2/partners/coupon-quotas/records",
    items: "records",
    total: "total_count",
};

/// The vendor's fund adjustment records (allocations to and reclaims from customers), for
/// reconciliation.
pub(crate) const ADJUST_RECORDS: Listing = Listing {
    method: "GET",
    path: "/v3/accounts/partner-accounts/adjust-records",
    items: "records",
    total: "total_count",
};

const RESELLERS: Listing = Listing {
    method: "POST",
    path: "/v2/partners/indirect-partners/query",
    items: "indirect_partners",
    total: "count",
};
pub(crate) const CUSTOMERS: Listing = Listing {
    method: "POST",
    path: "/v2/partners/sub-customers/query",
    items: "customer_infos",
    total: "count",
};
const QUOTAS: Listing = Listing {
    method: "POST",
    path: "/v2/partners/coupon-quotas/query",
    items: "quotas",
    total: "total_count",
};
const COUPONS: Listing = Listing {
    method: "GET",
    path: "/v2/promotions/benefits/partner-coupons",
    items: "user_coupons",
    total: "total_count",
};

/// Every item of a list operation, page by page; `filter` (`&name=value...`, encoded) is
/// added to a GET's query, or set as string fields of a POST's body.
pub(crate) async fn list_filtered(
    client: &UpstreamClient,
    key: &UpstreamKey,
    l: &Listing,
    acting: Option<&str>,
    filter: &str,
) -> Result<Vec<Value>, CallError> {
    list_paced(client, key, l, acting, filter, None).await
}

/// [`list_filtered`], each page waiting for its turn in `pace` (else [`PACE`] between pages).
async fn list_paced(
    client: &UpstreamClient,
    key: &UpstreamKey,
    l: &Listing,
    acting: Option<&str>,
    filter: &str,
    pace: Option<&Pace>,
) -> Result<Vec<Value>, CallError> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
        if let Some(p) = pace {
            p.turn(l).await;
        }
        let (query, body) = if l.method == "GET" {
            let mut q = format!("limit={PAGE}&offset={offset}{filter}");
            if let Some(a) = acting {
                q.push_str(&format!("&indirect_partner_id={a}"));
            }
            (q, Value::Null)
        } else {
            let mut b = json!({"offset": offset, "limit": PAGE});
            if let Some(a) = acting {
                b["indirect_partner_id"] = json!(a);
            }
            for (k, v) in filter.split('&').filter_map(|p| p.split_once('=')) {
                let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                b[k] = json!(v);
            }
            (String::new(), b)
        };
        let page = client.call(key, l.method, l.path, &query, &body).await?;
        if let Some(p) = pace {
            p.called(l);
        }
        let items = page[l.items].as_array().cloned().unwrap_or_default();
        let total = page[l.total].as_u64().unwrap_or(0);
        let got = items.len() as u64;
        out.extend(items);
        offset += got;
        if got == 0 || offset >= total {
            return Ok(out);
        }
        if pace.is_none() {
            tokio::time::sleep(PACE).await;
        }
    }
}

/// How fast a sync may call each list operation: a share of that API's vendor budget
/// (`graph.budget_share`), so callers always keep the rest. The sync's calls also wait below
/// every caller's in the limiter ([`crate::limiter::Limiter::background`]): the share caps
/// them even when nobody else calls.
pub struct Pace {
    limiter: Option<Arc<Limiter>>,
    share: f64,
    next: Mutex<HashMap<&'static str, Instant>>,
    metrics: Option<Arc<Metrics>>,
}

impl Pace {
    /// A pace at `share` of each API's budget in `limiter` (none: [`PACE`] between calls).
    pub fn new(limiter: Option<Arc<Limiter>>, share: f64, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            limiter,
            share,
            next: Mutex::default(),
            metrics,
        }
    }

    /// The time between two of the sync's calls of one list operation: at most the share of
    /// its budget in any one-second window (at least one call a second).
    pub fn gap(&self, l: &Listing) -> Duration {
        let route = tiergate_policy::find_route(l.method, l.path);
        match (&self.limiter, route) {
            (Some(limiter), Some(r)) => {
                let calls = (limiter.vendor_rate(r) * self.share + 1e-9)
                    .floor()
                    .max(1.0);
                Duration::from_secs_f64(1.0 / calls)
            }
            _ => PACE,
        }
    }

    async fn turn(&self, l: &Listing) {
        let gap = self.gap(l);
        let at = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let at = next.get(l.path).copied().unwrap_or(now).max(now);
            next.insert(l.path, at + gap);
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    fn called(&self, l: &Listing) {
        if let (Some(m), Some(r)) = (&self.metrics, tiergate_policy::find_route(l.method, l.path)) {
            m.graph_sync.called(r.operation);
        }
    }
}

fn str_field(v: &Value, name: &str) -> Option<String> {
    match &v[name] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A time as the vendor's list filters take it: UTC, to the second.
pub fn vendor_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What a sync found: relationships, and the customers' names (customer id, name), which
/// audit output masks wherever they appear.
#[derive(Default)]
pub struct Synced {
    /// The relationships.
    pub graph: Graph,
    /// The customers' names.
    pub names: Vec<(String, String)>,
}

impl Synced {
    fn add(&mut self, part: Synced) {
        part.graph.edges().for_each(|e| self.graph.insert(e));
        self.names.extend(part.names);
    }
}

/// Told how a full sync goes, so a first one serves each owner as soon as its part is in.
#[async_trait::async_trait]
pub trait Progress: Sync {
    /// The distributor's resellers are listed.
    async fn resellers(&self, ids: &[String]);
    /// One owner's part (the distributor's or a reseller's) is listed.
    async fn part(&self, owner: &str, part: &Graph);
}

/// What the sync needs to call the vendor.
#[derive(Clone, Copy)]
pub struct Vendor<'a> {
    /// The client (spending the distributor's budget below every caller).
    pub client: &'a UpstreamClient,
    /// The distributor's key.
    pub key: &'a UpstreamKey,
    /// The sync's share of each API's budget.
    pub pace: &'a Pace,
}

impl Vendor<'_> {
    async fn list(
        &self,
        l: &Listing,
        acting: Option<&str>,
        filter: &str,
    ) -> Result<Vec<Value>, CallError> {
        list_paced(self.client, self.key, l, acting, filter, Some(self.pace)).await
    }

    /// The distributor's resellers (associated since `since`, vendor time, if given).
    async fn resellers(&self, since: Option<&str>) -> Result<Vec<String>, CallError> {
        let filter = since_filter("associated_on_begin", since);
        Ok(self
            .list(&RESELLERS, None, &filter)
            .await?
            .iter()
            .filter_map(|r| str_field(r, "indirect_partner_id"))
            .collect())
    }

    /// One owner's part: the customers, voucher quotas and vouchers of `acting` (a reseller;
    /// none: the distributor itself), whole or only what is new since `since` (vendor time).
    /// The three list operations have separate budgets: they are listed side by side.
    async fn part(&self, acting: Option<&str>, since: Option<&str>) -> Result<Synced, CallError> {
        let owner = acting.unwrap_or(self.key.domain_id.as_str()).to_owned();
        let (cf, tf) = (
            since_filter("associated_on_begin", since),
            since_filter("create_time_begin", since),
        );
        let (customers, quotas, coupons) = tokio::try_join!(
            self.list(&CUSTOMERS, acting, &cf),
            self.list(&QUOTAS, acting, &tf),
            self.list(&COUPONS, acting, &tf),
        )?;
        let mut out = Synced::default();
        for c in customers {
            if let Some(id) = str_field(&c, "customer_id") {
                if let Some(name) = str_field(&c, "customer").filter(|n| !n.trim().is_empty()) {
                    out.names.push((id.clone(), name));
                }
                let resale = str_field(&c, "association_type").as_deref() == Some("2");
                let owner = owner.clone();
                out.graph.insert(Edge::Customer { id, owner, resale });
            }
        }
        for q in quotas {
            if let Some(id) = str_field(&q, "quota_id") {
                let owner = owner.clone();
                out.graph.insert(Edge::Quota { id, owner });
            }
        }
        for k in coupons {
            if let Some(id) = str_field(&k, "coupon_id") {
                let owner = owner.clone();
                out.graph.insert(Edge::Coupon { id, owner });
            }
        }
        Ok(out)
    }

    fn reseller_edges(&self, ids: &[String]) -> Graph {
        ids.iter()
            .map(|r| Edge::Reseller {
                id: r.clone(),
                distributor: self.key.domain_id.clone(),
            })
            .collect()
    }
}

/// `&name=time` for a list filter (nothing without a time).
fn since_filter(name: &str, since: Option<&str>) -> String {
    since
        .map(|t| {
            let t = percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC);
            format!("&{name}={t}")
        })
        .unwrap_or_default()
}

/// A full sync: every relationship of the distributor the key speaks for, its resellers
/// first, then owner by owner (`progress` told of each).
pub async fn full(v: Vendor<'_>, progress: &dyn Progress) -> Result<Synced, CallError> {
    let resellers = v.resellers(None).await?;
    progress.resellers(&resellers).await;
    let mut out = Synced {
        graph: v.reseller_edges(&resellers),
        names: Vec::new(),
    };
    let owners = std::iter::once(None).chain(resellers.iter().map(|r| Some(r.as_str())));
    for acting in owners {
        let part = v.part(acting, None).await?;
        progress
            .part(acting.unwrap_or(&v.key.domain_id), &part.graph)
            .await;
        out.add(part);
    }
    Ok(out)
}

/// An incremental sync: what is new since `since` (vendor time). Resellers associated since
/// then are listed whole; for the distributor and every reseller in `known`, the customers
/// associated and the quotas and vouchers created since then. Removals and changes are not
/// seen (the vendor's lists have no filter for them): the full sync catches those.
pub async fn increment(v: Vendor<'_>, since: &str, known: &[String]) -> Result<Synced, CallError> {
    let fresh: Vec<String> = v
        .resellers(Some(since))
        .await?
        .into_iter()
        .filter(|r| known.binary_search(r).is_err())
        .collect();
    let mut out = Synced {
        graph: v.reseller_edges(&fresh),
        names: Vec::new(),
    };
    let owners = std::iter::once(None).chain(known.iter().map(|r| Some(r.as_str())));
    for acting in owners {
        out.add(v.part(acting, Some(since)).await?);
    }
    for r in &fresh {
        out.add(v.part(Some(r), None).await?);
    }
    Ok(out)
}
