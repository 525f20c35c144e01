//! Which slice a caller draws on, and what a voucher request asks for.

use super::{Ledger, Status, VoucherRequest};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Who is asking: the partner (reseller or distributor) and, for a staff credential, the
/// staff member's name.
#[derive(Debug, Clone, Copy)]
pub struct Drawer<'a> {
    /// The caller's partner id.
    pub partner: &'a str,
    /// The staff member, when a staff credential calls.
    pub staff: Option<&'a str>,
}

impl Ledger {
    /// Whether the quota has any slice at all (a quota without one is not delegated).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether `id` is `ancestor` or lies below it.
    pub fn within(&self, id: &str, ancestor: &str) -> bool {
        self.path(id).iter().any(|(k, _)| k.as_str() == ancestor)
    }

    /// The slice a caller draws on: under `anchor` when the request's quota is a slice issued
    /// upstream, the partner's own slice, or for staff their own slice below the partner's.
    /// Staff without a slice of their own draw on nothing (a reseller that delegates to some
    /// staff must not be bypassed by others). Active slices are preferred, then by id.
    pub fn slice_for(&self, anchor: Option<&str>, who: Drawer<'_>) -> Option<String> {
        let partner_slice = |id: &str| {
            self.nodes.get(id).is_some_and(|n| n.grantee == who.partner)
                && anchor.is_none_or(|a| self.within(id, a))
        };
        let mut found: Vec<(&String, bool)> = self
            .nodes
            .iter()
            .filter(|(id, n)| match who.staff {
                None => partner_slice(id),
                Some(name) => {
                    n.grantee == name && self.path(id).iter().skip(1).any(|(k, _)| partner_slice(k))
                }
            })
            .map(|(id, n)| (id, n.status == Status::Active))
            .collect();
        found.sort_by_key(|(id, active)| (!*active, (*id).clone()));
        found.first().map(|(id, _)| (*id).clone())
    }

    /// The partner a quota's top slice is granted to (the vendor account that owns it).
    pub fn owner(&self, anchor: Option<&str>) -> Option<String> {
        match anchor {
            Some(a) => self.nodes.get(a).map(|n| n.grantee.clone()),
            None => self
                .nodes
                .values()
                .find(|n| n.parent.is_none())
                .map(|n| n.grantee.clone()),
        }
    }
}

/// Why a voucher request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {why}")]
pub struct BadVoucherRequest {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub why: &'static str,
}

fn bad(field: &'static str, why: &'static str) -> BadVoucherRequest {
    BadVoucherRequest { field, why }
}

/// An exact decimal from a JSON number's text or a string (never through a float).
pub fn exact(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

fn strings(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Vec<String>, BadVoucherRequest> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(field, "must be a list of strings")),
        Some(_) => Err(bad(field, "must be a list of strings")),
    }
}

fn moment(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, BadVoucherRequest> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|_| bad(field, "must be an RFC 3339 time")),
        Some(_) => Err(bad(field, "must be an RFC 3339 time")),
    }
}

/// The request's quota and what it asks for. The body is the JSON object of
/// `create_partner_coupons` (`face_value` parsed exactly; JSON numbers keep their text).
pub fn voucher_request(
    body: &Map<String, Value>,
) -> Result<(String, VoucherRequest), BadVoucherRequest> {
    let quota = body
        .get("quota_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("quota_id", "is required"))?
        .to_owned();
    let face_value = body
        .get("face_value")
        .and_then(exact)
        .ok_or_else(|| bad("face_value", "must be an amount"))?;
    if face_value <= Decimal::ZERO || face_value.normalize().scale() > 2 {
        return Err(bad(
            "face_value",
            "must be greater than 0 with at most 2 decimal places",
        ));
    }
    let customers = strings(body, "customer_ids")?;
    if customers.is_empty() {
        return Err(bad("customer_ids", "must name at least one customer"));
    }
    let mut unique = customers.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != customers.len() {
        // One voucher per customer: a repeated id would be charged twice and issued once.
        return Err(bad("customer_ids", "must not repeat a customer"));
    }
    Ok((
        quota,
        VoucherRequest {
            face_value,
            customers,
            services: strings(body, "cloud_service_types")?,
            products: strings(body, "product_ids")?,
            valid_from: moment(body, "valid_time")?,
            valid_until: moment(body, "expire_time")?,
        },
    ))
}
