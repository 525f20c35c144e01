//! What a money-moving call's audit records say: its intent (written, durably, before it is
//! forwarded), a refusal (intent and outcome together), and its outcome after the answer.

use crate::chain::record::{Entry, Kind};
use crate::credentials::Credential;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tiergate_policy::ledger::exact;
use tiergate_policy::{IdKind, Permit, Principal, Route};

/// Who asked, from where, as which request.
pub struct Caller<'a> {
    /// The request id.
    pub request_id: &'a str,
    /// The principal.
    pub principal: &'a Principal,
    /// The Tiergate credential.
    pub credential: &'a str,
    /// The client address.
    pub source: Option<String>,
}

impl<'a> Caller<'a> {
    /// A request's caller, by its credential.
    pub fn new(request_id: &'a str, credential: &'a Credential, source: Option<String>) -> Self {
        Self {
            request_id,
            principal: &credential.principal,
            credential: &credential.access_key,
            source,
        }
    }
}

fn count(v: &Value) -> Decimal {
    Decimal::from(v.as_array().map_or(0, Vec::len))
}

/// The total the call moves, as an exact decimal, where the request says it.
pub fn amount(route: &Route, body: &Map<String, Value>) -> Option<Decimal> {
    let get = |k: &str| body.get(k).unwrap_or(&Value::Null);
    match route.operation {
        "create_partner_coupons" => {
            exact(get("face_value")).map(|f| f * count(get("customer_ids")))
        }
        "update_coupon_quotas" => {
            exact(get("quota_amount")).map(|a| a * count(get("indirect_partner_ids")))
        }
        _ => exact(get("amount")),
    }
}

fn customers(route: &Route, body: &Map<String, Value>) -> Vec<String> {
    route
        .ids
        .iter()
        .filter(|f| matches!(f.kind, IdKind::Customer | IdKind::ResaleCustomer))
        .flat_map(|f| match body.get(f.name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn base(c: &Caller<'_>, route: &Route, body: Option<&Map<String, Value>>, kind: Kind) -> Entry {
    let empty = Map::new();
    let body = body.unwrap_or(&empty);
    Entry {
        kind: Some(kind),
        request_id: Some(c.request_id.to_owned()),
        principal: Some(c.principal.partner_id.clone()),
        tier: Some(c.principal.tier.as_str().to_owned()),
        credential: Some(c.credential.to_owned()),
        source: c.source.clone(),
        operation: Some(route.operation.to_owned()),
        customers: customers(route, body),
        amount: amount(route, body).map(|d| d.to_string()),
        currency: Some("CNY".into()),
        ..Entry::default()
    }
}

/// The intent of a permitted money-moving call: written before it is forwarded.
pub fn intent(c: &Caller<'_>, permit: &Permit, forwarded: &[u8]) -> Entry {
    let body: Option<Map<String, Value>> = serde_json::from_slice(forwarded).ok();
    let mut e = base(c, permit.route(), body.as_ref(), Kind::Intent);
    e.acting = Some(permit.acting().to_owned());
    e.outcome = Some("forwarding".into());
    e.rule = Some(permit.rule().to_owned());
    e.detail = json!({"request": body, "idempotency_key": c.request_id});
    e
}

/// A money-moving call refused by Tiergate: its intent and its outcome, written together.
pub fn refusal(
    c: &Caller<'_>,
    route: &Route,
    body: &[u8],
    code: &str,
    why: &str,
    rule: Option<&str>,
) -> [Entry; 2] {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
    let mut intent = base(c, route, parsed.as_ref(), Kind::Intent);
    intent.outcome = Some("refused".into());
    intent.detail = json!({"request": parsed});
    let mut outcome = base(c, route, parsed.as_ref(), Kind::Outcome);
    outcome.outcome = Some("refused".into());
    outcome.rule = rule.map(str::to_owned);
    outcome.detail = json!({"error_code": code, "error_msg": why});
    [intent, outcome]
}

/// What the vendor answered (status 0: no answer; the outcome is unknown).
pub fn outcome(
    c: &Caller<'_>,
    permit: &Permit,
    status: u16,
    answer: &[u8],
    latency_ms: f64,
) -> Entry {
    let mut e = base(c, permit.route(), None, Kind::Outcome);
    e.acting = Some(permit.acting().to_owned());
    let v: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
    let failures = v["error_details"].as_array().map_or(0, Vec::len);
    e.outcome = Some(
        match status {
            0 | 502 | 504 => "unknown",
            200..=299 if failures > 0 => "partial",
            200..=299 => "ok",
            _ => "vendor_error",
        }
        .into(),
    );
    let pick = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    e.detail = json!({
        "status": status,
        "error_code": pick("error_code"),
        "error_msg": pick("error_msg"),
        "error_details": pick("error_details"),
        "coupon_infos": pick("coupon_infos"),
        "simple_quota_infos": pick("simple_quota_infos"),
        "transfer_id": pick("transfer_id"),
        "trans_id": pick("trans_id"),
        "latency_ms": latency_ms,
    });
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiergate_policy::routes::route_by_operation;

    #[test]
    fn amounts_are_exact_and_multiplied_over_batches() {
        // Parsed from text, as request bodies are.
        let body = |t: &str| serde_json::from_str::<Map<String, Value>>(t).unwrap_or_default();
        let coupons =
            route_by_operation("create_partner_coupons").unwrap_or_else(|| unreachable!());
        let b = body(r#"{"face_value": 100.10, "customer_ids": ["a", "b", "c"]}"#);
        assert_eq!(
            amount(coupons, &b).map(|d| d.to_string()),
            Some("300.30".into())
        );
        let adjust =
            route_by_operation("update_customer_account_amount").unwrap_or_else(|| unreachable!());
        let b = body(r#"{"amount": "0.10", "customer_id": "x"}"#);
        assert_eq!(
            amount(adjust, &b).map(|d| d.to_string()),
            Some("0.10".into())
        );
        assert_eq!(customers(adjust, &b), vec!["x".to_owned()]);
    }
}
