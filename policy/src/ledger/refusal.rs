//! Why a grant or a reservation is refused, each naming the limit.

use super::limits::{Limits, VoucherRequest, narrows};
use super::{Node, Status};
use rust_decimal::Decimal;
use time::OffsetDateTime;

/// A grant or change refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The id is taken.
    #[error("delegation `{0}` exists already")]
    Exists(String),
    /// No such parent (or node).
    #[error("no delegation `{0}`")]
    NoParent(String),
    /// Amounts are positive with at most 2 decimals.
    #[error("amounts must be greater than 0 with at most 2 decimal places")]
    BadAmount,
    /// The parent is suspended or revoked.
    #[error("the parent delegation is not active")]
    ParentInactive,
    /// Deeper than [`super::MAX_DEPTH`].
    #[error("delegations nest at most {} levels", super::MAX_DEPTH)]
    TooDeep,
    /// More than the parent has left.
    #[error("more than the parent has left ({remaining})")]
    ExceedsParent {
        /// What the parent has left.
        remaining: Decimal,
    },
    /// Below what the slice has already spent.
    #[error("below what the delegation has spent ({spent})")]
    BelowSpent {
        /// Spent.
        spent: Decimal,
    },
    /// A limit wider than the parent's.
    #[error("`{0}` may only narrow the parent's")]
    Widens(&'static str),
    /// Being issued upstream: only the vendor's answer changes it.
    #[error("delegation `{0}` is being issued upstream; only the vendor's answer changes it")]
    Issuing(String),
}

/// A voucher request refused by delegation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller has no delegation on this quota.
    #[error("no delegation covers this request")]
    NoDelegation,
    /// Over the slice.
    #[error("over the delegation `{node}`: {remaining} left")]
    OverSlice {
        /// The slice.
        node: String,
        /// What it has left.
        remaining: Decimal,
    },
    /// Over a day or month cap.
    #[error("over the {period} cap of delegation `{node}` ({cap}): {remaining} left this {period}")]
    OverPeriodCap {
        /// The slice.
        node: String,
        /// `day` or `month`.
        period: &'static str,
        /// The cap.
        cap: Decimal,
        /// What is left this period.
        remaining: Decimal,
    },
    /// Face value above the slice's maximum.
    #[error("face value above the maximum of delegation `{node}` ({limit})")]
    FaceValueTooHigh {
        /// The slice.
        node: String,
        /// The maximum.
        limit: Decimal,
    },
    /// A service type or product the slice does not allow.
    #[error("{field} `{value}` not allowed by delegation `{node}`")]
    NotAllowed {
        /// The slice.
        node: String,
        /// `cloud_service_types`, `product_ids` or `customer_ids`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// Voucher validity outside the slice's window.
    #[error("voucher validity outside the window of delegation `{node}`")]
    ValidityOutside {
        /// The slice.
        node: String,
    },
    /// The delegation has expired.
    #[error("delegation `{node}` expired")]
    Expired {
        /// The slice.
        node: String,
    },
    /// The delegation is suspended or revoked.
    #[error("delegation `{node}` is not active")]
    Inactive {
        /// The slice.
        node: String,
    },
}

pub(super) fn check_narrows(child: &Limits, parent: &Limits) -> Result<(), GrantError> {
    let ceiling =
        |c: Option<Decimal>, p: Option<Decimal>| p.is_none_or(|p| c.is_some_and(|c| c <= p));
    let within = |c: Option<OffsetDateTime>, p: Option<OffsetDateTime>, later: bool| {
        p.is_none_or(|p| c.is_some_and(|c| if later { c >= p } else { c <= p }))
    };
    let checks = [
        (ceiling(child.per_day, parent.per_day), "per_day"),
        (ceiling(child.per_month, parent.per_month), "per_month"),
        (
            ceiling(child.max_face_value, parent.max_face_value),
            "max_face_value",
        ),
        (
            narrows(&child.services, &parent.services),
            "cloud_service_types",
        ),
        (narrows(&child.products, &parent.products), "product_ids"),
        (narrows(&child.customers, &parent.customers), "customers"),
        (
            within(child.valid_from, parent.valid_from, true),
            "valid_from",
        ),
        (
            within(child.valid_until, parent.valid_until, false),
            "valid_until",
        ),
        (
            within(child.expires_at, parent.expires_at, false),
            "expires_at",
        ),
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, field)) => Err(GrantError::Widens(field)),
        None => Ok(()),
    }
}

pub(super) fn check_request(
    id: &str,
    n: &Node,
    req: &VoucherRequest,
    now: OffsetDateTime,
) -> Result<(), Refusal> {
    let node = || id.to_owned();
    if n.status != Status::Active {
        return Err(Refusal::Inactive { node: node() });
    }
    if n.limits.expires_at.is_some_and(|e| now >= e) {
        return Err(Refusal::Expired { node: node() });
    }
    if let Some(limit) = n.limits.max_face_value
        && req.face_value > limit
    {
        return Err(Refusal::FaceValueTooHigh {
            node: node(),
            limit,
        });
    }
    let lists = [
        ("cloud_service_types", &n.limits.services, &req.services),
        ("product_ids", &n.limits.products, &req.products),
        ("customer_ids", &n.limits.customers, &req.customers),
    ];
    for (field, allowed, asked) in lists {
        if let Some(allowed) = allowed {
            // A slice restricted to some services must not issue unrestricted vouchers.
            if asked.is_empty() && field != "customer_ids" {
                return Err(Refusal::NotAllowed {
                    node: node(),
                    field,
                    value: "(unrestricted)".into(),
                });
            }
            if let Some(v) = asked.iter().find(|v| !allowed.contains(*v)) {
                return Err(Refusal::NotAllowed {
                    node: node(),
                    field,
                    value: v.clone(),
                });
            }
        }
    }
    let from_ok = n
        .limits
        .valid_from
        .is_none_or(|f| req.valid_from.is_some_and(|v| v >= f));
    let until_ok = n
        .limits
        .valid_until
        .is_none_or(|u| req.valid_until.is_some_and(|v| v <= u));
    if !from_ok || !until_ok {
        return Err(Refusal::ValidityOutside { node: node() });
    }
    Ok(())
}
