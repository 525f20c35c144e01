//! `GET /audit/records` on the admin listener: audit records for auditors only, signed with
//! an auditor's Tiergate credential (the same AK/SK scheme), masked unless the credential's
//! role is `unmasked` and the request asks (`unmasked=true`), which is itself audited.

use crate::answer::Listener;
use crate::audit::Audit;
use crate::audit::mask::UNMASKED_ROLE;
use crate::audit::read::{Query, records};
use crate::credentials::Credentials;
use crate::rejection::Rejection;
use crate::store::audit::Match;
use crate::web::form::Form;
use pingora::protocols::http::ServerSession;
use serde_json::{Value, json};
use std::time::Duration;
use tiergate_policy::{Denied, Tier};

/// What the admin audit API needs.
pub struct AuditApi {
    /// What unauthenticated callers may cost.
    pub guard: std::sync::Arc<crate::guard::Guard>,
    /// Credential lookups.
    pub credentials: std::sync::Arc<Credentials>,
    /// The audit log.
    pub audit: Audit,
    /// Accepted clock skew.
    pub skew: time::Duration,
    /// Bearer tokens (token mode), if configured.
    pub tokens: Option<std::sync::Arc<tiergate_broker::tokens::Issuer>>,
    /// Default query window.
    pub retention: Duration,
}

impl AuditApi {
    /// `GET /audit/records`.
    pub async fn records(&self, session: &mut ServerSession) -> Result<Value, Rejection> {
        let tokens = self.tokens.as_deref();
        let req = session.req_header();
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        let cred = super::auth::authenticate(&self.credentials, tokens, &door, req, b"", self.skew)
            .await?
            .credential;
        let p = &cred.principal;
        if p.tier != Tier::Auditor {
            return Err(Rejection::Denied(Denied::TierNotAllowed {
                tier: p.tier,
                operation: "audit_records",
            }));
        }
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        let unmasked = q.get("unmasked") == Some("true");
        if unmasked && p.role.as_deref() != Some(UNMASKED_ROLE) {
            return Err(Rejection::Denied(Denied::RoleNotAllowed {
                role: p.role.clone().unwrap_or_default(),
                operation: "audit_records_unmasked",
            }));
        }
        let int =
            |name: &str, default: i64| q.get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        let query = Query {
            from: q.string("from"),
            until: q.string("until"),
            matching: Match {
                kind: q.string("kind"),
                principal: q.string("principal"),
                tier: q.string("tier"),
                reseller: q.string("reseller"),
                customer: q.string("customer"),
                operation: q.string("operation"),
                outcome: q.string("outcome"),
                amount_min: q.string("amount_min"),
                amount_max: q.string("amount_max"),
            },
            offset: int("offset", 0),
            limit: int("limit", 100),
        };
        let filter = query
            .filter(self.retention)
            .map_err(Rejection::InvalidBody)?;
        let who = format!("{} ({})", cred.access_key, p.partner_id);
        let recs = records(&self.audit, filter, unmasked, &who)
            .await
            .map_err(|_| Rejection::AuditUnavailable)?;
        Ok(json!({"count": recs.len(), "records": recs}))
    }
}
