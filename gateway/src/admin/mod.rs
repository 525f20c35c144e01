//! The admin listener: routing to its endpoints, and the probes.
//!
//! - `GET /metrics` (Prometheus), `GET /healthz` (the process answers), `GET /readyz` (storage
//!   answers and the relationship graph is loaded);
//! - `GET /audit/records` and `GET /audit/export` (CSV or JSON Lines) for auditors
//!   ([`audit`]);
//! - `/delegations` for distributors and resellers ([`delegations`]);
//! - `POST /tokens` and `GET /.well-known/jwks.json`, token mode ([`tokens`]);
//! - `/console/`, the security team's console ([`crate::console`]);
//! - `GET /openapi.json`, the API's own description ([`openapi`]).
//!
//! Every endpoint but the console is an entry of the table in [`api`], which routing goes
//! through and the document is built from.
//!
//! Callers authenticate as on the partner API, or with a bearer token ([`auth`]). Every
//! answer is written by [`crate::answer`]: JSON, refusals in the vendor's envelope.

pub mod answers;
pub mod api;
pub mod audit;
pub mod auth;
pub mod delegations;
pub mod issue;
mod once;
pub mod openapi;
pub mod reads;
pub mod stream;
pub mod tokens;

use crate::answer::{self, JSON, Listener};
use crate::console::Answer;
use crate::graph::LiveGraph;
use crate::metrics::Metrics;
use crate::rejection::Rejection;
use crate::store::Store;
use api::Op;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde::Serialize;
use std::sync::Arc;

/// The most the admin listener reads of a request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The admin HTTP app.
pub struct Admin {
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// Storage, for readiness.
    pub store: Store,
    /// The graph, for readiness.
    pub graph: Arc<LiveGraph>,
    /// Credentials (whether stale ones serve while storage is away).
    pub credentials: Arc<crate::credentials::Credentials>,
    /// Audit records for auditors.
    pub audit: audit::AuditApi,
    /// Delegations for distributors and resellers.
    pub delegations: delegations::DelegationApi,
    /// Token mode: issuing tokens and the JWKS.
    pub tokens: tokens::TokenApi,
    /// The security team's console (`/console/`).
    pub console: crate::console::Console,
    /// The reads the console shows, and credential changes, as JSON.
    pub reads: reads::ReadApi,
}

/// A JSON answer.
fn json(v: &impl Serialize) -> Response<Vec<u8>> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    answer::reply(Listener::Admin, StatusCode::OK, JSON, body, &[])
}

const PLAIN: &str = "text/plain; charset=utf-8";

fn text(content_type: &str, body: &[u8]) -> Response<Vec<u8>> {
    answer::reply(
        Listener::Admin,
        StatusCode::OK,
        content_type,
        body.to_vec(),
        &[],
    )
}

impl Admin {
    /// The answer to one request: whole, or an export to stream ([`stream`]); a refusal
    /// that costs its address waits behind the rest first.
    async fn answer(&self, session: &mut ServerSession) -> Answer {
        let path = session.req_header().uri.path();
        if path == "/console" || path.starts_with("/console/") {
            return self.console.serve(session, &self.delegations).await;
        }
        match self.route(session).await {
            Ok(a) => a,
            Err(r) => Answer::Whole(self.refused(r).await),
        }
    }

    async fn refused(&self, r: Rejection) -> Response<Vec<u8>> {
        if matches!(r.answer().status, 401 | 429) {
            crate::guard::behind_the_rest().await;
        }
        answer::app(Listener::Admin, Err(r))
    }

    async fn route(&self, session: &mut ServerSession) -> Result<Answer, Rejection> {
        let method = session.req_header().method.as_str().to_owned();
        let path = session.req_header().uri.path().to_owned();
        let Some(found) = api::find(&method, &path) else {
            return Err(Rejection::NoSuchEndpoint { method, path });
        };
        let c = &self.console;
        let whole = match found.op {
            Op::Metrics => text("text/plain; version=0.0.4", &self.metrics.render()),
            Op::Health => text(PLAIN, b"ok\n"),
            Op::Ready => {
                let degraded = self.ready().await?;
                match (degraded, self.graph.progress()) {
                    (Some(says), _) => text(PLAIN, says.as_bytes()),
                    (None, None) => text(PLAIN, b"ready\n"),
                    (None, Some((listed, all))) => {
                        let says = format!(
                            "ready; graph syncing: {listed} of {all} owners listed (the \
                             others' calls answer TG.5005 until theirs is)\n"
                        );
                        text(PLAIN, says.as_bytes())
                    }
                }
            }
            Op::Document => text(JSON, openapi::DOCUMENT.as_bytes()),
            Op::AuditRecords => json(&self.audit.records(session).await?),
            Op::AuditExport => {
                return Ok(Answer::Export(Box::new(self.audit.export(session).await?)));
            }
            Op::IssueToken => json(&self.tokens.issue(session).await?),
            Op::Jwks => json(&self.tokens.jwks()?),
            Op::DelegationTree
            | Op::DelegationGrant
            | Op::DelegationAdjust
            | Op::DelegationSuspend
            | Op::DelegationResume
            | Op::DelegationRevoke => self.delegations.handle(session, &found).await?,
            Op::Overview => json(&self.reads.overview(c, session).await?),
            Op::Tls => json(&self.reads.tls(c, session).await?),
            Op::Federation => json(&self.reads.federation(c, session).await?),
            Op::Money => json(&self.reads.money(c, session).await?),
            Op::Credentials => json(&self.reads.credentials(c, session).await?),
            Op::IssueCredential | Op::RevokeCredential | Op::VerifyAudit => {
                self.reads.change(c, session, &found).await?
            }
        };
        Ok(Answer::Whole(whole))
    }

    /// Ready: storage answers and a graph is loaded. With storage away but a graph loaded and
    /// stale credentials allowed, ready for reads (kept in its load balancer): what it says.
    async fn ready(&self) -> Result<Option<&'static str>, Rejection> {
        if !self.graph.ready() {
            return Err(Rejection::GraphNotReady);
        }
        match self.store.ping().await {
            Ok(()) => Ok(None),
            Err(e) if self.credentials.serves_stale() => {
                tracing::warn!(error = %e, "degraded: storage unavailable");
                Ok(Some(
                    "degraded: storage unavailable; reads served for credentials known within \
                     credentials.stale_for, calls that move money or change state refused\n",
                ))
            }
            Err(e) => {
                tracing::warn!(error = %e, "not ready: storage");
                Err(Rejection::StorageUnavailable)
            }
        }
    }
}

/// The `metrics_listen` listener: `/metrics` and nothing else, for a scraper that cannot
/// reach the (TLS, authenticated) admin listener.
pub struct MetricsOnly(pub Arc<Metrics>);

#[async_trait]
impl ServeHttp for MetricsOnly {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let (method, path) = (req.method.as_str(), req.uri.path());
        let answered = match (method, path) {
            ("GET", "/metrics") => Ok(text("text/plain; version=0.0.4", &self.0.render())),
            _ => Err(Rejection::NoSuchEndpoint {
                method: method.to_owned(),
                path: path.to_owned(),
            }),
        };
        answer::app(Listener::Admin, answered)
    }
}
