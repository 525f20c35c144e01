//! The credentials page: who holds which credential (never a secret), and issuing and
//! revoking for those allowed ([`crate::reads::credentials`], the same as `/credentials` on
//! the admin API). A new secret key is shown once, on the answer to the issue.

use super::layout::{self, Cell, when};
use super::{Console, Signed, page, refusal};
use crate::reads::credentials::{self as reads, By, IssueRequest, IssuedCredential};
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::html;
use pingora::protocols::http::ServerSession;
use tiergate_policy::Tier;
use tiergate_policy::admin;

const COLUMNS: &[&str] = &[
    "access key",
    "tier",
    "partner",
    "role",
    "issued to",
    "issued",
    "last used",
    "status",
    "revoked",
];

/// What the page says after a change.
pub enum Done {
    /// A credential was issued: its secret, shown once.
    Issued(IssuedCredential),
    /// A credential was revoked (false: it already was).
    Revoked(String, bool),
}

fn by<'a>(me: &'a Signed, session: &ServerSession) -> By<'a> {
    By {
        credential: &me.credential,
        source: session.client_addr().map(ToString::to_string),
        via: "console",
    }
}

/// `GET /console/credentials`, and the page after a change.
pub async fn show(c: &Console, me: &Signed, q: &Form, done: Option<Done>) -> Response<Vec<u8>> {
    let holders = match reads::list(&c.credentials, &me.credential.principal).await {
        Ok(h) => h,
        Err(r) => return refusal("Credentials", &r),
    };
    let p = &me.credential.principal;
    let (may_issue, may_revoke) = (admin::issues_any(p), admin::revokes_any(p));
    let mut columns = COLUMNS.to_vec();
    if may_revoke {
        columns.push("revoke");
    }
    let rows: Vec<Vec<Cell>> = holders
        .iter()
        .map(|h| {
            let mut row = vec![
                Cell::markup(h.access_key.clone(), html! { code { (h.access_key) } }),
                Cell::text(h.tier.clone()),
                Cell::text(h.partner_id.clone()),
                Cell::text(h.role.clone().unwrap_or_default()),
                Cell::text(h.issued_to.clone().unwrap_or_default()),
                Cell::markup(h.issued_at.clone(), when(&h.issued_at)),
                Cell::markup(
                    h.last_used_at.clone().unwrap_or_default(),
                    when(h.last_used_at.as_deref().unwrap_or_default()),
                ),
                Cell::text(h.status.clone()),
                Cell::markup(
                    h.revoked_at.clone().unwrap_or_default(),
                    when(h.revoked_at.as_deref().unwrap_or_default()),
                ),
            ];
            if may_revoke {
                let own = h.access_key == me.credential.access_key;
                row.push(Cell::markup(
                    "",
                    html! {
                        @if h.status == "active" && !own {
                            form.inline method="post" action="/console/credentials/revoke" {
                                input type="hidden" name="csrf" value=(me.session.csrf);
                                input type="hidden" name="access_key" value=(h.access_key);
                                button type="submit" aria-label={ "Revoke " (h.access_key) } { "Revoke" }
                            }
                        }
                    },
                ));
            }
            row
        })
        .collect();
    let own_reseller = (p.tier == Tier::CloudReseller).then(|| p.partner_id.clone());
    let body = html! {
        @match &done {
            Some(Done::Issued(i)) => {
                div.secret role="status" {
                    p { "Issued " (i.tier) " credential for " (i.partner_id)
                        @if let Some(r) = &i.role { ", role " (r) } "." }
                    p { "Access key: " code { (i.access_key) } }
                    p { "Secret key: " code { (i.secret_key) } }
                    p { strong { "The secret key is shown only now. Store it safely before leaving this page." } }
                }
            }
            Some(Done::Revoked(ak, true)) => { p.ok role="status" { "Revoked " code { (ak) } ". Calls signed with it are refused from now on." } }
            Some(Done::Revoked(ak, false)) => { p.ok role="status" { code { (ak) } " was already revoked." } }
            None => {}
        }
        @if may_issue {
            details {
                summary { "Issue a credential" }
                form.filters method="post" action="/console/credentials/issue" {
                    input type="hidden" name="csrf" value=(me.session.csrf);
                    @match &own_reseller {
                        Some(r) => { input type="hidden" name="reseller" value=(r); }
                        None => { label { "reseller" input name="reseller" required placeholder="res-1"; } }
                    }
                    label { "staff member (empty: the reseller's own credential)" input name="staff"; }
                    label { "role (with a staff member)" input name="role" placeholder="viewer"; }
                    button type="submit" { "Issue" }
                }
            }
        }
        (layout::sortable(
            &format!("{} credentials, newest first", holders.len()),
            q,
            "/console/credentials",
            "",
            &columns,
            rows,
        ))
    };
    let status = match done {
        Some(Done::Issued(_)) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    page(
        status,
        layout::layout(
            "Credentials",
            Some(&me.frame()),
            "/console/credentials",
            body,
        ),
        &[],
    )
}

/// `POST /console/credentials/issue`.
pub async fn issue(
    c: &Console,
    me: &Signed,
    form: &Form,
    session: &ServerSession,
) -> Response<Vec<u8>> {
    let nonempty = |k: &str| form.string(k).filter(|v| !v.trim().is_empty());
    let ask = IssueRequest {
        reseller: form.string("reseller").unwrap_or_default(),
        staff: nonempty("staff"),
        role: nonempty("role"),
    };
    match reads::issue(&c.credentials, &c.audit, &by(me, session), ask).await {
        Ok(i) => show(c, me, &Form::default(), Some(Done::Issued(i))).await,
        Err(r) => refusal("Credentials", &r),
    }
}

/// `POST /console/credentials/revoke`.
pub async fn revoke(
    c: &Console,
    me: &Signed,
    form: &Form,
    session: &ServerSession,
) -> Response<Vec<u8>> {
    let ak = form.string("access_key").unwrap_or_default();
    match reads::revoke(&c.credentials, &c.audit, &by(me, session), &ak).await {
        Ok(done) => {
            c.sessions.end_all_of(&ak);
            show(c, me, &Form::default(), Some(Done::Revoked(ak, done))).await
        }
        Err(r) => refusal("Credentials", &r),
    }
}
