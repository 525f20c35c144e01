//! Full sync of the relationship graph from the partner API's list operations, as the
//! distributor: its resellers, then for itself and each reseller the customers, voucher
//! quotas and vouchers. Each list operation is paced under the vendor's 10 requests per
//! second per API; the four families run side by side (they have separate budgets).

use crate::credentials::UpstreamKey;
use crate::upstream::{CallError, UpstreamClient};
use serde_json::{Value, json};
use std::time::Duration;
use tiergate_policy::{Edge, Graph};

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

async fn list_all(
    client: &UpstreamClient,
    key: &UpstreamKey,
    l: &Listing,
    acting: Option<&str>,
) -> Result<Vec<Value>, CallError> {
    list_filtered(client, key, l, acting, "").await
}

/// Every item of a list operation, page by page; `filter` (`&name=value...`, encoded) is
/// added to a GET's query, or set as string fields of a POST's body.
pub(crate) async fn list_filtered(
    client: &UpstreamClient,
    key: &UpstreamKey,
    l: &Listing,
    acting: Option<&str>,
    filter: &str,
) -> Result<Vec<Value>, CallError> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
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
        let items = page[l.items].as_array().cloned().unwrap_or_default();
        let total = page[l.total].as_u64().unwrap_or(0);
        let got = items.len() as u64;
        out.extend(items);
        offset += got;
        if got == 0 || offset >= total {
            return Ok(out);
        }
        tokio::time::sleep(PACE).await;
    }
}

fn str_field(v: &Value, name: &str) -> Option<String> {
    match &v[name] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a sync found: the graph, and the customers' names (customer id, name), which audit
/// output masks wherever they appear.
pub struct Synced {
    /// The relationships.
    pub graph: Graph,
    /// The customers' names.
    pub names: Vec<(String, String)>,
}

/// Lists every relationship of the distributor `key` speaks for.
pub async fn sync(client: &UpstreamClient, key: &UpstreamKey) -> Result<Synced, CallError> {
    let distributor = key.domain_id.as_str();
    let resellers: Vec<String> = list_all(client, key, &RESELLERS, None)
        .await?
        .iter()
        .filter_map(|r| str_field(r, "indirect_partner_id"))
        .collect();
    let mut owners: Vec<Option<&str>> = vec![None];
    owners.extend(resellers.iter().map(|r| Some(r.as_str())));
    let family = |l: &'static Listing| {
        let owners = owners.clone();
        async move {
            let mut all = Vec::new();
            for (i, acting) in owners.iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(PACE).await;
                }
                let owner = acting.unwrap_or(distributor).to_owned();
                let items = list_all(client, key, l, *acting).await?;
                all.extend(items.into_iter().map(|v| (owner.clone(), v)));
            }
            Ok::<_, CallError>(all)
        }
    };
    let (customers, quotas, coupons) =
        tokio::try_join!(family(&CUSTOMERS), family(&QUOTAS), family(&COUPONS))?;
    let mut g: Graph = resellers
        .iter()
        .map(|r| Edge::Reseller {
            id: r.clone(),
            distributor: distributor.to_owned(),
        })
        .collect();
    let mut names = Vec::new();
    for (owner, c) in customers {
        if let Some(id) = str_field(&c, "customer_id") {
            if let Some(name) = str_field(&c, "customer").filter(|n| !n.trim().is_empty()) {
                names.push((id.clone(), name));
            }
            let resale = str_field(&c, "association_type").as_deref() == Some("2");
            g.insert(Edge::Customer { id, owner, resale });
        }
    }
    for (owner, q) in quotas {
        if let Some(id) = str_field(&q, "quota_id") {
            g.insert(Edge::Quota { id, owner });
        }
    }
    for (owner, k) in coupons {
        if let Some(id) = str_field(&k, "coupon_id") {
            g.insert(Edge::Coupon { id, owner });
        }
    }
    Ok(Synced { graph: g, names })
}
