//! The relationship graph as stored: replaced whole after a sync, extended by what answers
//! teach (written in the background, many per statement).

use super::db::{Db, StoreError};
use super::sql::{chunked, values};
use sqlx::Row;
use std::sync::OnceLock;
use tiergate_policy::Edge;
use tokio::sync::mpsc;

/// Where the syncs stand, as the lease holder left it.
#[derive(Debug, Clone, Default)]
pub struct SyncState {
    /// The lease holder (empty: none yet).
    pub holder: String,
    /// Until when its lease holds (Unix ms).
    pub lease_until: i64,
    /// When the last full sync began (Unix ms; 0: none yet).
    pub full_at: i64,
    /// When a full sync was last asked for by hand (Unix ms; 0: never).
    pub full_asked: i64,
    /// The vendor time the next incremental sync lists from (empty: none yet).
    pub since: String,
    /// While a first sync runs: the owners it lists, in order (JSON array; empty: none runs).
    pub first_owners: String,
    /// How many of them it has listed.
    pub first_listed: i64,
}

/// The writer of learned relationships, started by the first one.
pub(crate) type Learned = OnceLock<mpsc::UnboundedSender<Vec<Edge>>>;

/// The graph table.
pub struct GraphStore<'a> {
    pub(super) db: &'a Db,
    pub(super) learned: &'a Learned,
}

