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

use super::api::{Found, Op};
use crate::answer::Listener;
use crate::console::Console;
use crate::credentials::Credential;
use crate::reads::credentials::{By, IssueRequest, Listed, Revoked};
use crate::reads::federation::Federation;
use crate::reads::money::Money;
use crate::reads::overview::Overview;
use crate::reads::tls::Report;
use crate::rejection::Rejection;
use crate::web::form::Form;
use http::Response;
use pingora::protocols::http::ServerSession;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// What the admin reads need to authenticate their callers.
pub struct ReadApi {
    /// What unauthenticated callers may cost.
    pub guard: Arc<crate::guard::Guard>,
    /// Accepted clock skew.
    pub skew: time::Duration,
    /// Bearer tokens (token mode), if configured.
    pub tokens: Option<Arc<tiergate_broker::tokens::Issuer>>,
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

    /// Who asks, and the query they asked with.
    async fn reader(
        &self,
        c: &Console,
        session: &ServerSession,
    ) -> Result<(Arc<Credential>, Form), Rejection> {
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        Ok((self.caller(c, session, b"").await?.credential, q))
    }

    /// `GET /overview`.
    pub async fn overview(&self, c: &Console, s: &ServerSession) -> Result<Overview, Rejection> {
        let (cr, _) = self.reader(c, s).await?;
        crate::reads::overview::overview(&c.overview, &cr.principal).await
    }

    /// `GET /tls`.
    pub async fn tls(&self, c: &Console, s: &ServerSession) -> Result<Report, Rejection> {
        let (cr, _) = self.reader(c, s).await?;
        tiergate_policy::admin::reads(&cr.principal, tiergate_policy::admin::Area::Tls)?;
        Ok(c.tls_report())
    }

    /// `GET /federation`.
    pub async fn federation(
        &self,
        c: &Console,
        s: &ServerSession,
    ) -> Result<Federation, Rejection> {
        let (cr, _) = self.reader(c, s).await?;
        crate::reads::federation::federation(&c.audit, c.idps.as_deref(), &cr.principal).await
    }

    /// `GET /money`.
    pub async fn money(&self, c: &Console, s: &ServerSession) -> Result<Money, Rejection> {
        let (cr, q) = self.reader(c, s).await?;
        crate::reads::money::money(
            &c.audit,
            &cr.principal,
            q.string("from"),
            q.string("until"),
            c.retention,
        )
        .await
    }

    /// `GET /credentials`.
    pub async fn credentials(&self, c: &Console, s: &ServerSession) -> Result<Listed, Rejection> {
        let (cr, _) = self.reader(c, s).await?;
        let credentials = crate::reads::credentials::list(&c.credentials, &cr.principal).await?;
        Ok(Listed {
            count: credentials.len(),
            credentials,
        })
    }

    /// `POST /credentials`, `POST /credentials/{access_key}/revoke`, `POST /audit/verify`:
    /// authenticated with the body, carried out once.
    pub async fn change(
        &self,
        c: &Console,
        session: &mut ServerSession,
        found: &Found,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let body = crate::web::body::read(session, super::MAX_BODY).await?;
        let who = self.caller(c, session, &body).await?;
        let req = session.req_header();
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
        let once = match claimed.or_replay(&request_id) {
            Ok(o) => o,
            Err(first) => return Ok(*first),
        };
        let by = By {
            credential: &who.credential,
            source: session.client_addr().map(ToString::to_string),
            via: "admin_api",
        };
        let answered = match found.op {
            Op::IssueCredential => match serde_json::from_slice::<IssueRequest>(&body) {
                Ok(ask) => crate::reads::credentials::issue(&c.credentials, &c.audit, &by, ask)
                    .await
                    .and_then(to_json),
                Err(e) => Err(Rejection::InvalidBody(e.to_string())),
            },
            Op::RevokeCredential => {
                let ak = found.param("access_key").unwrap_or_default().to_owned();
                crate::reads::credentials::revoke(&c.credentials, &c.audit, &by, &ak)
                    .await
                    .and_then(|revoked| {
                        c.sessions.end_all_of(&ak);
                        to_json(Revoked {
                            access_key: ak.clone(),
                            revoked,
                        })
                    })
            }
            _ => verify(c, &who.credential).await.and_then(to_json),
        };
        once.finish(c.audit.store(), &answered).await;
        answered.map(|v| super::json(&v))
    }
}

fn to_json(v: impl Serialize) -> Result<Value, Rejection> {
    serde_json::to_value(v).map_err(|_| Rejection::Internal("an answer could not be written"))
}

/// A verification's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Verified {
    /// Nothing broken.
    pub intact: bool,
    /// Records checked.
    pub records: usize,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Records after the last checkpoint.
    pub uncovered: usize,
    /// The first broken record, if any.
    pub first_broken: Option<crate::chain::verify::Broken>,
}

/// Verifies the chain for an auditor, the run itself audited.
async fn verify(c: &Console, cr: &Credential) -> Result<Verified, Rejection> {
    tiergate_policy::admin::may_verify(&cr.principal)?;
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
    Ok(Verified {
        intact: r.intact(),
        records: r.records,
        checkpoints: r.checkpoints,
        uncovered: r.uncovered,
        first_broken: r.broken.first().cloned(),
    })
}
