//! Who is calling the admin listener: an AK/SK signature (the vendor SDK scheme) or, in token
//! mode, a bearer token Tiergate issued for such a credential.
//!
//! A bearer token is honoured only while the credential it was issued for is still active and
//! still says the same tier, partner and role: revoking the credential ends its tokens at once.

use crate::credentials::{Credential, Credentials};
use crate::filters::authn;
use crate::guard::Door;
use crate::rejection::Rejection;
use pingora::http::RequestHeader;
use std::sync::Arc;
use tiergate_broker::tokens::Issuer;

/// Who called.
pub struct Authenticated {
    /// The credential.
    pub credential: Arc<Credential>,
    /// The signature's replay key ([`authn::Verified::replay_key`]); none for a bearer token.
    pub replay: Option<String>,
}

/// Authenticates an admin request with its (already read) body; a refusal is charged to the
/// request's address ([`crate::guard`]).
pub async fn authenticate(
    credentials: &Credentials,
    tokens: Option<&Issuer>,
    door: &Door<'_>,
    req: &RequestHeader,
    body: &[u8],
    skew: time::Duration,
) -> Result<Authenticated, Rejection> {
    let verified = bearer_or_signed(credentials, tokens, door, req, body, skew).await;
    if let Err(Rejection::BadToken(_)) = &verified {
        door.failed("bad_token");
    }
    verified
}

async fn bearer_or_signed(
    credentials: &Credentials,
    tokens: Option<&Issuer>,
    door: &Door<'_>,
    req: &RequestHeader,
    body: &[u8],
    skew: time::Duration,
) -> Result<Authenticated, Rejection> {
    let bearer = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        let now = time::OffsetDateTime::now_utc();
        let verified = authn::authenticate(credentials, door, req, body, now, skew).await?;
        return Ok(Authenticated {
            replay: Some(verified.replay_key()),
            credential: verified.credential,
        });
    };
    let issuer = tokens.ok_or_else(|| Rejection::BadToken("token mode is off".into()))?;
    let claims = issuer
        .verify(token.trim())
        .map_err(|e| Rejection::BadToken(e.to_string()))?;
    door.open()?;
    let cred = credentials
        .lookup(&claims.sub)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "credential lookup failed");
            Rejection::StorageUnavailable
        })?
        .ok_or_else(|| Rejection::BadToken("its credential is revoked".into()))?;
    let p = &cred.principal;
    if p.tier.to_string() != claims.tier || p.partner_id != claims.partner || p.role != claims.role
    {
        return Err(Rejection::BadToken(
            "its credential no longer says the same".into(),
        ));
    }
    Ok(Authenticated {
        credential: cred,
        replay: None,
    })
}
