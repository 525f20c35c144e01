//! The admin listener: routing to its endpoints, and the probes.
//!
//! - `GET /metrics` (Prometheus), `GET /healthz` (the process answers), `GET /readyz` (storage
//!   answers and the relationship graph is loaded);
//! - `GET /audit/records` and `GET /audit/export` (CSV or JSON Lines) for auditors
//!   ([`audit`]);
//! - `/delegations` for distributors and resellers ([`delegations`]);
//! - `POST /tokens` and `GET /.well-known/jwks.json`, token mode ([`tokens`]);
//! - `/console/`, the security team's console ([`crate::console`]).
//!
//! Callers authenticate as on the partner API, or with a bearer token ([`auth`]). Every
//! answer is written by [`crate::answer`]: JSON, refusals in the vendor's envelope.

pub mod audit;
pub mod auth;
pub mod delegations;
pub mod issue;
mod once;
pub mod reads;
pub mod stream;
pub mod tokens;

use crate::answer::{self, JSON, Listener};
use crate::console::Answer;
use crate::graph::LiveGraph;
use crate::metrics::Metrics;
use crate::rejection::Rejection;
use crate::store::Store;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::Value;
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
fn json(v: &Value) -> Response<Vec<u8>> {
    let body = v.to_string().into_bytes();
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
        if session.req_header().method == http::Method::GET && path == "/audit/export" {
            return match self.audit.export(session).await {
                Ok(e) => Answer::Export(Box::new(e)),
                Err(r) => Answer::Whole(self.refused(r).await),
            };
        }
        match self.route(session).await {
            Ok(r) => Answer::Whole(r),
            Err(r) => Answer::Whole(self.refused(r).await),
        }
    }

    async fn refused(&self, r: Rejection) -> Response<Vec<u8>> {
        if matches!(r.answer().status, 401 | 429) {
            crate::guard::behind_the_rest().await;
        }
        answer::app(Listener::Admin, Err(r))
    }

    async fn route(&self, session: &mut ServerSession) -> Result<Response<Vec<u8>>, Rejection> {
        let method = session.req_header().method.as_str().to_owned();
        let path = session.req_header().uri.path().to_owned();
        let v: Value = match (method.as_str(), path.as_str()) {
            ("GET", "/metrics") => {
                return Ok(text("text/plain; version=0.0.4", &self.metrics.render()));
            }
            ("GET", "/healthz") => return Ok(text(PLAIN, b"ok\n")),
            ("GET", "/readyz") => return self.ready().await.map(|()| text(PLAIN, b"ready\n")),
            ("GET", "/audit/records") => self.audit.records(session).await?,
            ("POST", "/tokens") => self.tokens.issue(session).await?,
            ("GET", "/.well-known/jwks.json") => self.tokens.jwks()?,
            ("GET", "/overview") => self.reads.overview(&self.console, session).await?,
            ("GET", "/tls") => self.reads.tls(&self.console, session).await?,
            ("GET", "/federation") => self.reads.federation(&self.console, session).await?,
            ("GET", "/money") => self.reads.money(&self.console, session).await?,
            ("GET", "/credentials") => self.reads.credentials(&self.console, session).await?,
            ("POST", p) if p == "/credentials" || p == "/audit/verify" || revoking(p) => {
                return self.reads.change(&self.console, session).await;
            }
            (_, p) if p == "/delegations" || p.starts_with("/delegations/") => {
                return self.delegations.handle(session).await;
            }
            _ => return Err(Rejection::NoSuchEndpoint { method, path }),
        };
        Ok(json(&v))
    }

    /// Ready: storage answers and a graph is loaded.
    async fn ready(&self) -> Result<(), Rejection> {
        self.store.ping().await.map_err(|e| {
            tracing::warn!(error = %e, "not ready: storage");
            Rejection::StorageUnavailable
        })?;
        if self.graph.ready() {
            Ok(())
        } else {
            Err(Rejection::GraphNotReady)
        }
    }
}

/// `/credentials/{access_key}/revoke`.
fn revoking(path: &str) -> bool {
    path.strip_prefix("/credentials/")
        .and_then(|rest| rest.strip_suffix("/revoke"))
        .is_some_and(|ak| !ak.is_empty() && !ak.contains('/'))
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
