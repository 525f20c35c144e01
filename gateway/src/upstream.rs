//! Calling the partner API ourselves (graph sync, lookups): Pingora's own connector, so the
//! same transport and TLS settings apply as to forwarded requests, signed like them.

use crate::credentials::UpstreamKey;
use bytes::{Bytes, BytesMut};
use pingora::connectors::ConnectorOptions;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::net::SocketAddr;
use tiergate_config::Upstream;

/// The upstream's address, resolved once (a DNS change at the vendor needs a restart).
pub fn resolve(upstream: &Upstream) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    (upstream.host.as_str(), upstream.port)
        .to_socket_addrs()
        .map_err(|e| format!("upstream.url: {}: {e}", upstream.authority()))?
        .next()
        .ok_or_else(|| format!("upstream.url: {}: no address", upstream.authority()))
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request never left (no connection, no vendor budget): nothing can have happened.
    #[error("partner API not reached: {0}")]
    NotSent(String),
    /// Transport failure once the request may have been sent: its outcome is unknown.
    #[error("partner API unreachable: {0}")]
    Transport(String),
    /// The partner API answered with an error status.
    #[error("partner API answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Body (the vendor's envelope).
        body: String,
    },
    /// The answer is not the JSON expected.
    #[error("unexpected answer: {0}")]
    Body(String),
}

/// A signed-call client for the partner API.
pub struct UpstreamClient {
    connector: Connector,
    upstream: Upstream,
    addr: SocketAddr,
    budget: Option<(
        std::sync::Arc<crate::limiter::Limiter>,
        tiergate_policy::Principal,
    )>,
}

impl UpstreamClient {
    /// A client for the configured upstream at a resolved address, trusting
    /// `upstream.ca_file` (else the system's roots).
    pub fn new(upstream: Upstream, addr: SocketAddr) -> Self {
        let mut options = ConnectorOptions::new(8);
        options.ca_file = upstream.ca_file.as_ref().map(|p| p.display().to_string());
        Self {
            connector: Connector::new(Some(options)),
            upstream,
            addr,
            budget: None,
        }
    }

    /// Spends the vendor budget the gateway's own callers share: each call waits (up to the
    /// upstream timeout) for its turn under the limits of `principal` (the distributor), so
    /// Tiergate's own traffic (graph sync, reconciliation, quota issue) never pushes the
    /// distributor's account over the vendor's limits.
    pub fn with_budget(
        mut self,
        limiter: std::sync::Arc<crate::limiter::Limiter>,
        principal: tiergate_policy::Principal,
    ) -> Self {
        self.budget = Some((limiter, principal));
        self
    }

    async fn wait_for_budget(&self, method: &str, path: &str) -> Result<(), CallError> {
        let Some((limiter, _)) = &self.budget else {
            return Ok(());
        };
        let Some(route) = tiergate_policy::find_route(method, path) else {
            return Ok(());
        };
        let deadline = std::time::Instant::now() + self.upstream.timeout;
        match limiter.background(route, deadline).await {
            None => Ok(()),
            Some(_) => Err(CallError::NotSent(format!(
                "the vendor budget of {} is spent for now",
                route.operation
            ))),
        }
    }

    fn peer(&self) -> HttpPeer {
        let mut peer = HttpPeer::new(self.addr, self.upstream.tls, self.upstream.host.clone());
        let t = Some(self.upstream.timeout);
        peer.options.connection_timeout = t;
        peer.options.read_timeout = t;
        peer.options.write_timeout = t;
        peer
    }

    /// Calls one operation signed with `key` and returns its JSON answer.
    pub async fn call(
        &self,
        key: &UpstreamKey,
        method: &str,
        path: &str,
        query: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        self.wait_for_budget(method, path).await?;
        let body = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        let (status, out) = self.exchange(key, method, path, query, body).await?;
        if !(200..300).contains(&status) {
            let body = String::from_utf8_lossy(&out).chars().take(300).collect();
            return Err(CallError::Status { status, body });
        }
        if out.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&out).map_err(|e| CallError::Body(e.to_string()))
    }

    /// Sends one request signed with `key` (no budget taken: the caller's turn was) and
    /// returns the vendor's status and whole body, whatever the status.
    pub async fn exchange(
        &self,
        key: &UpstreamKey,
        method: &str,
        path: &str,
        query: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), CallError> {
        let not_sent = |e: Box<pingora::Error>| CallError::NotSent(e.to_string());
        let mut req = RequestHeader::build(method, path.as_bytes(), None).map_err(not_sent)?;
        req.insert_header("content-type", "application/json")
            .map_err(not_sent)?;
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let now = time::OffsetDateTime::now_utc();
        key.sign(&mut req, &self.upstream, &request_id, query, &body, now)
            .map_err(not_sent)?;
        round_trip(&self.connector, &self.peer(), req, body)
            .await
            .map_err(|e| match e {
                Trip::NotSent(e) => CallError::NotSent(e.to_string()),
                Trip::Transport(e) => CallError::Transport(e.to_string()),
            })
    }
}

/// Where a [`round_trip`] failed.
pub enum Trip {
    /// Before anything was sent (no connection).
    NotSent(Box<pingora::Error>),
    /// Once the request may have been sent.
    Transport(Box<pingora::Error>),
}

/// Sends `req` and `body` on a session of `connector` to `peer` and reads the whole answer:
/// its status and body. The session goes back to the pool for the next call.
pub async fn round_trip(
    connector: &Connector,
    peer: &HttpPeer,
    req: RequestHeader,
    body: Bytes,
) -> Result<(u16, Bytes), Trip> {
    let (mut session, _) = connector
        .get_http_session(peer)
        .await
        .map_err(Trip::NotSent)?;
    session
        .write_request_header(Box::new(req))
        .await
        .map_err(Trip::Transport)?;
    if !body.is_empty() {
        session
            .write_request_body(body, true)
            .await
            .map_err(Trip::Transport)?;
    }
    session
        .finish_request_body()
        .await
        .map_err(Trip::Transport)?;
    session
        .read_response_header()
        .await
        .map_err(Trip::Transport)?;
    let status = session.response_header().map_or(0, |h| h.status.as_u16());
    let mut out = BytesMut::new();
    while let Some(chunk) = session
        .read_response_body()
        .await
        .map_err(Trip::Transport)?
    {
        out.extend_from_slice(&chunk);
    }
    connector.release_http_session(session, peer, None).await;
    Ok((status, out.freeze()))
}
