//! Idempotency for money-moving calls: a retried request with the same key (the
//! `X-Idempotency-Key` header, else the client's `X-Request-Id`) never moves money twice and
//! gets the first outcome back.
//!
//! The first request claims the key (atomically: an insert that only one can win) before
//! anything is reserved or forwarded. Its answer is stored when it is known; a retry while it
//! is unknown (in flight, or the connection dropped after sending) is refused with TG.3010
//! until reconciliation records what the vendor did. A failure before anything reached the
//! vendor frees the key for the retry.

use ring::digest;

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
