//! Stage 5: may this principal call this route, and what exactly goes upstream.

use crate::ctx::Forward;
use crate::graph::LiveGraph;
use crate::rejection::Rejection;
use bytes::Bytes;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;
use std::sync::Arc;
use tiergate_policy::reading;
use tiergate_policy::{IdLocation, Permit, Principal, RequestIds, Route, Rules, Tier};

/// Decides on the request against the rules and the live graph, and builds what to forward.
pub fn authorize(
    principal: &Arc<Principal>,
    route: &'static Route,
    query: &str,
    body: Bytes,
    graph: &LiveGraph,
    rules: &Rules,
) -> Result<(Permit, Forward), Rejection> {
    // A first sync serves each owner once its part is listed: until then, its calls wait.
    if !graph.ready() || graph.syncing(Some(&principal.partner_id)) {
        return Err(Rejection::GraphNotReady);
    }
    reading::query(route, query)?;
    let json = reading::body(route, &body)?;
    let ids = RequestIds::extract(route, query, json.as_ref())
        .map_err(|e| Rejection::InvalidBody(e.to_string()))?;
    let permit = graph.decide(principal, route, &ids, rules).map_err(|d| {
        // Whoever may act across resellers may be refused for a part not listed yet: that is
        // not an answer (a reseller's own part is listed whole, or it waited above).
        let own_part = matches!(principal.tier, Tier::CloudReseller | Tier::ResellerStaff);
        if !own_part && graph.syncing(None) {
            Rejection::GraphNotReady
        } else {
            Rejection::Denied(d)
        }
    })?;
    drop(ids);
    let mut forward = Forward {
        query: query.to_owned(),
        body,
        body_sent: false,
    };
    if let Some(inj) = permit.injection() {
        match inj.location {
            IdLocation::Query => {
                forward.query = set_query(query, inj.field, inj.value);
            }
            IdLocation::Body => {
                let mut obj = json.unwrap_or_default();
                if obj.get(inj.field).and_then(Value::as_str) != Some(inj.value) {
                    obj.insert(inj.field.to_owned(), Value::String(inj.value.to_owned()));
                    forward.body = Bytes::from(Value::Object(obj).to_string());
                }
            }
        }
    }
    Ok((permit, forward))
}

/// The partner API query with `name` set to `value`. Not the admin and sign-in form parser
/// (`crate::web::form`): every other parameter goes upstream byte for byte as the caller sent
/// and signed it, and names are matched decoded as `tiergate_policy::RequestIds` reads them.
fn set_query(query: &str, name: &str, value: &str) -> String {
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = p.split_once('=').map_or(*p, |(k, _)| k);
            percent_decode_str(k).decode_utf8_lossy() != name
        })
        .map(str::to_owned)
        .collect();
    parts.push(format!(
        "{name}={}",
        utf8_percent_encode(value, NON_ALPHANUMERIC)
    ));
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiergate_policy::{Edge, Graph, Tier, find_route};

    fn reseller() -> Arc<Principal> {
        Arc::new(Principal {
            partner_id: "res-1".into(),
            tier: Tier::CloudReseller,
            distributor_id: Some("dist-1".into()),
            role: None,
        })
    }

    fn graph() -> LiveGraph {
        let g: Graph = [
            Edge::Reseller {
                id: "res-1".into(),
                distributor: "dist-1".into(),
            },
            Edge::Reseller {
                id: "res-2".into(),
                distributor: "dist-1".into(),
            },
            Edge::Customer {
                id: "c1".into(),
                owner: "res-1".into(),
                resale: true,
            },
            Edge::Coupon {
                id: "x".into(),
                owner: "res-1".into(),
            },
        ]
        .into_iter()
        .collect();
        LiveGraph::from_stored(g)
    }

    fn run(m: &str, p: &str, q: &str, body: &str) -> Result<Forward, Rejection> {
        let route = find_route(m, p).ok_or(Rejection::Internal("route"))?;
        let body = Bytes::from(body.to_owned());
        authorize(&reseller(), route, q, body, &graph(), &Rules::default()).map(|(_, f)| f)
    }

    #[test]
    fn injects_into_the_body_and_keeps_exact_amounts() -> Result<(), Rejection> {
        let p = "/v2/accounts/partner-accounts/adjust-amount";
        let f = run("POST", p, "", r#"{"customer_id":"c1","amount":12.30}"#)?;
        let v: Value =
            serde_json::from_slice(&f.body).map_err(|e| Rejection::InvalidBody(e.to_string()))?;
        assert_eq!(v["indirect_partner_id"], "res-1");
        assert!(String::from_utf8_lossy(&f.body).contains("12.30"));
        Ok(())
    }

    #[test]
    fn keeps_the_body_bytes_when_already_naming_itself() -> Result<(), Rejection> {
        let body = r#"{"coupon_id":"x", "indirect_partner_id": "res-1"}"#;
        let f = run(
            "POST",
            "/v2/promotions/benefits/partner-coupons/reclaim",
            "",
            body,
        )?;
        assert_eq!(f.body, Bytes::from(body));
        Ok(())
    }

    #[test]
    fn injects_into_the_query_replacing_its_own_value() -> Result<(), Rejection> {
        let p = "/v3/accounts/partner-accounts/adjust-records";
        let f = run("GET", p, "limit=10&indirect_partner_id=res-1", "")?;
        assert_eq!(f.query, "limit=10&indirect_partner_id=res%2D1");
        Ok(())
    }

    #[test]
    fn refuses_foreign_identifiers_bad_json_and_an_unsynced_graph() {
        let p = "/v3/accounts/partner-accounts/adjust-records";
        assert!(matches!(
            run("GET", p, "indirect_partner_id=res%2D2", ""),
            Err(Rejection::Denied(_))
        ));
        assert!(matches!(
            run("GET", p, "customer_id=c2", ""),
            Err(Rejection::Denied(_))
        ));
        let p = "/v2/accounts/partner-accounts/adjust-amount";
        assert!(matches!(
            run("POST", p, "", r#"{"indirect_partner_id":"res-2"}"#),
            Err(Rejection::Denied(_))
        ));
        assert!(matches!(
            run("POST", p, "", "[1]"),
            Err(Rejection::Ambiguous(_))
        ));
        assert!(matches!(
            run("POST", p, "", r#"{"customer_id":7}"#),
            Err(Rejection::Ambiguous(_))
        ));
        let route = find_route("POST", p).unwrap_or_else(|| unreachable!());
        let empty = LiveGraph::default();
        let got = authorize(
            &reseller(),
            route,
            "",
            Bytes::new(),
            &empty,
            &Rules::default(),
        );
        assert!(matches!(got, Err(Rejection::GraphNotReady)));
    }
}
