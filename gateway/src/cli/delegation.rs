//! `tiergate delegation grant|adjust|suspend|resume|revoke|show`: slices of a voucher quota,
//! every change audited.

use crate::audit::record::{Entry, Kind};
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::str::FromStr;
use tiergate_config::Config;
use tiergate_policy::ledger::{Ledger, Limits, Status};

/// What `tiergate delegation` does.
#[derive(Subcommand)]
pub enum Action {
    /// Grant a slice (a root slice of the quota when no --parent).
    Grant(Box<GrantArgs>),
    /// Change a slice's total.
    Adjust {
        /// Which slice.
        #[command(flatten)]
        at: At,
        /// The new total.
        #[arg(long)]
        total: String,
    },
    /// Suspend a slice (nothing new is reserved below it).
    Suspend(At),
    /// Resume a suspended slice.
    Resume(At),
    /// Revoke a slice and its subtree; what it had not spent returns to its parent.
    Revoke(At),
    /// The quota's tree: granted, reserved, used and remaining per slice.
    Show {
        /// The vendor quota.
        #[arg(long)]
        quota: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A slice of a quota.
#[derive(Args)]
pub struct At {
    /// The vendor quota.
    #[arg(long)]
    quota: String,
    /// The slice's id.
    #[arg(long)]
    id: String,
}

/// A new slice.
#[derive(Args)]
pub struct GrantArgs {
    #[command(flatten)]
    at: At,
    /// The parent slice.
    #[arg(long)]
    parent: Option<String>,
    /// Who it is for (a reseller's partner id, or a staff member's name).
    #[arg(long)]
    grantee: String,
    /// Total.
    #[arg(long)]
    total: String,
    /// Cap per calendar day (GMT+08:00).
    #[arg(long)]
    per_day: Option<String>,
    /// Cap per calendar month (GMT+08:00).
    #[arg(long)]
    per_month: Option<String>,
    /// Largest face value of one voucher.
    #[arg(long)]
    max_face_value: Option<String>,
    /// Allowed cloud service types, comma-separated.
    #[arg(long)]
    services: Option<String>,
    /// Allowed products, comma-separated.
    #[arg(long)]
    products: Option<String>,
    /// Allowed customers, comma-separated.
    #[arg(long)]
    customers: Option<String>,
    /// Vouchers valid from (RFC 3339).
    #[arg(long)]
    valid_from: Option<String>,
    /// Vouchers valid until (RFC 3339).
    #[arg(long)]
    valid_until: Option<String>,
    /// The delegation ends (RFC 3339).
    #[arg(long)]
    expires_at: Option<String>,
    /// The reseller's own vendor quota this slice was issued as: vouchers issued from it
    /// draw on this slice.
    #[arg(long)]
    upstream_quota: Option<String>,
}

fn money(s: &str) -> Result<Decimal, String> {
    Decimal::from_str(s).map_err(|_| format!("`{s}` is not an amount"))
}

fn when(s: &Option<String>) -> Result<Option<time::OffsetDateTime>, String> {
    s.as_deref()
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|e| format!("`{v}`: {e}"))
        })
        .transpose()
}

