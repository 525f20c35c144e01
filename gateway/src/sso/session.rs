//! After a verified sign-in: the tier check against the binding table, the browser session,
//! and the signed Response that carries the user on to the vendor.

use super::{Sso, browser};
use crate::rejection::Rejection;
use http::Response;
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
    ) -> Result<Admitted, Rejection> {
        let x = binding::x_user_id(reseller, name_id);
        let bound = self.parts.store.bindings().get(&x).await.map_err(|e| {
            tracing::error!(error = %e, "binding table");
            Rejection::SignInStoreUnavailable("binding table")
        })?;
        let decision = binding::decide(reseller, name_id, bound.as_ref(), |c| {
            self.parts
                .graph
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
            Decision::Refused(why) => Err(self.refuse_user(Some(reseller), &why, Some(&x)).await),
        }
    }

    /// Stores a session; answers its cookie.
    pub(super) async fn open_session(
        &self,
        reseller: &str,
        name_id: &str,
        attributes: BTreeMap<String, Vec<String>>,
        a: &Admitted,
    ) -> Result<String, Rejection> {
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
            expires: chrono::Utc::now().timestamp() + self.saml.session_ttl.as_secs() as i64,
        };
        let stored = serde_json::to_string(&s).map_err(|e| e.to_string());
        let put = match stored {
            Ok(v) => {
                self.saml
                    .once
                    .put("session", &sid, &v, self.saml.session_ttl)
                    .await
            }
            Err(e) => Err(e),
        };
        put.map_err(|e| {
            tracing::error!(error = %e, "session store");
            Rejection::SignInStoreUnavailable("session store")
        })?;
        Ok(browser::set_cookie(
            SESSION_COOKIE,
            &sid,
            self.saml.session_ttl.as_secs(),
            self.saml.secure,
        ))
    }

    /// The browser's session, if it has a live one.
    pub(super) async fn session_of(&self, req: &RequestHeader) -> Option<Session> {
        let sid = browser::cookie(req, SESSION_COOKIE)?;
        match self.saml.once.get("session", &sid).await {
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
        cookies: &[String],
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let who = Identity {
            x_user_id: a.x_user_id.clone(),
            x_account_type: self.saml.x_account_type.clone(),
            partner_id: self.parts.distributor.clone(),
        };
        let saml = self
            .saml
            .idp
            .respond(incoming, &self.saml.vendor, &who)
            .map_err(|e| {
                tracing::error!(error = %e, "could not sign a Response for the vendor");
                Rejection::Internal("signing the Response failed")
            })?;
        let page = post_form(&self.saml.vendor.acs_url, &saml, relay);
        let headers: Vec<(&str, String)> =
            cookies.iter().map(|c| ("set-cookie", c.clone())).collect();
        Ok(browser::page(
            "text/html; charset=utf-8",
            page.into_bytes(),
            &headers,
        ))
    }

    /// `GET /session/whoami`.
    pub(super) async fn whoami(
        &self,
        session: &pingora::protocols::http::ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let s = self
            .session_of(session.req_header())
            .await
            .ok_or(Rejection::NotSignedIn)?;
        let body = serde_json::to_vec(&s).unwrap_or_default();
        Ok(browser::page("application/json", body, &[]))
    }
}
