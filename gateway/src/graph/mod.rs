//! The live relationship graph: an immutable snapshot swapped atomically after each sync
//! (readers never wait for a sync), under a small layer of relationships learned from
//! responses since (a new voucher, a new reseller quota).

pub mod learn;
pub mod lookup;
pub mod service;
pub mod sync;

use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, Ordering};
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
    ready: AtomicBool,
}

impl LiveGraph {
    /// Starts from a stored graph; ready at once if it holds anything.
    pub fn from_stored(g: Graph) -> Self {
        let ready = !g.is_empty();
        Self {
            base: ArcSwap::from_pointee(g),
            learned: RwLock::default(),
            ready: AtomicBool::new(ready),
        }
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

    /// Adds relationships learned from a response.
    pub fn learn(&self, edges: &[Edge]) {
        let mut top = self
            .learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        edges.iter().cloned().for_each(|e| top.insert(e));
    }

    /// Installs a freshly synced graph. What was learned while the sync ran is kept: the
    /// learned layer is folded into the new snapshot under its lock, then emptied.
    pub fn replace(&self, mut fresh: Graph) -> Arc<Graph> {
        let mut top = self
            .learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        top.edges().for_each(|e| fresh.insert(e));
        let fresh = Arc::new(fresh);
        self.base.store(fresh.clone());
        *top = Graph::default();
        self.ready.store(true, Ordering::Release);
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
    fn a_sync_keeps_what_was_learned_while_it_ran() {
        let g = LiveGraph::default();
        assert!(!g.ready());
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
        });
    }
}
