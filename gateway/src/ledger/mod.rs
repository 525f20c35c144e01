//! The delegation ledger in the database, strongly consistent across gateway processes.
//!
//! Each operation on a quota's tree runs in one transaction holding that quota's lock
//! (a PostgreSQL advisory lock; SQLite is the single-node embedded default): load the tree and
//! the reservations in flight, apply the pure ledger's operation, write back what changed.
//! Every decision is the pure ledger's (`tiergate_policy::ledger`); this adds only
//! durability and mutual exclusion.

use crate::store::{Backend, Store, StoreError, chunked, now_ms, values};
use ring::digest;
use sqlx::Row;
use std::collections::BTreeMap;
use tiergate_policy::ledger::{Ledger, Node, Reservation};

pub mod aliases;
pub(crate) mod batch;
pub mod changes;
pub mod funds;
pub mod reconcile;
pub mod requests;

/// A stable 64-bit lock key for a quota.
fn lock_key(quota: &str) -> i64 {
    let d = digest::digest(&digest::SHA256, quota.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_ref()[..8]);
    i64::from_be_bytes(b)
}

fn corrupt(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

/// Takes a quota's lock for the rest of the transaction (SQLite: the single connection is it).
pub(crate) async fn lock(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    quota: &str,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key(quota))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

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

pub(crate) async fn save(
    conn: &mut sqlx::AnyConnection,
    quota: &str,
    before: Ledger,
    after: Ledger,
) -> Result<(), sqlx::Error> {
    save_with(conn, quota, before, after, &BTreeMap::new()).await
}

/// Writes back what changed, one statement per kind of change (a batch changes many
/// reservations at once). `upstream` gives new reservations their vendor quota and acting
/// partner.
pub(crate) async fn save_with(
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

impl Store {
    /// The ledger of a quota as it stands (for views; decisions go through [`Store::ledger_apply`]).
    pub async fn ledger_view(&self, quota: &str) -> Result<Ledger, StoreError> {
        let quota = quota.to_owned();
        self.on_rt(move |pool| async move {
            let mut conn = pool.acquire().await?;
            load(&mut conn, &quota).await
        })
        .await
    }

    /// Applies `f` to a quota's ledger under its lock, atomically, and returns its result.
    pub async fn ledger_apply<T, F>(&self, quota: &str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> T + Send + 'static,
    {
        let quota = quota.to_owned();
        let backend = self.backend();
        self.on_rt(move |pool| async move {
            let mut tx = pool.begin().await?;
            lock(&mut tx, backend, &quota).await?;
            let before = load(&mut tx, &quota).await?;
            let mut after = before.clone();
            let out = f(&mut after);
            if after != before {
                save(&mut tx, &quota, before, after).await?;
            }
            tx.commit().await?;
            Ok(out)
        })
        .await
    }
}
