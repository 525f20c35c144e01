//! Group commit for voucher reservations and settlements. Each one used to be a transaction
//! of its own holding the quota's lock and the audit chain's lock for a dozen round trips,
//! so a quota (and the chain) took one voucher call at a time. Now the requests that arrive
//! while a transaction is running are applied together in the next one: every quota concerned
//! locked once (in a fixed order, so gateways sharing the database cannot deadlock), loaded
//! once, each request applied in arrival order by the pure ledger (the same arithmetic, so a
//! slice is never oversubscribed), written back once, and their audit records appended
//! together. A request's answer waits for its batch's commit, as it waited for its own.
//! If a batch fails, each of its requests is retried alone, so one bad request cannot fail
//! the others.

use super::requests::{Hold, Reserved, Settle, VoucherAsk};
use super::rows::{IssuedCoupon, Tree, insert_coupons, resolve};
use crate::chain::record::Entry;
use crate::chain::sign::Signer;
use crate::store::audit::append_in;
use crate::store::db::{Backend, Db, StoreError};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::AnyPool;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::OnceLock;
use tiergate_policy::ledger::{Drawer, Refusal};
use tokio::sync::{mpsc, oneshot};

/// Most requests in one transaction.
const MAX_BATCH: usize = 128;

/// One request to the ledger.
pub(crate) enum Op {
    /// Reserve a voucher request and write its audit intent.
    Reserve(VoucherAsk, Entry),
    /// Settle a reservation from the vendor's answer and write the audit outcome.
    Settle(Hold, Settle, Entry),
}

/// What a request came to.
pub(crate) enum Done {
    /// A reservation's result.
    Reserved(Reserved),
    /// A settlement written.
    Settled,
}

/// A request and where its result goes.
struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Done, StoreError>>,
}

/// The group-commit task of a store, started by the first voucher request.
#[derive(Default)]
pub(crate) struct Batcher(OnceLock<mpsc::UnboundedSender<Job>>);

impl Batcher {
    /// Hands a request to the group commit (started on first use) and waits for its batch.
    pub(crate) async fn run(
        &self,
        db: &Db,
        signer: Arc<Signer>,
        op: Op,
    ) -> Result<Done, StoreError> {
        let tx = self
            .0
            .get_or_init(|| start(&db.rt, db.pool.clone(), db.backend, signer));
        let (reply, answer) = oneshot::channel();
        tx.send(Job { op, reply })
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }
}

/// Starts the batching task on the store's runtime; returns where to send requests.
fn start(
    rt: &tokio::runtime::Handle,
    pool: AnyPool,
    backend: Backend,
    signer: Arc<Signer>,
) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    rt.spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            run(&pool, backend, &signer, jobs).await;
        }
    });
    tx
}

/// Applies a batch in one transaction, or each of its requests alone if that fails.
async fn run(pool: &AnyPool, backend: Backend, signer: &Signer, jobs: Vec<Job>) {
    let (ops, replies): (Vec<Op>, Vec<_>) = jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
    if ops.len() > 1 {
        match apply(pool, backend, signer, &ops).await {
            Ok(done) => {
                for (reply, d) in replies.into_iter().zip(done) {
                    let _ = reply.send(Ok(d));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = ops.len(), "ledger batch failed: applying its requests one by one");
            }
        }
    }
    for (op, reply) in ops.into_iter().zip(replies) {
        let one = std::slice::from_ref(&op);
        let result = apply(pool, backend, signer, one)
            .await
            .map_err(StoreError::from)
            .and_then(|mut d| d.pop().ok_or(StoreError::Stopped));
        let _ = reply.send(result);
    }
}

/// Which quota (and anchor slice) each request concerns, resolved before any lock is taken.
async fn targets(
    tx: &mut sqlx::AnyConnection,
    ops: &[Op],
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let mut resolved: BTreeMap<&str, (String, Option<String>)> = BTreeMap::new();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.push(match op {
            Op::Reserve(ask, _) => {
                if let Some(r) = resolved.get(ask.upstream_quota.as_str()) {
                    r.clone()
                } else {
                    let r = resolve(tx, &ask.upstream_quota).await?;
                    resolved.insert(&ask.upstream_quota, r.clone());
                    r
                }
            }
            Op::Settle(hold, _, _) => (hold.quota.clone(), None),
        });
    }
    Ok(out)
}

