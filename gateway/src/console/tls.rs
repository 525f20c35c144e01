//! The TLS page: the `tiergate tls report` of the running gateway (policy, effective suites
//! per version, what is allowlisted but cannot be served and why, certificates).

use super::layout::{self, Cell};
use super::{Console, Signed, page};
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::html;
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /console/tls`.
pub fn show(c: &Console, me: &Signed) -> Response<Vec<u8>> {
    let r = serde_json::to_value(c.tls_report()).unwrap_or_default();
    let certs = r["certificates"].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let body = html! {
        p { "Profile " strong { (text(&r["profile"])) } ", versions " (strings(&r["versions"]).join(", ")) "." }
        @for w in strings(&r["warnings"]) { p.error role="alert" { "Warning: " (w) } }
        @let outside = strings(&r["outside_profile"]);
        @if !outside.is_empty() { p.error { "ALLOWED OUTSIDE THE PROFILE: " (outside.join(", ")) } }
        div.cards {
            @for v in ["TLSv1.3", "TLSv1.2"] {
                section.card {
                    h3 { "Served with " (v) }
                    ol { @for s in strings(&r["effective"][v]) { li { code { (s) } } } }
                }
            }
        }
        h3 { "The allowlist" }
        (layout::sortable("Allowlisted cipher suites", &Form::default(), "/console/tls", "", &["suite", "code", "version"],
            r["allowlist"].as_array().into_iter().flatten().map(|s| vec![
                Cell::text(text(&s["name"])), Cell::text(text(&s["code"])), Cell::text(text(&s["version"])),
            ]).collect()))
        h3 { "Allowlisted but not served" }
        (layout::sortable("What the backend cannot serve, and why", &Form::default(), "/console/tls", "", &["suite", "why"],
            r["unsupported"].as_array().into_iter().flatten().map(|s| vec![
                Cell::text(text(&s["name"])), Cell::text(text(&s["reason"])),
            ]).collect()))
        h3 { "Certificates" }
        @if certs.is_empty() { p { "This gateway serves no TLS certificate (plaintext listeners)." } }
        (layout::sortable("Served certificates", &Form::default(), "/console/tls", "", &["subject", "names", "key", "expires", "days left"],
            r["certificates"].as_array().into_iter().flatten().map(|s| vec![
                Cell::text(text(&s["subject"])), Cell::text(strings(&s["names"]).join(", ")),
                Cell::text(text(&s["key_type"])), Cell::text(text(&s["not_after"])),
                Cell::number(s["days_left"].to_string()),
            ]).collect()))
    };
    page(
        StatusCode::OK,
        layout::layout("TLS", Some(&me.frame()), "/console/tls", body),
        &[],
    )
}
