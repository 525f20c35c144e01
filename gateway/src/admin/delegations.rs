//! `/delegations` on the admin listener: distributors and resellers manage slices of voucher
//! quota as the tier they are, signed with their Tiergate credential (the same AK/SK scheme).
//!
//! - `GET /delegations?quota_id=Q`: the tree (a reseller sees its own slices and below).
//! - `POST /delegations`: grant `{quota_id, id, parent?, grantee, limits: {total, ...},
//!   upstream_quota?, issue_upstream?}`. A reseller grants only below its own slice. With
//!   `issue_upstream` the distributor also issues the slice's total to the reseller upstream
//!   (`indirect-partner-adjust`), atomically ([`super::issue`]): held before the vendor is
//!   called, linked to the new vendor quota after, withdrawn if the vendor refuses.
//! - `POST /delegations/{id}/adjust|suspend|resume|revoke` with `{quota_id, total?}`: a
//!   reseller changes only slices strictly below its own.
//!
//! Every change is written to the audit log in the change's own transaction. A state-changing
//! call is carried out once ([`super::once`]): a captured request sent again changes nothing,
//! and `X-Idempotency-Key` makes a re-signed retry get the first answer.

use super::answers::Changed;
use super::api::{Found, Op};
use crate::answer::Listener;
use crate::audit::Audit;
use crate::credentials::UpstreamKey;
use crate::credentials::{Credential, Credentials};
use crate::ledger::view::{Tree, tree};
use crate::rejection::Rejection;
use crate::store::ledger::requests::{Author, Change};
use crate::upstream::UpstreamClient;
use crate::web::form::Form;
use http::Response;
use pingora::protocols::http::ServerSession;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::Deserialize;
use std::sync::Arc;
use tiergate_policy::admin::{Area, Scope};
use tiergate_policy::ledger::{Ledger, Limits, Status};
use tiergate_policy::{Denied, Tier};

/// What the admin delegation API needs.
pub struct DelegationApi {
    /// What unauthenticated callers may cost.
    pub guard: std::sync::Arc<crate::guard::Guard>,
    /// Credential lookups.
    pub credentials: Arc<Credentials>,
    /// The audit log (and the ledger, in its database).
    pub audit: Audit,
    /// Accepted clock skew.
    pub skew: time::Duration,
    /// Bearer tokens (token mode), if configured.
    pub tokens: Option<Arc<tiergate_broker::tokens::Issuer>>,
    /// The partner API, for issuing quota to a reseller in the same step.
    pub client: Arc<UpstreamClient>,
    /// The distributor's vendor key.
    pub key: UpstreamKey,
    /// The relationship graph (a quota issued here is the reseller's from then on).
    pub graph: Arc<crate::graph::LiveGraph>,
    /// Where learned relationships are kept.
    pub store: crate::store::Store,
}

/// `POST /delegations`: a new slice.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// The vendor quota the slice is cut from.
    pub quota_id: String,
    /// The new slice's id, unique within the quota.
    pub id: String,
    /// The slice it is cut from; none for a slice of the whole quota (distributors only).
    #[serde(default)]
    pub parent: Option<String>,
    /// Who it is granted to: a reseller, or a reseller's staff member.
    pub grantee: String,
    /// What it allows.
    pub limits: Limits,
    /// A vendor quota the slice already is at the vendor (distributors only).
    #[serde(default)]
    pub upstream_quota: Option<String>,
    /// Also issue the slice's total to the grantee at the vendor (distributors only).
    #[serde(default)]
    pub issue_upstream: bool,
}

/// `POST /delegations/{id}/adjust`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustBody {
    /// The vendor quota the slice belongs to.
    quota_id: String,
    /// The slice's new total.
    total: Decimal,
}

/// `POST /delegations/{id}/suspend|resume|revoke`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// The vendor quota the slice belongs to.
    quota_id: String,
    /// Not read: accepted, as it always was, so that one body fits every change of a slice.
    #[serde(default)]
    #[expect(dead_code, reason = "accepted for compatibility, never read")]
    total: Option<Decimal>,
}

/// An identifier as the ledger keeps it: no NUL or other control character (none is a vendor
/// id, and PostgreSQL refuses a NUL in text outright).
fn plain(field: &str, v: &str) -> Result<(), Rejection> {
    if v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(())
}

