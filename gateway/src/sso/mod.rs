//! The identity broker's browser-facing listener (`[sso]`), mounting `tiergate_broker`:
//!
//! - `GET /saml/idp/metadata`: Tiergate's IdP metadata, for the vendor.
//! - `GET /saml/sp/metadata`: Tiergate's SP metadata, for every reseller IdP.
//! - `GET /saml/login?idp=R&service=URL`: the login link reseller platforms publish (the IdP
//!   choice remembered, the vendor's login started).
//! - `GET /saml/idp/sso`: the vendor's AuthnRequest (Redirect binding). The reseller IdP is
//!   chosen by the `idp` hint, else the remembered choice (cookie), else a discovery page; the
//!   browser goes there with our signed AuthnRequest, tied to it by a cookie. Answered once.
//! - `POST /saml/sp/acs`: a reseller IdP's Response (POST binding), SP- or IdP-initiated; on
//!   success a browser session and a signed Response posted on to the vendor's ACS. A Response
//!   to our request counts only from the browser that started it.
//! - `POST /saml/notify`: the vendor's bind notifications (fresh, used once), recorded and
//!   forwarded.
//! - `GET /session/whoami`: the signed-in identity.
//!
//! Every sign-in, refusal (with its reason) and binding is audited.

mod acs;
mod browser;
mod client;
mod login;
mod notify;
mod pending;
mod session;

use crate::answer::{self, Listener};
use crate::audit::Audit;
use crate::chain::record::{Entry, Kind};
use crate::graph::LiveGraph;
use crate::rejection::Rejection;
use crate::store::Store;
use async_trait::async_trait;
use http::Response;
use openssl::pkey::{PKey, Private};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::net::SocketAddr;
use std::sync::Arc;
use tiergate_broker::saml::idp::{Idp, VendorSp};
use tiergate_broker::saml::replay::OneTime;
use tiergate_broker::saml::sp::{ResellerIdp, Sp};
use tiergate_broker::target::Allowlist;
use tiergate_config::sso::SsoSettings;

/// A registered reseller IdP and where its bind notifications go.
pub struct Registration {
    /// The IdP.
    pub idp: ResellerIdp,
    /// The reseller platform's notification URL.
    pub notify_url: Option<String>,
}

/// The most the sign-in listener reads of a request body: a Response's form value may be up to
/// the broker's cap ([`tiergate_broker::saml::sp::MAX_RESPONSE`]), URL-encoded.
const MAX_BODY: usize = tiergate_broker::saml::sp::MAX_RESPONSE + 64 * 1024;

/// The SAML side of the broker, built from `[sso]` alone (so its problems are found before
/// the gateway's storage is opened).
pub struct Broker {
    idp: Idp,
    key: PKey<Private>,
    vendor: VendorSp,
    sp: Sp,
    resellers: Vec<Registration>,
    targets: Allowlist,
    once: OneTime,
    x_account_type: String,
    vendor_login_url: Option<String>,
    session_ttl: std::time::Duration,
    secure: bool,
}

/// The broker as the listener serves it.
pub struct Sso {
    saml: Broker,
    parts: Parts,
}

/// What the broker shares with the rest of the gateway.
pub struct Parts {
    /// What unauthenticated callers may cost.
    pub guard: Arc<crate::guard::Guard>,
    /// Storage (the binding table).
    pub store: Store,
    /// The relationship graph (which reseller a customer belongs to).
    pub graph: Arc<LiveGraph>,
    /// The audit log.
    pub audit: Audit,
    /// The distributor's partner id.
    pub distributor: String,
}

