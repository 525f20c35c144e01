//! `tiergate graph`: the relationship graph's syncs. `sync --full` asks the gateways' syncer
//! (whichever holds the lease on this database) for a full sync now, which also catches
//! removals and changes the incremental syncs cannot see, and waits for it; `status` says
//! where the syncs stand.

use crate::store::{Store, now_ms};
use clap::Subcommand;
use std::time::{Duration, Instant};
use tiergate_config::Config;

/// How often the state is read while waiting.
const POLL: Duration = Duration::from_millis(500);

#[derive(Subcommand)]
pub enum Action {
    /// Ask for a sync now.
    Sync {
        /// A full sync (the only kind asked for by hand: incremental ones run every
        /// `graph.sync_interval`).
        #[arg(long, required = true)]
        full: bool,
        /// How long to wait for it to finish (`0s`: ask and return).
        #[arg(long, default_value = "10m")]
        wait: String,
    },
    /// Who syncs, and when the last syncs ran.
    Status,
}

/// Runs `tiergate graph`.
pub fn run(c: Config, action: Action) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        let store = Store::connect(&c.storage)
            .await
            .map_err(|e| format!("storage: {e}"))?;
        match action {
            Action::Sync { full: _, wait } => {
                let wait =
                    tiergate_config::parse_duration(&wait).map_err(|e| format!("--wait: {e}"))?;
                sync_full(&store, wait).await
            }
            Action::Status => status(&store).await,
        }
    })
}

async fn sync_full(store: &Store, wait: Duration) -> Result<(), String> {
    let asked = now_ms();
    let g = store.graph();
    g.ask_full(asked).await.map_err(|e| e.to_string())?;
    let state = g.sync_state().await.map_err(|e| e.to_string())?;
    if state.lease_until < asked {
        println!("asked; no gateway holds the sync lease now: the full sync runs when one starts");
        return Ok(());
    }
    if wait.is_zero() {
        println!("asked; {} runs it within seconds", state.holder);
        return Ok(());
    }
    let until = Instant::now() + wait;
    loop {
        let state = g.sync_state().await.map_err(|e| e.to_string())?;
        if state.full_at >= asked {
            println!(
                "full sync done by {} (lists from {} on)",
                state.holder, state.since
            );
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!(
                "asked; not finished within {wait:?} (run by {}; see tiergate_graph_syncs_total \
                 and its log)",
                state.holder
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn status(store: &Store) -> Result<(), String> {
    let s = store
        .graph()
        .sync_state()
        .await
        .map_err(|e| e.to_string())?;
    let now = now_ms();
    let ago = |ms: i64| match ms {
        0 => "never".to_owned(),
        t => format!("{} s ago", (now - t) / 1000),
    };
    let holder = match (s.holder.as_str(), s.lease_until >= now) {
        ("", _) => "none yet".to_owned(),
        (h, true) => format!("{h} (lease held)"),
        (h, false) => format!("{h} (lease lapsed: the next gateway to try takes over)"),
    };
    println!("syncer: {holder}");
    println!("last full sync began: {}", ago(s.full_at));
    println!("full sync asked by hand: {}", ago(s.full_asked));
    let since = if s.since.is_empty() {
        "(none yet)"
    } else {
        &s.since
    };
    println!("next incremental sync lists from: {since}");
    Ok(())
}
