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

use super::once::Claimed;
use crate::answer::Listener;
use crate::audit::Audit;
use crate::credentials::UpstreamKey;
use crate::credentials::{Credential, Credentials};
use crate::ledger::view::tree;
use crate::rejection::Rejection;
use crate::store::ledger::requests::{Author, Change};
use crate::upstream::UpstreamClient;
use crate::web::form::Form;
use http::Response;
use pingora::protocols::http::ServerSession;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
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

/// A grant, as asked for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// The quota.
    pub quota_id: String,
    /// The new slice's id.
    pub id: String,
    /// The slice it is carved from (none: a root slice of the quota).
    #[serde(default)]
    pub parent: Option<String>,
    /// Who it is granted to.
    pub grantee: String,
    /// Its limits.
    pub limits: Limits,
    /// The reseller's own vendor quota it stands for.
    #[serde(default)]
    pub upstream_quota: Option<String>,
    /// Issue it to the reseller at the vendor too.
    #[serde(default)]
    pub issue_upstream: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    quota_id: String,
    #[serde(default)]
    total: Option<Decimal>,
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
    /// Answers a request to `/delegations`.
    pub async fn handle(
        &self,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let body = crate::web::body::read(session, super::MAX_BODY).await?;
        let req = session.req_header();
        let tokens = self.tokens.as_deref();
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        let caller =
            super::auth::authenticate(&self.credentials, tokens, &door, req, &body, self.skew)
                .await?;
        let cred = &caller.credential;
        let p = &cred.principal;
        if !matches!(p.tier, Tier::Distributor | Tier::CloudReseller) || p.role.is_some() {
            return Err(Rejection::Denied(Denied::TierNotAllowed {
                tier: p.tier,
                operation: "delegations",
            }));
        }
        let path = req.uri.path().to_owned();
        let method = req.method.as_str().to_owned();
        let source = session.client_addr().map(|a| a.to_string());
        if method == "GET" && path == "/delegations" {
            let v = self.show(cred, req.uri.query().unwrap_or("")).await?;
            return Ok(super::json(&v));
        }
        let asked = read(&method, &path, &body)?;
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
        let once = match claimed {
            Claimed::Fresh(o) => o,
            Claimed::Replay(status, body) => {
                return Ok(crate::answer::replay(
                    Listener::Admin,
                    status,
                    body,
                    &request_id,
                ));
            }
        };
        let answered = match asked {
            Asked::Grant(g) => self.grant(cred, *g, source, &request_id).await,
            Asked::Change(quota, change) => self.change(cred, &quota, change, None, source).await,
        };
        once.finish(self.audit.store(), &answered).await;
        answered.map(|v| super::json(&v))
    }

    /// The tree of `quota_id` (in `query`) as `cred` may see it.
    pub async fn show(&self, cred: &Credential, query: &str) -> Result<Value, Rejection> {
        let quota = Form::parse(query.as_bytes())
            .string("quota_id")
            .ok_or_else(|| invalid("`quota_id` is required"))?;
        let p = cred.principal.clone();
        let all = p.tier == Tier::Distributor;
        tree(self.audit.store(), &quota, move |l, id| {
            all || under(l, id, &p.partner_id, false)
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
    ) -> Result<Value, Rejection> {
        let p = &cred.principal;
        tiergate_policy::admin::may_delegate(p)?;
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
        Ok(json!({"operation": "grant", "delegation": id, "upstream_quota": upstream, "tree": t}))
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
    ) -> Result<Value, Rejection> {
        let p = &cred.principal;
        tiergate_policy::admin::may_delegate(p)?;
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
        Ok(json!({"operation": operation, "delegation": id, "tree": t}))
    }
}

/// Reads a state-changing delegation request.
fn read(method: &str, path: &str, body: &[u8]) -> Result<Asked, Rejection> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", ["delegations"]) => {
            let g: GrantBody = serde_json::from_slice(body).map_err(invalid)?;
            Ok(Asked::Grant(Box::new(g)))
        }
        ("POST", ["delegations", id, action]) => {
            let c: ChangeBody = serde_json::from_slice(body).map_err(invalid)?;
            let id = (*id).to_owned();
            let change = match (*action, c.total) {
                ("adjust", Some(total)) => Change::Adjust { id, total },
                ("adjust", None) => return Err(invalid("`total` is required")),
                (a, _) => {
                    let status = match a {
                        "suspend" => Status::Suspended,
                        "resume" => Status::Active,
                        "revoke" => Status::Revoked,
                        _ => return Err(no_route(method, path)),
                    };
                    Change::Status { id, status }
                }
            };
            Ok(Asked::Change(c.quota_id, change))
        }
        _ => Err(no_route(method, path)),
    }
}

fn no_route(method: &str, path: &str) -> Rejection {
    Rejection::NoSuchEndpoint {
        method: method.to_owned(),
        path: path.to_owned(),
    }
}
