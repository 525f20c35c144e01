//! `GET /audit/records` on the admin listener: audit records for auditors only, signed with
//! an auditor's Tiergate credential (the same AK/SK scheme), masked unless the credential's
//! role is `unmasked` and the request asks (`unmasked=true`), which is itself audited.

use crate::audit::Audit;
use crate::cli::audit::records;
use crate::credentials::Credentials;
use crate::rejection::Rejection;
use crate::store::audit::Filter;
use percent_encoding::percent_decode_str;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::time::Duration;
use tiergate_policy::{Denied, Tier};

/// The role that may see personal data unmasked.
pub const UNMASKED_ROLE: &str = "unmasked";

/// What the admin audit API needs.
pub struct AuditApi {
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

fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

fn millis(s: &str) -> Result<i64, Rejection> {
    crate::audit::parse_time_ms(s).map_err(Rejection::InvalidBody)
}

impl AuditApi {
    /// Answers a request: (status, JSON body).
    pub async fn answer(&self, session: &mut ServerSession) -> (u16, Vec<u8>) {
        match self.records(session).await {
            Ok(body) => (200, body),
            Err(r) => (r.answer().status, r.body()),
        }
    }

    async fn records(&self, session: &mut ServerSession) -> Result<Vec<u8>, Rejection> {
        let tokens = self.tokens.as_deref();
        let req = session.req_header();
        let cred =
            crate::admin_auth::authenticate(&self.credentials, tokens, req, b"", self.skew).await?;
        let p = &cred.principal;
        if p.tier != Tier::Auditor {
            return Err(Rejection::Denied(Denied::TierNotAllowed {
                tier: p.tier,
                operation: "audit_records",
            }));
        }
        let q = session.req_header().uri.query().unwrap_or("").to_owned();
        let unmasked = param(&q, "unmasked").as_deref() == Some("true");
        if unmasked && p.role.as_deref() != Some(UNMASKED_ROLE) {
            return Err(Rejection::Denied(Denied::RoleNotAllowed {
                role: p.role.clone().unwrap_or_default(),
                operation: "audit_records_unmasked",
            }));
        }
        let from = match param(&q, "from") {
            Some(f) => millis(&f)?,
            None => crate::audit::window_start(self.retention),
        };
        let int = |name: &str, default: i64| {
            param(&q, name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let filter = Filter {
            from: Some(from),
            until: param(&q, "until").map(|u| millis(&u)).transpose()?,
            kind: param(&q, "kind"),
            principal: param(&q, "principal"),
            tier: param(&q, "tier"),
            reseller: param(&q, "reseller"),
            customer: param(&q, "customer"),
            operation: param(&q, "operation"),
            outcome: param(&q, "outcome"),
            amount_min: param(&q, "amount_min"),
            amount_max: param(&q, "amount_max"),
            offset: int("offset", 0),
            limit: int("limit", 100),
        };
        let who = format!("{} ({})", cred.access_key, p.partner_id);
        let recs = records(&self.audit, filter, unmasked, &who)
            .await
            .map_err(|_| Rejection::AuditUnavailable)?;
        Ok(json!({"count": recs.len(), "records": recs})
            .to_string()
            .into_bytes())
    }
}
