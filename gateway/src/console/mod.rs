//! The console, under `/console/` on the admin listener: a person signs in with a Tiergate
//! credential of their own (an auditor, the distributor's platform team, a cloud reseller or
//! its staff), never the distributor's vendor key, and sees and changes what the admin API
//! would let that credential see and change ([`tiergate_policy::admin`]), computed by the
//! same reads ([`crate::reads`]).
//!
//! Server-rendered HTML (`maud`), one embedded style sheet and one small script that only
//! shows times in the viewer's zone: every page works with the keyboard, without script and
//! without colour, and every view is a URL. Sessions and CSRF in [`session`]; sign-in in
//! [`sign_in`]; one module per page.

pub mod audit;
pub mod credentials;
pub mod delegations;
pub mod federation;
pub mod layout;
pub mod money;
pub mod overview;
pub mod session;
pub mod sign_in;
pub mod tls;

use crate::admin::delegations::DelegationApi;
use crate::answer::Listener;
use crate::audit::Audit;
use crate::credentials::{Credential, Credentials};
use crate::guard::Guard;
use crate::web::form::Form;
use http::{Response, StatusCode};
use layout::Frame;
use maud::Markup;
use pingora::protocols::http::ServerSession;
use session::{COOKIE, Session, Sessions};
use std::sync::Arc;
use std::time::Duration;
use tiergate_certs::TlsPolicy;
use tiergate_policy::admin::{self, Area};

/// The console.
pub struct Console {
    /// Live sessions.
    pub sessions: Sessions,
    /// Credential lookups.
    pub credentials: Arc<Credentials>,
    /// The audit log.
    pub audit: Audit,
    /// What failed sign-ins may cost an address.
    pub guard: Arc<Guard>,
    /// Default search window.
    pub retention: Duration,
    /// Whether the admin listener serves TLS (cookies are then Secure).
    pub secure: bool,
    /// What the overview reads.
    pub overview: crate::reads::overview::Sources,
    /// The TLS policy in force.
    pub tls: TlsPolicy,
    /// The registered reseller IdPs (none: no `[sso]`).
    pub idps: Option<Vec<crate::reads::federation::Idp>>,
}

/// What the admin listener sends: a whole answer, or an export written while it is read
/// ([`crate::admin::stream`]).
pub enum Answer {
    /// An answer ready in full.
    Whole(Response<Vec<u8>>),
    /// Audit records to stream.
    Export(Box<crate::audit::export::Export>),
}

/// A signed-in person making a request.
pub struct Signed {
    /// The session's id.
    pub id: String,
    /// The session.
    pub session: Session,
    /// Their credential, as it is now.
    pub credential: Arc<Credential>,
    /// The pages they may open.
    pub pages: Vec<&'static str>,
}

impl Signed {
    /// The frame of their pages.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            who: &self.session.name,
            csrf: &self.session.csrf,
            pages: &self.pages,
        }
    }
}

/// The area each page shows.
fn area_of(path: &str) -> Option<Area> {
    Some(match path {
        "/console/overview" => Area::Overview,
        "/console/audit" | "/console/money" => Area::Audit,
        "/console/delegations" => Area::Delegations,
        "/console/credentials" => Area::Credentials,
        "/console/tls" => Area::Tls,
        "/console/federation" => Area::Federation,
        _ => return None,
    })
}

/// A page or a redirect, with the headers every console answer carries.
pub fn page(status: StatusCode, body: Markup, cookies: &[String]) -> Response<Vec<u8>> {
    let mut headers: Vec<(&str, String)> = vec![
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
                .into(),
        ),
        ("cache-control", "no-store".into()),
        ("referrer-policy", "no-referrer".into()),
        ("x-content-type-options", "nosniff".into()),
        ("x-frame-options", "DENY".into()),
    ];
    headers.extend(cookies.iter().map(|c| ("set-cookie", c.clone())));
    crate::answer::reply(
        Listener::Admin,
        status,
        "text/html; charset=utf-8",
        body.into_string().into_bytes(),
        &headers,
    )
}

/// A redirect (303: the browser follows with GET).
pub fn redirect(to: &str, cookies: &[String]) -> Response<Vec<u8>> {
    let mut r = page(
        StatusCode::SEE_OTHER,
        maud::html! { a href=(to) { (to) } },
        cookies,
    );
    if let Ok(v) = http::HeaderValue::from_str(to) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// A refusal as a page, its status and words from the refusal itself.
pub fn refusal(title: &str, r: &crate::rejection::Rejection) -> Response<Vec<u8>> {
    let a = r.answer();
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_REQUEST);
    page(
        status,
        layout::refused(title, &format!("{} ({})", r, a.code)),
        &[],
    )
}

fn asset(content_type: &str, body: &'static str) -> Response<Vec<u8>> {
    crate::answer::reply(
        Listener::Admin,
        StatusCode::OK,
        content_type,
        body.as_bytes().to_vec(),
        &[
            ("cache-control", "max-age=3600".into()),
            ("x-content-type-options", "nosniff".into()),
        ],
    )
}

