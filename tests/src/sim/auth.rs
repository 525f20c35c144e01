//! Authentication and the vendor's caller constraints.

use super::errors::{ApiError, codes};
use super::request::Caller;
use super::routes::{Callers, VendorRoute};
use super::world::World;
use http::{HeaderMap, StatusCode};
use tiergate_policy::Tier;
use tiergate_policy::aksk::{self, HeaderSource};
use time::{Duration, OffsetDateTime};

/// The vendor's clock-skew window.
pub const SKEW: Duration = Duration::minutes(15);

struct Headers<'a>(&'a HeaderMap);

impl HeaderSource for Headers<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Verifies the signature and returns who signed.
pub fn authenticate(
    world: &World,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Caller, ApiError> {
    let raw = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthenticated("Access denied: the request is not signed."))?;
    let auth = aksk::parse_authorization(raw)
        .map_err(|e| ApiError::unauthenticated(format!("Access denied: {e}.")))?;
    let (caller, sk) = lookup(world, auth.access_key)
        .ok_or_else(|| ApiError::unauthenticated("Access denied: unknown access key."))?;
    let req = aksk::Request {
        method,
        path,
        query,
        headers: &Headers(headers),
        body,
    };
    aksk::verify(&req, &auth, sk.as_bytes(), now, SKEW)
        .map_err(|e| ApiError::unauthenticated(format!("Access denied: {e}.")))?;
    let caller_id = match &caller {
        Caller::Partner { id, .. } | Caller::Customer { id } => id,
    };
    if let Some(domain) = Headers(headers).header("x-domain-id")
        && domain != caller_id
    {
        return Err(ApiError::unauthenticated(
            "Access denied: X-Domain-Id does not match the credentials.",
        ));
    }
    Ok(caller)
}

fn lookup<'w>(world: &'w World, ak: &str) -> Option<(Caller, &'w str)> {
    if let Some(p) = world.partners.values().find(|p| p.access_key == ak) {
        let caller = Caller::Partner {
            id: p.id.clone(),
            tier: p.tier,
        };
        return Some((caller, &p.secret_key));
    }
    world.customers.values().find_map(|c| {
        (c.access_key.as_deref() == Some(ak)).then(|| {
            let caller = Caller::Customer { id: c.id.clone() };
            (caller, c.secret_key.as_deref().unwrap_or_default())
        })
    })
}

/// Applies the vendor's per-API caller constraint. A cloud reseller's own key is never
/// accepted on the partner API (its distributor acts for it).
pub fn check_constraint(caller: &Caller, route: &VendorRoute) -> Result<(), ApiError> {
    let partner = |tier: &Tier| matches!(tier, Tier::Distributor | Tier::SolutionProvider);
    let allowed = match (caller, route.callers) {
        (_, Callers::EnterpriseMaster) => false,
        (Caller::Customer { .. }, c) => matches!(
            c,
            Callers::CustomerOnly | Callers::PartnerOrCustomer | Callers::Anyone
        ),
        (Caller::Partner { tier, .. }, c) => match c {
            Callers::CustomerOnly => false,
            Callers::DistributorOnly => *tier == Tier::Distributor,
            Callers::SolutionProviderOrDistributor
            | Callers::AnyPartner
            | Callers::PartnerOrCustomer
            | Callers::Anyone => partner(tier),
            Callers::EnterpriseMaster => false,
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::denied(format!(
            "Access denied: this API accepts only {} credentials.",
            match route.callers {
                Callers::DistributorOnly => "a distributor's",
                Callers::SolutionProviderOrDistributor | Callers::AnyPartner =>
                    "a solution provider's or a distributor's",
                Callers::CustomerOnly => "the customer's own",
                Callers::PartnerOrCustomer => "a partner's or the customer's own",
                Callers::Anyone => "a partner's or a customer's",
                Callers::EnterpriseMaster => "an enterprise master account's",
            }
        )))
    }
}

/// The partner a call acts as: `indirect_partner_id` (only a distributor's own reseller),
/// else the caller.
pub fn acting(world: &World, caller: &Caller, indirect: Option<&str>) -> Result<String, ApiError> {
    match (caller, indirect) {
        (Caller::Customer { id }, _) => Ok(id.clone()),
        (Caller::Partner { id, .. }, None) => Ok(id.clone()),
        (Caller::Partner { id, tier }, Some(r))
            if *tier == Tier::Distributor && world.is_reseller_of(r, id) =>
        {
            Ok(r.to_owned())
        }
        (Caller::Partner { .. }, Some(r)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::NOT_YOUR_RESELLER,
            format!("The indirect partner {r} is not associated with the caller."),
        )),
    }
}
