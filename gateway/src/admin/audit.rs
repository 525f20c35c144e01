//! `GET /audit/records` and `GET /audit/export` on the admin listener: audit records for
//! those who read them ([`tiergate_policy::admin::reads`]: auditors and the distributor all of
//! them, a reseller and its staff their own subtree), signed with their own Tiergate
//! credential (the same AK/SK scheme) or a bearer token, masked unless the credential's role
//! is `unmasked` and the request asks (`unmasked=true`), which is itself audited.

use super::answers::Records;
use crate::answer::Listener;
use crate::audit::Audit;
use crate::audit::export::{Export, Format};
use crate::audit::mask::UNMASKED_ROLE;
use crate::audit::read::{Query, matching, records, scoped};
use crate::credentials::Credentials;
use crate::rejection::Rejection;
use crate::web::form::Form;
use pingora::protocols::http::ServerSession;
use std::time::Duration;
use tiergate_policy::Denied;
use tiergate_policy::admin::{self, Area};

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

/// An auditor's reading of the log: the filter asked for, whether unmasked, and who asks.
struct Reading {
    filter: crate::store::audit::Filter,
    unmasked: bool,
    who: String,
    /// `limit`, when the request gave one.
    limit: Option<i64>,
    form: Form,
}

impl AuditApi {
    /// Authenticates an auditor and reads the query string (the same filters for reads and
    /// exports); unmasked only for the `unmasked` role, when asked.
    async fn reading(&self, session: &mut ServerSession) -> Result<Reading, Rejection> {
        let tokens = self.tokens.as_deref();
        let req = session.req_header();
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        let cred = super::auth::authenticate(&self.credentials, tokens, &door, req, b"", self.skew)
            .await?
            .credential;
        let p = &cred.principal;
        let scope = admin::reads(p, Area::Audit)?;
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        let unmasked = q.get("unmasked") == Some("true");
        if unmasked && p.role.as_deref() != Some(UNMASKED_ROLE) {
            return Err(Rejection::Denied(Denied::RoleNotAllowed {
                role: p.role.clone().unwrap_or_default(),
                operation: "audit_records_unmasked",
            }));
        }
        // A count that is not one is refused rather than ignored: the caller would otherwise
        // get a page other than the one asked for.
        let int = |name: &str| {
            q.get(name)
                .map(|v| v.parse::<u32>().map(i64::from))
                .transpose()
                .map_err(|_| Rejection::InvalidBody(format!("`{name}` must be a whole number")))
        };
        let limit = int("limit")?;
        let query = Query {
            from: q.string("from"),
            until: q.string("until"),
            matching: matching(|n| q.string(n)),
            offset: int("offset")?.unwrap_or(0),
            limit: limit.unwrap_or(100),
        };
        let filter = query
            .filter(self.retention)
            .map_err(Rejection::InvalidBody)?;
        let filter = scoped(filter, &scope);
        Ok(Reading {
            filter,
            unmasked,
            who: format!("{} ({})", cred.access_key, p.partner_id),
            limit,
            form: q,
        })
    }

    /// `GET /audit/records`.
    pub async fn records(&self, session: &mut ServerSession) -> Result<Records, Rejection> {
        let r = self.reading(session).await?;
        let recs = records(&self.audit, r.filter, r.unmasked, &r.who)
            .await
            .map_err(|_| Rejection::AuditUnavailable)?;
        Ok(Records {
            count: recs.len(),
            records: recs,
        })
    }

    /// `GET /audit/export?format=csv|jsonl`: every record the filters select (`limit` caps
    /// it), newest first, as a download written while it is read ([`super::stream`]).
    pub async fn export(&self, session: &mut ServerSession) -> Result<Export, Rejection> {
        let r = self.reading(session).await?;
        let format: Format = r
            .form
            .get("format")
            .unwrap_or("jsonl")
            .parse()
            .map_err(Rejection::InvalidBody)?;
        Ok(Export {
            filter: r.filter,
            limit: r.limit.map(|l| u64::try_from(l).unwrap_or(0)),
            unmasked: r.unmasked,
            who: r.who,
            format,
        })
    }
}
