//! The authorization decision: may this principal call this route, and as whom upstream.
//!
//! Rules (the walking-skeleton rule set; the full tier policy replaces it):
//! - a distributor may call every partner-side route, as itself;
//! - a cloud reseller may call the reseller-scoped routes only, and always as itself: Tiergate
//!   sets `indirect_partner_id` to the reseller, and refuses a request naming another partner;
//! - every other tier, and every other route, is refused.

use crate::principal::{Principal, Tier};
use crate::routes::{CallerConstraint, IdLocation, Route};

/// The field through which a distributor acts for one of its resellers.
pub const INDIRECT_PARTNER_ID: &str = "indirect_partner_id";

/// What the gateway must set in the request before forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// Field name.
    pub field: &'static str,
    /// Value to set.
    pub value: String,
    /// Query string or JSON body.
    pub location: IdLocation,
}

/// Proof that a request may be forwarded. Only [`decide`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    route: &'static Route,
    principal: Principal,
    injection: Option<Injection>,
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
    /// What to inject before forwarding, if anything.
    pub fn injection(&self) -> Option<&Injection> {
        self.injection.as_ref()
    }
    /// The rule that allowed the request.
    pub fn rule(&self) -> &'static str {
        self.rule
    }
}

/// Why a request is refused, with what the caller needs to know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The principal's tier may not call this operation through Tiergate.
    #[error("a {tier} may not call {operation}")]
    TierNotAllowed {
        /// The caller's tier.
        tier: Tier,
        /// The operation refused.
        operation: &'static str,
    },
    /// The request names a partner other than the caller in `field`.
    #[error("{field} `{value}` is not yours: a cloud reseller acts only as itself")]
    NotYourPartner {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

impl Denied {
    /// The rule that refused the request.
    pub fn rule(&self) -> &'static str {
        match self {
            Denied::TierNotAllowed { .. } => "tier-route",
            Denied::NotYourPartner { .. } => "reseller-acts-as-itself",
        }
    }
}

/// Decides on a request. `indirect_partner_ids` are every `indirect_partner_id` value the
/// request carries, in the query and the body.
pub fn decide(
    principal: &Principal,
    route: &'static Route,
    indirect_partner_ids: &[&str],
) -> Result<Permit, Denied> {
    let refuse = || Denied::TierNotAllowed {
        tier: principal.tier,
        operation: route.operation,
    };
    let permit = |injection, rule| Permit {
        route,
        principal: principal.clone(),
        injection,
        rule,
    };
    match principal.tier {
        Tier::Distributor if route.caller != CallerConstraint::CustomerOnly => {
            Ok(permit(None, "distributor-partner-routes"))
        }
        Tier::CloudReseller if route.reseller_scoped => {
            if let Some(other) = indirect_partner_ids
                .iter()
                .find(|id| **id != principal.partner_id)
            {
                return Err(Denied::NotYourPartner {
                    field: INDIRECT_PARTNER_ID,
                    value: (*other).to_owned(),
                });
            }
            let injection = Injection {
                field: INDIRECT_PARTNER_ID,
                value: principal.partner_id.clone(),
                location: route.ids_in,
            };
            Ok(permit(Some(injection), "reseller-scoped-routes"))
        }
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{CATALOGUE, find_route};

    fn who(tier: Tier, id: &str) -> Principal {
        Principal {
            partner_id: id.into(),
            tier,
            distributor_id: Some("dist-1".into()),
        }
    }

    fn route(m: &str, p: &str) -> &'static Route {
        find_route(m, p).unwrap_or_else(|| unreachable!("route {m} {p} missing"))
    }

    #[test]
    fn distributor_passes_every_partner_route_without_injection() {
        let d = who(Tier::Distributor, "dist-1");
        for r in CATALOGUE {
            let got = decide(&d, r, &[]);
            if r.caller == CallerConstraint::CustomerOnly {
                assert!(got.is_err(), "{}", r.operation);
            } else {
                assert_eq!(got.map(|p| p.injection().cloned()), Ok(None));
            }
        }
    }

    #[test]
    fn reseller_is_injected_as_itself() {
        let me = who(Tier::CloudReseller, "res-1");
        let r = route("POST", "/v2/promotions/benefits/partner-coupons");
        let permit = decide(&me, r, &[]).map_err(|e| e.to_string());
        let inj = permit.as_ref().ok().and_then(|p| p.injection());
        assert_eq!(inj.map(|i| i.value.as_str()), Some("res-1"));
        assert_eq!(inj.map(|i| i.location), Some(IdLocation::Body));
        let r = route("GET", "/v3/accounts/partner-accounts/adjust-records");
        let permit = decide(&me, r, &["res-1"]).map_err(|e| e.to_string());
        let inj = permit.as_ref().ok().and_then(|p| p.injection());
        assert_eq!(inj.map(|i| i.location), Some(IdLocation::Query));
    }

    #[test]
    fn reseller_naming_another_partner_is_refused() {
        let me = who(Tier::CloudReseller, "res-1");
        let r = route("POST", "/v2/accounts/partner-accounts/adjust-amount");
        assert_eq!(
            decide(&me, r, &["res-1", "res-2"]),
            Err(Denied::NotYourPartner {
                field: INDIRECT_PARTNER_ID,
                value: "res-2".into()
            })
        );
    }

    #[test]
    fn reseller_is_refused_distributor_only_and_customer_routes() {
        let me = who(Tier::CloudReseller, "res-1");
        for r in CATALOGUE.iter().filter(|r| !r.reseller_scoped) {
            assert_eq!(
                decide(&me, r, &[]),
                Err(Denied::TierNotAllowed {
                    tier: Tier::CloudReseller,
                    operation: r.operation
                })
            );
        }
    }

    #[test]
    fn other_tiers_are_refused_everything_for_now() {
        for tier in [Tier::SolutionProvider, Tier::Customer] {
            let p = who(tier, "x");
            for r in CATALOGUE {
                assert!(decide(&p, r, &[]).is_err(), "{tier} {}", r.operation);
            }
        }
    }
}
