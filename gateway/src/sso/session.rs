//! After a verified sign-in: the tier check against the binding table, the browser session,
//! and the signed Response that carries the user on to the vendor.

use super::{Sso, web};
use http::{Response, StatusCode};
use pingora::http::RequestHeader;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tiergate_broker::binding::{self, Decision};
use tiergate_broker::saml::idp::{Identity, Incoming, post_form};

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "tg_session";

/// A signed-in browser (`/session/whoami` shows it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The reseller whose IdP signed the user in.
    pub reseller: String,
    /// The user at that IdP.
    pub name_id: String,
    /// The platform user id at the vendor.
    pub x_user_id: String,
    /// The bound customer, once bound.
    pub customer_id: Option<String>,
    /// Not bound yet: the vendor's first-login binding follows.
    pub first_login: bool,
    /// The IdP's attributes.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Unix seconds.
    pub expires: i64,
}

/// Who may go on to the vendor.
pub struct Admitted {
    /// The platform user id.
    pub x_user_id: String,
    /// The bound customer.
    pub customer_id: Option<String>,
    /// Unknown to the binding table.
    pub first_login: bool,
}

impl Sso {
    /// The tier check: the user's binding, if any, must be to a customer of `reseller`.
    pub(super) async fn tier_check(
        &self,
        reseller: &str,
        name_id: &str,
    ) -> Result<Admitted, Response<Vec<u8>>> {
        let x = binding::x_user_id(reseller, name_id);
        let bound = self.store.bindings().get(&x).await.map_err(|e| {
            tracing::error!(error = %e, "binding table");
            web::refused(StatusCode::SERVICE_UNAVAILABLE, "binding table unavailable")
        })?;
        let decision = binding::decide(reseller, name_id, bound.as_ref(), |c| {
            self.graph
                .with(|g| g.customer(c).map(|r| r.owner.to_owned()))
        });
        match decision {
            Decision::SignIn {
                x_user_id,
                customer_id,
            } => Ok(Admitted {
                x_user_id,
                customer_id: Some(customer_id),
                first_login: false,
            }),
            Decision::FirstLogin { x_user_id } => Ok(Admitted {
                x_user_id,
                customer_id: None,
                first_login: true,
            }),
            Decision::Refused(why) => Err(self.refuse(Some(reseller), &why).await),
        }
    }

    /// Stores a session; answers its cookie.
    pub(super) async fn open_session(
        &self,
        reseller: &str,
        name_id: &str,
        attributes: BTreeMap<String, Vec<String>>,
        a: &Admitted,
    ) -> Result<String, Response<Vec<u8>>> {
        let sid = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let s = Session {
            reseller: reseller.to_owned(),
            name_id: name_id.to_owned(),
            x_user_id: a.x_user_id.clone(),
            customer_id: a.customer_id.clone(),
            first_login: a.first_login,
            attributes,
            expires: chrono::Utc::now().timestamp() + self.session_ttl.as_secs() as i64,
        };
        let stored = serde_json::to_string(&s).map_err(|e| e.to_string());
        let put = match stored {
            Ok(v) => self.once.put("session", &sid, &v, self.session_ttl).await,
            Err(e) => Err(e),
        };
        put.map_err(|e| {
            tracing::error!(error = %e, "session store");
            web::refused(StatusCode::SERVICE_UNAVAILABLE, "session store unavailable")
        })?;
        Ok(web::set_cookie(
            SESSION_COOKIE,
            &sid,
            self.session_ttl.as_secs(),
            self.secure,
        ))
    }

    /// The browser's session, if it has a live one.
    pub(super) async fn session_of(&self, req: &RequestHeader) -> Option<Session> {
        let sid = web::cookie(req, SESSION_COOKIE)?;
        match self.once.get("session", &sid).await {
            Ok(v) => v.and_then(|v| serde_json::from_str(&v).ok()),
            Err(e) => {
                tracing::error!(error = %e, "session store");
                None
            }
        }
    }

    /// The page posting a signed Response for `a` to the vendor's ACS.
    pub(super) fn to_vendor(
        &self,
        a: &Admitted,
        incoming: Option<&Incoming>,
        relay: Option<&str>,
        cookie: Option<String>,
    ) -> Response<Vec<u8>> {
        let who = Identity {
            x_user_id: a.x_user_id.clone(),
            x_account_type: self.x_account_type.clone(),
            partner_id: self.distributor.clone(),
        };
        let saml = match self.idp.respond(incoming, &self.vendor, &who) {
            Ok(s) => s,
            Err(e) => return web::refused(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        let page = post_form(&self.vendor.acs_url, &saml, relay);
        let headers: Vec<(&str, String)> = cookie.into_iter().map(|c| ("set-cookie", c)).collect();
        web::answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page.into_bytes(),
            &headers,
        )
    }

    /// `GET /session/whoami`.
    pub(super) async fn whoami(
        &self,
        session: &pingora::protocols::http::ServerSession,
    ) -> Response<Vec<u8>> {
        match self.session_of(session.req_header()).await {
            Some(s) => web::answer(
                StatusCode::OK,
                "application/json",
                serde_json::to_vec(&s).unwrap_or_default(),
                &[],
            ),
            None => web::answer(
                StatusCode::UNAUTHORIZED,
                "application/json",
                serde_json::json!({"error_code": "TG.7001", "error_msg": "not signed in"})
                    .to_string()
                    .into_bytes(),
                &[],
            ),
        }
    }
}
