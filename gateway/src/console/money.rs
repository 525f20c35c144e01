//! The money page: what moved over a period, per operation, reseller and customer, totalled
//! from the audit log ([`crate::reads::money`], the same as `GET /money`).

use super::layout::{self, Cell, enc};
use super::{Console, Signed, page, refusal};
use crate::reads::money::money;
use crate::web::form::Form;
use http::{Response, StatusCode};
use maud::html;

/// `GET /console/money?from=&until=`.
pub async fn show(c: &Console, me: &Signed, q: &Form) -> Response<Vec<u8>> {
    let from = q.string("from").filter(|v| !v.is_empty());
    let until = q.string("until").filter(|v| !v.is_empty());
    let m = match money(
        &c.audit,
        &me.credential.principal,
        from.clone(),
        until.clone(),
        c.retention,
    )
    .await
    {
        Ok(m) => m,
        Err(r) => return refusal("Money", &r),
    };
    let keep: String = [("from", &from), ("until", &until)]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect::<Vec<_>>()
        .join("&");
    let audit_link = |op: &str, reseller: &str| {
        let mut link = format!("/console/audit?kind=intent&operation={}", enc(op));
        if !reseller.is_empty() {
            link.push_str(&format!("&reseller={}", enc(reseller)));
        }
        if !keep.is_empty() {
            link.push('&');
            link.push_str(&keep);
        }
        link
    };
    let moved = m
        .moved
        .iter()
        .map(|x| {
            vec![
                Cell::text(x.operation.clone()),
                Cell::markup(
                    x.reseller.clone(),
                    html! { a href=(audit_link(&x.operation, &x.reseller)) { (x.reseller) } },
                ),
                Cell::text(if x.customer.is_empty() {
                    "(partner)".to_owned()
                } else {
                    x.customer.clone()
                }),
                Cell::number(x.calls.to_string()),
                Cell::number(x.amount.clone()),
            ]
        })
        .collect();
    let body = html! {
        form.filters method="get" action="/console/money" {
            label { "from (RFC 3339; empty: the retention window)" input name="from" value=(from.clone().unwrap_or_default()) placeholder="2026-12-01T00:00:00+08:00"; }
            label { "until (empty: now)" input name="until" value=(until.clone().unwrap_or_default()); }
            button type="submit" { "Show" }
        }
        p { "Amounts in CNY, exact. A call counts here only when its outcome in the audit log is ok; the rest are listed below, never added." }
        h3 { "Totals" }
        table {
            caption { "What moved, per operation" }
            thead { tr { th scope="col" { "operation" } th.n scope="col" { "total" } } }
            tbody { @for (op, total) in &m.totals { tr { td { a href=(audit_link(op, "")) { (op) } } td.n { (total) } } } }
        }
        (layout::sortable("Per operation, reseller and customer", q, "/console/money", &keep,
            &["operation", "reseller", "customer", "calls", "amount"], moved))
        h3 { "Not (surely) moved" }
        (layout::sortable("Calls whose money did not surely move, by outcome", q, "/console/money", &keep,
            &["operation", "outcome", "calls", "amount asked"],
            m.unsettled.iter().map(|u| vec![
                Cell::text(u.operation.clone()), Cell::text(u.outcome.clone()),
                Cell::number(u.calls.to_string()), Cell::number(u.amount.clone()),
            ]).collect()))
    };
    page(
        StatusCode::OK,
        layout::layout("Money", Some(&me.frame()), "/console/money", body),
        &[],
    )
}
