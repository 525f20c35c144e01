//! `POST /saml/sp/acs`: a reseller IdP's Response, answering our AuthnRequest (its reseller is
//! the one we asked) or unsolicited (the reseller is the registration of its Issuer, and it
//! must allow IdP-initiated logins). Verified off the async threads; our request spent only
//! then, and only from the browser that started it ([`super::pending`]); its assertion id
//! claimed once for every gateway; then the tier check and a session.

use super::login::vendor_login_link;
use super::pending::{self, Outstanding};
use super::{MAX_BODY, Sso, browser, store_down};
use crate::rejection::Rejection;
use crate::web::form::Form;
use http::Response;
use pingora::http::RequestHeader;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use tiergate_broker::saml::idp::Incoming;
use tiergate_broker::saml::sp::{self, Expect, Refusal};

impl Sso {
    /// Refuses a sign-in. The reason goes to the audit log; the browser gets a reference to
    /// it, not the reason (which can name customers and other resellers).
    pub(super) async fn refuse(&self, reseller: Option<&str>, why: &str) -> Rejection {
        self.refuse_user(reseller, why, None).await
    }

    /// Refuses a sign-in of a known platform user: its id is recorded as a field of its own,
    /// so audit output masks it in the reason too ([`crate::audit::mask`]).
    pub(super) async fn refuse_user(
        &self,
        reseller: Option<&str>,
        why: &str,
        x_user_id: Option<&str>,
    ) -> Rejection {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        self.record(
            "sign_in",
            "refused",
            reseller,
            json!({"reason": why, "reference": reference, "x_user_id": x_user_id}),
        )
        .await;
        Rejection::SignInRefused { reference }
    }

    /// Refuses a sign-in post that is not even a SAML Response (empty, unreadable, not
    /// decodable): logged with its reference and counted into a summary record, never written
    /// one by one ([`crate::audit::tally`]). A readable Response that is refused is recorded
    /// with its reason (its rate is bounded by the address's failure budget, [`crate::guard`]).
    fn refuse_unverified(&self, why: &str) -> Rejection {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        self.count_unverified("sign_in", "TG.7002", why, Some(&reference));
        Rejection::SignInRefused { reference }
    }

    /// Spends our request `id`, answered by a verified Response, if `req` comes from the
    /// browser that started it; answers the `Set-Cookie` that clears the request's cookie.
    async fn spend_request(
        &self,
        req: &RequestHeader,
        id: &str,
        o: &Outstanding,
    ) -> Result<String, Rejection> {
        if !pending::same_browser(req, id, o) {
            let why = "the Response came from another browser than the one that asked for it";
            return Err(self.refuse(Some(&o.reseller), why).await);
        }
        // Taken: a request is answered once, and a concurrent post loses here.
        match self.saml.once.take("request", id).await {
            Ok(Some(_)) => Ok(pending::spent(id, self.saml.secure)),
            Ok(None) => {
                let why = Refusal::InResponseTo.to_string();
                Err(self.refuse(Some(&o.reseller), &why).await)
            }
            Err(e) => Err(store_down(&e)),
        }
    }

    /// `POST /saml/sp/acs`.
    pub(super) async fn acs(
        &self,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let form = match crate::web::body::read(session, MAX_BODY).await {
            Ok(b) => Form::parse(&b),
            Err(e) => return Err(self.refuse_unverified(&e.to_string())),
        };
        let form_value = form.get("SAMLResponse").unwrap_or_default();
        let relay = form.string("RelayState").filter(|r| !r.is_empty());
        let (xml, claimed) = match sp::decode(form_value) {
            Ok(x) => x,
            Err(e) => return Err(self.refuse_unverified(&e.to_string())),
        };
        // Read, not taken yet: a Response that does not verify, or comes from another browser,
        // must not spend the request its rightful browser is still answering.
        let outstanding = match &claimed.in_response_to {
            Some(id) => match self.saml.once.get("request", id).await {
                Ok(v) => v.and_then(|v| serde_json::from_str::<Outstanding>(&v).ok()),
                Err(e) => return Err(store_down(&e)),
            },
            None => None,
        };
        let reseller = match (&claimed.in_response_to, &outstanding) {
            (Some(_), Some(o)) => o.reseller.clone(),
            (Some(_), None) => {
                return Err(self.refuse(None, &Refusal::InResponseTo.to_string()).await);
            }
            (None, _) => match self
                .saml
                .resellers
                .iter()
                .find(|r| Some(r.idp.entity_id()) == claimed.issuer.as_deref())
            {
                Some(r) => r.idp.reseller.clone(),
                None => return Err(self.refuse(None, "unknown Issuer").await),
            },
        };
        let Some(reg) = self.registration(&reseller) else {
            let why = "reseller IdP no longer registered";
            return Err(self.refuse(Some(&reseller), why).await);
        };
        let claimed_request = claimed.in_response_to.clone();
        let (sp, idp, expect) = (
            self.saml.sp.clone(),
            reg.idp.clone(),
            claimed_request.clone(),
        );
        let verified = tokio::task::spawn_blocking(move || {
            let expect = expect
                .as_deref()
                .map_or(Expect::Unsolicited, Expect::Request);
            sp::verify(&xml, &claimed, &sp, &idp, expect)
        })
        .await;
        let login = match verified {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Err(self.refuse(Some(&reseller), &e.to_string()).await),
            Err(_) => return Err(self.refuse(Some(&reseller), "verification failed").await),
        };
        let mut cookies = Vec::new();
        if let (Some(id), Some(o)) = (&claimed_request, &outstanding) {
            cookies.push(self.spend_request(session.req_header(), id, o).await?);
        }
        match self
            .saml
            .once
            .claim("assertion", &login.assertion_id, login.expires)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let why = Refusal::Replayed.to_string();
                return Err(self.refuse(Some(&reseller), &why).await);
            }
            Err(e) => return Err(store_down(&e)),
        }
        // A reseller's RelayState (IdP-initiated) goes only to an allowlisted destination.
        let target = match (&outstanding, &relay) {
            (None, Some(r)) => match self.saml.targets.check(r) {
                Ok(u) => Some(u.to_string()),
                Err(e) => return Err(self.refuse(Some(&reseller), &e.to_string()).await),
            },
            _ => None,
        };
        let a = self.tier_check(&reseller, &login.name_id).await?;
        let cookie = self
            .open_session(&reseller, &login.name_id, login.attributes.clone(), &a)
            .await?;
        cookies.push(cookie);
        self.record(
            "sign_in",
            "ok",
            Some(&reseller),
            json!({"x_user_id": a.x_user_id, "customer_id": a.customer_id,
                   "first_login": a.first_login, "assertion": login.assertion_id,
                   "idp_initiated": outstanding.is_none()}),
        )
        .await;
        match outstanding {
            Some(o) => {
                let incoming = o.vendor_request.map(|id| Incoming {
                    id,
                    relay_state: o.vendor_relay.clone(),
                });
                self.to_vendor(&a, incoming.as_ref(), o.vendor_relay.as_deref(), &cookies)
            }
            // IdP-initiated: the vendor's own login starts from here (first-login binding when
            // the user is not bound yet) and comes back to a signed-in browser.
            None => match &self.saml.vendor_login_url {
                Some(url) => {
                    let service = target.as_deref().unwrap_or_default();
                    let link =
                        vendor_login_link(url, &self.saml.x_account_type, a.first_login, service);
                    Ok(browser::found(link, &cookies))
                }
                None => self.to_vendor(&a, None, target.as_deref(), &cookies),
            },
        }
    }
}
