//! The sign-in federation page: registered reseller IdPs with their pinned certificates'
//! fingerprints and expiry, recent sign-ins and refusals, and bindings
//! ([`crate::reads::federation`], the same as `GET /federation`).

use super::layout::{self, Cell, when};
use super::{Console, Signed, page, refusal};
use crate::reads::federation::federation;
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::html;

/// `GET /console/federation` (`q`: the tables' sort order).
pub async fn show(c: &Console, me: &Signed, q: &Form) -> Response<Vec<u8>> {
    let f = match federation(&c.audit, c.idps.as_deref(), &me.credential.principal).await {
        Ok(f) => f,
        Err(r) => return refusal("Sign-in federation", &r),
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let body = html! {
        @if !f.enabled { p { "The sign-in broker is not configured on this gateway (no [sso] section)." } }
        @for idp in &f.idps {
            section.card {
                h3 { (idp.reseller) }
                p { "Entity " code { (idp.entity_id) } }
                p { "Sign-ins start at " (idp.sso_url.clone().unwrap_or_default())
                    (if idp.idp_initiated { " · IdP-initiated sign-ins accepted" } else { " · only sign-ins Tiergate asked for" }) }
                @if let Some(n) = &idp.notify_url { p { "Bind notifications to " (n) } }
                table {
                    caption { "Pinned signing certificates" }
                    thead { tr { th scope="col" { "SHA-256" } th scope="col" { "subject" } th scope="col" { "expires" } th.n scope="col" { "days left" } } }
                    tbody { @for cert in &idp.certificates { tr {
                        td { code { (cert.sha256) } } td { (cert.subject) } td { (when(&cert.not_after)) }
                        td.n { @if let Some(d) = cert.days_left { (d) @if d < 30 { strong { " RENEW SOON" } } } }
                    } } }
                }
            }
        }
        h3 { "Recent sign-ins and refusals" }
        (layout::sortable("Identity records, newest first", q, "/console/federation", "",
            &["seq", "operation", "reseller", "outcome", "detail"],
            f.recent.iter().map(|r| vec![
                Cell::markup(r["seq"].to_string(), html! { a href={ "/console/audit/record?seq=" (r["seq"]) } { (r["seq"]) } }),
                Cell::text(text(&r["operation"])), Cell::text(text(&r["principal"])),
                Cell::text(text(&r["outcome"])), Cell::text(r["detail"].to_string()),
            ]).collect()))
        h3 { "Bindings" }
        (layout::sortable("Platform users bound to customer accounts, newest first", q, "/console/federation", "",
            &["user", "reseller", "customer", "bound"],
            f.bindings.iter().map(|b| vec![
                Cell::text(b.x_user_id.clone()), Cell::text(b.reseller.clone()),
                Cell::text(b.customer_id.clone()), Cell::markup(b.bound_at.clone(), when(&b.bound_at)),
            ]).collect()))
    };
    page(
        StatusCode::OK,
        layout::layout(
            "Sign-in federation",
            Some(&me.frame()),
            "/console/federation",
            body,
        ),
        &[],
    )
}