impl Console {
    /// Answers a request under `/console/`: a page, or an export to stream.
    pub async fn serve(&self, session: &mut ServerSession, delegations: &DelegationApi) -> Answer {
        let req = session.req_header();
        if req.method == http::Method::GET && req.uri.path() == "/console/audit/export" {
            let q = Form::parse(req.uri.query().unwrap_or("").as_bytes());
            let Some(me) = self.signed_in(session).await else {
                return Answer::Whole(redirect("/console/", &[]));
            };
            return audit::export(self, &me, &q);
        }
        Answer::Whole(self.page(session, delegations).await)
    }

    async fn page(
        &self,
        session: &mut ServerSession,
        delegations: &DelegationApi,
    ) -> Response<Vec<u8>> {
        let method = session.req_header().method.as_str().to_owned();
        let path = session.req_header().uri.path().to_owned();
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        match (method.as_str(), path.as_str()) {
            ("GET", "/console/style.css") => {
                return asset("text/css; charset=utf-8", layout::STYLE);
            }
            ("GET", "/console/local.js") => {
                return asset("text/javascript; charset=utf-8", layout::SCRIPT);
            }
            ("POST", "/console/sign-in") => return sign_in::sign_in(self, session).await,
            ("GET", "/console" | "/console/") => {
                return match self.signed_in(session).await {
                    Some(me) => {
                        redirect(me.pages.first().copied().unwrap_or("/console/audit"), &[])
                    }
                    None => sign_in::form(self, sign_in::held(session), None),
                };
            }
            _ => {}
        }
        if method == "POST" {
            let Some((me, form)) = self.changing(session).await else {
                return self.forbidden();
            };
            return match path.as_str() {
                "/console/sign-out" => sign_in::sign_out(self, &me),
                "/console/audit/verify" => audit::verify(self, &me, &q).await,
                "/console/credentials/issue" => credentials::issue(self, &me, &form, session).await,
                "/console/credentials/revoke" => {
                    credentials::revoke(self, &me, &form, session).await
                }
                "/console/delegations/change" => {
                    delegations::change(self, delegations, &me, &form, session).await
                }
                _ => self.not_found(),
            };
        }
        if method != "GET" {
            return self.not_found();
        }
        let Some(me) = self.signed_in(session).await else {
            return redirect("/console/", &[]);
        };
        if let Some(area) = area_of(&path)
            && let Err(d) = admin::reads(&me.credential.principal, area)
        {
            return refusal("Not yours to see", &d.into());
        }
        match path.as_str() {
            "/console/overview" => overview::show(self, &me, &q).await,
            "/console/audit" => audit::search(self, &me, &q, None).await,
            "/console/audit/record" => audit::record(self, &me, &q).await,
            "/console/money" => money::show(self, &me, &q).await,
            "/console/credentials" => credentials::show(self, &me, &q, None).await,
            "/console/delegations" => delegations::show(self, delegations, &me, &q, None).await,
            "/console/tls" => tls::show(self, &me, &q),
            "/console/federation" => federation::show(self, &me, &q).await,
            _ => self.not_found(),
        }
    }

    fn not_found(&self) -> Response<Vec<u8>> {
        page(
            StatusCode::NOT_FOUND,
            layout::refused("Not found", "There is no such console page."),
            &[],
        )
    }

    fn forbidden(&self) -> Response<Vec<u8>> {
        page(
            StatusCode::FORBIDDEN,
            layout::refused(
                "Refused",
                "Not signed in, or the form's token is missing or wrong: sign in again.",
            ),
            &[],
        )
    }

    /// The running gateway's TLS report (its policy and the certificates it serves now).
    pub fn tls_report(&self) -> crate::reads::tls::Report {
        let served = self
            .overview
            .certs
            .as_ref()
            .map(|s| s.current())
            .unwrap_or_default();
        let certs: Vec<_> = served.iter().map(|x| &**x).collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        crate::reads::tls::report(&self.tls, &certs, now)
    }

    /// The console cannot answer now.
    pub fn unavailable(&self) -> Response<Vec<u8>> {
        page(
            StatusCode::SERVICE_UNAVAILABLE,
            layout::refused("Unavailable", "The console cannot answer now."),
            &[],
        )
    }

    /// The live session the request's cookie names, while its credential is still active and
    /// still says the same (a revoked credential ends its sessions, as it ends its tokens).
    async fn signed_in(&self, session: &ServerSession) -> Option<Signed> {
        let header = session
            .req_header()
            .headers
            .get(http::header::COOKIE)
            .and_then(|v| v.to_str().ok());
        let id = session::cookie(header, COOKIE)?.to_owned();
        let s = self.sessions.get(&id)?;
        match self.credentials.lookup(&s.access_key).await {
            Ok(Some(c)) if *c.principal == *s.principal => {
                let pages = layout::PAGES
                    .iter()
                    .map(|(p, _)| *p)
                    .filter(|p| area_of(p).is_some_and(|a| admin::reads(&c.principal, a).is_ok()))
                    .collect();
                Some(Signed {
                    id,
                    session: s,
                    credential: c,
                    pages,
                })
            }
            _ => {
                self.sessions.end(&id);
                None
            }
        }
    }

    /// A signed-in change: the session and a matching CSRF token in the form.
    async fn changing(&self, session: &mut ServerSession) -> Option<(Signed, Form)> {
        let me = self.signed_in(session).await?;
        let body = crate::web::body::read(session, 16 * 1024).await.ok()?;
        let form = Form::parse(&body);
        session::same(form.get("csrf")?, &me.session.csrf).then_some((me, form))
    }
}
