//! The delegation ledger's arithmetic and rules, pure: a distributor's voucher quota handed
//! down in slices (distributor -> reseller -> staff, up to 4 levels), and vouchers reserved,
//! committed, released and reclaimed against them.
//!
//! Invariant, at every node and whatever the sequence of operations:
//! `outstanding(node) <= node.total`, where `outstanding = reserved + used + what the node has
//! granted on` (a live child counts its whole slice, a revoked one what it had spent).
//! Issuance per calendar day and month (GMT+08:00) never exceeds any cap on the path to the root.

pub mod funds;
mod limits;
mod refusal;
mod select;

pub use limits::{Limits, VoucherRequest, min_opt, narrows, periods};
pub use refusal::{GrantError, Refusal};
pub use select::{BadVoucherRequest, Drawer, exact, voucher_request};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Deepest nesting (distributor -> reseller -> staff -> sub-staff).
pub const MAX_DEPTH: usize = 4;

/// A delegation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In force.
    Active,
    /// Temporarily closed: nothing new is reserved below it.
    Suspended,
    /// Closed for good; what it had not spent goes back to its parent.
    Revoked,
    /// Being issued to its grantee as a vendor quota of its own: its whole total is held on
    /// its parent (so no concurrent grant can take it) and nothing is reserved or granted
    /// below it until the vendor's answer makes it active ([`Ledger::issued`]) or withdraws
    /// it ([`Ledger::withdraw`]). Only that answer changes it.
    Issuing,
}

/// One slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Its parent (none for a root slice of a quota).
    pub parent: Option<String>,
    /// Who it is granted to (a partner id, or a staff credential's label).
    pub grantee: String,
    /// The vendor quota it is attached to.
    pub quota_id: String,
    /// Its limits.
    pub limits: Limits,
    /// State.
    pub status: Status,
    /// Reserved by requests in flight.
    pub reserved: Decimal,
    /// Committed (vouchers issued and not reclaimed).
    pub used: Decimal,
    /// Issued (reserved or committed) per period key (`2026-11-21`, `2026-11`).
    pub issued: BTreeMap<String, Decimal>,
}

/// A reservation in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The slice it draws on.
    pub node: String,
    /// Face value of each voucher.
    pub face_value: Decimal,
    /// The customers (one voucher each).
    pub customers: Vec<String>,
    /// The day and month it counted against.
    pub periods: (String, String),
}

impl Reservation {
    /// Its total.
    pub fn amount(&self) -> Decimal {
        self.face_value * Decimal::from(self.customers.len())
    }
}

/// The ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    nodes: BTreeMap<String, Node>,
    reservations: BTreeMap<String, Reservation>,
}

impl Ledger {
    /// A ledger from stored nodes and reservations in flight.
    pub fn from_parts(
        nodes: BTreeMap<String, Node>,
        reservations: BTreeMap<String, Reservation>,
    ) -> Self {
        Self {
            nodes,
            reservations,
        }
    }

    /// Its nodes and reservations in flight, for storage.
    pub fn into_parts(self) -> (BTreeMap<String, Node>, BTreeMap<String, Reservation>) {
        (self.nodes, self.reservations)
    }

    /// A node.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Every node.
    pub fn nodes(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// A reservation in flight.
    pub fn reservation(&self, id: &str) -> Option<&Reservation> {
        self.reservations.get(id)
    }

    fn children<'a>(&'a self, id: &'a str) -> impl Iterator<Item = (&'a String, &'a Node)> {
        self.nodes
            .iter()
            .filter(move |(_, n)| n.parent.as_deref() == Some(id))
    }

    /// What a node has spent: reserved, used, and what its children hold or spent.
    pub fn outstanding(&self, id: &str) -> Decimal {
        let Some(n) = self.nodes.get(id) else {
            return Decimal::ZERO;
        };
        let granted: Decimal = self
            .children(id)
            .map(|(cid, c)| match c.status {
                Status::Revoked => self.outstanding(cid),
                _ => c.limits.total,
            })
            .sum();
        n.reserved + n.used + granted
    }

    /// What a node can still reserve or grant on.
    pub fn remaining(&self, id: &str) -> Decimal {
        self.nodes
            .get(id)
            .map_or(Decimal::ZERO, |n| n.limits.total - self.outstanding(id))
    }