impl Broker {
    /// The registered reseller IdPs, as the federation page shows them.
    pub fn federation(&self) -> Vec<crate::reads::federation::Idp> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.resellers
            .iter()
            .map(|r| crate::reads::federation::Idp {
                reseller: r.idp.reseller.clone(),
                entity_id: r.idp.entity_id().to_owned(),
                sso_url: r.idp.sso_url(),
                idp_initiated: r.idp.idp_initiated,
                notify_url: r.notify_url.clone(),
                certificates: r
                    .idp
                    .signing_certificates_pinned()
                    .into_iter()
                    .map(|c| crate::reads::federation::Pinned {
                        sha256: c.sha256,
                        subject: c.subject,
                        not_after: c.not_after.map(crate::reads::rfc3339).unwrap_or_default(),
                        days_left: c.not_after.map(|t| (t - now) / 86_400),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Builds the broker from `[sso]`, its listener bound at `bound` (with TLS or not); errors
    /// name the setting.
    pub async fn build(s: &SsoSettings, bound: SocketAddr, tls: bool) -> Result<Self, String> {
        let scheme = if tls { "https" } else { "http" };
        let public = s
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}"));
        let idp = Idp::new(
            &format!("{public}/saml/idp/metadata"),
            &format!("{public}/saml/idp/sso"),
            s.idp_key.expose().as_bytes(),
            s.idp_cert.as_bytes(),
        )
        .map_err(|e| format!("sso.idp_key / sso.idp_cert: {e}"))?;
        let key = idp.signing_key().map_err(|e| format!("sso.idp_key: {e}"))?;
        let vendor = VendorSp::from_metadata(&s.vendor_metadata)
            .map_err(|e| format!("sso.vendor_metadata: {e}"))?;
        let mut resellers = Vec::new();
        for (i, r) in s.resellers.iter().enumerate() {
            let at = |f: &str| format!("sso.resellers[{i}].{f}");
            let xml = match &r.metadata_url {
                Some(url) => fetch_metadata(url)
                    .await
                    .map_err(|e| format!("{}: {url}: {e}", at("metadata_url")))?,
                None => r.metadata.clone(),
            };
            let idp = ResellerIdp::from_metadata(&r.reseller, &xml, r.idp_initiated)
                .map_err(|e| format!("{}: {e}", at("metadata")))?;
            if !r.cert_sha256.is_empty()
                && let Some(fp) = idp
                    .signing_fingerprints()
                    .into_iter()
                    .find(|fp| !r.cert_sha256.contains(fp))
            {
                return Err(format!(
                    "{}: the metadata's signing certificate {fp} is not pinned",
                    at("cert_sha256")
                ));
            }
            resellers.push(Registration {
                idp,
                notify_url: r.notify_url.clone(),
            });
        }
        let targets =
            Allowlist::new(&s.allowed_targets).map_err(|e| format!("sso.allowed_targets: {e}"))?;
        let once = match &s.redis {
            Some(url) => OneTime::redis(url, "tiergate:sso:")
                .await
                .map_err(|e| format!("sso.redis: {e}"))?,
            None => OneTime::memory(),
        };
        Ok(Self {
            sp: Sp {
                entity_id: format!("{public}/saml/sp/metadata"),
                acs_url: format!("{public}/saml/sp/acs"),
            },
            secure: public.starts_with("https://"),
            idp,
            key,
            vendor,
            resellers,
            targets,
            once,
            x_account_type: s.x_account_type.clone(),
            vendor_login_url: s.vendor_login_url.clone(),
            session_ttl: s.session_ttl,
        })
    }

    /// The broker serving, with what it shares with the gateway.
    pub fn serve(self, parts: Parts) -> Sso {
        Sso { saml: self, parts }
    }
}

impl Sso {
    fn registration(&self, reseller: &str) -> Option<&Registration> {
        self.saml
            .resellers
            .iter()
            .find(|r| r.idp.reseller == reseller)
    }

    /// Counts a refusal of something that did not verify or was used already (a sign-in post
    /// that is not a SAML Response, a vendor request, a bind notification) into a summary
    /// record ([`crate::audit::tally`]) instead of a record of its own, and logs it with
    /// `reference` (what the browser was shown), if any.
    fn count_unverified(&self, operation: &str, code: &str, why: &str, reference: Option<&str>) {
        tracing::info!(
            operation,
            reference,
            reason = why,
            "sign-in listener: refused unverified or used input"
        );
        let key = crate::audit::tally::Key {
            operation: operation.to_owned(),
            principal: None,
            code: code.to_owned(),
            reason: why.to_owned(),
        };
        self.parts.audit.count(key, reference.map(str::to_owned));
    }

    /// Writes an identity record; a failure is logged (the browser's answer does not wait on it
    /// being readable, but it is never silent).
    async fn record(
        &self,
        operation: &str,
        outcome: &str,
        who: Option<&str>,
        detail: serde_json::Value,
    ) {
        let entry = Entry {
            kind: Some(Kind::Identity),
            operation: Some(operation.to_owned()),
            principal: who.map(str::to_owned),
            tier: who.map(|_| "cloud_reseller".to_owned()),
            outcome: Some(outcome.to_owned()),
            detail,
            ..Entry::default()
        };
        if let (Some(m), "sign_in") = (self.parts.audit.metrics(), operation) {
            m.sign_ins.counted("saml", outcome == "ok");
        }
        if let Err(e) = self.parts.audit.append(entry).await {
            tracing::error!(error = %e, operation, "could not audit an identity event");
        }
    }
}

/// A message of the sign-in chain that must be used once (the vendor's AuthnRequest, a bind
/// notification), as the single-use store knows it.
struct OnceOnly<'a> {
    /// Its space in the store, also the operation it is counted under when refused.
    operation: &'static str,
    /// Its id in that space.
    id: &'a str,
    /// Until when a second arrival could still be accepted (and must be refused).
    until: chrono::DateTime<chrono::Utc>,
    /// What it is, for the browser.
    what: &'static str,
}

impl Sso {
    /// Marks `m` used for every gateway. A second arrival is refused and counted, not
    /// recorded one by one: a captured message can be sent as often as its holder likes.
    async fn use_once(&self, m: OnceOnly<'_>) -> Result<(), Rejection> {
        match self.saml.once.claim(m.operation, m.id, m.until).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                let why = format!("{} already used", m.what);
                self.count_unverified(m.operation, "TG.7008", &why, None);
                Err(Rejection::AlreadyUsed(m.what))
            }
            Err(e) => Err(store_down(&e)),
        }
    }
}

