//! The admin listener: `/metrics`, `/healthz` (the process answers), `/readyz` (storage
//! answers too), audit records, delegations and token mode.

use crate::graph::LiveGraph;
use crate::metrics::Metrics;
use crate::store::Store;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

/// The admin HTTP app.
pub struct Admin {
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// Storage, for readiness.
    pub store: Store,
    /// The graph, for readiness.
    pub graph: Arc<LiveGraph>,
    /// Audit records for auditors.
    pub audit: crate::admin_audit::AuditApi,
    /// Delegations for distributors and resellers.
    pub delegations: crate::admin_delegation::DelegationApi,
    /// Token mode: issuing tokens and the JWKS.
    pub tokens: crate::admin_tokens::TokenApi,
}

fn text(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    let len = r.body().len();
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    r
}

fn json_answer(status: u16, body: Vec<u8>) -> Response<Vec<u8>> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    text(status, "application/json;charset=UTF-8", body)
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let plain = "text/plain; charset=utf-8";
        match session.req_header().uri.path() {
            "/metrics" => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.metrics.render(),
            ),
            "/healthz" => text(StatusCode::OK, plain, b"ok\n".to_vec()),
            "/audit/records" => {
                let (status, body) = self.audit.answer(session).await;
                json_answer(status, body)
            }
            "/tokens" => {
                let (status, body) = self.tokens.issue(session).await;
                json_answer(status, body)
            }
            "/.well-known/jwks.json" => {
                let (status, body) = self.tokens.jwks();
                json_answer(status, body)
            }
            p if p == "/delegations" || p.starts_with("/delegations/") => {
                let (status, body) = self.delegations.answer(session).await;
                json_answer(status, body)
            }
            "/readyz" => match self.store.ping().await {
                Ok(()) if !self.graph.ready() => {
                    let msg = b"relationship graph not yet synced\n".to_vec();
                    text(StatusCode::SERVICE_UNAVAILABLE, plain, msg)
                }
                Ok(()) => text(StatusCode::OK, plain, b"ready\n".to_vec()),
                Err(e) => {
                    let msg = format!("storage: {e}\n").into_bytes();
                    text(StatusCode::SERVICE_UNAVAILABLE, plain, msg)
                }
            },
            _ => text(StatusCode::NOT_FOUND, plain, b"not found\n".to_vec()),
        }
    }
}
