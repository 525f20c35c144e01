//! Stage 6: a state-changing call is carried out once. Two keys say "the same request":
//!
//! - its signature (every state-changing call): a captured request sent again, byte for
//!   byte or with a different idempotency key, is the first request again. A signature is
//!   accepted within the clock-skew window, so its key is kept as long as it could verify.
//! - its idempotency key (money-moving calls; the `X-Idempotency-Key` header, else the
//!   client's `X-Request-Id`), scoped to the credential: a client retry that re-signed (a
//!   new date, so a new signature) with the same key gets the first outcome back.
//!
//! The first request claims its keys (atomically: an insert only one can win) before
//! anything is reserved or forwarded. Its answer is stored under each when it is known; a
//! second arrival while it is unknown (in flight, or the connection dropped after sending)
//! is refused with TG.3010 until the answer or reconciliation records what the vendor did.
//! A failure before anything reached the vendor frees the keys. Reads are not claimed: a
//! read sent again is answered again (it moves nothing, and the SDK's one-second dates make
//! two identical reads in one second the same signature).

use crate::ctx::Ctx;
use crate::filters::authn::Verified;
use crate::rejection::Rejection;
use crate::store::Store;
use crate::store::idempotency::{Claim, IdempotencyStore};
use pingora::http::RequestHeader;
use ring::digest;
use tiergate_policy::Permit;

/// What the stage found.
pub enum Claimed {
    /// Go ahead, with these keys claimed (none: a read).
    Fresh(Vec<String>),
    /// The first request's answer (status, body), to give again.
    Replay(u16, String),
}

/// The stored key of a signature: its own namespace, so it never meets a client's key.
pub fn signature_key(signature: &str) -> String {
    format!("s:{signature}")
}

/// A signature key's fingerprint: the signature already names the request.
const SIGNED: &str = "signed";

/// Claims the keys of a state-changing request. `window` is how long a signature can verify
/// after its first arrival (twice the clock skew).
pub async fn claim(
    store: &Store,
    req: &RequestHeader,
    verified: &Verified,
    permit: &Permit,
    body: &[u8],
    request_id: &str,
    window: time::Duration,
) -> Result<Claimed, Rejection> {
    let route = permit.route();
    if !route.changes_state() {
        return Ok(Claimed::Fresh(Vec::new()));
    }
    // Read the client's key first: an unusable one refuses the call before anything is held.
    let key = match route.money_moving {
        true => key_of(&req.headers).map_err(Rejection::InvalidIdempotencyKey)?,
        false => None,
    };
    let keys = store.idempotency();
    keys.sweep_signatures(window).await;
    let signed = signature_key(&verified.replay_key());
    match put(&keys, &signed, SIGNED, request_id).await? {
        Claim::New => {}
        Claim::Replay(status, body) => return Ok(Claimed::Replay(status, body)),
        Claim::Unknown | Claim::Mismatch => return Err(Rejection::IdempotencyUnknown),
    }
    let Some(key) = key else {
        return Ok(Claimed::Fresh(vec![signed]));
    };
    let (method, path) = (req.method.as_str(), req.uri.path());
    let fp = fingerprint(method, path, req.uri.query().unwrap_or(""), body);
    let key = scoped(&verified.credential.access_key, &key);
    let found = match put(&keys, &key, &fp, request_id).await {
        Ok(Claim::New) => return Ok(Claimed::Fresh(vec![signed, key])),
        Ok(Claim::Replay(status, body)) => {
            // This signature's answer is the key's: a replay of this retry gets it too.
            let _ = keys.answer(signed, status, body.clone()).await;
            return Ok(Claimed::Replay(status, body));
        }
        Ok(Claim::Unknown) => Err(Rejection::IdempotencyUnknown),
        Ok(Claim::Mismatch) => Err(Rejection::IdempotencyMismatch),
        Err(e) => Err(e),
    };
    // Nothing went ahead under this signature: free it for an honest retry.
    if let Err(e) = keys.free(signed).await {
        tracing::warn!(request_id, error = %e, "could not free a signature key");
    }
    found
}

async fn put(
    keys: &IdempotencyStore<'_>,
    key: &str,
    fingerprint: &str,
    request_id: &str,
) -> Result<Claim, Rejection> {
    keys.claim(
        key.to_owned(),
        fingerprint.to_owned(),
        request_id.to_owned(),
    )
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "idempotency store unavailable: call refused");
        Rejection::AuditUnavailable
    })
}

/// After the answer: records it under the request's keys (or frees them when nothing
/// reached the vendor; an unknown outcome keeps them for reconciliation). `written` is the
/// status of the answer that went out (0: none).
pub async fn remember(store: &Store, ctx: &mut Ctx, written: u16) {
    for key in std::mem::take(&mut ctx.idempotency) {
        record(store, ctx, key, written).await;
    }
}

async fn record(store: &Store, ctx: &Ctx, key: String, written: u16) {
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
        // The vendor's own 429 (answered TG.6002): nothing moved, a retry may go ahead.
        (None, 429) if ctx.throttled.is_some() => keys.free(key).await,
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

/// The stored key: the caller's credential and its key, hashed (keys are the client's
/// text; two credentials of one partner, say two staff members, never share a key).
pub fn scoped(access_key: &str, key: &str) -> String {
    hex::encode(digest::digest(
        &digest::SHA256,
        format!("{access_key}\n{key}").as_bytes(),
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