    fn path(&self, id: &str) -> Vec<(&String, &Node)> {
        let mut out = Vec::new();
        let mut cur = self.nodes.get_key_value(id);
        while let Some((k, n)) = cur {
            out.push((k, n));
            cur = n
                .parent
                .as_deref()
                .and_then(|p| self.nodes.get_key_value(p));
        }
        out
    }

    fn depth(&self, id: &str) -> usize {
        self.path(id).len()
    }

    /// Grants a slice; a child may only narrow its parent, and only from what it has left.
    pub fn grant(
        &mut self,
        id: &str,
        parent: Option<&str>,
        grantee: &str,
        quota_id: &str,
        limits: Limits,
    ) -> Result<(), GrantError> {
        if self.nodes.contains_key(id) {
            return Err(GrantError::Exists(id.to_owned()));
        }
        if limits.total <= Decimal::ZERO || limits.total.scale() > 2 {
            return Err(GrantError::BadAmount);
        }
        if let Some(p) = parent {
            let pn = self
                .nodes
                .get(p)
                .ok_or_else(|| GrantError::NoParent(p.to_owned()))?;
            if pn.status != Status::Active {
                return Err(GrantError::ParentInactive);
            }
            if self.depth(p) >= MAX_DEPTH {
                return Err(GrantError::TooDeep);
            }
            refusal::check_narrows(&limits, &pn.limits)?;
            if pn.quota_id != quota_id {
                return Err(GrantError::Widens("quota_id"));
            }
            let left = self.remaining(p);
            if limits.total > left {
                return Err(GrantError::ExceedsParent { remaining: left });
            }
        }
        self.nodes.insert(
            id.to_owned(),
            Node {
                parent: parent.map(str::to_owned),
                grantee: grantee.to_owned(),
                quota_id: quota_id.to_owned(),
                limits,
                status: Status::Active,
                reserved: Decimal::ZERO,
                used: Decimal::ZERO,
                issued: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Grants a slice that is being issued to its grantee upstream ([`Status::Issuing`]): the
    /// same checks as [`Ledger::grant`], its total held on the parent from now on.
    pub fn grant_issuing(
        &mut self,
        id: &str,
        parent: Option<&str>,
        grantee: &str,
        quota_id: &str,
        limits: Limits,
    ) -> Result<(), GrantError> {
        self.grant(id, parent, grantee, quota_id, limits)?;
        if let Some(n) = self.nodes.get_mut(id) {
            n.status = Status::Issuing;
        }
        Ok(())
    }

    /// The vendor issued a slice being issued: it is active. False if it was not being issued.
    pub fn issued(&mut self, id: &str) -> bool {
        match self.nodes.get_mut(id) {
            Some(n) if n.status == Status::Issuing => {
                n.status = Status::Active;
                true
            }
            _ => false,
        }
    }

    /// The vendor did not issue a slice being issued: it is gone, and its total is free on
    /// its parent again (nothing can have been spent below it). False if it was not being
    /// issued.
    pub fn withdraw(&mut self, id: &str) -> bool {
        if self.nodes.get(id).map(|n| n.status) != Some(Status::Issuing) {
            return false;
        }
        self.nodes.remove(id);
        true
    }

    /// Changes a slice's total: never below what it has spent, never beyond its parent.
    pub fn adjust(&mut self, id: &str, total: Decimal) -> Result<(), GrantError> {
        let n = self
            .nodes
            .get(id)
            .ok_or_else(|| GrantError::NoParent(id.to_owned()))?;
        if total <= Decimal::ZERO || total.scale() > 2 {
            return Err(GrantError::BadAmount);
        }
        if n.status == Status::Issuing {
            return Err(GrantError::Issuing(id.to_owned()));
        }
        let spent = self.outstanding(id);
        if total < spent {
            return Err(GrantError::BelowSpent { spent });
        }
        if let Some(p) = n.parent.clone() {
            let left = self.remaining(&p) + n.limits.total;
            if total > left {
                return Err(GrantError::ExceedsParent { remaining: left });
            }
        }
        if let Some(n) = self.nodes.get_mut(id) {
            n.limits.total = total;
        }
        Ok(())
    }

    /// Suspends, resumes or revokes a slice; revoking closes its whole subtree.
    pub fn set_status(&mut self, id: &str, status: Status) -> Result<(), GrantError> {
        let current = self
            .nodes
            .get(id)
            .map(|n| n.status)
            .ok_or_else(|| GrantError::NoParent(id.to_owned()))?;
        if current == Status::Revoked {
            return Err(GrantError::ParentInactive);
        }
        if current == Status::Issuing || status == Status::Issuing {
            return Err(GrantError::Issuing(id.to_owned()));
        }
        let mut ids = vec![id.to_owned()];
        if status == Status::Revoked {
            let mut i = 0;
            while i < ids.len() {
                let kids: Vec<String> = self.children(&ids[i]).map(|(k, _)| k.clone()).collect();
                ids.extend(kids);
                i += 1;
            }
        }
        for i in ids {
            if let Some(n) = self.nodes.get_mut(&i) {
                n.status = status;
            }
        }
        Ok(())
    }

    /// Reserves a voucher request on a slice at `now`, checking it and all its ancestors.
    pub fn reserve(
        &mut self,
        reservation_id: &str,
        node: &str,
        req: &VoucherRequest,
        now: OffsetDateTime,
    ) -> Result<Reservation, Refusal> {
        if let Some(r) = self.reservations.get(reservation_id) {
            // Idempotent: the same request id never reserves twice.
            return Ok(r.clone());
        }
        let amount = req.cost();
        let (day, month) = periods(now);
        let path: Vec<(String, Node)> = self
            .path(node)
            .into_iter()
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        if path.is_empty() {
            return Err(Refusal::NoDelegation);
        }
        for (id, n) in &path {
            refusal::check_request(id, n, req, now)?;
            for (key, cap, period) in [
                (&day, n.limits.per_day, "day"),
                (&month, n.limits.per_month, "month"),
            ] {
                if let Some(cap) = cap {
                    let issued = n.issued.get(key).copied().unwrap_or_default();
                    if issued + amount > cap {
                        return Err(Refusal::OverPeriodCap {
                            node: id.clone(),
                            period,
                            cap,
                            remaining: cap - issued,
                        });
                    }
                }
            }
        }
        let left = self.remaining(node);
        if amount > left {
            return Err(Refusal::OverSlice {
                node: node.to_owned(),
                remaining: left,
            });
        }
        for (id, _) in &path {
            if let Some(n) = self.nodes.get_mut(id) {
                *n.issued.entry(day.clone()).or_default() += amount;
                *n.issued.entry(month.clone()).or_default() += amount;
            }
        }
        if let Some(n) = self.nodes.get_mut(node) {
            n.reserved += amount;
        }
        let r = Reservation {
            node: node.to_owned(),
            face_value: req.face_value,
            customers: req.customers.clone(),
            periods: (day, month),
        };
        self.reservations
            .insert(reservation_id.to_owned(), r.clone());
        Ok(r)
    }

    /// Settles a reservation: vouchers issued to `issued` customers are used; the rest is
    /// released (and uncounted from the periods). Unknown ids settle nothing.
    pub fn commit(&mut self, reservation_id: &str, issued: &[String]) -> Decimal {
        let Some(r) = self.reservations.remove(reservation_id) else {
            return Decimal::ZERO;
        };
        let n_ok = r.customers.iter().filter(|c| issued.contains(c)).count();
        let used = r.face_value * Decimal::from(n_ok);
        let released = r.amount() - used;
        let ids: Vec<String> = self
            .path(&r.node)
            .into_iter()
            .map(|(k, _)| k.clone())
            .collect();
        for id in ids {
            if let Some(n) = self.nodes.get_mut(&id) {
                for key in [&r.periods.0, &r.periods.1] {
                    if let Some(v) = n.issued.get_mut(key) {
                        *v -= released;
                    }
                }
            }
        }
        if let Some(n) = self.nodes.get_mut(&r.node) {
            n.reserved -= r.amount();
            n.used += used;
        }
        used
    }

    /// Releases a reservation entirely (the vendor refused, or the call failed before sending).
    pub fn release(&mut self, reservation_id: &str) -> Decimal {
        let amount = self
            .reservations
            .get(reservation_id)
            .map(Reservation::amount)
            .unwrap_or_default();
        self.commit(reservation_id, &[]);
        amount
    }

    /// Credits a reclaimed voucher's unused value back to the slice it came from.
    pub fn reclaim(&mut self, node: &str, unused: Decimal) -> Decimal {
        let Some(n) = self.nodes.get_mut(node) else {
            return Decimal::ZERO;
        };
        let credit = unused.min(n.used).max(Decimal::ZERO);
        n.used -= credit;
        credit
    }
}

#[cfg(test)]
mod tests;
