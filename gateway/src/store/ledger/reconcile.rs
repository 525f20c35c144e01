//! Reconciliation's side of the ledger: what is still unsettled, and one quota settled from
//! the vendor's voucher records in one transaction under the quota's lock (reservations
//! committed for the vouchers the vendor issued and released for the rest; reclaimed vouchers
//! credited back to their slices).

use super::requests::Hold;
use super::rows::{Tree, insert_coupons};
use crate::chain::record::{Entry, Kind};
use crate::chain::sign::Signer;
use crate::store::audit::append_in;
use crate::store::db::{Db, StoreError};
use crate::store::idempotency::settle_in;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tiergate_policy::ledger::Reservation;

/// Vendor and gateway clocks may disagree by this much when matching records to reservations.
pub const CLOCK_SLACK_MS: i64 = 5 * 60 * 1000;

/// What a reconciliation run did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Pending reservations settled.
    pub reservations: usize,
    /// Of those, the amount the vendor had issued (committed).
    pub issued: Decimal,
    /// And the amount it had not (released).
    pub released: Decimal,
    /// Reclaims credited back to their slices.
    pub reclaims: usize,
    /// The amount credited.
    pub credited: Decimal,
    /// Vouchers the vendor issued from a delegated quota that no reservation explains
    /// (issued outside Tiergate); reported, not charged to any slice.
    pub unattributed: Vec<String>,
    /// Slices being issued upstream settled from the vendor's quota records.
    pub issues: usize,
    /// Money calls of unknown outcome settled from the vendor's records.
    pub outcomes: usize,
    /// Of those, calls the vendor keeps no record of (answered TG.3015).
    pub unresolved: usize,
}

impl Report {
    /// Adds another quota's part.
    pub fn add(&mut self, part: Report) {
        self.reservations += part.reservations;
        self.issued += part.issued;
        self.released += part.released;
        self.reclaims += part.reclaims;
        self.credited += part.credited;
        self.unattributed.extend(part.unattributed);
        self.issues += part.issues;
        self.outcomes += part.outcomes;
        self.unresolved += part.unresolved;
    }
}

/// One of the vendor's voucher records.
#[derive(Debug, Clone)]
pub struct VendorRecord {
    /// `1` issued, `2` reclaimed.
    pub operation: String,
    /// The voucher.
    pub coupon: String,
    /// Its customer.
    pub customer: String,
    /// The amount issued or returned to the quota.
    pub amount: Decimal,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// A reservation held past the in-flight horizon.
#[derive(Clone)]
pub struct Pending {
    id: String,
    /// The ledger quota it is in.
    pub quota: String,
    reservation: Reservation,
    created_at: i64,
    /// The vendor quota its vouchers come from.
    pub upstream_quota: String,
    /// The partner it acts as upstream.
    pub acting: String,
}

/// A voucher issued through a slice and not yet credited back as reclaimed.
#[derive(Clone)]
pub struct Open {
    coupon: String,
    /// The ledger quota.
    pub quota: String,
    node: String,
    /// The vendor quota it came from.
    pub upstream_quota: String,
    /// The partner it was issued as.
    pub acting: String,
}

/// Reservations created before `before` (Unix ms) and vouchers not yet reclaimed (all of
/// them with `full`, else those a reclaim was seen for).
pub(super) async fn unsettled(
    db: &Db,
    before: i64,
    full: bool,
) -> Result<(Vec<Pending>, Vec<Open>), StoreError> {
    db.run(move |pool| async move {
        let mut pending = Vec::new();
        for r in sqlx::query(
            "SELECT id, quota_id, reservation, created_at, upstream_quota, acting \
             FROM ledger_reservations WHERE created_at < $1 AND upstream_quota IS NOT NULL",
        )
        .bind(before)
        .fetch_all(&pool)
        .await?
        {
            let json: String = r.try_get("reservation")?;
            pending.push(Pending {
                id: r.try_get("id")?,
                quota: r.try_get("quota_id")?,
                reservation: serde_json::from_str(&json)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                created_at: r.try_get("created_at")?,
                upstream_quota: r.try_get("upstream_quota")?,
                acting: r.try_get("acting")?,
            });
        }
        let mut open = Vec::new();
        for r in sqlx::query(
            "SELECT coupon_id, quota_id, node, upstream_quota, acting FROM ledger_coupons \
             WHERE reclaimed IS NULL AND (reclaim_seen IS NOT NULL OR $1 = 1)",
        )
        .bind(i64::from(full))
        .fetch_all(&pool)
        .await?
        {
            open.push(Open {
                coupon: r.try_get("coupon_id")?,
                quota: r.try_get("quota_id")?,
                node: r.try_get("node")?,
                upstream_quota: r.try_get("upstream_quota")?,
                acting: r.try_get("acting")?,
            });
        }
        Ok((pending, open))
    })
    .await
}

/// The vendor's records of each vendor quota concerned.
pub type Records = BTreeMap<String, Vec<VendorRecord>>;

/// A quota's tree and vouchers inside the reconciliation transaction.
struct Quota<'a> {
    quota: String,
    tree: Tree,
    known: BTreeSet<String>,
    records: &'a Records,
    entries: Vec<Entry>,
    part: Report,
}

