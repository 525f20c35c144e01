//! The relationship graph: distributor -> resellers -> customers, and who owns each voucher
//! quota and voucher. Decisions read it through [`Relationships`], so the gateway can layer
//! a synced snapshot and identifiers learned since.

mod idmap;

use idmap::IdMap;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// A customer's binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerRef<'a> {
    /// The partner it is bound to.
    pub owner: &'a str,
    /// Resale (代售, association type 2); advisory customers receive no money.
    pub resale: bool,
}

/// Read access to relationships.
pub trait Relationships {
    /// The distributor a cloud reseller belongs to.
    fn reseller_parent(&self, reseller: &str) -> Option<&str>;
    /// A customer's binding.
    fn customer(&self, id: &str) -> Option<CustomerRef<'_>>;
    /// The partner owning a voucher quota.
    fn quota_owner(&self, id: &str) -> Option<&str>;
    /// The partner that issued a voucher.
    fn coupon_owner(&self, id: &str) -> Option<&str>;
}

/// One relationship, as stored and as learned from responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edge {
    /// A cloud reseller of a distributor.
    Reseller {
        /// Reseller id.
        id: String,
        /// Its distributor.
        distributor: String,
    },
    /// A customer of a partner.
    Customer {
        /// Customer id.
        id: String,
        /// Its partner.
        owner: String,
        /// Resale (true) or advisory.
        resale: bool,
    },
    /// A voucher quota of a partner.
    Quota {
        /// Quota id.
        id: String,
        /// Its owner.
        owner: String,
    },
    /// A voucher issued by a partner.
    Coupon {
        /// Voucher id.
        id: String,
        /// Its issuer.
        owner: String,
    },
}

/// An in-memory graph. Owners are interned (a customer, quota or voucher holds its owner's
/// index): each owner's name is held once, not once per customer (at 500,000 customers, a
/// fifth of the graph's memory), and the few thousand names stay hot in cache.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    resellers: FxHashMap<String, String>,
    /// The owner's index shifted left once, resale in the lowest bit: an entry of 40 bytes
    /// where a pair would pad it to 44.
    customers: IdMap<u32>,
    quotas: IdMap<u32>,
    coupons: IdMap<u32>,
    owners: Vec<String>,
    owner_ids: FxHashMap<String, u32>,
}

impl PartialEq for Graph {
    /// The same relationships, however their owners were interned.
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &IdMap<u32>, b: &IdMap<u32>, shift: u32| {
            a.len() == b.len()
                && a.iter().all(|(id, o)| {
                    b.get(&id).map(|x| (other.owner(*x >> shift), *x & shift))
                        == Some((self.owner(*o >> shift), *o & shift))
                })
        };
        self.resellers == other.resellers
            && same(&self.customers, &other.customers, 1)
            && same(&self.quotas, &other.quotas, 0)
            && same(&self.coupons, &other.coupons, 0)
    }
}

impl Eq for Graph {}

impl Graph {
    /// The resellers it knows.
    pub fn reseller_ids(&self) -> impl Iterator<Item = &str> {
        self.resellers.keys().map(String::as_str)
    }

    fn intern(&mut self, owner: String) -> u32 {
        if let Some(i) = self.owner_ids.get(&owner) {
            return *i;
        }
        // More than 2 billion distinct owners cannot be (a distributor has thousands); the
        // customers' map keeps the top bit for resale.
        let i = u32::try_from(self.owners.len()).unwrap_or(u32::MAX) & (u32::MAX >> 1);
        self.owners.push(owner.clone());
        self.owner_ids.insert(owner, i);
        i
    }

    fn owner(&self, i: u32) -> &str {
        self.owners.get(i as usize).map_or("", String::as_str)
    }

    /// Adds (or replaces) one relationship.
    pub fn insert(&mut self, edge: Edge) {
        match edge {
            Edge::Reseller { id, distributor } => {
                self.resellers.insert(id, distributor);
            }
            Edge::Customer { id, owner, resale } => {
                let o = self.intern(owner);
                self.customers.insert(&id, o << 1 | u32::from(resale));
            }
            Edge::Quota { id, owner } => {
                let o = self.intern(owner);
                self.quotas.insert(&id, o);
            }
            Edge::Coupon { id, owner } => {
                let o = self.intern(owner);
                self.coupons.insert(&id, o);
            }
        }
    }

    /// Every relationship (for storage).
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        let r = self.resellers.iter().map(|(id, d)| Edge::Reseller {
            id: id.clone(),
            distributor: d.clone(),
        });
        let c = self.customers.iter().map(|(id, o)| Edge::Customer {
            id,
            owner: self.owner(*o >> 1).to_owned(),
            resale: *o & 1 == 1,
        });
        let q = self.quotas.iter().map(|(id, o)| Edge::Quota {
            id,
            owner: self.owner(*o).to_owned(),
        });
        let k = self.coupons.iter().map(|(id, o)| Edge::Coupon {
            id,
            owner: self.owner(*o).to_owned(),
        });
        r.chain(c).chain(q).chain(k)
    }

    /// Counts of resellers, customers, quotas and vouchers.
    pub fn sizes(&self) -> [(&'static str, usize); 4] {
        [
            ("reseller", self.resellers.len()),
            ("customer", self.customers.len()),
            ("quota", self.quotas.len()),
            ("coupon", self.coupons.len()),
        ]
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.sizes().iter().all(|(_, n)| *n == 0)
    }
}

impl FromIterator<Edge> for Graph {
    fn from_iter<I: IntoIterator<Item = Edge>>(iter: I) -> Self {
        let mut g = Graph::default();
        iter.into_iter().for_each(|e| g.insert(e));
        g
    }
}

impl Relationships for Graph {
    fn reseller_parent(&self, reseller: &str) -> Option<&str> {
        self.resellers.get(reseller).map(String::as_str)
    }
    fn customer(&self, id: &str) -> Option<CustomerRef<'_>> {
        self.customers.get(id).map(|o| CustomerRef {
            owner: self.owner(*o >> 1),
            resale: *o & 1 == 1,
        })
    }
    fn quota_owner(&self, id: &str) -> Option<&str> {
        self.quotas.get(id).map(|o| self.owner(*o))
    }
    fn coupon_owner(&self, id: &str) -> Option<&str> {
        self.coupons.get(id).map(|o| self.owner(*o))
    }
}

/// A snapshot with a layer of newer relationships on top (the newer layer wins).
pub struct Layered<'a, A: ?Sized, B: ?Sized> {
    /// Newer relationships.
    pub top: &'a A,
    /// The snapshot.
    pub base: &'a B,
}

impl<A: Relationships + ?Sized, B: Relationships + ?Sized> Relationships for Layered<'_, A, B> {
    fn reseller_parent(&self, reseller: &str) -> Option<&str> {
        self.top
            .reseller_parent(reseller)
            .or_else(|| self.base.reseller_parent(reseller))
    }
    fn customer(&self, id: &str) -> Option<CustomerRef<'_>> {
        self.top.customer(id).or_else(|| self.base.customer(id))
    }
    fn quota_owner(&self, id: &str) -> Option<&str> {
        self.top
            .quota_owner(id)
            .or_else(|| self.base.quota_owner(id))
    }
    fn coupon_owner(&self, id: &str) -> Option<&str> {
        self.top
            .coupon_owner(id)
            .or_else(|| self.base.coupon_owner(id))
    }
}
