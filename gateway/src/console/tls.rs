//! The TLS page: the `tiergate tls report` of the running gateway (policy, effective suites
//! per version, what is allowlisted but cannot be served and why, certificates).

use super::layout::{self, Cell};
use super::{Console, Signed, page};
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::html;

/// `GET /console/tls` (`q`: the tables' sort order).
pub fn show(c: &Console, me: &Signed, q: &Form) -> Response<Vec<u8>> {
    let r = c.tls_report();
    let table = |caption: &str, columns: &[&str], rows| {
        layout::sortable(caption, q, "/console/tls", "", columns, rows)
    };
    let body = html! {
        p { "Profile " strong { (r.profile) } ", versions " (r.versions.join(", ")) "." }
        @for w in &r.warnings { p.error role="alert" { "Warning: " (w) } }
        @if !r.outside_profile.is_empty() { p.error { "ALLOWED OUTSIDE THE PROFILE: " (r.outside_profile.join(", ")) } }
        div.cards {
            @for (version, suites) in r.effective.iter().rev() {
                section.card {
                    h3 { "Served with " (version) }
                    ol { @for s in suites { li { code { (s) } } } }
                }
            }
        }
        h3 { "The allowlist" }
        (table("Allowlisted cipher suites", &["suite", "code", "version"],
            r.allowlist.iter().map(|s| vec![
                Cell::text(s.name.clone()), Cell::text(s.code.clone()), Cell::text(s.version.clone()),
            ]).collect()))
        h3 { "Allowlisted but not served" }
        (table("What the backend cannot serve, and why", &["suite", "why"],
            r.unsupported.iter().map(|s| vec![
                Cell::text(s.name.clone()), Cell::text(s.reason.clone()),
            ]).collect()))
        h3 { "Certificates" }
        @if r.certificates.is_empty() { p { "This gateway serves no TLS certificate (plaintext listeners)." } }
        (table("Served certificates", &["subject", "names", "key", "expires", "days left"],
            r.certificates.iter().map(|s| vec![
                Cell::text(s.subject.clone()), Cell::text(s.names.join(", ")),
                Cell::text(s.key_type.clone()), Cell::text(s.not_after.clone()),
                Cell::number(s.days_left.to_string()),
            ]).collect()))
    };
    page(
        StatusCode::OK,
        layout::layout("TLS", Some(&me.frame()), "/console/tls", body),
        &[],
    )
}
