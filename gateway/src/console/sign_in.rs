//! Signing in and out: a person's own credential (access key and secret key) in a form
//! guarded by a double-submit token; the session cookie after. Sign-ins and refusals are
//! audited, and failures are charged to the address ([`crate::guard`]).

use super::session::{self, COOKIE, FORM_COOKIE};
use super::{Console, Signed, layout, page, redirect};
use crate::answer::Listener;
use crate::chain::record::{Entry, Kind};
use crate::web::form::Form;
use http::{Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::time::Duration;
use tiergate_policy::Tier;
use tiergate_policy::admin;

/// The form token a browser already holds (one per browser, not per tab: signing in from
/// either of two open sign-in pages works).
pub fn held(session: &ServerSession) -> Option<String> {
    let header = session
        .req_header()
        .headers
        .get(http::header::COOKIE)
        .and_then(|v| v.to_str().ok());
    session::cookie(header, FORM_COOKIE)
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

/// The sign-in form, with the browser's form token or a fresh one (`error`: why the last try
/// was refused).
pub fn form(c: &Console, held: Option<String>, error: Option<&str>) -> Response<Vec<u8>> {
    let Some(token) = held.or_else(|| session::token().ok()) else {
        return c.unavailable();
    };
    let cookie = session::set_cookie(FORM_COOKIE, &token, c.secure, session::IDLE);
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(status, layout::sign_in(&token, error), &[cookie])
}

/// Ends the session and clears its cookie.
pub fn sign_out(c: &Console, me: &Signed) -> Response<Vec<u8>> {
    c.sessions.end(&me.id);
    let clear = session::set_cookie(COOKIE, "", c.secure, Duration::ZERO);
    redirect("/console/", &[clear])
}

/// `POST /console/sign-in`.
pub async fn sign_in(c: &Console, session: &mut ServerSession) -> Response<Vec<u8>> {
    let door = crate::guard::door(&c.guard, session, Listener::Admin);
    if door.open().is_err() {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            layout::refused(
                "Refused",
                "Too many failed sign-ins from this address: try later.",
            ),
            &[],
        );
    }
    let form_cookie = held(session);
    let source = session.client_addr().map(ToString::to_string);
    let Ok(body) = crate::web::body::read(session, 16 * 1024).await else {
        return form(c, form_cookie, Some("The form could not be read."));
    };
    let f = Form::parse(&body);
    let same_form = match (f.get("form"), form_cookie.as_deref()) {
        (Some(a), Some(b)) => session::same(a, b),
        _ => false,
    };
    if !same_form {
        return c.forbidden();
    }
    let ak = f.get("access_key").unwrap_or("").trim().to_owned();
    let sk = f.get("secret_key").unwrap_or("");
    let found = c.credentials.lookup(&ak).await.ok().flatten();
    let good = found
        .as_ref()
        .is_some_and(|cr| session::same(sk, &String::from_utf8_lossy(cr.secret.expose())));
    let tier = found.as_ref().map(|cr| cr.principal.tier);
    let outcome = match &found {
        Some(cr) if good => match admin::signs_in(&cr.principal) {
            Ok(()) => Ok(cr.clone()),
            Err(_) => Err(
                "this console is for auditors, the distributor's platform team, cloud resellers and their staff",
            ),
        },
        _ => Err("unknown access key or wrong secret key"),
    };
    let entry = |outcome: &str, tier: Option<Tier>, why: Option<&str>| Entry {
        kind: Some(Kind::Access),
        principal: found
            .as_ref()
            .filter(|_| good)
            .map(|cr| cr.principal.partner_id.clone()),
        credential: Some(ak.clone()),
        tier: tier.map(|t| t.as_str().to_owned()),
        operation: Some("console_sign_in".into()),
        outcome: Some(outcome.into()),
        detail: json!({"source": source, "why": why}),
        ..Entry::default()
    };
    if let Some(m) = c.audit.metrics() {
        m.sign_ins.counted("console", outcome.is_ok());
    }
    match outcome {
        Err(why) => {
            door.failed("console_sign_in");
            if let Err(e) = c.audit.append(entry("refused", tier, Some(why))).await {
                tracing::error!(error = %e, "could not audit a refused console sign-in");
            }
            form(c, form_cookie, Some(why))
        }
        Ok(cr) => {
            if let Err(e) = c
                .audit
                .append(entry("signed_in", Some(cr.principal.tier), None))
                .await
            {
                tracing::error!(error = %e, "could not audit a console sign-in: refused");
                return c.unavailable();
            }
            let p = &cr.principal;
            let who = cr.label.clone().unwrap_or_else(|| p.partner_id.clone());
            let name = format!(
                "{who} ({}{})",
                p.tier,
                match (p.tier, &cr.label) {
                    (Tier::ResellerStaff, _) => format!(" of {}", p.partner_id),
                    _ => String::new(),
                }
            );
            let Ok(id) = c
                .sessions
                .start(cr.principal.clone(), cr.access_key.clone(), name)
            else {
                return c.unavailable();
            };
            let cookie = session::set_cookie(COOKIE, &id, c.secure, session::ABSOLUTE);
            let clear = session::set_cookie(FORM_COOKIE, "", c.secure, Duration::ZERO);
            redirect("/console/", &[cookie, clear])
        }
    }
}
