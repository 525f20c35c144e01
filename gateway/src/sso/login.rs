//! The sign-in: the vendor's AuthnRequest in, a reseller IdP chosen and asked, its Response
//! verified and checked against the binding table, a Response out to the vendor.

use super::{Sso, web};
use crate::admin_body;
use http::{Response, StatusCode};
use pingora::protocols::http::ServerSession;
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use tiergate_broker::binding::{self, Decision};
use tiergate_broker::saml::idp::{Identity, Incoming};
use tiergate_broker::saml::redirect;
use tiergate_broker::saml::sp::{self, Expect, Refusal};

/// What a query component leaves as it is (RFC 3986 unreserved characters).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "tg_session";
/// The remembered reseller IdP.
const CHOICE_COOKIE: &str = "tg_idp";
/// How long an AuthnRequest of ours waits for its answer.
const REQUEST_TTL: Duration = Duration::from_secs(600);

/// What an outstanding AuthnRequest of ours remembers.
#[derive(Serialize, Deserialize)]
struct Outstanding {
    reseller: String,
    vendor_request: Option<String>,
    vendor_relay: Option<String>,
}

/// The signed-in identity (`/session/whoami`).
#[derive(Serialize)]
struct SessionInfo<'a> {
    reseller: &'a str,
    name_id: &'a str,
    x_user_id: &'a str,
    customer_id: Option<&'a str>,
    first_login: bool,
    attributes: &'a std::collections::BTreeMap<String, Vec<String>>,
    expires: i64,
}

impl Sso {
    /// `GET /saml/idp/sso`.
    pub(super) async fn vendor_login(&self, session: &ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let query = req.uri.query().unwrap_or("").to_owned();
        let incoming = match self.idp.accept(&query, &self.vendor) {
            Ok(i) => i,
            Err(e) => {
                self.record(
                    "vendor_request",
                    "refused",
                    None,
                    json!({"reason": e.to_string()}),
                )
                .await;
                return web::refused(StatusCode::BAD_REQUEST, &e.to_string());
            }
        };
        let hint = web::field(&query, "idp").or_else(|| web::cookie(req, CHOICE_COOKIE));
        let Some(reg) = hint.as_deref().and_then(|r| self.registration(r)) else {
            return self.discovery(&query);
        };
        let reseller = reg.idp.reseller.clone();
        self.ask_reseller(&reseller, Some(incoming)).await
    }

