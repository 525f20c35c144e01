//! Stage 3: who is calling. Verifies the SDK-HMAC-SHA256 signature against a
//! Tiergate-issued credential.

use crate::credentials::{Credential, Credentials, Known, well_formed};
use crate::guard::Door;
use crate::rejection::Rejection;
use http::HeaderMap;
use pingora::http::RequestHeader;
use ring::digest;
use std::sync::Arc;
use tiergate_policy::aksk::{self, AuthError, HeaderSource};
use time::{Duration, OffsetDateTime};

struct Headers<'a>(&'a HeaderMap);

impl HeaderSource for Headers<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request whose signature verified.
pub struct Verified {
    /// The credential that signed it.
    pub credential: Arc<Credential>,
    /// The signature value. It covers the method, path, query, signed headers and body, so
    /// the same value under the same access key is the same request sent again (unsigned
    /// headers such as an idempotency key aside).
    pub signature: [u8; 32],
}

impl Verified {
    /// The signature's replay key: the access key and the signature value, hashed (only
    /// state-changing calls need it; reads never compute it).
    pub fn replay_key(&self) -> String {
        let mut seen = digest::Context::new(&digest::SHA256);
        seen.update(self.credential.access_key.as_bytes());
        seen.update(b"\n");
        seen.update(&self.signature);
        hex::encode(seen.finish())
    }
}

/// The verified credential behind a request. A refusal is charged to the request's address
/// ([`crate::guard`]); an address out of budget gets no store lookup.
pub async fn authenticate(
    credentials: &Credentials,
    door: &Door<'_>,
    req: &RequestHeader,
    body: &[u8],
    now: OffsetDateTime,
    skew: Duration,
) -> Result<Verified, Rejection> {
    let verified = verify(credentials, door, req, body, now, skew).await;
    if let Err(r) = &verified
        && let Some(reason) = failure(r)
    {
        door.failed(reason);
    }
    verified
}

/// The metric label of an authentication failure (none: not the caller's failure).
fn failure(r: &Rejection) -> Option<&'static str> {
    Some(match r {
        Rejection::Unauthenticated(AuthError::MissingAuthorization) => "unsigned",
        Rejection::Unauthenticated(AuthError::SignatureMismatch) => "bad_signature",
        Rejection::Unauthenticated(_) => "malformed",
        Rejection::UnknownAccessKey => "unknown_key",
        Rejection::WrongDomain => "wrong_domain",
        _ => return None,
    })
}

async fn verify(
    credentials: &Credentials,
    door: &Door<'_>,
    req: &RequestHeader,
    body: &[u8],
    now: OffsetDateTime,
    skew: Duration,
) -> Result<Verified, Rejection> {
    let raw = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Rejection::Unauthenticated(AuthError::MissingAuthorization))?;
    let auth = aksk::parse_authorization(raw).map_err(Rejection::Unauthenticated)?;
    if !well_formed(auth.access_key) {
        return Err(Rejection::UnknownAccessKey);
    }
    // A key not known to exist costs a store lookup only while the address has failure
    // budget left; a key that existed at its last lookup is refreshed whatever the address.
    let stored = || async {
        credentials.refresh(auth.access_key).await.map_err(|e| {
            tracing::error!(error = %e, "credential lookup failed");
            Rejection::StorageUnavailable
        })
    };
    let credential = match credentials.cached(auth.access_key) {
        Known::Fresh(found) => found,
        // The store away: the credential as last looked up serves while it may (reads;
        // whatever needs the store is refused at its own stage).
        Known::Stale => match stored().await {
            Ok(found) => found,
            Err(r) => Some(credentials.stale(auth.access_key).ok_or(r)?),
        },
        Known::Nothing => {
            door.open()?;
            stored().await?
        }
    }
    .ok_or(Rejection::UnknownAccessKey)?;
    let headers = Headers(&req.headers);
    let request = aksk::Request {
        method: req.method.as_str(),
        path: req.uri.path(),
        query: req.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    aksk::verify(&request, &auth, credential.secret.expose(), now, skew)
        .map_err(Rejection::Unauthenticated)?;
    if let Some(domain) = headers.header("x-domain-id")
        && domain != credential.principal.partner_id
    {
        return Err(Rejection::WrongDomain);
    }
    Ok(Verified {
        signature: auth.signature,
        credential,
    })
}
