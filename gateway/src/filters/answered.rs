//! Stage 8 for answers Tiergate checks before a reseller sees them
//! ([`tiergate_policy::Route::checks_answer`]: orders, refunds, bills, a customer's resources
//! and vouchers, whose identifiers the request alone cannot prove are the reseller's).
//! Tiergate makes the call itself, re-signed as the distributor (the caller's turn in the
//! vendor budget was taken at stage 4), and every `customer_id` anywhere in the vendor's
//! answer must be one of the acting reseller's customers (asked of the vendor when the graph
//! does not know it). Otherwise nothing of the answer is returned: the caller gets `TG.2009`
//! and the refusal is audited.

use crate::audit::Audit;
use crate::credentials::UpstreamKey;
use crate::ctx::Ctx;
use crate::filters::money::records::{self, Caller};
use crate::filters::ratelimit;
use crate::graph::LiveGraph;
use crate::graph::lookup::Lookup;
use crate::limiter::Limiter;
use crate::rejection::Rejection;
use crate::store::Store;
use crate::upstream::{CallError, UpstreamClient};
use bytes::Bytes;
use serde_json::Value;
use tiergate_policy::Tier;

/// Unknown customers asked of the vendor for one answer, at most.
const LOOKUPS: usize = 10;

/// What checking an answer needs.
pub struct Checker<'a> {
    /// The vendor, called without taking the budget again.
    pub client: &'a UpstreamClient,
    /// The distributor's key.
    pub key: &'a UpstreamKey,
    /// Who owns what.
    pub graph: &'a LiveGraph,
    /// The vendor, asked about a customer the graph does not know.
    pub lookup: &'a Lookup,
    /// Where what the vendor confirms is kept.
    pub store: &'a Store,
    /// The vendor budget (a vendor 429 is tried again once, as on every read).
    pub limiter: &'a Limiter,
}

/// Whether this request's answer is checked before it is returned.
pub fn applies(ctx: &Ctx) -> bool {
    let (Some(permit), Some(c)) = (&ctx.permit, &ctx.credential) else {
        return false;
    };
    permit.route().checks_answer
        && matches!(c.principal.tier, Tier::CloudReseller | Tier::ResellerStaff)
}

/// Forwards the request and returns the vendor's status and body once checked (a vendor
/// error goes back as the vendor answered it).
pub async fn exchange(
    c: Checker<'_>,
    path: &str,
    ctx: &mut Ctx,
) -> Result<(u16, Bytes), Rejection> {
    let (Some(route), Some(fwd), Some(permit)) = (ctx.route, &ctx.forward, &ctx.permit) else {
        return Err(Rejection::Internal("an answer to check without a decision"));
    };
    let acting = permit.acting().to_owned();
    let (query, sent_body) = (fwd.query.clone(), fwd.body.clone());
    let mut tried_again = false;
    let (status, body) = loop {
        let sent = c
            .client
            .exchange(
                c.key,
                route.method.as_str(),
                path,
                &query,
                sent_body.clone(),
            )
            .await;
        let (status, body) = match sent {
            Ok(answer) => answer,
            Err(CallError::NotSent(_)) => {
                ctx.sent = false;
                return Err(Rejection::UpstreamUnavailable);
            }
            Err(e) => {
                tracing::warn!(request_id = %ctx.request_id, error = %e, "checked call failed");
                return Err(Rejection::UpstreamUnavailable);
            }
        };
        if status != 429 {
            break (status, body);
        }
        // Never the vendor's raw 429: held back and halved, tried again once its turn comes
        // within the call's deadline, else TG.6002.
        let code = ratelimit::vendor_code(&body);
        let code = code.as_str();
        c.limiter.count_vendor_429(route.operation, code);
        tracing::warn!(request_id = %ctx.request_id, operation = route.operation, vendor_code = code, "the vendor answered 429");
        let refusal = ratelimit::vendor_refusal(c.limiter, route.operation).await;
        let deadline = ctx.budget_deadline();
        let who = ctx.credential.as_ref().map(|x| x.principal.clone());
        let turn = match (&who, tried_again) {
            (Some(p), false) => c.limiter.retry_turn(p, route, deadline).await,
            _ => Err(refusal.clone()),
        };
        if turn.is_err() {
            return Err(Rejection::RateLimited(refusal));
        }
        tried_again = true;
    };
    if !(200..300).contains(&status) {
        return Ok((status, body));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return Err(Rejection::UpstreamRefused(
            "an answer that is not JSON cannot be checked".into(),
        ));
    };
    let mut named = Vec::new();
    customers(&v, &mut named);
    named.sort_unstable();
    named.dedup();
    let mut asked = 0;
    for id in named {
        match c.graph.with(|g| g.customer(id).map(|x| x.owner == acting)) {
            Some(true) => continue,
            Some(false) => {}
            None if asked < LOOKUPS => {
                asked += 1;
                let (graph, store) = (c.graph, c.store);
                if c.lookup
                    .learn(graph, store, &acting, id, ctx.budget_deadline())
                    .await
                {
                    continue;
                }
            }
            None => {}
        }
        return Err(Rejection::ForeignAnswer(id.to_owned()));
    }
    Ok((status, body))
}

/// Audits the refusal of a checked answer (the request, its caller and why).
pub async fn audit_refusal(audit: &Audit, caller: &Caller<'_>, ctx: &Ctx, r: &Rejection) {
    let Some(route) = ctx.route else { return };
    let answer = r.answer();
    let entries = records::refusal(
        caller,
        route,
        &ctx.body,
        answer.code,
        &r.to_string(),
        r.rule(),
    );
    for e in entries {
        if let Err(err) = audit.append(e).await {
            tracing::error!(error = %err, "could not audit a refused answer");
            return;
        }
    }
}

/// Every `customer_id` string anywhere in an answer.
fn customers<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("customer_id", Value::String(s)) => out.push(s),
                    _ => customers(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| customers(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_customer_id_however_deep() {
        let v = serde_json::json!({
            "order_infos": [{"customer_id": "a", "lines": [{"customer_id": "b"}]}],
            "order_info": {"customer_id": "c"},
            "total_count": 2,
            "customer_id": 7,
        });
        let mut out = Vec::new();
        customers(&v, &mut out);
        out.sort_unstable();
        assert_eq!(out, ["a", "b", "c"]);
    }
}
