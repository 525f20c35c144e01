//! The live relationship graph: an immutable snapshot swapped atomically after each sync
//! (readers never wait for a sync), under a small layer of relationships learned from
//! responses since (a new voucher, a new reseller quota).

pub mod learn;
pub mod lookup;
pub mod service;
pub mod sync;

use arc_swap::ArcSwap;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use tiergate_policy::{
    Denied, Edge, Graph, Layered, Permit, Principal, Relationships, RequestIds, Route, Rules,
    decide,
};

/// The graph the gateway decides with.
#[derive(Default)]
pub struct LiveGraph {
    base: ArcSwap<Graph>,
    learned: RwLock<Graph>,
    /// What was learned since a full sync began ([`Self::mark`]): kept when it is installed.
    recent: RwLock<Option<Graph>>,
    ready: AtomicBool,
    /// A first sync: the owners (the distributor, its resellers) whose part is still being
    /// listed, and how many (read on every request: the set only while it is not 0).
    pending: RwLock<HashSet<String>>,
    pending_count: AtomicUsize,
    /// Owners in all, while a first sync runs (for `/readyz` and metrics).
    owners: AtomicUsize,
}

impl LiveGraph {
    /// Starts from a stored graph; ready at once if it holds anything.
    pub fn from_stored(g: Graph) -> Self {
        let ready = !g.is_empty();
        Self {
            base: ArcSwap::from_pointee(g),
            learned: RwLock::default(),
            ready: AtomicBool::new(ready),
            ..Self::default()
        }
    }

    /// A first sync has the distributor's resellers: the gateway serves from now on, each
    /// owner (the distributor and every reseller) once its part is listed
    /// ([`Self::part_loaded`]); until then [`Self::syncing`] says so. Nothing when a graph
    /// is already loaded.
    pub fn start_partial(&self, distributor: &str, resellers: &[String]) {
        if self.ready() {
            return;
        }
        let g: Graph = resellers
            .iter()
            .map(|r| Edge::Reseller {
                id: r.clone(),
                distributor: distributor.to_owned(),
            })
            .collect();
        let mut pending = self
            .pending
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.clear();
        pending.insert(distributor.to_owned());
        pending.extend(resellers.iter().cloned());
        self.owners.store(pending.len(), Ordering::Release);
        self.pending_count.store(pending.len(), Ordering::Release);
        drop(pending);
        self.base.store(Arc::new(g));
        self.ready.store(true, Ordering::Release);
    }

    /// One owner's part of a first sync is listed: its relationships are in, and it is
    /// decided for from now on.
    pub fn part_loaded(&self, owner: &str, edges: &[Edge]) {
        // Into the learned layer only: the sync's own graph holds them too when it is
        // installed, so they need no second copy among what was learned while it ran.
        let mut top = self
            .learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        edges.iter().cloned().for_each(|e| top.insert(e));
        drop(top);
        if self.pending_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut pending = self
            .pending
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.remove(owner);
        self.pending_count.store(pending.len(), Ordering::Release);
    }

    /// Whether `owner`'s part is still being listed by a first sync (`None`: is any?).
    pub fn syncing(&self, owner: Option<&str>) -> bool {
        if self.pending_count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let Some(owner) = owner else { return true };
        self.pending
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(owner)
    }

    /// Another gateway's first sync, as it stores it: `owners` in order (the distributor
    /// first), the first `listed` of them listed (their relationships already taken in).
    pub fn follow_first(&self, owners: &[String], listed: usize) {
        if let Some((distributor, resellers)) = owners.split_first() {
            self.start_partial(distributor, resellers);
        }
        for owner in owners.iter().take(listed) {
            self.part_loaded(owner, &[]);
        }
    }

    /// A first sync's progress: (owners listed, owners in all); `None` when none runs.
    pub fn progress(&self) -> Option<(usize, usize)> {
        let left = self.pending_count.load(Ordering::Acquire);
        let all = self.owners.load(Ordering::Acquire);
        (left > 0).then(|| (all.saturating_sub(left), all))
    }

    /// The distributor's resellers the graph knows.
    pub fn resellers(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.with_graphs(|g| out.extend(g.reseller_ids().map(str::to_owned)));
        out.sort_unstable();
        out.dedup();
        out
    }

    fn with_graphs(&self, mut f: impl FnMut(&Graph)) {
        f(&self.base.load());
        f(&self
            .learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Whether a graph has been loaded or synced.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Decides on a request against the current graph.
    pub fn decide(
        &self,
        principal: &Arc<Principal>,
        route: &'static Route,
        ids: &RequestIds<'_>,
        rules: &Rules,
    ) -> Result<Permit, Denied> {
        let base = self.base.load();
        let top = self
            .learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        decide(
            principal,
            route,
            ids,
            rules,
            &Layered {
                top: &*top,
                base: &**base,
            },
        )
    }

    /// Runs `f` against the current graph.
    pub fn with<T>(&self, f: impl FnOnce(&dyn Relationships) -> T) -> T {
        let base = self.base.load();
        let top = self
            .learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&Layered {
            top: &*top,
            base: &**base,
        })
    }

    /// Adds relationships learned from a response (or found by an incremental sync).
    pub fn learn(&self, edges: &[Edge]) {
        let mut top = self
            .learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        edges.iter().cloned().for_each(|e| top.insert(e));
        let mut recent = self
            .recent
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(recent) = recent.as_mut() {
            edges.iter().cloned().for_each(|e| recent.insert(e));
        }
    }

    /// A full sync begins: what is learned from now on is kept when its graph is installed;
    /// what was learned before, it lists again (or no longer finds: removed).
    pub fn mark(&self) {
        *self
            .recent
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Graph::default());
    }

    /// Installs a whole graph: a full sync's (what was learned since it began, [`Self::mark`],
    /// is folded in) or the stored one (which already holds everything learned and stored).
    /// The learned layer is emptied under its lock.
    pub fn replace(&self, mut fresh: Graph) -> Arc<Graph> {
        let mut top = self
            .learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = self
            .recent
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(recent) = recent {
            recent.edges().for_each(|e| fresh.insert(e));
        }
        let fresh = Arc::new(fresh);
        self.base.store(fresh.clone());
        *top = Graph::default();
        self.ready.store(true, Ordering::Release);
        self.pending
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.pending_count.store(0, Ordering::Release);
        fresh
    }

    /// Counts by kind, for metrics.
    pub fn sizes(&self) -> [(&'static str, usize); 4] {
        let base = self.base.load();
        let top = self
            .learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut sizes = base.sizes();
        for (s, (_, n)) in sizes.iter_mut().zip(top.sizes()) {
            s.1 += n;
        }
        sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_keeps_what_was_learned_while_it_ran_and_drops_what_it_no_longer_lists() {
        let g = LiveGraph::default();
        assert!(!g.ready());
        g.learn(&[Edge::Customer {
            id: "unbound".into(),
            owner: "res-1".into(),
            resale: true,
        }]);
        g.mark();
        g.learn(&[Edge::Coupon {
            id: "cp-new".into(),
            owner: "res-1".into(),
        }]);
        let fresh: Graph = [Edge::Quota {
            id: "q1".into(),
            owner: "res-1".into(),
        }]
        .into_iter()
        .collect();
        g.replace(fresh);
        assert!(g.ready());
        g.with(|r| {
            assert_eq!(r.coupon_owner("cp-new"), Some("res-1"));
            assert_eq!(r.quota_owner("q1"), Some("res-1"));
            assert!(r.customer("unbound").is_none());
        });
    }
}
