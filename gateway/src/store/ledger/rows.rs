//! A quota's ledger as rows: its slices and reservations (loaded and written back whole within
//! the quota's lock), the vendor quotas linked to slices, and the vouchers issued through them.

use super::requests::Hold;
use crate::store::db::Backend;
use crate::store::sql::{chunked, lock, now_ms, values};
use rust_decimal::Decimal;
use sqlx::Row;
use std::collections::BTreeMap;
use tiergate_policy::ledger::{Ledger, Node, Reservation};

fn corrupt(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

/// A quota's tree as loaded under its lock (`before`) and as the transaction changes it
/// (`after`).
pub(crate) struct Tree {
    pub before: Ledger,
    pub after: Ledger,
}

impl Tree {
    /// Locks a quota's tree for the rest of the transaction (see [`lock`]) and loads it.
    pub async fn open(
        conn: &mut sqlx::AnyConnection,
        backend: Backend,
        quota: &str,
    ) -> Result<Tree, sqlx::Error> {
        lock(conn, backend, quota).await?;
        let before = load(conn, quota).await?;
        let after = before.clone();
        Ok(Tree { before, after })
    }

    /// Writes back what changed; `upstream` gives new reservations their vendor quota and
    /// acting partner.
    pub async fn save(
        self,
        conn: &mut sqlx::AnyConnection,
        quota: &str,
        upstream: &BTreeMap<String, (String, String)>,
    ) -> Result<(), sqlx::Error> {
        if self.after == self.before {
            return Ok(());
        }
        save_with(conn, quota, self.before, self.after, upstream).await
    }
}

/// A quota's tree as stored.
pub(crate) async fn load(
    conn: &mut sqlx::AnyConnection,
    quota: &str,
) -> Result<Ledger, sqlx::Error> {
    let mut nodes = BTreeMap::new();
    for r in sqlx::query("SELECT id, node FROM ledger_nodes WHERE quota_id = $1")
        .bind(quota.to_owned())
        .fetch_all(&mut *conn)
        .await?
    {
        let id: String = r.try_get("id")?;
        let json: String = r.try_get("node")?;
        nodes.insert(id, serde_json::from_str::<Node>(&json).map_err(corrupt)?);
    }
    let mut reservations = BTreeMap::new();
    for r in sqlx::query("SELECT id, reservation FROM ledger_reservations WHERE quota_id = $1")
        .bind(quota.to_owned())
        .fetch_all(&mut *conn)
        .await?
    {
        let id: String = r.try_get("id")?;
        let json: String = r.try_get("reservation")?;
        reservations.insert(
            id,
            serde_json::from_str::<Reservation>(&json).map_err(corrupt)?,
        );
    }
    Ok(Ledger::from_parts(nodes, reservations))
}

/// Writes back what changed, one statement per kind of change (a batch changes many
/// reservations at once). `upstream` gives new reservations their vendor quota and acting
/// partner.
async fn save_with(
    conn: &mut sqlx::AnyConnection,
    quota: &str,
    before: Ledger,
    after: Ledger,
    upstream: &BTreeMap<String, (String, String)>,
) -> Result<(), sqlx::Error> {
    let (old_nodes, old_res) = before.into_parts();
    let (nodes, reservations) = after.into_parts();
    let mut changed = Vec::new();
    for (id, n) in nodes
        .iter()
        .filter(|(id, n)| old_nodes.get(*id) != Some(*n))
    {
        changed.push((id.clone(), serde_json::to_string(n).map_err(corrupt)?));
    }
    for rows in chunked(changed, |(id, json)| id.len() + json.len() + 64) {
        let sql = format!(
            "INSERT INTO ledger_nodes (id, quota_id, node, updated_at) VALUES {} \
             ON CONFLICT (id) DO UPDATE SET node = excluded.node, updated_at = excluded.updated_at",
            values(rows.len(), 4)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, json) in rows {
            q = q.bind(id).bind(quota.to_owned()).bind(json).bind(now_ms());
        }
        q.execute(&mut *conn).await?;
    }
    // Only a slice withdrawn before it was ever active leaves the tree (see
    // `Ledger::withdraw`); every other slice stays, revoked at most.
    let withdrawn: Vec<&String> = old_nodes
        .keys()
        .filter(|id| !nodes.contains_key(*id))
        .collect();
    if !withdrawn.is_empty() {
        let sql = format!(
            "DELETE FROM ledger_nodes WHERE id IN {}",
            values(1, withdrawn.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in withdrawn {
            q = q.bind(id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    let gone: Vec<&String> = old_res
        .keys()
        .filter(|id| !reservations.contains_key(*id))
        .collect();
    if !gone.is_empty() {
        let sql = format!(
            "DELETE FROM ledger_reservations WHERE id IN {}",
            values(1, gone.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in gone {
            q = q.bind(id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    let mut new = Vec::new();
    for (id, r) in reservations
        .iter()
        .filter(|(id, _)| !old_res.contains_key(*id))
    {
        new.push((id.clone(), serde_json::to_string(r).map_err(corrupt)?));
    }
    for rows in chunked(new, |(id, json)| id.len() + json.len() + 128) {
        let sql = format!(
            "INSERT INTO ledger_reservations (id, quota_id, reservation, created_at, \
             upstream_quota, acting) VALUES {}",
            values(rows.len(), 6)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, json) in rows {
            let (up, acting) = upstream.get(&id).cloned().unzip();
            q = q
                .bind(id)
                .bind(quota.to_owned())
                .bind(json)
                .bind(now_ms())
                .bind(up)
                .bind(acting);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Where a request's quota lives in the ledger: (ledger quota, anchor slice).
pub(crate) async fn resolve(
    conn: &mut sqlx::AnyConnection,
    upstream_quota: &str,
) -> Result<(String, Option<String>), sqlx::Error> {
    let alias = sqlx::query("SELECT quota_id, node FROM ledger_aliases WHERE upstream_quota = $1")
        .bind(upstream_quota.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match alias {
        Some(r) => (r.try_get("quota_id")?, Some(r.try_get("node")?)),
        None => (upstream_quota.to_owned(), None),
    })
}

/// A voucher issued through a slice: the hold it came from, the customer, the coupon id and
/// the face value.
pub(crate) type IssuedCoupon = (Hold, String, String, Decimal);

/// Records which slice each voucher came from (once per voucher: a repeated settlement changes
/// nothing), several per statement.
pub(crate) async fn insert_coupons(
    conn: &mut sqlx::AnyConnection,
    coupons: &[IssuedCoupon],
) -> Result<(), sqlx::Error> {
    let size = |c: &&IssuedCoupon| c.1.len() + c.2.len() + 256;
    for rows in chunked(coupons.iter().collect(), size) {
        let sql = format!(
            "INSERT INTO ledger_coupons (coupon_id, quota_id, node, customer_id, face_value, \
             request_id, upstream_quota, acting, issued_at) VALUES {} \
             ON CONFLICT (coupon_id) DO NOTHING",
            values(rows.len(), 9)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (hold, customer, coupon, face_value) in rows {
            q = q
                .bind(coupon.clone())
                .bind(hold.quota.clone())
                .bind(hold.node.clone())
                .bind(customer.clone())
                .bind(face_value.to_string())
                .bind(hold.reservation.clone())
                .bind(hold.upstream_quota.clone())
                .bind(hold.acting.clone())
                .bind(now_ms());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
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
