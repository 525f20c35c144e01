//! A state-changing admin call is carried out once, by the partner API's rules
//! ([`crate::filters::idempotency`]): its signature is accepted once within the clock-skew
//! window (a captured request sent again gets the first answer, `X-Idempotent-Replay: true`,
//! or TG.3010 while that answer is unknown), and its `X-Idempotency-Key`, scoped to the
//! credential, gives a re-signed retry the first answer too. A captured `resume` replayed
//! after a later `suspend` therefore changes nothing.

use crate::filters::idempotency::{fingerprint, key_of, scoped, signature_key};
use crate::rejection::Rejection;
use crate::store::Store;
use crate::store::idempotency::Claim;
use pingora::http::RequestHeader;
use serde::Serialize;

/// The keys a first request claimed, answered when it ends.
pub struct Once {
    keys: Vec<String>,
}

/// What the claim found.
pub enum Claimed {
    /// Go ahead.
    Fresh(Once),
    /// The first request's answer (status, body), to give again.
    Replay(u16, String),
}

impl Claimed {
    /// The claim to carry out, or the first answer to send again (a replay or a retry).
    pub fn or_replay(self, request_id: &str) -> Result<Once, Box<http::Response<Vec<u8>>>> {
        match self {
            Claimed::Fresh(o) => Ok(o),
            Claimed::Replay(status, body) => Err(Box::new(crate::answer::replay(
                crate::answer::Listener::Admin,
                status,
                body,
                request_id,
            ))),
        }
    }
}

fn unavailable(e: crate::store::StoreError) -> Rejection {
    tracing::error!(error = %e, "idempotency store unavailable: admin call refused");
    Rejection::AuditUnavailable
}

/// Claims a state-changing admin request's keys: its signature's (`replay`, none for a bearer
/// token) and the client's idempotency key, under `request_id`.
pub async fn claim(
    store: &Store,
    req: &RequestHeader,
    access_key: &str,
    replay: Option<String>,
    body: &[u8],
    request_id: &str,
    window: time::Duration,
) -> Result<Claimed, Rejection> {
    let client = key_of(&req.headers).map_err(Rejection::InvalidIdempotencyKey)?;
    let store_keys = store.idempotency();
    store_keys.sweep_signatures(window).await;
    let fp = fingerprint(
        req.method.as_str(),
        req.uri.path(),
        req.uri.query().unwrap_or(""),
        body,
    );
    let mut wanted = Vec::new();
    if let Some(r) = replay {
        wanted.push(signature_key(&r));
    }
    if let Some(k) = client {
        wanted.push(scoped(access_key, &k));
    }
    let mut claimed = Vec::new();
    for key in wanted {
        let found = store_keys
            .claim(key.clone(), fp.clone(), request_id.to_owned())
            .await;
        let refused = match found {
            Ok(Claim::New) => {
                claimed.push(key);
                continue;
            }
            Ok(Claim::Replay(status, body)) => Ok(Claimed::Replay(status, body)),
            Ok(Claim::Unknown) => Err(Rejection::IdempotencyUnknown),
            Ok(Claim::Mismatch) => Err(Rejection::IdempotencyMismatch),
            Err(e) => Err(unavailable(e)),
        };
        // Nothing went ahead under the keys claimed so far: free them for an honest retry.
        Once { keys: claimed }.free(store).await;
        return refused;
    }
    Ok(Claimed::Fresh(Once { keys: claimed }))
}

impl Once {
    /// Records how the request ended: its answer (or Tiergate's refusal) under its keys; an
    /// unavailable store frees them; an unknown vendor outcome keeps them until
    /// reconciliation answers them.
    pub async fn finish(self, store: &Store, answered: &Result<impl Serialize, Rejection>) {
        let keys = store.idempotency();
        let (status, body) = match answered {
            Ok(v) => (200, serde_json::to_string(v).unwrap_or_default()),
            Err(Rejection::OutcomeUnknown(_)) => return,
            Err(r) => match r.answer().status {
                s @ 400..=499 => (s, crate::answer::envelope(r)),
                // Tiergate's own failure (storage, audit): nothing was done; retry freely.
                _ => return self.free(store).await,
            },
        };
        for key in self.keys {
            if let Err(e) = keys.answer(key, status, body.clone()).await {
                tracing::error!(error = %e, "could not record an admin call's answer");
            }
        }
    }

    async fn free(self, store: &Store) {
        for key in self.keys {
            if let Err(e) = store.idempotency().free(key).await {
                tracing::warn!(error = %e, "could not free an idempotency key");
            }
        }
    }
}
