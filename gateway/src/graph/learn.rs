//! Relationships learned from successful answers, so a voucher or reseller quota just
//! created can be used at once, before the next sync.

use serde_json::Value;
use tiergate_policy::{Edge, Permit};

/// Whether the answers of an operation teach the graph something (only those bodies are kept).
pub fn teaches(operation: &str) -> bool {
    matches!(operation, "create_partner_coupons" | "update_coupon_quotas")
}

/// The relationships a successful answer creates.
pub fn edges(permit: &Permit, body: &[u8]) -> Vec<Edge> {
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
        _ => Vec::new(),
    }
}
