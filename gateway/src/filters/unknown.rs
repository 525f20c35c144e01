//! Stage 5 for a customer the graph does not know: before a partner's call naming it is
//! refused as foreign, the vendor is asked whether the customer is the acting partner's
//! ([`Lookup`]): one the vendor associated a moment ago, or one just created through another
//! gateway, is learned (here and in the store) and the call decided again. A customer the
//! graph knows as someone else's is refused without asking.

use crate::ctx::Forward;
use crate::filters::authz;
use crate::graph::LiveGraph;
use crate::graph::lookup::Lookup;
use crate::rejection::Rejection;
use crate::store::Store;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tiergate_policy::{Denied, IdKind, Permit, Principal, Route, Rules, Tier};

/// What a lookup needs besides the request.
pub struct Learning<'a> {
    /// The vendor, asked as the distributor.
    pub lookup: &'a Lookup,
    /// Where learned relationships are kept.
    pub store: &'a Store,
    /// Until when the caller may wait (its turn in the vendor budget included).
    pub deadline: Instant,
}

/// [`authz::authorize`], asking the vendor about each unknown customer the request names (at
/// most as many as a request may name).
pub async fn authorize(
    principal: &Arc<Principal>,
    route: &'static Route,
    query: &str,
    body: Bytes,
    graph: &LiveGraph,
    rules: &Rules,
    learning: Learning<'_>,
) -> Result<(Permit, Forward), Rejection> {
    let mut asked = 0;
    loop {
        let decided = authz::authorize(principal, route, query, body.clone(), graph, rules);
        let Err(Rejection::Denied(Denied::NotYours { field, value })) = &decided else {
            return decided;
        };
        let customer = route.ids.iter().any(|f| {
            f.name == *field && matches!(f.kind, IdKind::Customer | IdKind::ResaleCustomer)
        });
        let known = graph.with(|g| g.customer(value).is_some());
        if !customer || known || asked >= 10 {
            return decided;
        }
        let Some(acting) = acting(principal, route, query, &body) else {
            return decided;
        };
        asked += 1;
        let (store, deadline) = (learning.store, learning.deadline);
        if !learning
            .lookup
            .learn(graph, store, &acting, value, deadline)
            .await
        {
            return decided;
        }
    }
}

/// The partner a distributor's or a reseller's call acts for (`None`: a caller whose
/// customers the distributor's account cannot see).
fn acting(principal: &Principal, route: &Route, query: &str, body: &[u8]) -> Option<String> {
    match principal.tier {
        Tier::CloudReseller | Tier::ResellerStaff => Some(principal.partner_id.clone()),
        Tier::Distributor => {
            let named = route
                .carries_acting()
                .then(|| named_acting(query, body))
                .flatten();
            Some(named.unwrap_or_else(|| principal.partner_id.clone()))
        }
        _ => None,
    }
}

/// `indirect_partner_id` as the request names it (decided already: read one way).
fn named_acting(query: &str, body: &[u8]) -> Option<String> {
    let from_query = query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == "indirect_partner_id").then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    });
    from_query.or_else(|| {
        serde_json::from_slice::<Value>(body).ok()?["indirect_partner_id"]
            .as_str()
            .map(str::to_owned)
    })
}
