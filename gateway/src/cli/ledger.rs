//! `tiergate ledger reconcile`: settles held reservations and credits reclaims from the
//! vendor's voucher records.

use crate::credentials::UpstreamKey;
use crate::ledger::reconcile::Reconciler;
use crate::upstream::UpstreamClient;
use clap::Subcommand;
use tiergate_config::Config;

/// What `tiergate ledger` does.
#[derive(Subcommand)]
pub enum Action {
    /// Compare held reservations and issued vouchers with the vendor's records and settle them.
    Reconcile {
        /// Settle reservations older than this (default: twice the upstream timeout and a
        /// minute, when no call can still be in flight). `0s` settles every one: use it only
        /// when no gateway is running, e.g. after a crash.
        #[arg(long)]
        older_than: Option<String>,
        /// Also look for reclaims made outside Tiergate (reads every delegated quota's records).
        #[arg(long)]
        full: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a ledger command.
pub fn run(c: Config, action: Action) -> Result<(), String> {
    let Action::Reconcile {
        older_than,
        full,
        json,
    } = action;
    let horizon = match older_than {
        Some(d) => tiergate_config::parse_duration(&d).map_err(|e| format!("--older-than: {e}"))?,
        None => crate::ledger::reconcile::in_flight(c.upstream.timeout),
    };
    let addr = crate::upstream::resolve(&c.upstream)?;
    super::runtime()?.block_on(async move {
        let audit = crate::audit::Audit::open(&c).await?;
        let reconciler = Reconciler {
            audit,
            client: UpstreamClient::new(c.upstream.clone(), addr),
            key: UpstreamKey::from(&c.distributor),
            distributor: c.distributor.partner_id.clone(),
            horizon,
        };
        let r = reconciler.run(full).await.map_err(|e| e.to_string())?;
        if json {
            println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        } else {
            println!(
                "reservations settled {} (issued {}, released {}); reclaims credited {} ({}); \
                 vouchers issued outside Tiergate {}; slices issued upstream settled {}; \
                 calls of unknown outcome settled {} (unresolvable {})",
                r.reservations,
                r.issued,
                r.released,
                r.reclaims,
                r.credited,
                r.unattributed.len(),
                r.issues,
                r.outcomes,
                r.unresolved
            );
        }
        Ok(())
    })
}