impl GraphStore<'_> {
    /// The stored relationship graph.
    pub async fn edges(&self) -> Result<Vec<Edge>, StoreError> {
        self.db
            .run(|pool| async move {
                let rows = sqlx::query("SELECT kind, id, owner, resale FROM graph_edges")
                    .fetch_all(&pool)
                    .await?;
                let mut edges = Vec::with_capacity(rows.len());
                for r in &rows {
                    edges.extend(edge_of(r)?);
                }
                Ok(edges)
            })
            .await
    }

    /// Replaces the stored graph with a freshly synced one.
    pub async fn replace(&self, edges: Vec<Edge>) -> Result<(), StoreError> {
        self.db
            .transaction(move |tx, _| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM graph_edges")
                        .execute(&mut *tx)
                        .await?;
                    insert_edges(tx, &edges, None).await?;
                    // The other gateways on this database reload when this moves; a first
                    // sync's progress is over.
                    sqlx::query(
                        "UPDATE graph_sync SET version = version + 1, first_owners = '', \
                         first_listed = 0 WHERE id = 1",
                    )
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Takes or renews the sync lease for `holder` until `until` (Unix ms): true when it holds
    /// it (it was free, lapsed at `now`, or already its own).
    pub async fn lease(&self, holder: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        self.db
            .run(move |pool| {
                let holder = holder.clone();
                async move {
                    let done = sqlx::query(
                        "UPDATE graph_sync SET holder = $1, lease_until = $2 \
                         WHERE id = 1 AND (lease_until < $3 OR holder = $1)",
                    )
                    .bind(holder)
                    .bind(until)
                    .bind(now)
                    .execute(&pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }
            })
            .await
    }

    /// Gives the lease up (a gateway stopping), so another takes over at once.
    pub async fn release(&self, holder: &str) -> Result<(), StoreError> {
        let holder = holder.to_owned();
        self.db
            .run(move |pool| {
                let holder = holder.clone();
                async move {
                    sqlx::query(
                        "UPDATE graph_sync SET lease_until = 0 WHERE id = 1 AND holder = $1",
                    )
                    .bind(holder)
                    .execute(&pool)
                    .await
                    .map(|_| ())
                }
            })
            .await
    }

    /// Relationships learned (by any gateway) in writes numbered after `after`, and the last
    /// number among them.
    pub async fn learned_since(&self, after: i64) -> Result<(Vec<Edge>, i64), StoreError> {
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query(
                    "SELECT kind, id, owner, resale, learned FROM graph_edges \
                     WHERE learned > $1",
                )
                .bind(after)
                .fetch_all(&pool)
                .await?;
                let mut last = after;
                let mut edges = Vec::with_capacity(rows.len());
                for r in &rows {
                    last = last.max(r.try_get::<i64, _>("learned")?);
                    edges.extend(edge_of(r)?);
                }
                Ok((edges, last))
            })
            .await
    }

    /// Where the syncs stand ([`SyncState`]).
    pub async fn sync_state(&self) -> Result<SyncState, StoreError> {
        self.db
            .run(|pool| async move {
                let r = sqlx::query(
                    "SELECT holder, lease_until, full_at, full_asked, since, first_owners, \
                     first_listed FROM graph_sync WHERE id = 1",
                )
                .fetch_one(&pool)
                .await?;
                Ok(SyncState {
                    holder: r.try_get("holder")?,
                    lease_until: r.try_get("lease_until")?,
                    full_at: r.try_get("full_at")?,
                    full_asked: r.try_get("full_asked")?,
                    since: r.try_get("since")?,
                    first_owners: r.try_get("first_owners")?,
                    first_listed: r.try_get("first_listed")?,
                })
            })
            .await
    }

    /// A first sync lists `owners` (JSON array, in order) and has listed `listed` of them.
    pub async fn first_progress(
        &self,
        owners: Option<String>,
        listed: i64,
    ) -> Result<(), StoreError> {
        self.db
            .run(move |pool| {
                let owners = owners.clone();
                async move {
                    let q = match owners {
                        Some(o) => sqlx::query(
                            "UPDATE graph_sync SET first_owners = $1, first_listed = $2 \
                             WHERE id = 1",
                        )
                        .bind(o)
                        .bind(listed),
                        None => sqlx::query("UPDATE graph_sync SET first_listed = $1 WHERE id = 1")
                            .bind(listed),
                    };
                    q.execute(&pool).await.map(|_| ())
                }
            })
            .await
    }

    /// Asks the syncer for a full sync (at `now`, Unix ms).
    pub async fn ask_full(&self, now: i64) -> Result<(), StoreError> {
        self.db
            .run(move |pool| async move {
                sqlx::query("UPDATE graph_sync SET full_asked = $1 WHERE id = 1")
                    .bind(now)
                    .execute(&pool)
                    .await
                    .map(|_| ())
            })
            .await
    }

    /// Records a sync done: a full one that began at `full_at` (Unix ms), if it was one, and
    /// the vendor time the next incremental sync lists from.
    pub async fn synced(&self, full_at: Option<i64>, since: String) -> Result<(), StoreError> {
        self.db
            .run(move |pool| {
                let since = since.clone();
                async move {
                    let q = match full_at {
                        Some(at) => sqlx::query(
                            "UPDATE graph_sync SET since = $1, full_at = $2 WHERE id = 1",
                        )
                        .bind(since)
                        .bind(at),
                        None => {
                            sqlx::query("UPDATE graph_sync SET since = $1 WHERE id = 1").bind(since)
                        }
                    };
                    q.execute(&pool).await.map(|_| ())
                }
            })
            .await
    }

    /// Adds customer names an incremental sync found (for masking them in audit output).
    pub async fn add_names(&self, names: Vec<(String, String)>) -> Result<(), StoreError> {
        if names.is_empty() {
            return Ok(());
        }
        self.db
            .transaction(move |tx, _| Box::pin(async move { insert_names(tx, names).await }))
            .await
    }

    /// How many syncs have been stored (the others reload when it moves).
    pub async fn version(&self) -> Result<i64, StoreError> {
        self.db
            .run(|pool| async move {
                sqlx::query("SELECT version FROM graph_sync WHERE id = 1")
                    .fetch_one(&pool)
                    .await?
                    .try_get("version")
            })
            .await
    }

    /// Adds or updates relationships learned from responses.
    pub async fn upsert(&self, edges: Vec<Edge>) -> Result<(), StoreError> {
        upsert(self.db, edges).await
    }

    /// Replaces the customer names the vendor listed (for masking them in audit output).
    pub async fn replace_names(&self, names: Vec<(String, String)>) -> Result<(), StoreError> {
        self.db
            .transaction(move |tx, _| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM graph_names")
                        .execute(&mut *tx)
                        .await?;
                    insert_names(tx, names).await
                })
            })
            .await
    }

    /// The customer names the vendor listed.
    pub async fn names(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .run(|pool| async move {
                sqlx::query("SELECT DISTINCT name FROM graph_names")
                    .fetch_all(&pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get("name"))
                    .collect()
            })
            .await
    }

    /// Stores learned relationships in the background: what arrives while a write runs goes
    /// in the next one (a voucher call teaches one edge; a transaction each was a third of a
    /// voucher call's database work).
    pub fn upsert_later(&self, edges: Vec<Edge>) {
        let tx = self.learned.get_or_init(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Edge>>();
            let db = self.db.clone();
            self.db.rt.spawn(async move {
                while let Some(mut edges) = rx.recv().await {
                    while let Ok(more) = rx.try_recv() {
                        edges.extend(more);
                    }
                    // One row per key: a statement may not update a row twice.
                    let mut by_key = std::collections::BTreeMap::new();
                    for e in edges {
                        let (kind, id, _, _) = edge_to_row(&e);
                        by_key.insert((kind, id.to_owned()), e);
                    }
                    let edges: Vec<Edge> = by_key.into_values().collect();
                    if let Err(e) = upsert(&db, edges).await {
                        tracing::warn!(error = %e, "could not store learned relationships");
                    }
                }
            });
            tx
        });
        if tx.send(edges).is_err() {
            tracing::warn!("the learned-relationship writer has stopped");
        }
    }
}

