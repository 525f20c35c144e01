//! `tiergate funds cap|show`: per-grantee caps on fund adjustments to customers (allocate and
//! reclaim), per operation and per calendar day and month (GMT+08:00), every change audited.

use clap::{Subcommand, ValueEnum};
use rust_decimal::Decimal;
use std::str::FromStr;
use tiergate_config::Config;
use tiergate_policy::ledger::funds::{Caps, Direction};

/// Which way funds move.
#[derive(Clone, Copy, ValueEnum)]
pub enum Way {
    /// To customers.
    Allocate,
    /// Back from customers.
    Reclaim,
}

/// What `tiergate funds` does.
#[derive(Subcommand)]
pub enum Action {
    /// Set a grantee's caps for one direction (an option left out: no cap).
    Cap {
        /// The partner (a reseller, or the distributor).
        #[arg(long)]
        grantee: String,
        /// A staff member of that reseller (their own caps, on top of the reseller's).
        #[arg(long)]
        staff: Option<String>,
        /// Which way.
        #[arg(long, value_enum)]
        direction: Way,
        /// Largest single adjustment.
        #[arg(long)]
        per_operation: Option<String>,
        /// Per calendar day.
        #[arg(long)]
        per_day: Option<String>,
        /// Per calendar month.
        #[arg(long)]
        per_month: Option<String>,
    },
    /// A grantee's caps, what it moved per period and the holds in flight, as JSON.
    Show {
        /// The partner.
        #[arg(long)]
        grantee: String,
        /// A staff member of that reseller.
        #[arg(long)]
        staff: Option<String>,
    },
}

fn key(grantee: &str, staff: &Option<String>) -> String {
    match staff {
        Some(s) => format!("{grantee}/{s}"),
        None => grantee.to_owned(),
    }
}

fn amount(v: &Option<String>) -> Result<Option<Decimal>, String> {
    v.as_deref()
        .map(|s| match Decimal::from_str(s) {
            Ok(d) if d > Decimal::ZERO && d.normalize().scale() <= 2 => Ok(d),
            _ => Err(format!(
                "`{s}` is not a positive amount with at most 2 decimals"
            )),
        })
        .transpose()
}

/// Runs a funds command.
pub fn run(c: Config, action: Action) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        let audit = crate::audit::Audit::open(&c).await?;
        match action {
            Action::Show { grantee, staff } => {
                let a = audit
                    .store()
                    .funds()
                    .view(&key(&grantee, &staff))
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                println!("{}", serde_json::to_string(&a).map_err(|e| e.to_string())?);
            }
            Action::Cap {
                grantee,
                staff,
                direction,
                per_operation,
                per_day,
                per_month,
            } => {
                let caps = Caps {
                    per_operation: amount(&per_operation)?,
                    per_day: amount(&per_day)?,
                    per_month: amount(&per_month)?,
                };
                let direction = match direction {
                    Way::Allocate => Direction::Allocate,
                    Way::Reclaim => Direction::Reclaim,
                };
                let g = key(&grantee, &staff);
                audit
                    .store()
                    .funds()
                    .set_caps(g.clone(), direction, caps, "cli".into(), audit.signer())
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{} caps of {g}: ok", direction.as_str());
            }
        }
        Ok(())
    })
}
