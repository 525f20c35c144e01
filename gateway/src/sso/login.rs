//! The vendor's AuthnRequest: answered from a live session, or sent on to the reseller IdP
//! chosen by hint, remembered choice or discovery page, with our own signed AuthnRequest.
//! Either spends it, for every gateway: a request arriving again is refused, never answered
//! with a second Response.

use super::pending::{self, Outstanding, REQUEST_TTL};
use super::{OnceOnly, Sso, browser};
use crate::rejection::Rejection;
use crate::web::form::Form;
use http::Response;
use pingora::protocols::http::ServerSession;
use quick_xml::escape::escape;
use serde_json::json;
use tiergate_broker::saml::idp::Accepted;
use tiergate_broker::saml::redirect;

/// The remembered reseller IdP.
const CHOICE_COOKIE: &str = "tg_idp";
/// How long it is remembered (seconds).
const CHOICE_TTL: u64 = 30 * 24 * 3600;
/// What a query component leaves as it is (RFC 3986 unreserved characters).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Sso {
    /// `GET /saml/idp/sso`.
    pub(super) async fn vendor_login(
        &self,
        session: &ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let req = session.req_header();
        let query = req.uri.query().unwrap_or("").to_owned();
        let accepted = match self.saml.idp.accept(&query, &self.saml.vendor) {
            Ok(a) => a,
            Err(e) => {
                // Unverified: counted into a summary, never written one by one.
                self.count_unverified("vendor_request", "TG.7003", &e.to_string(), None);
                return Err(Rejection::SamlRefused(e.to_string()));
            }
        };
        // Signed in already (an IdP-initiated login continuing here, or a second console
        // visit): answered from the session, with the binding checked again.
        if let Some(s) = self.session_of(req).await {
            self.spend(&accepted).await?;
            let a = self.tier_check(&s.reseller, &s.name_id).await?;
            self.record(
                "sign_in",
                "ok",
                Some(&s.reseller),
                json!({"x_user_id": a.x_user_id, "customer_id": a.customer_id,
                       "first_login": a.first_login, "from_session": true}),
            )
            .await;
            let incoming = accepted.incoming;
            let relay = incoming.relay_state.as_deref();
            return self.to_vendor(&a, Some(&incoming), relay, &[]);
        }
        let hint = Form::parse(query.as_bytes())
            .string("idp")
            .or_else(|| browser::cookie(req, CHOICE_COOKIE));
        match hint.as_deref().and_then(|r| self.registration(r)) {
            Some(reg) => {
                let reseller = reg.idp.reseller.clone();
                self.ask_reseller(&reseller, accepted).await
            }
            // Not spent: the choice comes back with this same request.
            None => Ok(self.discovery(&query)),
        }
    }

    /// `GET /saml/login?idp=R&service=URL`: the login link a reseller platform publishes. It
    /// remembers the choice of IdP and starts the vendor's own login (which comes back to
    /// `/saml/idp/sso` with the vendor's AuthnRequest); `service` only to allowlisted origins.
    pub(super) fn login_link(
        &self,
        session: &ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let query = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        let url = self
            .saml
            .vendor_login_url
            .as_ref()
            .ok_or(Rejection::NoVendorLogin)?;
        let reseller = query
            .string("idp")
            .filter(|r| self.registration(r).is_some())
            .ok_or_else(|| {
                Rejection::LoginLinkRefused("`idp` must name a registered reseller IdP".into())
            })?;
        let service = match query.get("service").filter(|s| !s.is_empty()) {
            Some(s) => self
                .saml
                .targets
                .check(s)
                .map_err(|e| Rejection::LoginLinkRefused(e.to_string()))?
                .to_string(),
            None => String::new(),
        };
        let location = vendor_login_link(url, &self.saml.x_account_type, false, &service);
        Ok(browser::found(location, &[self.choice_cookie(&reseller)]))
    }

    /// The page that lets the user pick their reseller's platform.
    fn discovery(&self, query: &str) -> Response<Vec<u8>> {
        let items: String = self
            .saml
            .resellers
            .iter()
            .map(|r| {
                let id = percent_encoding::utf8_percent_encode(&r.idp.reseller, UNRESERVED);
                let href = format!("/saml/idp/sso?{query}&idp={id}");
                format!(
                    r#"<li><a href="{}">{}</a></li>"#,
                    escape(&href),
                    escape(&r.idp.reseller)
                )
            })
            .collect();
        let html = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Choose your platform</title></head><body><h1>Sign in through</h1><ul>{items}</ul></body></html>"#
        );
        browser::page("text/html; charset=utf-8", html.into_bytes(), &[])
    }

    /// Marks the vendor's request used, for every gateway, until it could not be accepted
    /// anyway.
    async fn spend(&self, accepted: &Accepted) -> Result<(), Rejection> {
        self.use_once(OnceOnly {
            operation: "vendor_request",
            id: &accepted.incoming.id,
            until: accepted.usable_until,
            what: "AuthnRequest",
        })
        .await
    }

    /// Sends the browser to `reseller`'s IdP with our signed AuthnRequest, tied to this
    /// browser ([`pending`]).
    async fn ask_reseller(
        &self,
        reseller: &str,
        accepted: Accepted,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let sso_url = self
            .registration(reseller)
            .and_then(|r| r.idp.sso_url())
            .ok_or(Rejection::IdpWithoutSso)?;
        self.spend(&accepted).await?;
        let id = format!("_{}", uuid::Uuid::new_v4().simple());
        let tie = pending::tie(&id, self.saml.secure);
        let outstanding = Outstanding {
            reseller: reseller.to_owned(),
            vendor_request: Some(accepted.incoming.id),
            vendor_relay: accepted.incoming.relay_state,
            browser: tie.hash,
        };
        let stored = match serde_json::to_string(&outstanding) {
            Ok(v) => self.saml.once.put("request", &id, &v, REQUEST_TTL).await,
            Err(e) => Err(e.to_string()),
        };
        stored.map_err(|e| super::store_down(&e))?;
        let xml = self.saml.sp.authn_request(&id, &sso_url);
        let query = redirect::sign("SAMLRequest", &xml, None, &self.saml.key).map_err(|e| {
            tracing::error!(error = %e, "could not sign an AuthnRequest");
            Rejection::Internal("signing the AuthnRequest failed")
        })?;
        Ok(browser::found(
            browser::with_query(&sso_url, &query),
            &[self.choice_cookie(reseller), tie.cookie],
        ))
    }

    fn choice_cookie(&self, reseller: &str) -> String {
        browser::set_cookie(CHOICE_COOKIE, reseller, CHOICE_TTL, self.saml.secure)
    }
}

/// The vendor's console login link (`vendor_login_url`) for this IdP.
pub(super) fn vendor_login_link(
    url: &str,
    x_account_type: &str,
    first_login: bool,
    service: &str,
) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let query = format!(
        "xAccountType={}&isFirstLogin={first_login}&service={}",
        enc(x_account_type),
        enc(service)
    );
    browser::with_query(url, &query)
}