/// The single-use store (vendor requests, outstanding requests, assertion ids, notifications)
/// did not answer: logged, and the browser refused.
fn store_down(e: &str) -> Rejection {
    tracing::error!(error = %e, "single-use store");
    Rejection::SignInStoreUnavailable("sign-in store")
}

/// The largest metadata document fetched.
const MAX_METADATA: usize = 1024 * 1024;

/// A reseller IdP's metadata from its URL (at start; its keys are pinned from then on).
async fn fetch_metadata(url: &str) -> Result<String, String> {
    let (status, body) = client::request("GET", url, None, Vec::new(), MAX_METADATA).await?;
    if status != 200 {
        return Err(format!("status {status}"));
    }
    String::from_utf8(body).map_err(|_| "not UTF-8".to_owned())
}

/// The listener's app.
pub struct SsoApp(pub Arc<Sso>);

impl SsoApp {
    async fn route(&self, session: &mut ServerSession) -> Result<Response<Vec<u8>>, Rejection> {
        let sso = &self.0;
        let xml = "application/samlmetadata+xml";
        let method = session.req_header().method.as_str().to_owned();
        let path = session.req_header().uri.path().to_owned();
        match (method.as_str(), path.as_str()) {
            ("GET", "/saml/idp/metadata") => {
                let md = sso.saml.idp.metadata();
                Ok(browser::page(xml, md.into_bytes(), &[]))
            }
            ("GET", "/saml/sp/metadata") => {
                let md = sso.saml.sp.metadata(sso.saml.idp.cert_b64());
                Ok(browser::page(xml, md.into_bytes(), &[]))
            }
            ("GET", "/saml/login") => sso.login_link(session),
            ("GET", "/saml/idp/sso") => sso.vendor_login(session).await,
            ("POST", "/saml/sp/acs") => sso.acs(session).await,
            ("POST", "/saml/notify") => sso.notify(session).await,
            ("GET", "/session/whoami") => sso.whoami(session).await,
            _ => Err(Rejection::NoSuchEndpoint { method, path }),
        }
    }
}

/// The sign-in listener's refusals charged to the source address: what a browser that
/// follows the flow never meets (a post that does not verify, a forged link, junk).
fn charged(r: &Rejection) -> Option<&'static str> {
    Some(match r {
        Rejection::SamlRefused(_) => "saml_refused",
        Rejection::SignInRefused { .. } => "sign_in_refused",
        Rejection::AlreadyUsed(_) => "already_used",
        Rejection::LoginLinkRefused(_) => "login_link_refused",
        Rejection::NoSuchEndpoint { .. } => "no_such_endpoint",
        Rejection::BodyTooLarge { .. } | Rejection::InvalidBody(_) => "invalid_body",
        _ => return None,
    })
}

#[async_trait]
impl ServeHttp for SsoApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let door = crate::guard::Door {
            guard: &self.0.parts.guard,
            addr: crate::guard::ip(session.client_addr()),
            on: Listener::SignIn,
        };
        // An address out of budget gets no sign-in work at all (XML, signatures, audit).
        let answered = match door.open() {
            Ok(()) => self.route(session).await,
            Err(r) => Err(r),
        };
        if let Err(reason) = answered.as_ref().map_err(charged)
            && let Some(reason) = reason
        {
            door.failed(reason);
            crate::guard::behind_the_rest().await;
        }
        answer::app(Listener::SignIn, answered)
    }
}
