//! Slices issued upstream: a reseller's slice of the distributor's quota is also a vendor
//! quota of the reseller's own (`indirect-partner-adjust`); vouchers issued from that quota
//! draw on the slice.

use crate::store::{Store, StoreError, now_ms};
use sqlx::Row;

impl Store {
    /// The vendor quotas issued for slices of `quota`: (upstream quota, slice).
    pub async fn ledger_links(&self, quota: &str) -> Result<Vec<(String, String)>, StoreError> {
        let q = quota.to_owned();
        self.on_rt(move |pool| async move {
            sqlx::query(
                "SELECT upstream_quota, node FROM ledger_aliases WHERE quota_id = $1 ORDER BY node",
            )
            .bind(q)
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("upstream_quota")?, r.try_get("node")?)))
            .collect()
        })
        .await
    }
}

/// Records, inside the caller's transaction, that `upstream_quota` is the slice `node` of
/// `quota`'s ledger.
pub(crate) async fn link_in(
    conn: &mut sqlx::AnyConnection,
    upstream_quota: &str,
    quota: &str,
    node: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_aliases (upstream_quota, quota_id, node, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(upstream_quota.to_owned())
    .bind(quota.to_owned())
    .bind(node.to_owned())
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map(drop)
}