    /// The page that lets the user pick their reseller's platform (nothing is remembered until
    /// a sign-in there succeeds... the choice cookie is set when the request is sent).
    fn discovery(&self, query: &str) -> Response<Vec<u8>> {
        let items: String = self
            .resellers
            .iter()
            .map(|r| {
                let q = format!(
                    "{query}&idp={}",
                    percent_encoding::utf8_percent_encode(&r.idp.reseller, UNRESERVED)
                );
                format!(
                    r#"<li><a href="/saml/idp/sso?{}">{}</a></li>"#,
                    escape(&q),
                    escape(&r.idp.reseller)
                )
            })
            .collect();
        let html = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Choose your platform</title></head><body><h1>Sign in through</h1><ul>{items}</ul></body></html>"#
        );
        web::answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            html.into_bytes(),
            &[],
        )
    }

    /// Sends the browser to `reseller`'s IdP with our signed AuthnRequest.
    async fn ask_reseller(&self, reseller: &str, incoming: Option<Incoming>) -> Response<Vec<u8>> {
        let Some(reg) = self.registration(reseller) else {
            return web::refused(StatusCode::BAD_REQUEST, "unknown reseller IdP");
        };
        let Some(sso_url) = reg.idp.sso_url() else {
            return web::refused(StatusCode::BAD_GATEWAY, "the reseller IdP has no SSO URL");
        };
        let id = format!("_{}", uuid::Uuid::new_v4().simple());
        let outstanding = Outstanding {
            reseller: reseller.to_owned(),
            vendor_request: incoming.as_ref().map(|i| i.id.clone()),
            vendor_relay: incoming.and_then(|i| i.relay_state),
        };
        let Ok(value) = serde_json::to_string(&outstanding) else {
            return web::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not record the request",
            );
        };
        if let Err(e) = self.once.put("request", &id, &value, REQUEST_TTL).await {
            tracing::error!(error = %e, "single-use store");
            return web::refused(StatusCode::SERVICE_UNAVAILABLE, "sign-in store unavailable");
        }
        let xml = self.sp.authn_request(&id, &sso_url);
        let query = match redirect::sign("SAMLRequest", &xml, None, &self.key) {
            Ok(q) => q,
            Err(e) => return web::refused(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        let sep = if sso_url.contains('?') { '&' } else { '?' };
        let month = 30 * 24 * 3600;
        web::answer(
            StatusCode::FOUND,
            "text/plain; charset=utf-8",
            Vec::new(),
            &[
                ("location", format!("{sso_url}{sep}{query}")),
                (
                    "set-cookie",
                    web::set_cookie(CHOICE_COOKIE, reseller, month, self.secure),
                ),
            ],
        )
    }

    async fn refuse(&self, reseller: Option<&str>, why: &str) -> Response<Vec<u8>> {
        self.record("sign_in", "refused", reseller, json!({"reason": why}))
            .await;
        web::refused(StatusCode::FORBIDDEN, &format!("sign-in refused: {why}"))
    }

    /// `POST /saml/sp/acs`.
    pub(super) async fn acs(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let body = match admin_body::read(session).await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => return self.refuse(None, &e.to_string()).await,
        };
        let form_value = web::field(&body, "SAMLResponse").unwrap_or_default();
        let relay = web::field(&body, "RelayState");
        let (xml, claimed) = match sp::decode(&form_value) {
            Ok(x) => x,
            Err(e) => return self.refuse(None, &e.to_string()).await,
        };
        // SP-initiated: the request we sent says which reseller; it is taken, so it answers once.
        let outstanding = match &claimed.in_response_to {
            Some(id) => match self.once.take("request", id).await {
                Ok(Some(v)) => serde_json::from_str::<Outstanding>(&v).ok(),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, "single-use store");
                    return web::refused(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "sign-in store unavailable",
                    );
                }
            },
            None => None,
        };
        let (reseller, expect) = match (&claimed.in_response_to, &outstanding) {
            (Some(id), Some(o)) => (o.reseller.clone(), Some(id.clone())),
            (Some(_), None) => {
                return self.refuse(None, &Refusal::InResponseTo.to_string()).await;
            }
            (None, _) => {
                let by_issuer = self
                    .resellers
                    .iter()
                    .find(|r| Some(r.idp.entity_id()) == claimed.issuer.as_deref());
                match by_issuer {
                    Some(r) => (r.idp.reseller.clone(), None),
                    None => return self.refuse(None, "unknown Issuer").await,
                }
            }
        };
        let Some(reg) = self.registration(&reseller) else {
            return self
                .refuse(Some(&reseller), "reseller IdP no longer registered")
                .await;
        };
        let (sp, idp) = (self.sp.clone(), reg.idp.clone());
        let verified = tokio::task::spawn_blocking(move || {
            let expect = match &expect {
                Some(id) => Expect::Request(id),
                None => Expect::Unsolicited,
            };
            sp::verify(&xml, &claimed, &sp, &idp, expect)
        })
        .await;
        let login = match verified {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return self.refuse(Some(&reseller), &e.to_string()).await,
            Err(_) => return self.refuse(Some(&reseller), "verification failed").await,
        };
        match self
            .once
            .claim("assertion", &login.assertion_id, login.expires)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return self
                    .refuse(Some(&reseller), &Refusal::Replayed.to_string())
                    .await;
            }
            Err(e) => {
                tracing::error!(error = %e, "single-use store");
                return web::refused(StatusCode::SERVICE_UNAVAILABLE, "sign-in store unavailable");
            }
        }
        // The vendor's RelayState comes back as it was; a reseller's (IdP-initiated) only to an
        // allowlisted destination.
        let vendor_relay = match &outstanding {
            Some(o) => o.vendor_relay.clone(),
            None => match relay.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => match self.targets.check(r) {
                    Ok(u) => Some(u.to_string()),
                    Err(e) => return self.refuse(Some(&reseller), &e.to_string()).await,
                },
                None => None,
            },
        };
        self.admit(
            login,
            outstanding.and_then(|o| o.vendor_request),
            vendor_relay,
        )
        .await
    }

    /// The tier check, the session, and the Response for the vendor.
    async fn admit(
        &self,
        login: sp::Login,
        vendor_request: Option<String>,
        vendor_relay: Option<String>,
    ) -> Response<Vec<u8>> {
        let reseller = login.reseller.clone();
        let x = binding::x_user_id(&reseller, &login.name_id);
        let bound = match self.store.sso_binding(&x).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "binding table");
                return web::refused(StatusCode::SERVICE_UNAVAILABLE, "binding table unavailable");
            }
        };
        let decision = binding::decide(&reseller, &login.name_id, bound.as_ref(), |c| {
            self.graph
                .with(|g| g.customer(c).map(|r| r.owner.to_owned()))
        });
        let (x_user_id, customer, first) = match &decision {
            Decision::SignIn {
                x_user_id,
                customer_id,
            } => (x_user_id.clone(), Some(customer_id.clone()), false),
            Decision::FirstLogin { x_user_id } => (x_user_id.clone(), None, true),
            Decision::Refused(why) => return self.refuse(Some(&reseller), why).await,
        };
        let incoming = vendor_request.map(|id| Incoming {
            id,
            relay_state: vendor_relay.clone(),
        });
        let who = Identity {
            x_user_id: x_user_id.clone(),
            x_account_type: self.x_account_type.clone(),
            partner_id: self.distributor.clone(),
        };
        let saml = match self.idp.respond(incoming.as_ref(), &self.vendor, &who) {
            Ok(s) => s,
            Err(e) => return web::refused(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        let sid =
            uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
        let expires = chrono::Utc::now().timestamp() + self.session_ttl.as_secs() as i64;
        let info = SessionInfo {
            reseller: &reseller,
            name_id: &login.name_id,
            x_user_id: &x_user_id,
            customer_id: customer.as_deref(),
            first_login: first,
            attributes: &login.attributes,
            expires,
        };
        let info = serde_json::to_string(&info).unwrap_or_default();
        if let Err(e) = self
            .once
            .put("session", &sid, &info, self.session_ttl)
            .await
        {
            tracing::error!(error = %e, "session store");
            return web::refused(StatusCode::SERVICE_UNAVAILABLE, "session store unavailable");
        }
        self.record(
            "sign_in",
            "ok",
            Some(&reseller),
            json!({"x_user_id": x_user_id, "customer_id": customer, "first_login": first,
                   "assertion": login.assertion_id, "idp_initiated": incoming.is_none()}),
        )
        .await;
        let page = tiergate_broker::saml::idp::post_form(
            &self.vendor.acs_url,
            &saml,
            vendor_relay.as_deref(),
        );
        web::answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page.into_bytes(),
            &[(
                "set-cookie",
                web::set_cookie(
                    SESSION_COOKIE,
                    &sid,
                    self.session_ttl.as_secs(),
                    self.secure,
                ),
            )],
        )
    }
}
