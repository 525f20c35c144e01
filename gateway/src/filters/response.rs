//! The vendor's answer on its way back: our request id and rate-limit headers on it, and
//! what of its body is kept (for the audit outcome, and for what it teaches the graph).

use crate::answer::limit_headers;
use crate::ctx::Ctx;
use crate::graph::{LiveGraph, learn};
use crate::store::Store;
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::prelude::*;

/// Stamps the answer's headers and decides what of its body to keep.
pub fn headers(ctx: &mut Ctx, resp: &mut ResponseHeader) -> Result<()> {
    if resp.headers.get("x-request-id").is_none() {
        resp.insert_header("x-request-id", &ctx.request_id)?;
    }
    for (name, value) in limit_headers(ctx.limit.as_ref(), false) {
        resp.insert_header(name, value)?;
    }
    ctx.learn = resp.status.is_success() && ctx.route.is_some_and(|r| learn::teaches(r.operation));
    // Kept for the audit outcome, the graph, the answer a replay of this request gets, and
    // the vendor's error code (metrics).
    let refused = !resp.status.is_success();
    if ctx.money.audited() || ctx.learn || !ctx.idempotency.is_empty() || refused {
        ctx.kept = Some(BytesMut::new());
    }
    Ok(())
}

/// Keeps a chunk of the body; at its end, what a successful answer teaches the graph goes
/// into it at once, and into storage in the background.
pub fn chunk(
    ctx: &mut Ctx,
    body: &Option<Bytes>,
    end_of_stream: bool,
    graph: &LiveGraph,
    store: &Store,
) {
    let Some(kept) = ctx.kept.as_mut() else {
        return;
    };
    if let Some(b) = body {
        kept.extend_from_slice(b);
    }
    if let (true, Some(permit)) = (end_of_stream && ctx.learn, ctx.permit.as_ref()) {
        let request = ctx.forward.as_ref().map_or(&b""[..], |f| &f.body[..]);
        let edges = learn::edges(permit, request, kept);
        if !edges.is_empty() {
            graph.learn(&edges);
            store.graph().upsert_later(edges);
        }
    }
}
