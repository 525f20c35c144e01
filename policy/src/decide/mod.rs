//! The authorization decision: may this principal call this route, as whom, on which
//! identifiers. Every outcome names the rule that made it.
//!
//! 1. Grants: the tier's rules (for reseller staff, also the role's) must hold the route.
//! 2. Acting partner: a distributor acts as itself or, naming `indirect_partner_id`, as one of
//!    its own resellers; a reseller (and its staff) always as itself, which Tiergate injects;
//!    a customer as itself.
//! 3. Scope: every identifier must belong to the acting partner (on distributor-only routes:
//!    to the distributor's own subtree). One foreign identifier refuses the whole request.
//! 4. Money reaches resale customers only.

use crate::graph::Relationships;
use crate::ids::RequestIds;
use crate::principal::{Principal, Tier};
use crate::routes::{CallerConstraint, IdKind, IdLocation, Route};
use crate::rules::{Rules, ceiling};
use std::sync::Arc;

/// The field through which a distributor acts for one of its resellers.
pub const INDIRECT_PARTNER_ID: &str = "indirect_partner_id";

/// What the gateway must set in the request before forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection<'a> {
    /// Field name.
    pub field: &'static str,
    /// Value to set.
    pub value: &'a str,
    /// Query string or JSON body.
    pub location: IdLocation,
}

/// Proof that a request may be forwarded. Only [`decide`] makes one.
///
/// It allocates nothing on the common path: the principal is shared, and the acting partner
/// is stored only when a distributor acts for a reseller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    route: &'static Route,
    principal: Arc<Principal>,
    acting_for: Option<String>,
    inject: bool,
    rule: &'static str,
}

impl Permit {
    /// The route permitted.
    pub fn route(&self) -> &'static Route {
        self.route
    }
    /// Who asked.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    /// The partner the call acts as upstream.
    pub fn acting(&self) -> &str {
        self.acting_for
            .as_deref()
            .unwrap_or(&self.principal.partner_id)
    }
    /// What to inject before forwarding, if anything: a reseller always acts as itself.
    pub fn injection(&self) -> Option<Injection<'_>> {
        self.inject.then(|| Injection {
            field: INDIRECT_PARTNER_ID,
            value: &self.principal.partner_id,
            location: self.route.ids_in,
        })
    }
    /// The rule that allowed the request (`tiers.<tier>` or `roles`).
    pub fn rule(&self) -> &'static str {
        self.rule
    }
}

/// Why a request is refused, with what the caller needs to know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The principal's tier may not call this operation.
    #[error("a {tier} may not call {operation}")]
    TierNotAllowed {
        /// The caller's tier.
        tier: Tier,
        /// The operation refused.
        operation: &'static str,
    },
    /// The staff member's role may not call this operation.
    #[error("role `{role}` may not call {operation}")]
    RoleNotAllowed {
        /// The role.
        role: String,
        /// The operation refused.
        operation: &'static str,
    },
    /// The credential names a role the rules do not define.
    #[error("role `{role}` is not defined")]
    UnknownRole {
        /// The role.
        role: String,
    },
    /// The request names another partner to act as.
    #[error("{field} `{value}` is not yours: a cloud reseller acts only as itself")]
    NotYourPartner {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// The caller is not (or no longer) a reseller of its distributor.
    #[error("{partner} is not a cloud reseller of this distributor")]
    NotAReseller {
        /// The partner.
        partner: String,
    },
    /// An identifier outside the caller's own customers, quotas, vouchers or resellers.
    #[error("{field} `{value}` is not yours")]
    NotYours {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// Money to an advisory (non-resale) customer.
    #[error(
        "{field} `{value}` is an advisory customer: vouchers and funds go to resale customers only"
    )]
    AdvisoryCustomer {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

impl Denied {
    /// Tiergate's error code for this refusal (answered with 403 by the gateway).
    pub fn code(&self) -> &'static str {
        match self {
            Denied::TierNotAllowed { .. } => "TG.2002",
            Denied::NotYourPartner { .. } => "TG.2003",
            Denied::NotYours { .. } => "TG.2004",
            Denied::AdvisoryCustomer { .. } => "TG.2005",
            Denied::RoleNotAllowed { .. } => "TG.2006",
            Denied::UnknownRole { .. } => "TG.2007",
            Denied::NotAReseller { .. } => "TG.2008",
        }
    }

    /// The rule that refused the request.
    pub fn rule(&self) -> &'static str {
        match self {
            Denied::TierNotAllowed { .. } => "tier-grants",
            Denied::RoleNotAllowed { .. } => "role-grants",
            Denied::UnknownRole { .. } => "role-defined",
            Denied::NotYourPartner { .. } => "reseller-acts-as-itself",
            Denied::NotAReseller { .. } => "reseller-of-distributor",
            Denied::NotYours { .. } => "own-identifiers-only",
            Denied::AdvisoryCustomer { .. } => "money-to-resale-customers-only",
        }
    }
}

