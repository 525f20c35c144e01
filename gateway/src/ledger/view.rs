//! A quota's delegation tree as people read it (the admin API and `tiergate delegation show`).

use crate::store::{Store, StoreError};
use serde_json::{Value, json};
use tiergate_policy::ledger::Ledger;

/// A quota's tree as JSON (granted, reserved, used, remaining per slice, and the vendor quota
/// a slice was issued as), keeping the slices `show` selects.
pub async fn tree(
    store: &Store,
    quota: &str,
    show: impl Fn(&Ledger, &str) -> bool,
) -> Result<Value, StoreError> {
    let l = store.ledger().view(quota).await?;
    let links = store.ledger().links(quota).await?;
    let slices: Vec<Value> = l
        .nodes()
        .filter(|(id, _)| show(&l, id))
        .map(|(id, n)| {
            let upstream = links.iter().find(|(_, node)| node == id).map(|(u, _)| u);
            json!({
                "id": id, "parent": n.parent, "grantee": n.grantee, "status": n.status,
                "granted": n.limits.total.to_string(), "reserved": n.reserved.to_string(),
                "used": n.used.to_string(), "remaining": l.remaining(id).to_string(),
                "limits": n.limits, "upstream_quota": upstream,
            })
        })
        .collect();
    Ok(json!({"quota_id": quota, "slices": slices}))
}
