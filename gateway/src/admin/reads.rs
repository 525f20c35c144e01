//! The admin API's reads and credential changes that the console also shows, answered as
//! JSON from the same code ([`crate::reads`]) for any client signed with its own credential or
//! a bearer token:
//!
//! - `GET /overview`, `GET /tls`, `GET /federation`, `GET /money?from=&until=`;
//! - `GET /credentials`; `POST /credentials` `{reseller, staff?, role?}` (the secret key in
//!   that answer only); `POST /credentials/{access_key}/revoke`;
//! - `POST /audit/verify` (auditors).
//!
//! A change is carried out once ([`super::once`]), as delegation changes are.

use super::once::Claimed;
use crate::answer::Listener;
use crate::console::Console;
use crate::credentials::Credential;
use crate::reads::credentials::{By, IssueRequest};
use crate::rejection::Rejection;
use crate::web::form::Form;
use http::Response;
use pingora::protocols::http::ServerSession;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tiergate_policy::{Denied, Tier};

/// What the admin reads need to authenticate their callers.
pub struct ReadApi {
    /// What unauthenticated callers may cost.
    pub guard: Arc<crate::guard::Guard>,
    /// Accepted clock skew.
    pub skew: time::Duration,
    /// Bearer tokens (token mode), if configured.
    pub tokens: Option<Arc<tiergate_broker::tokens::Issuer>>,
}

fn to_json(v: impl Serialize) -> Result<Value, Rejection> {
    serde_json::to_value(v).map_err(|_| Rejection::Internal("an answer could not be written"))
}

impl ReadApi {
    async fn caller(
        &self,
        c: &Console,
        session: &ServerSession,
        body: &[u8],
    ) -> Result<super::auth::Authenticated, Rejection> {
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        super::auth::authenticate(
            &c.credentials,
            self.tokens.as_deref(),
            &door,
            session.req_header(),
            body,
            self.skew,
        )
        .await
    }

    /// A read: who asks, then `read` for them.
    pub async fn get<F, Fut>(
        &self,
        c: &Console,
        session: &mut ServerSession,
        read: F,
    ) -> Result<Value, Rejection>
    where
        F: FnOnce(Arc<Credential>, Form) -> Fut,
        Fut: std::future::Future<Output = Result<Value, Rejection>>,
    {
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        let who = self.caller(c, session, b"").await?;
        read(who.credential, q).await
    }

    /// `GET /overview`.
    pub async fn overview(&self, c: &Console, s: &mut ServerSession) -> Result<Value, Rejection> {
        self.get(c, s, |cr, _| async move {
            to_json(crate::reads::overview::overview(&c.overview, &cr.principal).await?)
        })
        .await
    }

    /// `GET /tls`.
    pub async fn tls(&self, c: &Console, s: &mut ServerSession) -> Result<Value, Rejection> {
        self.get(c, s, |cr, _| async move {
            tiergate_policy::admin::reads(&cr.principal, tiergate_policy::admin::Area::Tls)?;
            let served = c
                .overview
                .certs
                .as_ref()
                .map(|s| s.current())
                .unwrap_or_default();
            let certs: Vec<_> = served.iter().map(|x| &**x).collect();
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            Ok(crate::reads::tls::report(&c.tls, &certs, now))
        })
        .await
    }

    /// `GET /federation`.
    pub async fn federation(&self, c: &Console, s: &mut ServerSession) -> Result<Value, Rejection> {
        self.get(c, s, |cr, _| async move {
            let f =
                crate::reads::federation::federation(&c.audit, c.idps.as_deref(), &cr.principal)
                    .await?;
            to_json(f)
        })
        .await
    }

    /// `GET /money`.
    pub async fn money(&self, c: &Console, s: &mut ServerSession) -> Result<Value, Rejection> {
        self.get(c, s, |cr, q| async move {
            let m = crate::reads::money::money(
                &c.audit,
                &cr.principal,
                q.string("from"),
                q.string("until"),
                c.retention,
            )
            .await?;
            to_json(m)
        })
        .await
    }

    /// `GET /credentials`.
    pub async fn credentials(
        &self,
        c: &Console,
        s: &mut ServerSession,
    ) -> Result<Value, Rejection> {
        self.get(c, s, |cr, _| async move {
            let list = crate::reads::credentials::list(&c.credentials, &cr.principal).await?;
            Ok(json!({"count": list.len(), "credentials": to_json(list)?}))
        })
        .await
    }

    /// `POST /credentials`, `POST /credentials/{access_key}/revoke`, `POST /audit/verify`:
    /// authenticated with the body, carried out once.
    pub async fn change(
        &self,
        c: &Console,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let body = crate::web::body::read(session, super::MAX_BODY).await?;
        let who = self.caller(c, session, &body).await?;
        let req = session.req_header();
        let path = req.uri.path().to_owned();
        let request_id = crate::answer::request_id();
        let claimed = super::once::claim(
            c.audit.store(),
            req,
            &who.credential.access_key,
            who.replay.clone(),
            &body,
            &request_id,
            self.skew * 2,
        )
        .await?;
        let once = match claimed {
            Claimed::Fresh(o) => o,
            Claimed::Replay(status, body) => {
                return Ok(crate::answer::replay(
                    Listener::Admin,
                    status,
                    body,
                    &request_id,
                ));
            }
        };
        let by = By {
            credential: &who.credential,
            source: session.client_addr().map(ToString::to_string),
            via: "admin_api",
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let answered = match parts.as_slice() {
            ["credentials"] => match serde_json::from_slice::<IssueRequest>(&body) {
                Ok(ask) => crate::reads::credentials::issue(&c.credentials, &c.audit, &by, ask)
                    .await
                    .and_then(to_json),
                Err(e) => Err(Rejection::InvalidBody(e.to_string())),
            },
            ["credentials", ak, "revoke"] => {
                crate::reads::credentials::revoke(&c.credentials, &c.audit, &by, ak)
                    .await
                    .map(|done| {
                        c.sessions.end_all_of(ak);
                        json!({"access_key": ak, "revoked": done})
                    })
            }
            ["audit", "verify"] => verify(c, &who.credential).await,
            _ => Err(Rejection::NoSuchEndpoint {
                method: "POST".into(),
                path: path.clone(),
            }),
        };
        once.finish(c.audit.store(), &answered).await;
        answered.map(|v| super::json(&v))
    }
}

/// Verifies the chain for an auditor, the run itself audited.
async fn verify(c: &Console, cr: &Credential) -> Result<Value, Rejection> {
    if cr.principal.tier != Tier::Auditor {
        return Err(Rejection::Denied(Denied::TierNotAllowed {
            tier: cr.principal.tier,
            operation: "verify_audit_chain",
        }));
    }
    let by = format!(
        "{} ({})",
        cr.access_key,
        cr.label.clone().unwrap_or_default()
    );
    let r = c
        .audit
        .verify_recorded(&by)
        .await
        .map_err(|_| Rejection::AuditUnavailable)?;
    Ok(json!({
        "intact": r.intact(), "records": r.records, "checkpoints": r.checkpoints,
        "uncovered": r.uncovered, "first_broken": r.broken.first(),
    }))
}
