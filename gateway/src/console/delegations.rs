//! The delegation page: each quota's slice tree with granted, reserved, used and remaining
//! per slice and what was issued against the day's and month's caps (the vendor's calendar,
//! GMT+08:00), each slice drawn as a bar against its grant so over-commitment shows at a
//! glance and is said in words; grant, adjust, suspend, resume and revoke for those allowed,
//! decided by the admin API's own delegation rules ([`DelegationApi`]), a refusal shown in the
//! ledger's words.

use super::layout::{self, enc, split_bar};
use super::{Console, Signed, page};
use crate::admin::delegations::{DelegationApi, GrantBody};
use crate::rejection::Rejection;
use crate::store::ledger::requests::Change;
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::{Markup, html};
use pingora::protocols::http::ServerSession;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tiergate_policy::admin;
use tiergate_policy::ledger::Status;

/// What a change came to: said in words, and whether it was done.
pub type Done = (bool, String);

fn dec(v: &Value) -> Decimal {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

fn num(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// `GET /console/delegations?quota_id=Q`, and the page after a change.
pub async fn show(
    c: &Console,
    api: &DelegationApi,
    me: &Signed,
    q: &Form,
    done: Option<Done>,
) -> Response<Vec<u8>> {
    let Ok(quotas) = c.audit.store().ledger().quotas().await else {
        return c.unavailable();
    };
    // The quotas this person has a part of (a reseller: those it holds a slice of).
    let mut trees: Vec<(String, Value)> = Vec::new();
    for quota in &quotas {
        // The typed tree, read here as the JSON the admin API sends.
        match api
            .show(&me.credential, &format!("quota_id={}", enc(quota)))
            .await
            .map(|t| serde_json::to_value(t).unwrap_or_default())
        {
            Ok(t) if t["slices"].as_array().is_some_and(|s| !s.is_empty()) => {
                trees.push((quota.clone(), t));
            }
            Ok(_) => {}
            Err(r) => return super::refusal("Delegation", &r),
        }
    }
    let chosen = q
        .string("quota_id")
        .filter(|id| trees.iter().any(|(q, _)| q == id))
        .or_else(|| trees.first().map(|(q, _)| q.clone()));
    let may_change = admin::may_delegate(&me.credential.principal).is_ok();
    let tree = chosen
        .as_ref()
        .and_then(|id| trees.iter().find(|(q, _)| q == id))
        .map(|(quota, t)| draw(quota, t, may_change, &me.session.csrf));
    let status = match &done {
        Some((false, _)) => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    let body = html! {
        @if let Some((ok, what)) = &done {
            @if *ok { p.ok role="status" { (what) } } @else { p.error role="alert" { "Refused: " (what) } }
        }
        @if trees.is_empty() {
            p { "No delegation tree is yours to see yet." }
        } @else {
            form.filters method="get" action="/console/delegations" {
                label { "quota"
                    select name="quota_id" {
                        @for (quota, _) in &trees {
                            option value=(quota) selected[chosen.as_deref() == Some(quota.as_str())] { (quota) }
                        }
                    }
                }
                button type="submit" { "Show" }
            }
            p { "Each bar is a slice's grant (the line at its end): used, reserved, then granted on to slices below. "
                "Daily and monthly caps count by the vendor's calendar, GMT+08:00 (a day there starts at 16:00 UTC)." }
        }
        @if let Some(t) = tree { (t) }
    };
    page(
        status,
        layout::layout(
            "Delegation",
            Some(&me.frame()),
            "/console/delegations",
            body,
        ),
        &[],
    )
}

/// A quota's tree, roots first, each slice with its children below it.
fn draw(quota: &str, tree: &Value, may_change: bool, csrf: &str) -> Markup {
    let slices: Vec<Value> = tree["slices"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = slices
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    let mut children: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut roots = Vec::new();
    for s in &slices {
        match s["parent"].as_str() {
            Some(p) if ids.iter().any(|i| i == p) => {
                children.entry(p.to_owned()).or_default().push(s);
            }
            _ => roots.push(s),
        }
    }
    let ctx = Drawing {
        quota,
        children: &children,
        may_change,
        csrf,
    };
    html! {
        h3 { "Quota " (quota) }
        ul.tree aria-label={ "Slices of " (quota) } {
            @for r in roots { (ctx.slice(r)) }
        }
    }
}

struct Drawing<'a> {
    quota: &'a str,
    children: &'a BTreeMap<String, Vec<&'a Value>>,
    may_change: bool,
    csrf: &'a str,
}

impl Drawing<'_> {
    fn slice(&self, s: &Value) -> Markup {
        let id = s["id"].as_str().unwrap_or_default();
        let kids = self.children.get(id).cloned().unwrap_or_default();
        let granted = dec(&s["granted"]);
        let (used, reserved) = (dec(&s["used"]), dec(&s["reserved"]));
        // As the ledger counts it: a revoked slice below holds only what it still has out.
        let below: Decimal = kids
            .iter()
            .map(|k| match k["status"].as_str() {
                Some("revoked") => dec(&k["granted"]) - dec(&k["remaining"]),
                _ => dec(&k["granted"]),
            })
            .sum();
        let committed = used + reserved + below;
        let over = committed - granted;
        let cap = |k: &str| s["limits"][k].as_str().map(str::to_owned);
        let status = s["status"].as_str().unwrap_or_default();
        html! {
            li {
                div.slice.over[over > Decimal::ZERO] {
                    strong { (id) } " → " (s["grantee"].as_str().unwrap_or_default())
                    " · " (status)
                    @if let Some(u) = s["upstream_quota"].as_str() { " · vendor quota " code { (u) } }
                    (split_bar(num(granted), &[
                        (num(used), "#222", "used"),
                        (num(reserved), "#777", "reserved"),
                        (num(below), "#ccc", "granted below"),
                    ]))
                    p {
                        "granted " strong { (granted) } " · used " (used) " · reserved " (reserved)
                        " · granted below " (below) " · remaining " strong { (s["remaining"].as_str().unwrap_or_default()) }
                    }
                    @if over > Decimal::ZERO {
                        p.error { "OVER-COMMITTED by " (over) }
                    }
                    p {
                        "today (" (s["day"].as_str().unwrap_or_default()) ", GMT+08:00): " (s["issued_today"].as_str().unwrap_or("0"))
                        @if let Some(d) = cap("per_day") { " of " (d) } @else { " (no daily cap)" }
                        " · this month: " (s["issued_this_month"].as_str().unwrap_or("0"))
                        @if let Some(m) = cap("per_month") { " of " (m) } @else { " (no monthly cap)" }
                    }
                    @if self.may_change && status != "revoked" { (self.actions(id, status)) }
                }
                @if !kids.is_empty() {
                    ul.tree { @for k in kids { (self.slice(k)) } }
                }
            }
        }
    }

    fn actions(&self, id: &str, status: &str) -> Markup {
        let hidden = |action: &str| {
            html! {
                input type="hidden" name="csrf" value=(self.csrf);
                input type="hidden" name="quota_id" value=(self.quota);
                input type="hidden" name="id" value=(id);
                input type="hidden" name="action" value=(action);
            }
        };
        html! {
            details {
                summary { "Change " (id) }
                form.filters method="post" action="/console/delegations/change" {
                    (hidden("adjust"))
                    label { "new total" input name="total" inputmode="decimal" required; }
                    button type="submit" { "Adjust" }
                }
                @for (action, show) in [("suspend", status == "active"), ("resume", status == "suspended"), ("revoke", true)] {
                    @if show {
                        form.inline method="post" action="/console/delegations/change" {
                            (hidden(action))
                            button type="submit" { (action) " " (id) }
                        }
                    }
                }
                form.filters method="post" action="/console/delegations/change" aria-label={ "Grant below " (id) } {
                    (hidden("grant"))
                    label { "new slice id" input name="new_id" required; }
                    label { "grantee" input name="grantee" required; }
                    label { "total" input name="total" inputmode="decimal" required; }
                    label { "per day (optional)" input name="per_day" inputmode="decimal"; }
                    label { "per month (optional)" input name="per_month" inputmode="decimal"; }
                    button type="submit" { "Grant below " (id) }
                }
            }
        }
    }
}

fn amount(form: &Form, name: &str) -> Result<Option<Decimal>, Rejection> {
    match form.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<Decimal>().map(Some).map_err(|_| {
            Rejection::InvalidBody(format!(
                "`{name}` must be an exact decimal amount, not `{v}`"
            ))
        }),
    }
}

/// The change a form asks for.
fn asked(form: &Form) -> Result<(String, Result<GrantBody, Change>), Rejection> {
    let quota = form.string("quota_id").unwrap_or_default();
    let id = form.string("id").unwrap_or_default();
    let need = |v: Option<Decimal>, name: &str| {
        v.ok_or_else(|| Rejection::InvalidBody(format!("`{name}` is required")))
    };
    let status = |s| {
        Ok((
            quota.clone(),
            Err(Change::Status {
                id: id.clone(),
                status: s,
            }),
        ))
    };
    match form.get("action").unwrap_or_default() {
        "adjust" => {
            let total = need(amount(form, "total")?, "total")?;
            Ok((quota.clone(), Err(Change::Adjust { id, total })))
        }
        "suspend" => status(Status::Suspended),
        "resume" => status(Status::Active),
        "revoke" => status(Status::Revoked),
        "grant" => {
            let limits = json!({
                "total": need(amount(form, "total")?, "total")?,
                "per_day": amount(form, "per_day")?,
                "per_month": amount(form, "per_month")?,
            });
            let limits = serde_json::from_value(limits)
                .map_err(|e| Rejection::InvalidBody(e.to_string()))?;
            Ok((
                quota.clone(),
                Ok(GrantBody {
                    quota_id: quota,
                    id: form.string("new_id").unwrap_or_default().trim().to_owned(),
                    parent: Some(id),
                    grantee: form.string("grantee").unwrap_or_default().trim().to_owned(),
                    limits,
                    upstream_quota: None,
                    issue_upstream: false,
                }),
            ))
        }
        other => Err(Rejection::InvalidBody(format!(
            "`{other}` is not a delegation change"
        ))),
    }
}

/// `POST /console/delegations/change`.
pub async fn change(
    c: &Console,
    api: &DelegationApi,
    me: &Signed,
    form: &Form,
    session: &ServerSession,
) -> Response<Vec<u8>> {
    let source = session.client_addr().map(ToString::to_string);
    let result = match asked(form) {
        Err(r) => Err(r),
        Ok((quota, Ok(g))) => {
            let request_id = crate::answer::request_id();
            api.grant(&me.credential, g, source, &request_id)
                .await
                .map(|v| (quota, v))
        }
        Ok((quota, Err(change))) => api
            .change(&me.credential, &quota, change, None, source)
            .await
            .map(|v| (quota, v)),
    };
    let (quota, done) = match result {
        Ok((quota, changed)) => {
            let v = serde_json::to_value(changed).unwrap_or_default();
            let what = format!(
                "{} {}: done, and written to the audit log.",
                v["operation"].as_str().unwrap_or("change"),
                v["delegation"].as_str().unwrap_or_default()
            );
            (quota, (true, what))
        }
        Err(r) => (
            form.string("quota_id").unwrap_or_default(),
            (false, format!("{r} ({})", r.answer().code)),
        ),
    };
    let q = Form::parse(format!("quota_id={}", enc(&quota)).as_bytes());
    show(c, api, me, &q, Some(done)).await
}
