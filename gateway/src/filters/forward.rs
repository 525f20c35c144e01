//! Handing the decided request to Pingora: the vendor as the peer (only with a permit), the
//! decided body in place of the caller's, and what a failure to reach the vendor means.

use crate::ctx::Ctx;
use crate::rejection::Rejection;
use bytes::Bytes;
use pingora::prelude::*;
use std::net::SocketAddr;
use tiergate_config::Upstream;

/// The vendor, for a request that holds a permit; without one, an internal error, never a
/// fallback.
pub fn peer(ctx: &Ctx, upstream: &Upstream, addr: SocketAddr) -> Result<Box<HttpPeer>> {
    if ctx.permit.is_none() {
        return Err(Error::explain(
            InternalError,
            "upstream_peer without a permit",
        ));
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
