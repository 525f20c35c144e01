//! Relationships learned from successful answers, so a voucher, a reseller quota or a
//! customer just created can be used at once, before the next sync (other gateways learn a
//! new customer from the store, or from the vendor when a call names it:
//! [`super::lookup`]).

use serde_json::Value;
use tiergate_policy::{Edge, Permit};

/// Whether the answers of an operation teach the graph something (only those bodies are kept).
pub fn teaches(operation: &str) -> bool {
    matches!(
        operation,
        "create_partner_coupons" | "update_coupon_quotas" | "create_sub_customer"
    )
}

/// The relationships a successful answer to `request` (the body forwarded) creates.
pub fn edges(permit: &Permit, request: &[u8], body: &[u8]) -> Vec<Edge> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let items = |name: &str| v[name].as_array().cloned().unwrap_or_default();
    match permit.route().operation {
        // coupon_infos[] {id: customer, coupon_id}: issued by the acting partner.
        "create_partner_coupons" => items("coupon_infos")
            .iter()
            .filter_map(|i| i["coupon_id"].as_str())
            .map(|id| Edge::Coupon {
                id: id.to_owned(),
                owner: permit.acting().to_owned(),
            })
            .collect(),
        // simple_quota_infos[] {id: reseller, quota_id}: a new quota of that reseller.
        "update_coupon_quotas" => items("simple_quota_infos")
            .iter()
            .filter_map(|i| Some((i["id"].as_str()?, i["quota_id"].as_str()?)))
            .map(|(owner, id)| Edge::Quota {
                id: id.to_owned(),
                owner: owner.to_owned(),
            })
            .collect(),
        // {domain_id}: a customer of the acting partner, resale unless the request asked
        // for advisory sale (`cooperation_type` "1").
        "create_sub_customer" => {
            let asked: Value = serde_json::from_slice(request).unwrap_or_default();
            v["domain_id"]
                .as_str()
                .map(|id| Edge::Customer {
                    id: id.to_owned(),
                    owner: permit.acting().to_owned(),
                    resale: asked["cooperation_type"].as_str() != Some("1"),
                })
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}
