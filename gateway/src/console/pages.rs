//! The console's pages, rendered on the server with `maud` (HTML checked at compile time,
//! every value escaped): no script, one embedded style sheet, forms and links that work with
//! the keyboard and without colour, URLs that carry their filters so they can be bookmarked.

use crate::audit::export::text;
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

/// The style sheet, embedded in the binary (served at `/console/style.css`).
pub const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#111}\
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;border-bottom:2px solid #333}\
header h1{font-size:1.1rem;margin:0}main{padding:1rem}table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #999;padding:.25rem .4rem;text-align:left;vertical-align:top;font-size:13px}\
th{background:#eee}form.filters{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:1rem}\
label{display:flex;flex-direction:column;font-size:12px}.error{border:2px solid #000;padding:.5rem;font-weight:bold}\
a:focus,button:focus,input:focus{outline:3px solid #000}";

fn layout(title: &str, who: Option<&str>, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tiergate console" }
                link rel="stylesheet" href="/console/style.css";
            }
            body {
                header {
                    h1 { "Tiergate console" }
                    @if let (Some(who), Some(csrf)) = (who, csrf) {
                        nav {
                            a href="/console/audit" { "Audit" } " · "
                            a href="/console/credentials" { "Credentials" }
                        }
                        span { "Signed in as " strong { (who) } }
                        form method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { h2 { (title) } (body) }
            }
        }
    }
}

/// The sign-in form (`error`: why the last try was refused, said plainly).
pub fn sign_in(form_token: &str, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        None,
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            p { "Sign in with your own Tiergate credential (an auditor's access key and secret key)." }
            form method="post" action="/console/sign-in" {
                input type="hidden" name="form" value=(form_token);
                label { "Access key" input name="access_key" autocomplete="username" required; }
                label { "Secret key" input name="secret_key" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The filters an audit search carries, as its query string names them.
pub const FILTERS: &[&str] = &[
    "from",
    "until",
    "kind",
    "principal",
    "tier",
    "reseller",
    "customer",
    "operation",
    "outcome",
    "amount_min",
    "amount_max",
];

/// Columns shown per record.
const SHOWN: &[&str] = &[
    "seq",
    "at",
    "kind",
    "principal",
    "tier",
    "operation",
    "acting",
    "customers",
    "amount",
    "outcome",
    "request_id",
];

/// One page of audit records, with the search form, paging and export links.
pub struct AuditPage<'a> {
    /// Who is signed in.
    pub who: &'a str,
    /// Their CSRF token.
    pub csrf: &'a str,
    /// The filters as given (name, value).
    pub filters: &'a [(&'static str, String)],
    /// The records, newest first.
    pub records: &'a [Value],
    /// The query string of the next (older) page, if any.
    pub older: Option<String>,
    /// The query string of this search without paging (for exports).
    pub search: String,
    /// A chain verification just run: (intact, what it says).
    pub verified: Option<(bool, String)>,
}

/// The audit page.
pub fn audit(p: &AuditPage<'_>) -> Markup {
    let value = |name: &str| {
        p.filters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    layout(
        "Audit",
        Some(p.who),
        Some(p.csrf),
        html! {
            @if let Some((intact, what)) = &p.verified {
                p.error role="status" { (if *intact { "Chain intact: " } else { "Chain BROKEN: " }) (what) }
            }
            form.filters method="get" action="/console/audit" {
                @for name in FILTERS {
                    label { (name) input name=(name) value=(value(name)); }
                }
                button type="submit" { "Search" }
            }
            p {
                "Export this search: "
                a href={ "/console/audit/export?format=csv&" (p.search) } { "CSV" } " · "
                a href={ "/console/audit/export?format=jsonl&" (p.search) } { "JSON Lines" }
            }
            form method="post" action="/console/audit/verify" {
                input type="hidden" name="csrf" value=(p.csrf);
                button type="submit" { "Verify the chain now" }
            }
            table {
                caption { (p.records.len()) " records, newest first" }
                thead { tr { @for c in SHOWN { th scope="col" { (c) } } } }
                tbody {
                    @for r in p.records {
                        tr { @for c in SHOWN { td { (text(&r[*c])) } } }
                    }
                }
            }
            @if let Some(q) = &p.older {
                p { a href={ "/console/audit?" (q) } rel="next" { "Older records" } }
            }
        },
    )
}

/// A refusal as a page.
pub fn refused(title: &str, why: &str) -> Markup {
    layout(
        title,
        None,
        None,
        html! { p.error role="alert" { (why) } p { a href="/console/" { "Sign in" } } },
    )
}

/// One credential as the console lists it (never its secret).
pub struct CredentialLine {
    /// Access key.
    pub access_key: String,
    /// Tier.
    pub tier: String,
    /// The partner it speaks for.
    pub partner: String,
    /// Role, if any.
    pub role: String,
    /// The person it was issued to, if named.
    pub label: String,
    /// Issued (UTC).
    pub created: String,
    /// Revoked (UTC), if it was.
    pub revoked: String,
}

/// Who holds which credential.
pub fn credentials(who: &str, csrf: &str, lines: &[CredentialLine]) -> Markup {
    layout(
        "Credentials",
        Some(who),
        Some(csrf),
        html! {
            table {
                caption { (lines.len()) " credentials, newest first (times in UTC)" }
                thead { tr {
                    th scope="col" { "access key" } th scope="col" { "tier" }
                    th scope="col" { "partner" } th scope="col" { "role" }
                    th scope="col" { "issued to" } th scope="col" { "issued" }
                    th scope="col" { "revoked" }
                } }
                tbody {
                    @for l in lines {
                        tr {
                            td { code { (l.access_key) } } td { (l.tier) } td { (l.partner) }
                            td { (l.role) } td { (l.label) } td { (l.created) } td { (l.revoked) }
                        }
                    }
                }
            }
        },
    )
}
