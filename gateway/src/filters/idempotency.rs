//! Stage 6: idempotency for money-moving calls: a retried request with the same key (the
//! `X-Idempotency-Key` header, else the client's `X-Request-Id`) never moves money twice and
//! gets the first outcome back.
//!
//! The first request claims the key (atomically: an insert that only one can win) before
//! anything is reserved or forwarded. Its answer is stored when it is known; a retry while it
//! is unknown (in flight, or the connection dropped after sending) is refused with TG.3010
//! until reconciliation records what the vendor did. A failure before anything reached the
//! vendor frees the key for the retry.

use crate::credentials::Credential;
use crate::ctx::Ctx;
use crate::rejection::Rejection;
use crate::store::Store;
use crate::store::idempotency::Claim;
use pingora::http::RequestHeader;
use ring::digest;
use tiergate_policy::Permit;

/// What the stage found.
pub enum Claimed {
    /// Go ahead, with the key claimed (none: not money-moving, or no key).
    Fresh(Option<String>),
    /// The first request's answer (status, body), to give again.
    Replay(u16, String),
}

/// Claims the key of a money-moving request, if it carries one.
pub async fn claim(
    store: &Store,
    req: &RequestHeader,
    credential: &Credential,
    permit: &Permit,
    body: &[u8],
    request_id: &str,
) -> Result<Claimed, Rejection> {
    if !permit.route().money_moving {
        return Ok(Claimed::Fresh(None));
    }
    let Some(key) = key_of(&req.headers).map_err(Rejection::InvalidIdempotencyKey)? else {
        return Ok(Claimed::Fresh(None));
    };
    let (method, path) = (req.method.as_str(), req.uri.path());
    let fp = fingerprint(method, path, req.uri.query().unwrap_or(""), body);
    let key = scoped(&credential.principal.partner_id, &key);
    let claim = store
        .idempotency()
        .claim(key.clone(), fp, request_id.to_owned())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "idempotency store unavailable: call refused");
            Rejection::AuditUnavailable
        })?;
    match claim {
        Claim::New => Ok(Claimed::Fresh(Some(key))),
        Claim::Replay(status, body) => Ok(Claimed::Replay(status, body)),
        Claim::Unknown => Err(Rejection::IdempotencyUnknown),
        Claim::Mismatch => Err(Rejection::IdempotencyMismatch),
    }
}

/// After the answer: records it under the request's key (or frees the key when nothing
/// reached the vendor; an unknown outcome keeps it for reconciliation). `written` is the
/// status of the answer that went out (0: none).
pub async fn remember(store: &Store, ctx: &mut Ctx, written: u16) {
    let Some(key) = ctx.idempotency.take() else {
        return;
    };
    let keys = store.idempotency();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let done = match (ctx.refused.as_ref(), written) {
        // Tiergate's own decision (a delegation refusal, a bad body) is the answer.
        (Some(r), 400..=499) => keys.answer(key, written, text(&r.body)).await,
        // Upstream timeout or dropped connection after sending: unknown until reconciled.
        (Some(_), 502 | 504) if ctx.sent => Ok(()),
        (Some(_), _) => keys.free(key).await,
        (None, 0) if ctx.sent => Ok(()),
        (None, 0) => keys.free(key).await,
        (None, _) => {
            let body = ctx.kept.as_deref().unwrap_or_default();
            keys.answer(key, written, text(body)).await
        }
    };
    if let Err(e) = done {
        tracing::error!(request_id = %ctx.request_id, error = %e, "could not record an idempotent answer");
    }
}

/// Longest key accepted.
pub const MAX_KEY: usize = 128;

/// The stored key: the caller's partner and its key, hashed (keys are the client's text).
pub fn scoped(partner: &str, key: &str) -> String {
    hex::encode(digest::digest(
        &digest::SHA256,
        format!("{partner}\n{key}").as_bytes(),
    ))
}

/// A fingerprint of what was asked.
pub fn fingerprint(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [method.as_bytes(), path.as_bytes(), query.as_bytes(), body] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    hex::encode(ctx.finish())
}

/// The key a request carries, if any; an unusable one is an error message.
pub fn key_of(headers: &http::HeaderMap) -> Result<Option<String>, String> {
    let Some(v) = headers
        .get("x-idempotency-key")
        .or_else(|| headers.get("x-request-id"))
    else {
        return Ok(None);
    };
    let k = v
        .to_str()
        .map_err(|_| "the idempotency key is not visible ASCII".to_owned())?
        .trim();
    if k.is_empty() || k.len() > MAX_KEY {
        return Err(format!(
            "the idempotency key must have 1 to {MAX_KEY} characters"
        ));
    }
    Ok(Some(k.to_owned()))
}
