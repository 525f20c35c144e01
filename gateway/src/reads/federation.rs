//! Sign-in federation (`GET /federation`, the console's page): the reseller IdPs registered
//! with the broker, their pinned certificates' fingerprints and expiry, recent sign-ins and
//! refusals, and platform users' bindings; a reseller sees its own.

use crate::audit::Audit;
use crate::audit::read::scoped;
use crate::rejection::Rejection;
use crate::store::audit::{Filter, Match};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tiergate_policy::Principal;
use tiergate_policy::admin::{self, Area, Scope};

/// Recent sign-in records and bindings shown.
const RECENT: i64 = 50;

/// A pinned signing certificate.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Pinned {
    /// SHA-256 of its DER, hex.
    pub sha256: String,
    /// Its subject.
    pub subject: String,
    /// Expiry, RFC 3339 (empty if unreadable).
    pub not_after: String,
    /// Days left.
    pub days_left: Option<i64>,
}

/// A registered reseller IdP.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Idp {
    /// The reseller.
    pub reseller: String,
    /// Its entity id.
    pub entity_id: String,
    /// Where sign-ins start.
    pub sso_url: Option<String>,
    /// Whether it may start sign-ins itself.
    pub idp_initiated: bool,
    /// Its pinned signing certificates.
    pub certificates: Vec<Pinned>,
    /// Where bind notifications go.
    pub notify_url: Option<String>,
}

/// A platform user bound to a customer account.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Bound {
    /// The platform user.
    pub x_user_id: String,
    /// Their reseller.
    pub reseller: String,
    /// The customer account.
    pub customer_id: String,
    /// When, RFC 3339.
    pub bound_at: String,
}

/// The federation page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Federation {
    /// Whether the broker runs (`[sso]` configured).
    pub enabled: bool,
    /// Registered IdPs.
    pub idps: Vec<Idp>,
    /// Recent sign-ins, refusals and bindings from the audit log, newest first.
    pub recent: Vec<Value>,
    /// Bindings, newest first.
    pub bindings: Vec<Bound>,
}

/// The federation state, as `reader` may see it.
pub async fn federation(
    audit: &Audit,
    idps: Option<&[Idp]>,
    reader: &Principal,
) -> Result<Federation, Rejection> {
    let scope = admin::reads(reader, Area::Federation)?;
    let f = Filter {
        matching: Match {
            kind: Some("identity".into()),
            ..Match::default()
        },
        limit: RECENT,
        ..Filter::default()
    };
    let unavailable = |_| Rejection::AuditUnavailable;
    let rows = audit
        .store()
        .audit()
        .query(scoped(f, &scope))
        .await
        .map_err(unavailable)?;
    let masker = crate::audit::read::masker(audit)
        .await
        .map_err(|_| Rejection::AuditUnavailable)?;
    let recent = rows
        .into_iter()
        .filter_map(|(_, b)| serde_json::from_str::<Value>(&b).ok())
        .map(|mut v| {
            masker.mask(&mut v);
            v
        })
        .collect();
    let only = match &scope {
        Scope::All => None,
        Scope::Partner(p) => Some(p.clone()),
    };
    let bindings = audit
        .store()
        .bindings()
        .list(only, RECENT)
        .await
        .map_err(|_| Rejection::StorageUnavailable)?
        .into_iter()
        .map(|(b, at)| Bound {
            x_user_id: b.x_user_id,
            reseller: b.reseller,
            customer_id: b.customer_id,
            bound_at: super::rfc3339(at),
        })
        .collect();
    Ok(Federation {
        enabled: idps.is_some(),
        idps: idps
            .unwrap_or_default()
            .iter()
            .filter(|i| scope.covers(&i.reseller))
            .cloned()
            .collect(),
        recent,
        bindings,
    })
}