fn invalid(e: impl std::fmt::Display) -> Rejection {
    Rejection::InvalidBody(e.to_string())
}

fn not_yours(value: &str) -> Rejection {
    Rejection::Denied(Denied::NotYours {
        field: "delegation",
        value: value.to_owned(),
    })
}

/// Whether `id` is (`strictly`: lies below) a slice granted to `partner`.
fn under(l: &Ledger, id: &str, partner: &str, strictly: bool) -> bool {
    l.nodes().any(|(own, n)| {
        n.grantee == partner && l.within(id, own) && (!strictly || own.as_str() != id)
    })
}

/// What a delegation request changes, read from its path and body.
enum Asked {
    Grant(Box<GrantBody>),
    Change(String, Change),
}

impl DelegationApi {
    /// Answers a request to one of the `/delegations` operations.
    pub async fn handle(
        &self,
        session: &mut ServerSession,
        found: &Found,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let body = crate::web::body::read(session, super::MAX_BODY).await?;
        let req = session.req_header();
        let tokens = self.tokens.as_deref();
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        let caller =
            super::auth::authenticate(&self.credentials, tokens, &door, req, &body, self.skew)
                .await?;
        let cred = &caller.credential;
        // Who reads which slices, and who changes them, is decided by `show`, `grant` and
        // `change` ([`tiergate_policy::admin`]); a change is refused before it is claimed.
        if found.op != Op::DelegationTree {
            tiergate_policy::admin::may_delegate(&cred.principal)?;
        }
        let source = session.client_addr().map(|a| a.to_string());
        if found.op == Op::DelegationTree {
            let t = self.show(cred, req.uri.query().unwrap_or("")).await?;
            return Ok(super::json(&t));
        }
        let asked = read(found, &body)?;
        // A state-changing call is carried out once ([`super::once`]).
        let request_id = crate::answer::request_id();
        let window = self.skew * 2;
        let claimed = super::once::claim(
            self.audit.store(),
            req,
            &cred.access_key,
            caller.replay.clone(),
            &body,
            &request_id,
            window,
        )
        .await?;
        let once = match claimed.or_replay(&request_id) {
            Ok(o) => o,
            Err(first) => return Ok(*first),
        };
        let answered = match asked {
            Asked::Grant(g) => self.grant(cred, *g, source, &request_id).await,
            Asked::Change(quota, change) => self.change(cred, &quota, change, None, source).await,
        };
        once.finish(self.audit.store(), &answered).await;
        answered.map(|c| super::json(&c))
    }

    /// The tree of `quota_id` (in `query`) as `cred` may see it.
    pub async fn show(&self, cred: &Credential, query: &str) -> Result<Tree, Rejection> {
        let quota = Form::parse(query.as_bytes())
            .string("quota_id")
            .ok_or_else(|| invalid("`quota_id` is required"))?;
        plain("quota_id", &quota)?;
        let scope = tiergate_policy::admin::reads(&cred.principal, Area::Delegations)?;
        tree(self.audit.store(), &quota, move |l, id| match &scope {
            Scope::All => true,
            Scope::Partner(p) => under(l, id, p, false),
        })
        .await
        .map_err(|_| Rejection::AuditUnavailable)
    }

