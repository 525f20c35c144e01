//! A quota's delegation tree as people read it (the admin API, the console and `tiergate
//! delegation show`).

use crate::store::{Store, StoreError};
use serde_json::{Value, json};
use tiergate_policy::ledger::{Ledger, periods};

/// A quota's tree as JSON (granted, reserved, used, remaining per slice, and the vendor quota
/// a slice was issued as), keeping the slices `show` selects.
pub async fn tree(
    store: &Store,
    quota: &str,
    show: impl Fn(&Ledger, &str) -> bool,
) -> Result<Value, StoreError> {
    let l = store.ledger().view(quota).await?;
    let links = store.ledger().links(quota).await?;
    // The caps count by the vendor's calendar (GMT+08:00): today's and this month's keys.
    let (day, month) = periods(time::OffsetDateTime::now_utc());
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
                "issued_today": n.issued.get(&day).map(ToString::to_string).unwrap_or_else(|| "0".into()),
                "issued_this_month": n.issued.get(&month).map(ToString::to_string).unwrap_or_else(|| "0".into()),
                "day": day, "month": month,
            })
        })
        .collect();
    Ok(json!({"quota_id": quota, "slices": slices}))
}