/// Settles one quota in one transaction.
pub(super) async fn settle_quota(
    db: &Db,
    signer: Arc<Signer>,
    quota: &str,
    pending: Vec<Pending>,
    open: Vec<Open>,
    records: Records,
) -> Result<Report, StoreError> {
    let quota = quota.to_owned();
    db.transaction(move |tx, backend| {
        Box::pin(async move {
            let tree = Tree::open(tx, backend, &quota).await?;
            let mut known: BTreeSet<String> = BTreeSet::new();
            for r in sqlx::query("SELECT coupon_id FROM ledger_coupons WHERE quota_id = $1")
                .bind(quota.clone())
                .fetch_all(&mut *tx)
                .await?
            {
                known.insert(r.try_get("coupon_id")?);
            }
            let mut q = Quota {
                quota: quota.clone(),
                tree,
                known,
                records: &records,
                entries: Vec::new(),
                part: Report::default(),
            };
            for p in pending {
                q.settle_pending(tx, p).await?;
            }
            for o in open {
                q.credit_reclaim(tx, o).await?;
            }
            let Quota {
                tree,
                known,
                entries,
                mut part,
                ..
            } = q;
            for rs in records.values() {
                part.unattributed.extend(
                    rs.iter()
                        .filter(|v| v.operation == "1" && !known.contains(&v.coupon))
                        .map(|v| v.coupon.clone()),
                );
            }
            tree.save(tx, &quota, &BTreeMap::new()).await?;
            if !entries.is_empty() {
                append_in(tx, backend, entries, &signer).await?;
            }
            Ok(part)
        })
    })
    .await
}

impl Quota<'_> {
    /// Commits a held reservation for the vouchers the vendor's records show it issued,
    /// releases the rest, and records the settled answer for an idempotent retry.
    async fn settle_pending(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        p: Pending,
    ) -> Result<(), sqlx::Error> {
        let Pending {
            id,
            reservation: r,
            created_at,
            upstream_quota,
            acting,
            ..
        } = p;
        if self.tree.after.reservation(&id).is_none() {
            return Ok(()); // settled on the request path meanwhile
        }
        let issued_here = self
            .records
            .get(&upstream_quota)
            .map_or(&[][..], Vec::as_slice);
        let mut matched: Vec<(String, String)> = Vec::new();
        for customer in &r.customers {
            let hit = issued_here.iter().find(|v| {
                v.operation == "1"
                    && v.customer == *customer
                    && v.amount == r.face_value
                    && v.at_ms >= created_at - CLOCK_SLACK_MS
                    && !self.known.contains(&v.coupon)
            });
            if let Some(v) = hit {
                self.known.insert(v.coupon.clone());
                matched.push((customer.clone(), v.coupon.clone()));
            }
        }
        let customers: Vec<String> = matched.iter().map(|(c, _)| c.clone()).collect();
        let used = self.tree.after.commit(&id, &customers);
        let released = r.amount() - used;
        let hold = Hold {
            quota: self.quota.clone(),
            node: r.node.clone(),
            reservation: id.clone(),
            amount: r.amount(),
            upstream_quota,
            acting: acting.clone(),
        };
        let issued: Vec<_> = matched
            .iter()
            .map(|(c, k)| (hold.clone(), c.clone(), k.clone(), r.face_value))
            .collect();
        insert_coupons(tx, &issued).await?;
        // A client retrying with the same idempotency key gets this as the answer.
        let infos: Vec<Value> = matched
            .iter()
            .map(|(c, k)| json!({"id": c, "coupon_id": k}))
            .collect();
        let errors: Vec<Value> = r
            .customers
            .iter()
            .filter(|c| !customers.contains(c))
            .map(|c| {
                json!({"id": c, "error_code": "TG.3009",
                "error_msg": "the vendor did not issue this voucher (settled by reconciliation)"})
            })
            .collect();
        let answer = json!({"coupon_infos": infos, "error_details": errors});
        settle_in(tx, &id, &answer.to_string()).await?;
        self.part.reservations += 1;
        self.part.issued += used;
        self.part.released += released;
        self.entries.push(Entry {
            kind: Some(Kind::Outcome),
            request_id: Some(id.clone()),
            operation: Some("create_partner_coupons".into()),
            acting: Some(acting),
            customers: r.customers.clone(),
            amount: Some(r.amount().to_string()),
            currency: Some("CNY".into()),
            outcome: Some("reconciled".into()),
            source: Some("reconciliation".into()),
            detail: json!({"delegation": {"quota_id": self.quota, "slice": r.node,
                "reservation": id, "state": "settled", "used": used.to_string(),
                "released": released.to_string()},
                "coupon_infos": infos}),
            ..Entry::default()
        });
        Ok(())
    }

    /// Credits a reclaimed voucher's slice with what the vendor returned to the quota, once.
    async fn credit_reclaim(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        o: Open,
    ) -> Result<(), sqlx::Error> {
        let reclaim = self.records.get(&o.upstream_quota).and_then(|rs| {
            rs.iter()
                .find(|v| v.operation == "2" && v.coupon == o.coupon)
        });
        let Some(v) = reclaim else { return Ok(()) };
        // Claimed under the quota's lock: another run may have credited it meanwhile.
        let claimed = sqlx::query(
            "UPDATE ledger_coupons SET reclaimed = $1 WHERE coupon_id = $2 AND reclaimed IS NULL",
        )
        .bind(v.amount.to_string())
        .bind(o.coupon.clone())
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(());
        }
        let credit = self.tree.after.reclaim(&o.node, v.amount);
        self.part.reclaims += 1;
        self.part.credited += credit;
        self.entries.push(Entry {
            kind: Some(Kind::Delegation),
            operation: Some("reclaim_credit".into()),
            acting: Some(o.node.clone()),
            amount: Some(credit.to_string()),
            currency: Some("CNY".into()),
            outcome: Some("ok".into()),
            source: Some("reconciliation".into()),
            detail: json!({"quota_id": self.quota, "delegation": o.node, "coupon_id": o.coupon,
                           "credited": credit.to_string()}),
            ..Entry::default()
        });
        Ok(())
    }
}
