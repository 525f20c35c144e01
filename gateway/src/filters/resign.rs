//! Stage 8: the upstream request carries the distributor's signature and nothing of the
//! caller's credentials.

use crate::credentials::UpstreamKey;
use crate::ctx::Ctx;
use pingora::http::RequestHeader;
use tiergate_config::Upstream;
use time::OffsetDateTime;

/// Signs what the caller proved for the vendor: with the caller's own vendor key (customers
/// and solution providers call the APIs the vendor opens only to them) or the distributor's.
pub fn sign(
    req: &mut RequestHeader,
    ctx: &Ctx,
    upstream: &Upstream,
    distributor: &UpstreamKey,
    now: OffsetDateTime,
) -> pingora::Result<()> {
    let (Some(fwd), Some(cred)) = (ctx.forward.as_ref(), ctx.credential.as_ref()) else {
        return Err(pingora::Error::explain(
            pingora::ErrorType::InternalError,
            "forwarding without a decision",
        ));
    };
    let key = cred.upstream.as_ref().unwrap_or(distributor);
    key.sign(req, upstream, &ctx.request_id, &fwd.query, &fwd.body, now)
}
