//! What every console page shares, rendered with `maud` (HTML checked at compile time, every
//! value escaped): the frame and navigation, the style sheet and the one small script (both
//! embedded in the binary), refusals, sortable tables, times, and bar charts drawn as inline
//! SVG with their numbers beside them, so nothing depends on colour or on script.

use crate::web::form::Form;
use maud::{DOCTYPE, Markup, html};
use std::cmp::Ordering;

/// The style sheet (served at `/console/style.css`).
pub const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#111;background:#fff}\
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.6rem 1rem;border-bottom:2px solid #333}\
header h1{font-size:1.1rem;margin:0}nav a{margin-right:.6rem}nav a[aria-current]{font-weight:bold;text-decoration:none;border-bottom:3px solid #000}\
main{padding:1rem;max-width:90rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}\
th,td{border:1px solid #999;padding:.25rem .4rem;text-align:left;vertical-align:top;font-size:13px}\
th{background:#eee}th a{color:inherit}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
form.filters,form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-bottom:1rem}\
form.inline{display:inline-flex;margin:0 .3rem 0 0}\
label{display:flex;flex-direction:column;font-size:12px}.error{border:2px solid #000;padding:.5rem;font-weight:bold}\
.ok{border:2px dashed #555;padding:.5rem}.secret{font:16px monospace;background:#ffd;padding:.5rem;border:2px solid #000}\
a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #000;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.3rem}\
ul.tree{list-style:none;padding-left:1.4rem;border-left:2px solid #bbb}ul.tree>li{margin:.4rem 0}\
.slice{border:1px solid #999;padding:.4rem;display:inline-block;min-width:30rem}\
.over{border:3px double #000}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}\
section.card{border:1px solid #999;padding:.5rem .8rem}svg{display:block;max-width:100%}\
.wide{overflow-x:auto}td{overflow-wrap:anywhere}pre{white-space:pre-wrap;overflow-wrap:anywhere}";

/// Shows times in the viewer's own zone (without script they stay in UTC, and say so).
pub const SCRIPT: &str = "for(const t of document.querySelectorAll('time[datetime]')){\
const d=new Date(t.dateTime);if(isNaN(d))continue;t.title=t.dateTime;\
t.textContent=d.toLocaleString(undefined,{year:'numeric',month:'short',day:'numeric',\
hour:'2-digit',minute:'2-digit',second:'2-digit',timeZoneName:'short'});}";

/// The console's pages, in navigation order: (path, name).
pub const PAGES: &[(&str, &str)] = &[
    ("/console/overview", "Overview"),
    ("/console/audit", "Audit"),
    ("/console/delegations", "Delegation"),
    ("/console/money", "Money"),
    ("/console/credentials", "Credentials"),
    ("/console/tls", "TLS"),
    ("/console/federation", "Sign-in federation"),
];

/// Who is signed in, as the frame shows them.
pub struct Frame<'a> {
    /// Their name and tier.
    pub who: &'a str,
    /// Their CSRF token (for sign-out).
    pub csrf: &'a str,
    /// The pages they may open (paths).
    pub pages: &'a [&'static str],
}

/// A page in the frame.
pub fn layout(title: &str, frame: Option<&Frame<'_>>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tiergate console" }
                link rel="stylesheet" href="/console/style.css";
                script src="/console/local.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    h1 { "Tiergate console" }
                    @if let Some(f) = frame {
                        nav aria-label="Pages" {
                            @for (path, name) in PAGES.iter().filter(|(p, _)| f.pages.contains(p)) {
                                @if *path == current {
                                    a href=(path) aria-current="page" { (name) }
                                } @else {
                                    a href=(path) { (name) }
                                }
                            }
                        }
                        span { "Signed in as " strong { (f.who) } }
                        form.inline method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(f.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { h2 { (title) } (body) }
            }
        }
    }
}

/// A refusal as a page.
pub fn refused(title: &str, why: &str) -> Markup {
    layout(
        title,
        None,
        "",
        html! { p.error role="alert" { (why) } p { a href="/console/" { "Sign in" } } },
    )
}

/// The sign-in form (`error`: why the last try was refused, said plainly).
pub fn sign_in(form_token: &str, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        "",
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            p { "Sign in with your own Tiergate credential: an auditor's, the distributor's platform team's, a cloud reseller's or a reseller staff member's access key and secret key." }
            form method="post" action="/console/sign-in" {
                input type="hidden" name="form" value=(form_token);
                label { "Access key" input name="access_key" autocomplete="username" required; }
                label { "Secret key" input name="secret_key" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A time: RFC 3339 in the markup, shown in the viewer's zone by [`SCRIPT`], in UTC without.
pub fn when(rfc3339: &str) -> Markup {
    if rfc3339.is_empty() {
        return html! {};
    }
    html! { time datetime=(rfc3339) { (rfc3339.replace('T', " ")) } }
}

/// A table cell: what it sorts by, and what it shows.
pub struct Cell {
    /// Sort key (numbers sort as numbers).
    pub key: String,
    /// Content.
    pub show: Markup,
    /// Right-aligned (a number).
    pub number: bool,
}

impl Cell {
    /// Text, shown as it is.
    pub fn text(s: impl Into<String>) -> Self {
        let key = s.into();
        Cell {
            show: html! { (key) },
            key,
            number: false,
        }
    }

    /// A number, right-aligned, sorted as a number.
    pub fn number(s: impl Into<String>) -> Self {
        Cell {
            number: true,
            ..Cell::text(s)
        }
    }

    /// Markup, sorted by `key`.
    pub fn markup(key: impl Into<String>, show: Markup) -> Self {
        Cell {
            key: key.into(),
            show,
            number: false,
        }
    }
}

fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// A table sorted on the server by the query's `sort` (a column's name) and `dir`
/// (`asc`/`desc`), its headers links that sort by them: it works without script, and the
/// sorted view is a URL to bookmark or share. `path` and `keep` make those links (`keep`:
/// the query's other parameters, already encoded).
pub fn sortable(
    caption: &str,
    q: &Form,
    path: &str,
    keep: &str,
    columns: &[&str],
    mut rows: Vec<Vec<Cell>>,
) -> Markup {
    let sort = q
        .get("sort")
        .and_then(|s| columns.iter().position(|c| *c == s));
    let desc = q.get("dir") == Some("desc");
    if let Some(i) = sort {
        rows.sort_by(|a, b| {
            let o = compare(&a[i].key, &b[i].key);
            if desc { o.reverse() } else { o }
        });
    }
    let link = |c: &str, dir: &str| {
        let sep = if keep.is_empty() { "" } else { "&" };
        format!("{path}?{keep}{sep}sort={c}&dir={dir}")
    };
    html! {
        div.wide { table {
            caption { (caption) }
            thead { tr {
                @for (i, c) in columns.iter().enumerate() {
                    @let here = sort == Some(i);
                    @let next = if here && !desc { "desc" } else { "asc" };
                    @let aria = match (here, desc) { (false, _) => "none", (true, false) => "ascending", (true, true) => "descending" };
                    th scope="col" aria-sort=(aria) {
                        a href=(link(c, next)) { (c) @if here { (if desc { " ▼" } else { " ▲" }) } }
                    }
                }
            } }
            tbody {
                @for r in &rows {
                    tr { @for c in r { @if c.number { td.n { (c.show) } } @else { td { (c.show) } } } }
                }
            }
        } }
    }
}

/// A bar chart of (label, value) as inline SVG, with its numbers as text for those who do
/// not see it (`role="img"` and a label) and beside each bar.
pub fn bars(title: &str, points: &[(String, f64)]) -> Markup {
    let most = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let (w, h) = (600.0, 120.0);
    let n = points.len().max(1) as f64;
    let bw = (w / n).max(1.0);
    let described: Vec<String> = points
        .iter()
        .filter(|(_, v)| *v > 0.0)
        .map(|(l, v)| format!("{l}: {v}"))
        .collect();
    let label = format!(
        "{title}. {}",
        if described.is_empty() {
            "Nothing in this window.".to_owned()
        } else {
            described.join("; ")
        }
    );
    html! {
        svg width="600" height="140" viewBox="0 0 600 140" role="img" aria-label=(label) {
            title { (title) }
            @for (i, (l, v)) in points.iter().enumerate() {
                @let bh = if most > 0.0 { v / most * h } else { 0.0 };
                rect x=(format!("{:.1}", i as f64 * bw)) y=(format!("{:.1}", h - bh))
                    width=(format!("{:.1}", (bw - 1.0).max(0.5))) height=(format!("{:.1}", bh)) fill="#333" {
                    title { (l) ": " (v) }
                }
            }
            line x1="0" y1="120.5" x2="600" y2="120.5" stroke="#000" {}
            text x="0" y="136" font-size="11" { "peak " (most) }
        }
    }
}

/// A horizontal bar split into parts (value, fill, name), drawn against `whole`; a part past
/// the whole is drawn past the end and said in words by the caller.
pub fn split_bar(whole: f64, parts: &[(f64, &str, &str)]) -> Markup {
    let scale = parts.iter().map(|p| p.0).sum::<f64>().max(whole).max(1e-9);
    let w = 300.0;
    let mut x = 0.0;
    let mut rects = Vec::new();
    for (v, fill, name) in parts {
        let pw = v / scale * w;
        rects.push((x, pw, *fill, *name, *v));
        x += pw;
    }
    let edge = whole / scale * w;
    let label: Vec<String> = parts.iter().map(|(v, _, n)| format!("{n} {v}")).collect();
    html! {
        svg width="300" height="18" viewBox="0 0 302 18" role="img" aria-label=(label.join(", ")) {
            @for (x, pw, fill, name, v) in rects {
                rect x=(format!("{x:.1}")) y="2" width=(format!("{pw:.1}")) height="14" fill=(fill) stroke="#000" stroke-width="0.5" {
                    title { (name) " " (v) }
                }
            }
            line x1=(format!("{edge:.1}")) y1="0" x2=(format!("{edge:.1}")) y2="18" stroke="#000" stroke-width="2" {}
        }
    }
}

/// What a query-string value escapes: all but letters, digits and `-_.~` (RFC 3986's
/// unreserved characters stay readable in a bookmarked URL).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Query-string encoding of a value.
pub fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// A query string of parameters already encoded, without empty ones.
pub fn joined(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("&")
}
