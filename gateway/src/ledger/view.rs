//! A quota's delegation tree as people read it (the admin API, the console and `tiergate
//! delegation show`).
//!
//! The answers are typed so that the admin API's document describes exactly what is sent:
//! fields are declared in alphabetical order, the order the earlier `json!` answers had
//! (`limits` is written in [`Limits`]' own field order now, where `json!` had sorted it).

use crate::store::{Store, StoreError};
use schemars::JsonSchema;
use serde::Serialize;
use tiergate_policy::ledger::{Ledger, Limits, Status, periods};

/// A quota's slices, as far as the caller may see them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Tree {
    /// The vendor quota the slices divide.
    pub quota_id: String,
    /// The slices shown.
    pub slices: Vec<Slice>,
}

/// One slice of a quota.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Slice {
    /// Today's date by the vendor's calendar (GMT+08:00), the key of `issued_today`.
    pub day: String,
    /// Its limit on what is outstanding (`limits.total`), as a decimal string.
    pub granted: String,
    /// The partner or staff member it is granted to.
    pub grantee: String,
    /// The slice's id, unique within the quota.
    pub id: String,
    /// Issued against it this month (GMT+08:00), for `limits.per_month`, as a decimal string.
    pub issued_this_month: String,
    /// Issued against it today (GMT+08:00), for `limits.per_day`, as a decimal string.
    pub issued_today: String,
    /// Everything it is limited to.
    pub limits: Limits,
    /// This month by the vendor's calendar (GMT+08:00), the key of `issued_this_month`.
    pub month: String,
    /// The slice it was cut from; none for a slice of the whole quota.
    pub parent: Option<String>,
    /// What can still be reserved or granted on, as a decimal string.
    pub remaining: String,
    /// Held for calls in flight, as a decimal string.
    pub reserved: String,
    /// In force, suspended, revoked or being issued.
    pub status: Status,
    /// The vendor quota the slice was issued as, when it was.
    pub upstream_quota: Option<String>,
    /// Spent, as a decimal string.
    pub used: String,
}

/// A quota's tree (granted, reserved, used, remaining per slice, and the vendor quota a slice
/// was issued as), keeping the slices `show` selects.
pub async fn tree(
    store: &Store,
    quota: &str,
    show: impl Fn(&Ledger, &str) -> bool,
) -> Result<Tree, StoreError> {
    let l = store.ledger().view(quota).await?;
    let links = store.ledger().links(quota).await?;
    // The caps count by the vendor's calendar (GMT+08:00): today's and this month's keys.
    let (day, month) = periods(time::OffsetDateTime::now_utc());
    let issued = |n: &tiergate_policy::ledger::Node, k: &str| {
        n.issued
            .get(k)
            .map_or_else(|| "0".to_owned(), ToString::to_string)
    };
    let slices = l
        .nodes()
        .filter(|(id, _)| show(&l, id))
        .map(|(id, n)| {
            let upstream = links.iter().find(|(_, node)| node == id).map(|(u, _)| u);
            Slice {
                day: day.clone(),
                granted: n.limits.total.to_string(),
                grantee: n.grantee.clone(),
                id: id.clone(),
                issued_this_month: issued(n, &month),
                issued_today: issued(n, &day),
                limits: n.limits.clone(),
                month: month.clone(),
                parent: n.parent.clone(),
                remaining: l.remaining(id).to_string(),
                reserved: n.reserved.to_string(),
                status: n.status,
                upstream_quota: upstream.cloned(),
                used: n.used.to_string(),
            }
        })
        .collect();
    Ok(Tree {
        quota_id: quota.to_owned(),
        slices,
    })
}