async fn upsert(db: &Db, edges: Vec<Edge>) -> Result<(), StoreError> {
    db.transaction(move |tx, _| {
        Box::pin(async move {
            // The next number, under the row's lock until commit: writes are numbered in the
            // order they commit, so a reader past number n has missed nothing below it.
            let n: i64 = sqlx::query(
                "UPDATE graph_sync SET learned = learned + 1 WHERE id = 1 RETURNING learned",
            )
            .fetch_one(&mut *tx)
            .await?
            .try_get("learned")?;
            insert_edges(tx, &edges, Some(n)).await?;
            Ok(())
        })
    })
    .await
}

/// Inserts or renames customer names.
async fn insert_names(
    tx: &mut sqlx::AnyConnection,
    names: Vec<(String, String)>,
) -> Result<(), sqlx::Error> {
    let size = |n: &(String, String)| n.0.len() + n.1.len() + 32;
    for chunk in chunked(names, size) {
        let sql = format!(
            "INSERT INTO graph_names (customer_id, name) VALUES {} \
             ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name",
            values(chunk.len(), 2)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, name) in chunk {
            q = q.bind(id).bind(name);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Inserts edges: a sync's (`learned` none: replacing all), or learned ones under their
/// write's number (replacing what the same keys said).
async fn insert_edges(
    tx: &mut sqlx::AnyConnection,
    edges: &[Edge],
    learned: Option<i64>,
) -> Result<(), sqlx::Error> {
    // At least 64 bytes a row: at most 128 rows (512 binds, under SQLite's 999) a statement.
    let size = |e: &&Edge| {
        let (kind, id, owner, _) = edge_to_row(e);
        kind.len() + id.len() + owner.len() + 64
    };
    for chunk in chunked(edges.iter().collect(), size) {
        let conflict = if learned.is_some() {
            " ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, \
             resale = excluded.resale, learned = excluded.learned"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO graph_edges (kind, id, owner, resale, learned) VALUES {}{conflict}",
            values(chunk.len(), 5)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            let (kind, id, owner, resale) = edge_to_row(e);
            q = q
                .bind(kind)
                .bind(id.to_owned())
                .bind(owner.to_owned())
                .bind(i64::from(resale))
                .bind(learned.unwrap_or(0));
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

fn edge_to_row(e: &Edge) -> (&'static str, &str, &str, bool) {
    match e {
        Edge::Reseller { id, distributor } => ("reseller", id, distributor, false),
        Edge::Customer { id, owner, resale } => ("customer", id, owner, *resale),
        Edge::Quota { id, owner } => ("quota", id, owner, false),
        Edge::Coupon { id, owner } => ("coupon", id, owner, false),
    }
}

/// The edge a `graph_edges` row holds (none for a kind this build does not know).
fn edge_of(r: &sqlx::any::AnyRow) -> Result<Option<Edge>, sqlx::Error> {
    let (kind, id, owner): (String, String, String) =
        (r.try_get("kind")?, r.try_get("id")?, r.try_get("owner")?);
    let resale: i64 = r.try_get("resale")?;
    Ok(edge_from_row(&kind, id, owner, resale != 0))
}

fn edge_from_row(kind: &str, id: String, owner: String, resale: bool) -> Option<Edge> {
    Some(match kind {
        "reseller" => Edge::Reseller {
            id,
            distributor: owner,
        },
        "customer" => Edge::Customer { id, owner, resale },
        "quota" => Edge::Quota { id, owner },
        "coupon" => Edge::Coupon { id, owner },
        _ => return None,
    })
}
