//! `tiergate delegation grant|adjust|suspend|resume|revoke|show`: slices of a voucher quota,
//! every change audited.

use crate::ledger::view::tree;
use crate::store::ledger::requests::{Author, Change};
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::str::FromStr;
use tiergate_config::Config;
use tiergate_policy::ledger::{Limits, Status};

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

/// Runs a delegation command.
pub fn run(c: Config, action: Action) -> Result<(), String> {
    let status = |at: At, status: Status| {
        let change = Change::Status { id: at.id, status };
        (at.quota, change, None)
    };
    let (quota, change, link) = match action {
        Action::Show { quota, json } => return show(c, quota, json),
        Action::Grant(g) => {
            let change = Change::Grant {
                id: g.at.id.clone(),
                parent: g.parent.clone(),
                grantee: g.grantee.clone(),
                limits: Box::new(limits(&g)?),
            };
            (g.at.quota.clone(), change, g.upstream_quota.clone())
        }
        Action::Adjust { at, total } => {
            let total = money(&total)?;
            (at.quota, Change::Adjust { id: at.id, total }, None)
        }
        Action::Suspend(at) => status(at, Status::Suspended),
        Action::Resume(at) => status(at, Status::Active),
        Action::Revoke(at) => status(at, Status::Revoked),
    };
    super::runtime()?.block_on(async move {
        // The ledger lives in the audit log's database (reservations commit with their intents).
        let audit = crate::audit::Audit::open(&c).await?;
        let (id, operation) = (change.id().to_owned(), change.operation());
        let author = Author {
            source: Some("cli".into()),
            ..Author::default()
        };
        audit
            .store()
            .ledger()
            .change(&quota, change, link, author, audit.signer())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        println!("{operation} {id} on {quota}: ok");
        Ok(())
    })
}

fn show(c: Config, quota: String, json_out: bool) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        let audit = crate::audit::Audit::open(&c).await?;
        let t = tree(audit.store(), &quota, |_, _| true)
            .await
            .map_err(|e| e.to_string())?;
        let t = serde_json::to_value(t).map_err(|e| e.to_string())?;
        if json_out {
            println!("{t}");
            return Ok(());
        }
        for s in t["slices"].as_array().into_iter().flatten() {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            println!(
                "{} ({}, {}) granted {} reserved {} used {} remaining {}",
                f("id"),
                f("grantee"),
                f("status"),
                f("granted"),
                f("reserved"),
                f("used"),
                f("remaining")
            );
        }
        Ok(())
    })
}