    /// Grants a slice, as `cred` may.
    pub async fn grant(
        &self,
        cred: &Credential,
        g: GrantBody,
        source: Option<String>,
        request_id: &str,
    ) -> Result<Changed, Rejection> {
        let p = &cred.principal;
        tiergate_policy::admin::may_delegate(p)?;
        for (field, v) in [
            ("quota_id", Some(g.quota_id.as_str())),
            ("id", Some(g.id.as_str())),
            ("parent", g.parent.as_deref()),
            ("grantee", Some(g.grantee.as_str())),
            ("upstream_quota", g.upstream_quota.as_deref()),
        ] {
            plain(field, v.unwrap_or_default())?;
        }
        let distributor = p.tier == Tier::Distributor;
        if !distributor {
            let parent = g
                .parent
                .as_deref()
                .ok_or_else(|| not_yours("(root of the quota)"))?;
            let l = self.ledger(&g.quota_id).await?;
            if !under(&l, parent, &p.partner_id, false)
                || g.issue_upstream
                || g.upstream_quota.is_some()
            {
                return Err(not_yours(parent));
            }
            // A reseller delegates to its own staff only: never to a partner (the
            // distributor, another reseller, itself), whose slices are the distributor's to
            // grant.
            let partner = &g.grantee;
            let is_partner = partner == &p.partner_id
                || p.distributor_id.as_ref() == Some(partner)
                || self.graph.with(|r| r.reseller_parent(partner).is_some());
            if is_partner {
                return Err(Rejection::Denied(Denied::NotYours {
                    field: "grantee",
                    value: partner.clone(),
                }));
            }
        }
        let change = Change::Grant {
            id: g.id.clone(),
            parent: g.parent.clone(),
            grantee: g.grantee.clone(),
            limits: Box::new(g.limits.clone()),
        };
        if !g.issue_upstream {
            return self
                .change(cred, &g.quota_id, change, g.upstream_quota, source)
                .await;
        }
        let by = super::issue::By {
            credential: cred,
            source,
            request_id,
        };
        let id = g.id.clone();
        let upstream = self.issue().run(&by, &g.quota_id, change).await?;
        let t = tree(self.audit.store(), &g.quota_id, |l, n| {
            n == id || l.within(n, &id)
        })
        .await
        .map_err(|_| Rejection::AuditUnavailable)?;
        Ok(Changed {
            delegation: id,
            operation: "grant".into(),
            tree: t,
            upstream_quota: Some(upstream),
        })
    }

    fn issue(&self) -> super::issue::Issue<'_> {
        super::issue::Issue {
            audit: &self.audit,
            client: &self.client,
            key: &self.key,
            graph: &self.graph,
            store: &self.store,
        }
    }

    async fn ledger(&self, quota: &str) -> Result<Ledger, Rejection> {
        self.audit
            .store()
            .ledger()
            .view(quota)
            .await
            .map_err(|_| Rejection::AuditUnavailable)
    }

    /// Changes a slice, as `cred` may.
    pub async fn change(
        &self,
        cred: &Credential,
        quota: &str,
        change: Change,
        upstream_quota: Option<String>,
        source: Option<String>,
    ) -> Result<Changed, Rejection> {
        let p = &cred.principal;
        tiergate_policy::admin::may_delegate(p)?;
        plain("quota_id", quota)?;
        plain("id", change.id())?;
        if p.tier != Tier::Distributor && !matches!(change, Change::Grant { .. }) {
            let l = self.ledger(quota).await?;
            if !under(&l, change.id(), &p.partner_id, true) {
                return Err(not_yours(change.id()));
            }
        }
        let (id, operation) = (change.id().to_owned(), change.operation());
        let author = Author {
            principal: Some(p.partner_id.clone()),
            tier: Some(p.tier.to_string()),
            credential: Some(cred.access_key.clone()),
            source,
        };
        self.audit
            .store()
            .ledger()
            .change(quota, change, upstream_quota, author, self.audit.signer())
            .await
            .map_err(|_| Rejection::AuditUnavailable)?
            .map_err(|e| Rejection::GrantRefused(e.to_string()))?;
        let t = tree(self.audit.store(), quota, |l, n| {
            n == id || l.within(n, &id)
        })
        .await
        .map_err(|_| Rejection::AuditUnavailable)?;
        Ok(Changed {
            delegation: id,
            operation: operation.into(),
            tree: t,
            upstream_quota: None,
        })
    }
}

/// Reads a state-changing delegation request.
fn read(found: &Found, body: &[u8]) -> Result<Asked, Rejection> {
    if found.op == Op::DelegationGrant {
        let g: GrantBody = serde_json::from_slice(body).map_err(invalid)?;
        return Ok(Asked::Grant(Box::new(g)));
    }
    let id = found.param("id").unwrap_or_default().to_owned();
    if found.op == Op::DelegationAdjust {
        let a: AdjustBody = serde_json::from_slice(body).map_err(invalid)?;
        let total = a.total;
        return Ok(Asked::Change(a.quota_id, Change::Adjust { id, total }));
    }
    let c: ChangeBody = serde_json::from_slice(body).map_err(invalid)?;
    let status = match found.op {
        Op::DelegationSuspend => Status::Suspended,
        Op::DelegationResume => Status::Active,
        Op::DelegationRevoke => Status::Revoked,
        _ => return Err(Rejection::Internal("not a delegation operation")),
    };
    Ok(Asked::Change(c.quota_id, Change::Status { id, status }))
}
