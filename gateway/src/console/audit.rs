//! The audit pages: search (bookmarkable filters, keyset paging), a record with its place in
//! the chain and its signature checked, "verify the chain now", and export of the current
//! search. A reseller or its staff search their own subtree only; nobody but an auditor with
//! the `unmasked` role sees personal data.

use super::layout::{self, Cell, enc, when};
use super::{Answer, Console, Signed, page, refusal};
use crate::audit::export::{Export, Format, text};
use crate::audit::mask::UNMASKED_ROLE;
use crate::audit::read::{Query, masker, matching, records, scoped};
use crate::chain::record::chain_hash;
use crate::chain::sign::{record_message, verify as signature_ok};
use crate::rejection::Rejection;
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::html;
use serde_json::Value;
use tiergate_policy::Tier;
use tiergate_policy::admin::{self, Area, Scope};

/// The filters a search carries, as its query string names them.
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
    "request_id",
    "amount_min",
    "amount_max",
];

/// Columns shown per record.
const SHOWN: &[&str] = &[
    "seq",
    "at",
    "kind",
    "principal",
    "credential",
    "tier",
    "operation",
    "acting",
    "customers",
    "amount",
    "outcome",
    "request_id",
];

/// The filters a search was given (name, value).
type Given = Vec<(&'static str, String)>;

/// Records on one page.
const PAGE: i64 = 50;

/// The filters as given (name, value), and the store's filter for them, kept to `scope`.
fn search_of(
    c: &Console,
    q: &Form,
    scope: &Scope,
) -> Result<(crate::store::audit::Filter, Given), String> {
    let given: Given = FILTERS
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
    let f = scoped(query.filter(c.retention)?, scope);
    Ok((f, given))
}

fn who(me: &Signed) -> String {
    format!("{} ({})", me.session.access_key, me.session.name)
}

/// `GET /console/audit`, and the page after a verification (`verified`).
pub async fn search(
    c: &Console,
    me: &Signed,
    q: &Form,
    verified: Option<(bool, String)>,
) -> Response<Vec<u8>> {
    let scope = match admin::reads(&me.credential.principal, Area::Audit) {
        Ok(s) => s,
        Err(d) => return refusal("Audit", &d.into()),
    };
    let (mut filter, given) = match search_of(c, q, &scope) {
        Ok(x) => x,
        Err(e) => return refusal("Audit", &Rejection::InvalidBody(e)),
    };
    filter.before_seq = q.get("before").and_then(|b| b.parse().ok());
    // One more than a page: whether there is an older page is known, not guessed.
    filter.limit = PAGE + 1;
    let Ok(mut recs) = records(&c.audit, filter, false, &who(me)).await else {
        return c.unavailable();
    };
    let more = recs.len() as i64 > PAGE;
    recs.truncate(PAGE as usize);
    let search: String = given
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let older = more
        .then(|| recs.last().and_then(|r| r["seq"].as_i64()))
        .flatten()
        .map(|seq| layout::joined(&[&search, &format!("before={seq}")]));
    let value = |name: &str| {
        given
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let verifies = admin::may_verify(&me.credential.principal).is_ok();
    let rows: Vec<Vec<Cell>> = recs
        .iter()
        .map(|r| {
            SHOWN
                .iter()
                .map(|col| match *col {
                    "seq" => {
                        let seq = text(&r["seq"]);
                        Cell::markup(
                            seq.clone(),
                            html! { a href={ "/console/audit/record?seq=" (seq) } { (seq) } },
                        )
                    }
                    "at" => {
                        let at = text(&r["at"]);
                        Cell::markup(at.clone(), when(&at_rfc3339(&r["at"])))
                    }
                    "amount" => Cell::number(text(&r["amount"])),
                    other => Cell::text(text(&r[other])),
                })
                .collect()
        })
        .collect();
    let caption = match &scope {
        Scope::All => format!("{} records, newest first", recs.len()),
        Scope::Partner(p) => format!("{} records of {p}'s subtree, newest first", recs.len()),
    };
    let body = html! {
        @if let Some((intact, what)) = &verified {
            @if *intact { p.ok role="status" { "Chain intact: " (what) } }
            @else { p.error role="alert" { "Chain BROKEN: " (what) } }
        }
        form.filters method="get" action="/console/audit" aria-label="Search the audit log" {
            @for name in FILTERS {
                label { (name) input name=(name) value=(value(name)) placeholder=(placeholder(name)); }
            }
            button type="submit" { "Search" }
        }
        p {
            "Export this search: "
            a href={ "/console/audit/export?" (layout::joined(&["format=csv", &search])) } download { "CSV" } " · "
            a href={ "/console/audit/export?" (layout::joined(&["format=jsonl", &search])) } download { "JSON Lines" }
            @if me.credential.principal.role.as_deref() == Some(UNMASKED_ROLE) {
                " · unmasked: "
                a href={ "/console/audit/export?" (layout::joined(&["format=csv&unmasked=true", &search])) } download { "CSV" }
            }
        }
        @if verifies {
            form method="post" action={ "/console/audit/verify?" (search) } {
                input type="hidden" name="csrf" value=(me.session.csrf);
                button type="submit" { "Verify the chain now" }
            }
        }
        (layout::sortable(&caption, q, "/console/audit", &search, SHOWN, rows))
        @if let Some(o) = &older {
            p { a href={ "/console/audit?" (o) } rel="next" { "Older records" } }
        }
    };
    page(
        StatusCode::OK,
        layout::layout("Audit", Some(&me.frame()), "/console/audit", body),
        &[],
    )
}

fn placeholder(name: &str) -> &'static str {
    match name {
        "from" | "until" => "2026-12-01T00:00:00+08:00",
        "kind" => "intent, outcome, credential…",
        _ => "",
    }
}

fn at_rfc3339(v: &Value) -> String {
    v.as_i64()
        .map(|ms| crate::reads::rfc3339(ms / 1000))
        .or_else(|| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `POST /console/audit/verify`: auditors verify the whole chain; the run is itself audited.
pub async fn verify(c: &Console, me: &Signed, q: &Form) -> Response<Vec<u8>> {
    if let Err(d) = admin::may_verify(&me.credential.principal) {
        return refusal("Audit", &d.into());
    }
    let verified = match c.audit.verify_recorded(&who(me)).await {
        Ok(r) if r.intact() => (
            true,
            format!(
                "{} records, {} checkpoints, {} trailing records not yet under a checkpoint",
                r.records, r.checkpoints, r.uncovered
            ),
        ),
        Ok(r) => (
            false,
            r.broken
                .first()
                .map(|b| format!("first broken record {}: {}", b.seq, b.what))
                .unwrap_or_default(),
        ),
        Err(e) => (false, format!("could not verify: {e}")),
    };
    search(c, me, q, Some(verified)).await
}

/// `GET /console/audit/record?seq=N`: one record, its hash recomputed, its link to the one
/// before, its signature and whether a checkpoint covers it.
pub async fn record(c: &Console, me: &Signed, q: &Form) -> Response<Vec<u8>> {
    let Some(seq) = q.get("seq").and_then(|s| s.parse::<i64>().ok()) else {
        return refusal(
            "Record",
            &Rejection::InvalidBody("`seq` must be a record's number".into()),
        );
    };
    let scope = match admin::reads(&me.credential.principal, Area::Audit) {
        Ok(s) => s,
        Err(d) => return refusal("Record", &d.into()),
    };
    let store = c.audit.store().audit();
    let (Ok(row), Ok(before), Ok(checkpoints)) = (
        store.row(seq).await,
        store.row(seq - 1).await,
        store.checkpoints().await,
    ) else {
        return c.unavailable();
    };
    let Some(row) = row else {
        return refusal(
            "Record",
            &Rejection::InvalidBody(format!("there is no record {seq}")),
        );
    };
    let mut body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    let party = |k: &str| body[k].as_str().map(str::to_owned).unwrap_or_default();
    let mine = match &scope {
        Scope::All => true,
        Scope::Partner(p) => party("principal") == *p || party("acting") == *p,
    };
    if !mine {
        let d = tiergate_policy::Denied::NotYours {
            field: "seq",
            value: seq.to_string(),
        };
        return refusal("Record", &d.into());
    }
    let Ok(m) = masker(&c.audit).await else {
        return c.unavailable();
    };
    m.mask(&mut body);
    let hash_ok = chain_hash(&row.prev_hash, &row.body) == row.hash;
    let link_ok = match &before {
        Some(b) => b.hash == row.prev_hash,
        None => seq == 1,
    };
    let sig_ok = signature_ok(
        &c.audit.public_key(),
        &record_message(row.seq, &row.hash),
        &row.signature,
    );
    let covered = checkpoints.iter().find(|cp| cp.seq >= seq);
    let yes_no = |ok: bool, yes: &str, no: &str| if ok { yes.to_owned() } else { no.to_owned() };
    let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
    let html = html! {
        p { a href="/console/audit" { "← Audit search" } }
        table {
            caption { "Record " (seq) " in the chain" }
            tbody {
                tr { th scope="row" { "hash" } td { code { (row.hash) } } }
                tr { th scope="row" { "hash recomputed" } td { (yes_no(hash_ok, "matches", "DOES NOT MATCH: the record was changed")) } }
                tr { th scope="row" { "previous hash" } td { code { (row.prev_hash) } } }
                tr { th scope="row" { "link to record " (seq - 1) } td { (yes_no(link_ok, "intact", "BROKEN: the record before was changed, removed or reordered")) } }
                tr { th scope="row" { "signature (Ed25519)" } td { (yes_no(sig_ok, "valid", "INVALID")) } }
                tr { th scope="row" { "checkpoint" } td {
                    @match covered {
                        Some(cp) => { "covered by the checkpoint at record " (cp.seq) ", " (when(&crate::reads::rfc3339(cp.at / 1000))) }
                        None => { "not yet under a checkpoint" }
                    }
                } }
                tr {
                    th scope="row" { "neighbours" }
                    td {
                        @if seq > 1 { a href={ "/console/audit/record?seq=" (seq - 1) } rel="prev" { "record " (seq - 1) } " · " }
                        a href={ "/console/audit/record?seq=" (seq + 1) } rel="next" { "record " (seq + 1) }
                    }
                }
            }
        }
        h3 { "What it says" }
        pre { (pretty) }
    };
    page(
        StatusCode::OK,
        layout::layout(
            &format!("Audit record {seq}"),
            Some(&me.frame()),
            "/console/audit",
            html,
        ),
        &[],
    )
}

/// `GET /console/audit/export`: the search as CSV or JSON Lines, written while it is read
/// (the admin listener streams it), or the refusal.
pub fn export(c: &Console, me: &Signed, q: &Form) -> Answer {
    let format: Format = match q.get("format").unwrap_or("csv").parse() {
        Ok(f) => f,
        Err(e) => return Answer::Whole(refusal("Export", &Rejection::InvalidBody(e))),
    };
    let scope = match admin::reads(&me.credential.principal, Area::Audit) {
        Ok(s) => s,
        Err(d) => return Answer::Whole(refusal("Export", &d.into())),
    };
    let (filter, _) = match search_of(c, q, &scope) {
        Ok(x) => x,
        Err(e) => return Answer::Whole(refusal("Export", &Rejection::InvalidBody(e))),
    };
    // Unmasked only for the role that grants it, and only when asked.
    let unmasked = q.get("unmasked") == Some("true")
        && me.credential.principal.tier == Tier::Auditor
        && me.credential.principal.role.as_deref() == Some(UNMASKED_ROLE);
    Answer::Export(Box::new(Export {
        filter,
        limit: None,
        unmasked,
        who: who(me),
        format,
    }))
}
