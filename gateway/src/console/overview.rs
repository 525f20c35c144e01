//! The overview page: the last hour at a glance ([`crate::reads::overview`]), the same as
//! `GET /overview` on the admin API, with small charts whose numbers are also in tables.

use super::layout::{self, Cell, bars, when};
use super::{Console, Signed, page, refusal};
use crate::reads::overview::{Count, overview};
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::{Markup, html};

fn table(q: &Form, caption: &str, columns: &[&str], counts: &[Count]) -> Markup {
    let rows: Vec<Vec<Cell>> = counts
        .iter()
        .map(|c| {
            let mut row: Vec<Cell> = columns[..columns.len() - 1]
                .iter()
                .map(|k| Cell::text(c.labels.get(*k).cloned().unwrap_or_default()))
                .collect();
            row.push(Cell::number(c.count.to_string()));
            row
        })
        .collect();
    layout::sortable(caption, q, "/console/overview", "", columns, rows)
}

/// `GET /console/overview` (`q`: the tables' sort order).
pub async fn show(c: &Console, me: &Signed, q: &Form) -> Response<Vec<u8>> {
    let o = match overview(&c.overview, &me.credential.principal).await {
        Ok(o) => o,
        Err(r) => return refusal("Overview", &r),
    };
    let requests: Vec<(String, f64)> = o
        .per_minute
        .iter()
        .map(|m| (m.at.clone(), m.requests as f64))
        .collect();
    let refused: Vec<(String, f64)> = o
        .per_minute
        .iter()
        .map(|m| (m.at.clone(), m.refused as f64))
        .collect();
    let total: u64 = o.requests.iter().map(|c| c.count).sum();
    let refusals: u64 = o.refusals.iter().map(|c| c.count).sum();
    let body = html! {
        p { "From " (when(&o.from)) " to " (when(&o.until)) ": " strong { (total) " requests" } ", " strong { (refusals) " refused" } "." }
        div.cards {
            section.card aria-labelledby="h-rpm" {
                h3 id="h-rpm" { "Requests per minute" }
                (bars("Requests per minute", &requests))
            }
            section.card aria-labelledby="h-ref" {
                h3 id="h-ref" { "Refusals per minute" }
                (bars("Refusals per minute", &refused))
            }
            section.card aria-labelledby="h-audit" {
                h3 id="h-audit" { "Audit chain" }
                @match &o.audit.last_verification {
                    Some(v) => p {
                        "Last verified " (when(&v["at"].as_i64().map(|ms| crate::reads::rfc3339(ms / 1000)).unwrap_or_default()))
                        " by " (v["principal"].as_str().unwrap_or("?")) ": "
                        strong { (v["outcome"].as_str().unwrap_or("?")) }
                        " (" (v["detail"]["records"]) " records)"
                    },
                    None => p { "Not verified from the console or the command line yet." },
                }
                @match &o.audit.last_checkpoint {
                    Some(cp) => p { "Last checkpoint at record " (cp.seq) ", " (when(&cp.at)) "." },
                    None => p { "No checkpoint yet." },
                }
            }
            section.card aria-labelledby="h-graph" {
                h3 id="h-graph" { "Relationship graph" }
                p { (if o.graph.ready { "Loaded" } else { "NOT LOADED: partner API calls wait for the first sync" }) }
                p { @for (k, n) in &o.graph.entries { (k) ": " (n) " · " } }
                p { "Syncs in the window: " @for (k, n) in &o.graph.syncs { (k) " " (n) " · " } @if o.graph.syncs.is_empty() { "none" } }
            }
            section.card aria-labelledby="h-limiter" {
                h3 id="h-limiter" { "Rate limiter" }
                p { "Waiting for the vendor budget now: " strong { (o.limiter.queued_now) } }
                p { "Gateways sharing limits: " (o.limiter.live_gateways) " · Redis errors in the window: " (o.limiter.redis_errors) }
                (table(q, "Refused by limit", &["limit", "count"], &o.limiter.refused))
            }
            section.card aria-labelledby="h-certs" {
                h3 id="h-certs" { "Certificates" }
                @if o.certificates.is_empty() { p { "This gateway serves no TLS certificate." } }
                ul { @for c in &o.certificates {
                    li { (c.subject) ": expires " (when(&c.not_after)) " (" (c.days_left) " days)"
                        @if c.days_left < 30 { strong { " RENEW SOON" } } }
                } }
            }
        }
        h3 { "Vendor budget per API" }
        (layout::sortable("Busiest minute against the vendor's limit", q, "/console/overview", "",
            &["api", "limit per second", "busiest per second", "busiest %", "refused after waiting", "vendor 429"],
            o.vendor_budget.iter().map(|b| vec![
                Cell::text(b.api.clone()),
                Cell::number(b.limit_per_second.to_string()),
                Cell::number(b.busiest_per_second.to_string()),
                Cell::number(b.busiest_percent.to_string()),
                Cell::number(b.refused_after_waiting.to_string()),
                Cell::number(b.vendor_429.to_string()),
            ]).collect()))
        h3 { "Refusals by code" }
        (table(q, "Refusals in the window", &["code", "count"], &o.refusals))
        h3 { "Requests by tier, route and outcome" }
        (table(q, "Requests in the window", &["tier", "route", "outcome", "count"], &o.requests))
    };
    page(
        StatusCode::OK,
        layout::layout("Overview", Some(&me.frame()), "/console/overview", body),
        &[],
    )
}
