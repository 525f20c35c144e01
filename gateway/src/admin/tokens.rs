//! Token mode on the admin listener.
//!
//! - `POST /tokens`, signed with a staff member's or an auditor's credential (AK/SK): a
//!   short-lived bearer token for that credential (`{"access_token", "token_type",
//!   "expires_in"}`), written to the audit log.
//! - `GET /.well-known/jwks.json`: the keys that verify Tiergate's tokens (current and, during
//!   a rotation, previous).

use super::answers::TokenIssued;
use crate::answer::Listener;
use crate::audit::Audit;
use crate::chain::record::{Entry, Kind};
use crate::credentials::Credentials;
use crate::filters::authn;
use crate::filters::idempotency::signature_key;
use crate::rejection::Rejection;
use crate::store::idempotency::Claim;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::sync::Arc;
use tiergate_broker::tokens::{Issuer, KeySet};
use tiergate_policy::{Denied, Tier};

/// What the token endpoints need.
pub struct TokenApi {
    /// What unauthenticated callers may cost.
    pub guard: Arc<crate::guard::Guard>,
    /// Credential lookups.
    pub credentials: Arc<Credentials>,
    /// The issuer; `None` when `[tokens]` is not configured.
    pub issuer: Option<Arc<Issuer>>,
    /// The audit log.
    pub audit: Audit,
    /// Accepted clock skew.
    pub skew: time::Duration,
}

impl TokenApi {
    /// `GET /.well-known/jwks.json`.
    pub fn jwks(&self) -> Result<KeySet, Rejection> {
        let issuer = self.issuer.as_ref().ok_or(Rejection::TokensOff)?;
        Ok(issuer.jwks())
    }

    /// A signed token request is accepted once within the clock-skew window: a captured one
    /// sent again never yields a second token (its answer, a secret, is not kept to give
    /// again either: the replay is refused).
    async fn first_use(&self, verified: &authn::Verified) -> Result<(), Rejection> {
        let key = signature_key(&verified.replay_key());
        let keys = self.audit.store().idempotency();
        keys.sweep_signatures(self.skew * 2).await;
        let claimed = keys
            .claim(key.clone(), "token".into(), crate::answer::request_id())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "idempotency store unavailable: token refused");
                Rejection::AuditUnavailable
            })?;
        if claimed != Claim::New {
            return Err(Rejection::SignatureReused);
        }
        // Answered at once, so the key is never "in flight".
        let r = Rejection::SignatureReused;
        let (status, body) = (r.answer().status, crate::answer::envelope(&r));
        if let Err(e) = keys.answer(key, status, body).await {
            tracing::warn!(error = %e, "could not close a token request's signature key");
        }
        Ok(())
    }

    /// `POST /tokens`.
    pub async fn issue(&self, session: &mut ServerSession) -> Result<TokenIssued, Rejection> {
        let issuer = self.issuer.as_ref().ok_or(Rejection::TokensOff)?;
        let body = crate::web::body::read(session, super::MAX_BODY).await?;
        let now = time::OffsetDateTime::now_utc();
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        let verified = authn::authenticate(
            &self.credentials,
            &door,
            session.req_header(),
            &body,
            now,
            self.skew,
        )
        .await?;
        let cred = verified.credential.clone();
        let p = &cred.principal;
        // Token mode is for people: partner staff and auditors. Partners' own machine
        // credentials keep signing every request.
        if p.tier != Tier::Auditor && p.role.is_none() {
            return Err(Rejection::Denied(Denied::TierNotAllowed {
                tier: p.tier,
                operation: "tokens",
            }));
        }
        self.first_use(&verified).await?;
        let tier = p.tier.to_string();
        let (token, claims) = issuer
            .issue_with_claims(&cred.access_key, &tier, &p.partner_id, p.role.as_deref())
            .map_err(|e| {
                tracing::error!(error = %e, "could not sign a token");
                Rejection::Internal("token signing failed")
            })?;
        self.audit
            .append(Entry {
                kind: Some(Kind::Credential),
                operation: Some("token_issued".into()),
                principal: Some(p.partner_id.clone()),
                tier: Some(tier),
                credential: Some(cred.access_key.clone()),
                source: session.client_addr().map(|a| a.to_string()),
                outcome: Some("ok".into()),
                detail: json!({"jti": claims.jti, "expires": claims.exp, "role": claims.role}),
                ..Entry::default()
            })
            .await
            .map_err(|_| Rejection::AuditUnavailable)?;
        Ok(TokenIssued {
            access_token: token,
            expires_in: claims.exp.saturating_sub(claims.iat),
            token_type: "Bearer".into(),
        })
    }
}