fn tier_rule(tier: Tier) -> &'static str {
    match tier {
        Tier::Distributor => "tiers.distributor",
        Tier::SolutionProvider => "tiers.solution_provider",
        Tier::CloudReseller => "tiers.cloud_reseller",
        Tier::ResellerStaff => "roles",
        Tier::Customer => "tiers.customer",
        Tier::Auditor => "tiers.auditor",
    }
}

fn grants(p: &Principal, route: &'static Route, rules: &Rules) -> Result<(), Denied> {
    let tier_set = match p.tier {
        // Staff act within their reseller's rights.
        Tier::ResellerStaff => rules
            .tier(Tier::CloudReseller)
            .intersect(ceiling(Tier::ResellerStaff)),
        t => rules.tier(t),
    };
    if !tier_set.contains(route) {
        return Err(Denied::TierNotAllowed {
            tier: p.tier,
            operation: route.operation,
        });
    }
    if p.tier == Tier::ResellerStaff {
        let role = p.role.clone().unwrap_or_default();
        let set = rules
            .role(&role)
            .ok_or(Denied::UnknownRole { role: role.clone() })?;
        if !set.contains(route) {
            return Err(Denied::RoleNotAllowed {
                role,
                operation: route.operation,
            });
        }
    }
    Ok(())
}

/// Decides on a request.
pub fn decide<G: Relationships + ?Sized>(
    principal: &Arc<Principal>,
    route: &'static Route,
    ids: &RequestIds<'_>,
    rules: &Rules,
    graph: &G,
) -> Result<Permit, Denied> {
    grants(principal, route, rules)?;
    let me = principal.partner_id.as_str();
    let distributor_only = route.caller == CallerConstraint::DistributorOnly;
    let named = ids.iter().filter(|(f, _)| f.kind == IdKind::ActingPartner);
    let (acting, inject) = match principal.tier {
        Tier::CloudReseller | Tier::ResellerStaff => {
            if let Some((f, v)) = named.into_iter().find(|(_, v)| *v != me) {
                return Err(Denied::NotYourPartner {
                    field: f.name,
                    value: v.to_owned(),
                });
            }
            if graph.reseller_parent(me) != principal.distributor_id.as_deref() {
                return Err(Denied::NotAReseller {
                    partner: me.to_owned(),
                });
            }
            // Injected where the route names the partner it acts for; elsewhere (reference
            // data, identity checks) the reseller's identifiers are each checked as its own.
            (me, route.carries_acting())
        }
        Tier::Distributor => {
            let mut acting = me;
            for (f, v) in named {
                if graph.reseller_parent(v) != Some(me) || (acting != me && acting != v) {
                    return Err(Denied::NotYours {
                        field: f.name,
                        value: v.to_owned(),
                    });
                }
                acting = v;
            }
            (acting, false)
        }
        _ => {
            if let Some((f, v)) = named.into_iter().next() {
                return Err(Denied::NotYourPartner {
                    field: f.name,
                    value: v.to_owned(),
                });
            }
            (me, false)
        }
    };
    for (field, value) in ids.iter() {
        let own = match field.kind {
            IdKind::ActingPartner => true,
            IdKind::Reseller => graph.reseller_parent(value) == Some(me),
            IdKind::Customer | IdKind::ResaleCustomer if principal.tier == Tier::Customer => {
                value == me
            }
            // A solution provider calls with its own vendor key: its customers, quotas and
            // vouchers are its own account's, which the vendor scopes to that key and the
            // distributor's graph does not hold.
            IdKind::Customer | IdKind::ResaleCustomer | IdKind::Quota | IdKind::Coupon
                if principal.tier == Tier::SolutionProvider =>
            {
                true
            }
            IdKind::Customer | IdKind::ResaleCustomer => match graph.customer(value) {
                Some(c) if c.owner == acting => {
                    if field.kind == IdKind::ResaleCustomer && !c.resale {
                        return Err(Denied::AdvisoryCustomer {
                            field: field.name,
                            value: value.to_owned(),
                        });
                    }
                    true
                }
                _ => false,
            },
            IdKind::Quota => match graph.quota_owner(value) {
                Some(owner) if distributor_only => {
                    owner == me || graph.reseller_parent(owner) == Some(me)
                }
                Some(owner) => owner == acting,
                None => false,
            },
            IdKind::Coupon => graph.coupon_owner(value) == Some(acting),
        };
        if !own {
            return Err(Denied::NotYours {
                field: field.name,
                value: value.to_owned(),
            });
        }
    }
    Ok(Permit {
        route,
        principal: Arc::clone(principal),
        acting_for: (acting != me).then(|| acting.to_owned()),
        inject,
        rule: tier_rule(principal.tier),
    })
}

#[cfg(test)]
mod tests;
