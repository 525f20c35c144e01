//! Stage 8: the upstream request carries the distributor's signature and nothing of the
//! caller's credentials.

use crate::credentials::UpstreamKey;
use crate::ctx::Ctx;
use pingora::http::RequestHeader;
use tiergate_config::Upstream;
use tiergate_policy::aksk;
use time::OffsetDateTime;

/// Headers forwarded from the caller; everything else is dropped (hop-by-hop headers,
/// the caller's signature, its date, domain and content hash).
const FORWARDED: &[&str] = &["content-type", "accept", "accept-language", "user-agent"];

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
    resign(
        req,
        upstream,
        key,
        &ctx.request_id,
        &fwd.query,
        &fwd.body,
        now,
    )
}

/// Rewrites the upstream request headers for `query` and `body`, and signs them.
pub fn resign(
    req: &mut RequestHeader,
    upstream: &Upstream,
    key: &UpstreamKey,
    request_id: &str,
    query: &str,
    body: &[u8],
    now: OffsetDateTime,
) -> pingora::Result<()> {
    let drop: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|n| !FORWARDED.contains(&n.as_str()))
        .cloned()
        .collect();
    for name in drop {
        req.remove_header(&name);
    }
    let path = req.uri.path().to_owned();
    let pq = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let uri: http::Uri = pq
        .parse()
        .map_err(|_| pingora::Error::explain(pingora::ErrorType::InternalError, "upstream uri"))?;
    req.set_uri(uri);
    let date = aksk::format_date(now);
    let host = upstream.authority();
    req.insert_header("host", &host)?;
    req.insert_header("x-sdk-date", &date)?;
    req.insert_header("x-domain-id", &key.domain_id)?;
    req.insert_header("x-request-id", request_id)?;
    if !body.is_empty() || req.method != http::Method::GET {
        req.insert_header("content-length", body.len().to_string())?;
    }
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut signed: Vec<(&str, &str)> = vec![
        ("host", &host),
        ("x-domain-id", &key.domain_id),
        ("x-sdk-date", &date),
    ];
    if let Some(ct) = content_type.as_deref() {
        signed.push(("content-type", ct));
    }
    let authorization = aksk::sign(
        req.method.as_str(),
        &path,
        query,
        &signed,
        &aksk::body_sha256(body),
        &key.access_key,
        key.secret_key.expose(),
    );
    req.insert_header("authorization", authorization)?;
    Ok(())
}