async fn apply(
    pool: &AnyPool,
    backend: Backend,
    signer: &Signer,
    ops: &[Op],
) -> Result<Vec<Done>, sqlx::Error> {
    let mut tx = crate::store::db::begin(pool, backend).await?;
    let targets = targets(&mut tx, ops).await?;
    // Locks in key order (a BTreeSet's), whatever order the requests came in.
    let quotas: BTreeSet<&String> = targets.iter().map(|(q, _)| q).collect();
    let mut trees: BTreeMap<String, Tree> = BTreeMap::new();
    for quota in quotas {
        trees.insert(quota.clone(), Tree::open(&mut tx, backend, quota).await?);
    }
    let mut entries = Vec::with_capacity(ops.len());
    let mut coupons = Vec::new();
    let mut reserved_meta = Vec::new();
    let mut done = Vec::with_capacity(ops.len());
    for (op, (quota, anchor)) in ops.iter().zip(&targets) {
        let Some(tree) = trees.get_mut(quota) else {
            return Err(sqlx::Error::Protocol("ledger batch lost a quota".into()));
        };
        match op {
            Op::Reserve(ask, intent) => {
                let (result, entry) = reserve(tree, quota, anchor.as_deref(), ask, intent.clone());
                if let Reserved::Held(h) = &result {
                    reserved_meta.push(h.clone());
                }
                entries.extend(entry);
                done.push(Done::Reserved(result));
            }
            Op::Settle(hold, settle, outcome) => {
                let (entry, issued) = settle_one(tree, hold, settle, outcome.clone());
                coupons.extend(issued);
                entries.push(entry);
                done.push(Done::Settled);
            }
        }
    }
    let upstream: BTreeMap<String, (String, String)> = reserved_meta
        .into_iter()
        .map(|h| (h.reservation, (h.upstream_quota, h.acting)))
        .collect();
    for (quota, tree) in trees {
        tree.save(&mut tx, &quota, &upstream).await?;
    }
    insert_coupons(&mut tx, &coupons).await?;
    if !entries.is_empty() {
        append_in(&mut tx, backend, entries, signer).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// One reservation against the batch's tree: the result and the intent to write (none when
/// the ledger refused: a refusal writes nothing here; the gateway audits it).
fn reserve(
    tree: &mut Tree,
    quota: &str,
    anchor: Option<&str>,
    ask: &VoucherAsk,
    mut intent: Entry,
) -> (Reserved, Option<Entry>) {
    if tree.before.is_empty() {
        return (Reserved::Undelegated, Some(intent));
    }
    let who = Drawer {
        partner: &ask.acting,
        staff: ask.staff.as_deref(),
    };
    let Some(node) = tree.after.slice_for(anchor, who) else {
        return (Reserved::Refused(Refusal::NoDelegation), None);
    };
    let now = time::OffsetDateTime::now_utc();
    let r = match tree
        .after
        .reserve(&ask.reservation_id, &node, &ask.request, now)
    {
        Ok(r) => r,
        Err(refusal) => return (Reserved::Refused(refusal), None),
    };
    let hold = Hold {
        quota: quota.to_owned(),
        node,
        reservation: ask.reservation_id.clone(),
        amount: r.amount(),
        upstream_quota: ask.upstream_quota.clone(),
        acting: ask.acting.clone(),
    };
    if let Some(d) = intent.detail.as_object_mut() {
        d.insert(
            "delegation".into(),
            json!({"quota_id": hold.quota, "slice": hold.node,
                   "reservation": hold.reservation, "reserved": hold.amount.to_string()}),
        );
    }
    (Reserved::Held(hold), Some(intent))
}

/// One settlement against the batch's tree: the outcome to write and the vouchers issued.
fn settle_one(
    tree: &mut Tree,
    hold: &Hold,
    settle: &Settle,
    mut outcome: Entry,
) -> (Entry, Vec<IssuedCoupon>) {
    let after = &mut tree.after;
    let face_value = after
        .reservation(&hold.reservation)
        .map(|r| r.face_value)
        .unwrap_or_default();
    let (used, released, issued) = match settle {
        Settle::Issued(issued) => {
            let customers: Vec<String> = issued.iter().map(|(c, _)| c.clone()).collect();
            let used = after.commit(&hold.reservation, &customers);
            let coupons = issued
                .iter()
                .map(|(c, k)| (hold.clone(), c.clone(), k.clone(), face_value))
                .collect();
            (used, hold.amount - used, coupons)
        }
        Settle::Release => (Decimal::ZERO, after.release(&hold.reservation), Vec::new()),
        Settle::Pending => (Decimal::ZERO, Decimal::ZERO, Vec::new()),
    };
    if let Some(d) = outcome.detail.as_object_mut() {
        let state = match settle {
            Settle::Pending => "pending",
            _ => "settled",
        };
        d.insert(
            "delegation".into(),
            json!({"quota_id": hold.quota, "slice": hold.node,
                   "reservation": hold.reservation, "state": state,
                   "used": used.to_string(), "released": released.to_string()}),
        );
    }
    (outcome, issued)
}