fn set(s: &Option<String>) -> Option<BTreeSet<String>> {
    s.as_deref().map(|v| {
        v.split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

fn limits(a: &GrantArgs) -> Result<Limits, String> {
    let opt = |v: &Option<String>| v.as_deref().map(money).transpose();
    Ok(Limits {
        total: money(&a.total)?,
        per_day: opt(&a.per_day)?,
        per_month: opt(&a.per_month)?,
        max_face_value: opt(&a.max_face_value)?,
        services: set(&a.services),
        products: set(&a.products),
        customers: set(&a.customers),
        valid_from: when(&a.valid_from)?,
        valid_until: when(&a.valid_until)?,
        expires_at: when(&a.expires_at)?,
    })
}

/// The tree as JSON: one entry per slice.
pub fn tree(l: &Ledger) -> Value {
    let slices: Vec<Value> = l
        .nodes()
        .map(|(id, n)| {
            json!({
                "id": id, "parent": n.parent, "grantee": n.grantee,
                "status": n.status, "granted": n.limits.total.to_string(),
                "reserved": n.reserved.to_string(), "used": n.used.to_string(),
                "remaining": l.remaining(id).to_string(),
            })
        })
        .collect();
    json!({"slices": slices})
}

/// A change to a quota's ledger.
type Change = Box<dyn FnOnce(&mut Ledger) -> Result<(), String> + Send>;

/// Runs a delegation command.
pub fn run(c: Config, action: Action) -> Result<(), String> {
    let at = match &action {
        Action::Grant(g) => &g.at,
        Action::Adjust { at, .. }
        | Action::Suspend(at)
        | Action::Resume(at)
        | Action::Revoke(at) => at,
        Action::Show { quota, json } => {
            let quota = quota.clone();
            let json_out = *json;
            return super::runtime()?.block_on(async move {
                let audit = super::audit::open(&c).await?;
                let store = audit.store();
                let l = store.ledger_view(&quota).await.map_err(|e| e.to_string())?;
                let mut t = tree(&l);
                let links = store
                    .ledger_links(&quota)
                    .await
                    .map_err(|e| e.to_string())?;
                for s in t["slices"].as_array_mut().into_iter().flatten() {
                    if let Some((u, _)) = links.iter().find(|(_, n)| s["id"] == n.as_str()) {
                        s["upstream_quota"] = json!(u);
                    }
                }
                if json_out {
                    println!("{t}");
                } else {
                    for s in t["slices"].as_array().into_iter().flatten() {
                        println!(
                            "{} ({}, {}) granted {} reserved {} used {} remaining {}",
                            s["id"].as_str().unwrap_or_default(),
                            s["grantee"].as_str().unwrap_or_default(),
                            s["status"].as_str().unwrap_or_default(),
                            s["granted"].as_str().unwrap_or_default(),
                            s["reserved"].as_str().unwrap_or_default(),
                            s["used"].as_str().unwrap_or_default(),
                            s["remaining"].as_str().unwrap_or_default()
                        );
                    }
                }
                Ok(())
            });
        }
    };
    let (quota, id) = (at.quota.clone(), at.id.clone());
    let mut link = None;
    let (operation, detail, change): (&str, Value, Change) = match action {
        Action::Grant(g) => {
            link = g.upstream_quota.clone();
            let lim = limits(&g)?;
            let detail = json!({"parent": g.parent, "grantee": g.grantee, "limits": lim,
                                "upstream_quota": g.upstream_quota});
            let (q, i) = (quota.clone(), id.clone());
            let f = move |l: &mut Ledger| {
                l.grant(&i, g.parent.as_deref(), &g.grantee, &q, lim)
                    .map_err(|e| e.to_string())
            };
            ("grant", detail, Box::new(f))
        }
        Action::Adjust { total, .. } => {
            let t = money(&total)?;
            let i = id.clone();
            (
                "adjust",
                json!({"total": t.to_string()}),
                Box::new(move |l: &mut Ledger| l.adjust(&i, t).map_err(|e| e.to_string())),
            )
        }
        Action::Suspend(_) | Action::Resume(_) | Action::Revoke(_) => {
            let (name, status) = match action {
                Action::Suspend(_) => ("suspend", Status::Suspended),
                Action::Resume(_) => ("resume", Status::Active),
                _ => ("revoke", Status::Revoked),
            };
            let i = id.clone();
            (
                name,
                Value::Null,
                Box::new(move |l: &mut Ledger| l.set_status(&i, status).map_err(|e| e.to_string())),
            )
        }
        Action::Show { .. } => return Ok(()),
    };
    super::runtime()?.block_on(async move {
        // The ledger lives in the audit log's database (reservations commit with their intents).
        let audit = super::audit::open(&c).await?;
        let store = audit.store();
        store
            .ledger_apply(&quota, change)
            .await
            .map_err(|e| e.to_string())??;
        if let Some(u) = link {
            store
                .ledger_link(&u, &quota, &id)
                .await
                .map_err(|e| format!("linking {u}: {e}"))?;
        }
        let entry = Entry {
            kind: Some(Kind::Delegation),
            operation: Some(operation.to_owned()),
            acting: Some(id.clone()),
            outcome: Some("ok".into()),
            source: Some("cli".into()),
            detail: json!({"quota_id": quota, "delegation": id, "change": detail}),
            ..Entry::default()
        };
        audit
            .append(entry)
            .await
            .map_err(|e| format!("audit: {e}"))?;
        println!("{operation} {id} on {quota}: ok");
        Ok(())
    })
}
