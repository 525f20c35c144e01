//! The security team's console, under `/console/` on the admin listener: a person signs in
//! with a Tiergate credential of their own (auditors, for now), never the distributor's vendor
//! key, and searches, pages through, exports and verifies the audit log. Sessions and CSRF in
//! [`session`]; the pages in [`pages`]. Sign-ins and their refusals are audited.

pub mod pages;
pub mod session;

use crate::answer::Listener;
use crate::audit::Audit;
use crate::audit::export::{Format, download, export};
use crate::audit::mask::UNMASKED_ROLE;
use crate::audit::read::{Query, matching, records};
use crate::chain::record::{Entry, Kind};
use crate::credentials::Credentials;
use crate::guard::Guard;
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::Markup;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use session::{COOKIE, FORM_COOKIE, Session, Sessions};
use std::sync::Arc;
use std::time::Duration;
use tiergate_policy::Tier;

/// The filters a search was given (name, value).
type Given = Vec<(&'static str, String)>;

/// Records on one page.
const PAGE: i64 = 50;

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
}

/// A page or a redirect, with the headers every console answer carries.
fn page(status: StatusCode, body: Markup, cookies: &[String]) -> Response<Vec<u8>> {
    let mut headers: Vec<(&str, String)> = vec![
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"
                .into(),
        ),
        ("cache-control", "no-store".into()),
        ("referrer-policy", "no-referrer".into()),
        ("x-content-type-options", "nosniff".into()),
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

fn redirect(to: &str, cookies: &[String]) -> Response<Vec<u8>> {
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

impl Console {
    /// Answers a request under `/console/`.
    pub async fn serve(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let method = session.req_header().method.as_str().to_owned();
        let path = session.req_header().uri.path().to_owned();
        match (method.as_str(), path.as_str()) {
            ("GET", "/console/style.css") => crate::answer::reply(
                Listener::Admin,
                StatusCode::OK,
                "text/css; charset=utf-8",
                pages::STYLE.as_bytes().to_vec(),
                &[("cache-control", "max-age=3600".into())],
            ),
            ("GET", "/console" | "/console/") => match self.signed_in(session).await {
                Some(_) => redirect("/console/audit", &[]),
                None => self.sign_in_form(None),
            },
            ("POST", "/console/sign-in") => self.sign_in(session).await,
            ("POST", "/console/sign-out") => match self.changing(session).await {
                Some((id, _, _)) => {
                    self.sessions.end(&id);
                    let clear = session::set_cookie(COOKIE, "", self.secure, Duration::ZERO);
                    redirect("/console/", &[clear])
                }
                None => self.forbidden(),
            },
            ("GET", "/console/audit") => match self.signed_in(session).await {
                Some((_, s)) => self.audit_page(session, &s, None).await,
                None => redirect("/console/", &[]),
            },
            ("POST", "/console/audit/verify") => match self.changing(session).await {
                Some((_, s, _)) => {
                    let verified = match self.audit.verify().await {
                        Ok(r) if r.intact() => (true, format!("{} records", r.records)),
                        Ok(r) => (
                            false,
                            r.broken
                                .first()
                                .map(|b| format!("first broken record {}: {}", b.seq, b.what))
                                .unwrap_or_default(),
                        ),
                        Err(e) => (false, format!("could not verify: {e}")),
                    };
                    self.audit_page(session, &s, Some(verified)).await
                }
                None => self.forbidden(),
            },
            ("GET", "/console/credentials") => match self.signed_in(session).await {
                Some((_, s)) => self.credentials_page(&s).await,
                None => redirect("/console/", &[]),
            },
            ("GET", "/console/audit/export") => match self.signed_in(session).await {
                Some((_, s)) => self.export(session, &s).await,
                None => redirect("/console/", &[]),
            },
            _ => page(
                StatusCode::NOT_FOUND,
                pages::refused("Not found", "There is no such console page."),
                &[],
            ),
        }
    }

    fn sign_in_form(&self, error: Option<&str>) -> Response<Vec<u8>> {
        let Ok(token) = session::token() else {
            return self.unavailable();
        };
        let cookie = session::set_cookie(FORM_COOKIE, &token, self.secure, session::IDLE);
        let status = if error.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        page(status, pages::sign_in(&token, error), &[cookie])
    }

    fn forbidden(&self) -> Response<Vec<u8>> {
        page(
            StatusCode::FORBIDDEN,
            pages::refused(
                "Refused",
                "Not signed in, or the form's token is missing or wrong: sign in again.",
            ),
            &[],
        )
    }

    fn unavailable(&self) -> Response<Vec<u8>> {
        page(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::refused("Unavailable", "The console cannot answer now."),
            &[],
        )
    }

    /// The live session the request's cookie names, while its credential is still active and
    /// still says the same (a revoked credential ends its sessions, as it ends its tokens).
    async fn signed_in(&self, session: &ServerSession) -> Option<(String, Session)> {
        let header = session
            .req_header()
            .headers
            .get(http::header::COOKIE)
            .and_then(|v| v.to_str().ok());
        let id = session::cookie(header, COOKIE)?.to_owned();
        let s = self.sessions.get(&id)?;
        match self.credentials.lookup(&s.access_key).await {
            Ok(Some(c)) if *c.principal == *s.principal => Some((id, s)),
            _ => {
                self.sessions.end(&id);
                None
            }
        }
    }

    /// A signed-in change: the session and a matching CSRF token in the form.
    async fn changing(&self, session: &mut ServerSession) -> Option<(String, Session, Form)> {
        let (id, s) = self.signed_in(session).await?;
        let body = crate::web::body::read(session, 16 * 1024).await.ok()?;
        let form = Form::parse(&body);
        session::same(form.get("csrf")?, &s.csrf).then_some((id, s, form))
    }

    async fn sign_in(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let door = crate::guard::door(&self.guard, session, Listener::Admin);
        if door.open().is_err() {
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                pages::refused(
                    "Refused",
                    "Too many failed sign-ins from this address: try later.",
                ),
                &[],
            );
        }
        let form_cookie = session
            .req_header()
            .headers
            .get(http::header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| session::cookie(Some(h), FORM_COOKIE))
            .map(str::to_owned);
        let source = session.client_addr().map(ToString::to_string);
        let Ok(body) = crate::web::body::read(session, 16 * 1024).await else {
            return self.sign_in_form(Some("The form could not be read."));
        };
        let form = Form::parse(&body);
        let same_form = match (form.get("form"), form_cookie.as_deref()) {
            (Some(a), Some(b)) => session::same(a, b),
            _ => false,
        };
        if !same_form {
            return self.forbidden();
        }
        let ak = form.get("access_key").unwrap_or("").trim().to_owned();
        let sk = form.get("secret_key").unwrap_or("");
        let found = self.credentials.lookup(&ak).await.ok().flatten();
        let good = found
            .as_ref()
            .is_some_and(|c| session::same(sk, &String::from_utf8_lossy(c.secret.expose())));
        let refuse = |why: &'static str| (why, found.as_ref().map(|c| c.principal.tier));
        let outcome = match &found {
            _ if !good => Err(refuse("unknown access key or wrong secret key")),
            Some(c) if c.principal.tier != Tier::Auditor => Err(refuse(
                "this console serves auditors' credentials only, for now",
            )),
            Some(c) => Ok(c.clone()),
            None => Err(refuse("unknown access key or wrong secret key")),
        };
        let entry = |outcome: &str, tier: Option<Tier>, why: Option<&str>| Entry {
            kind: Some(Kind::Access),
            principal: Some(ak.clone()),
            tier: tier.map(|t| t.as_str().to_owned()),
            operation: Some("console_sign_in".into()),
            outcome: Some(outcome.into()),
            detail: json!({"source": source, "why": why}),
            ..Entry::default()
        };
        match outcome {
            Err((why, tier)) => {
                door.failed("console_sign_in");
                if let Err(e) = self.audit.append(entry("refused", tier, Some(why))).await {
                    tracing::error!(error = %e, "could not audit a refused console sign-in");
                }
                self.sign_in_form(Some(why))
            }
            Ok(c) => {
                if let Err(e) = self
                    .audit
                    .append(entry("signed_in", Some(c.principal.tier), None))
                    .await
                {
                    tracing::error!(error = %e, "could not audit a console sign-in: refused");
                    return self.unavailable();
                }
                let name = c.label.clone().unwrap_or_else(|| c.access_key.clone());
                let Ok(id) = self
                    .sessions
                    .start(c.principal.clone(), c.access_key.clone(), name)
                else {
                    return self.unavailable();
                };
                let cookie = session::set_cookie(COOKIE, &id, self.secure, session::ABSOLUTE);
                let clear = session::set_cookie(FORM_COOKIE, "", self.secure, Duration::ZERO);
                redirect("/console/audit", &[cookie, clear])
            }
        }
    }

    /// The search the query string asks for, and its filters as given.
    fn search(&self, q: &Form) -> (Query, Given) {
        let given: Given = pages::FILTERS
            .iter()
            .filter_map(|n| q.string(n).filter(|v| !v.is_empty()).map(|v| (*n, v)))
            .collect();
        let get = |n: &str| given.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        let query = Query {
            from: get("from"),
            until: get("until"),
            matching: matching(get),
            offset: 0,
            limit: PAGE,
        };
        (query, given)
    }

    async fn audit_page(
        &self,
        session: &ServerSession,
        s: &Session,
        verified: Option<(bool, String)>,
    ) -> Response<Vec<u8>> {
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        let (query, given) = self.search(&q);
        let mut filter = match query.filter(self.retention) {
            Ok(f) => f,
            Err(e) => {
                return page(StatusCode::BAD_REQUEST, pages::refused("Audit", &e), &[]);
            }
        };
        filter.before_seq = q.get("before").and_then(|b| b.parse().ok());
        let who = format!("{} ({})", s.access_key, s.name);
        let Ok(recs) = records(&self.audit, filter, false, &who).await else {
            return self.unavailable();
        };
        let encode = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let search: String = given
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let older = (recs.len() as i64 == PAGE)
            .then(|| recs.last().and_then(|r| r["seq"].as_i64()))
            .flatten()
            .map(|seq| format!("{search}&before={seq}"));
        let p = pages::AuditPage {
            who: &s.name,
            csrf: &s.csrf,
            filters: &given,
            records: &recs,
            older,
            search,
            verified,
        };
        page(StatusCode::OK, pages::audit(&p), &[])
    }

    async fn credentials_page(&self, s: &Session) -> Response<Vec<u8>> {
        // Newest first, as the store lists them; times are Unix seconds.
        let Ok(rows) = self.credentials.list().await else {
            return self.unavailable();
        };
        let utc = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default()
        };
        let lines: Vec<pages::CredentialLine> = rows
            .into_iter()
            .map(|r| pages::CredentialLine {
                access_key: r.access_key,
                tier: r.tier,
                partner: r.partner_id,
                role: r.role.unwrap_or_default(),
                label: r.label.unwrap_or_default(),
                created: utc(r.created_at),
                revoked: r.revoked_at.map(utc).unwrap_or_default(),
            })
            .collect();
        page(
            StatusCode::OK,
            pages::credentials(&s.name, &s.csrf, &lines),
            &[],
        )
    }

    async fn export(&self, session: &ServerSession, s: &Session) -> Response<Vec<u8>> {
        let q = Form::parse(session.req_header().uri.query().unwrap_or("").as_bytes());
        let format: Format = match q.get("format").unwrap_or("csv").parse() {
            Ok(f) => f,
            Err(e) => return page(StatusCode::BAD_REQUEST, pages::refused("Export", &e), &[]),
        };
        let (query, _) = self.search(&q);
        let filter = match query.filter(self.retention) {
            Ok(f) => f,
            Err(e) => return page(StatusCode::BAD_REQUEST, pages::refused("Export", &e), &[]),
        };
        // Unmasked only for the role that grants it, and only when asked.
        let unmasked =
            q.get("unmasked") == Some("true") && s.principal.role.as_deref() == Some(UNMASKED_ROLE);
        let who = format!("{} ({})", s.access_key, s.name);
        let mut out = Vec::new();
        if export(&self.audit, filter, None, unmasked, &who, format, &mut out)
            .await
            .is_err()
        {
            return self.unavailable();
        }
        download(format, out)
    }
}
