//! Handing the decided request to Pingora: the vendor as the peer (only with a permit), the
//! decided body in place of the caller's, and what a failure to reach the vendor means.

use crate::ctx::Ctx;
use crate::rejection::Rejection;
use bytes::Bytes;
use pingora::prelude::*;
use std::net::SocketAddr;
use tiergate_config::Upstream;

/// The vendor, for a request that holds a permit; without one, an internal error, never a
/// fallback. A second try sends the decided body again.
pub fn peer(ctx: &mut Ctx, upstream: &Upstream, addr: SocketAddr) -> Result<Box<HttpPeer>> {
    if ctx.permit.is_none() {
        return Err(Error::explain(
            InternalError,
            "upstream_peer without a permit",
        ));
    }
    if let Some(fwd) = ctx.forward.as_mut() {
        fwd.body_sent = false;
    }
    let mut peer = HttpPeer::new(addr, upstream.tls, upstream.host.clone());
    let t = Some(upstream.timeout);
    peer.options.connection_timeout = t;
    peer.options.read_timeout = t;
    peer.options.write_timeout = t;
    Ok(Box::new(peer))
}

/// The body Pingora sends upstream: the caller's was read (and is replayed by Pingora's retry
/// buffer); the decided one replaces it, once.
pub fn body(ctx: &mut Ctx, body: &mut Option<Bytes>) -> Result<()> {
    let Some(fwd) = ctx.forward.as_mut() else {
        return Err(Error::explain(InternalError, "body without a decision"));
    };
    if fwd.body_sent {
        *body = None;
    } else {
        fwd.body_sent = true;
        *body = (!fwd.body.is_empty()).then(|| fwd.body.clone());
    }
    Ok(())
}

/// Whether Pingora tries again after an error while proxying: Pingora's own rule (idempotent
/// methods on a reused connection, the body still buffered). A vendor 429 is sent again by
/// Tiergate itself ([`crate::filters::ratelimit::vendor_refused`]).
pub fn while_proxying(
    peer: &HttpPeer,
    session: &mut Session,
    e: Box<Error>,
    client_reused: bool,
) -> Box<Error> {
    let mut e = e.more_context(format!("Peer: {peer}"));
    if !session.req_header().method.is_idempotent() || session.as_ref().retry_buffer_truncated() {
        e.set_retry(false);
    } else {
        e.retry.decide_reuse(client_reused);
    }
    e
}

/// What a failure to proxy is answered with (none: the caller went away). A refused
/// connection means the request never reached the vendor.
pub fn failure(e: &Error, ctx: &mut Ctx) -> Option<Rejection> {
    match (e.esource(), e.etype()) {
        (ErrorSource::Downstream, _) => None,
        (_, ConnectRefused | ConnectNoRoute | ConnectTimedout) => {
            ctx.sent = false;
            Some(Rejection::UpstreamUnavailable)
        }
        (_, ReadTimedout | WriteTimedout) => Some(Rejection::UpstreamTimeout),
        (ErrorSource::Upstream, _) => Some(Rejection::UpstreamUnavailable),
        _ => Some(Rejection::Internal("proxying failed")),
    }
}
