//! `tiergate policy explain`: the decision the gateway would make for a request, and why.

use crate::filters::authz;
use crate::graph::LiveGraph;
use crate::rejection::Rejection;
use crate::store::Store;
use bytes::Bytes;
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use tiergate_config::Config;
use tiergate_policy::{Principal, Tier, find_route};

#[derive(Subcommand)]
pub enum Action {
    /// Decide on a request as the gateway would, against the stored relationship graph.
    Explain {
        /// `TIER:PARTNER[:ROLE]`, e.g. `cloud_reseller:res-1` or `reseller_staff:res-1:viewer`.
        #[arg(long)]
        principal: String,
        /// `METHOD /path[?query]`.
        #[arg(long)]
        request: String,
        /// JSON body file (`-` for standard input).
        #[arg(long)]
        body: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn principal(spec: &str, config: &Config) -> Result<Principal, String> {
    let mut parts = spec.splitn(3, ':');
    let tier: Tier = parts
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|e: tiergate_policy::principal::UnknownTier| e.to_string())?;
    let partner = parts
        .next()
        .filter(|p| !p.is_empty())
        .ok_or("--principal is TIER:PARTNER[:ROLE]")?;
    Ok(Principal {
        partner_id: partner.to_owned(),
        tier,
        distributor_id: Some(config.distributor.partner_id.clone()),
        role: parts.next().map(str::to_owned),
    })
}

fn read_body(path: Option<PathBuf>) -> Result<Bytes, String> {
    let Some(p) = path else {
        return Ok(Bytes::new());
    };
    let bytes = if p.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b).map_err(|e| e.to_string())?;
        b
    } else {
        std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?
    };
    Ok(Bytes::from(bytes))
}

pub fn run(config: Config, action: Action) -> Result<(), String> {
    let Action::Explain {
        principal: spec,
        request,
        body,
        json: as_json,
    } = action;
    let who = Arc::new(principal(&spec, &config)?);
    let (method, target) = request
        .split_once(' ')
        .ok_or("--request is `METHOD /path[?query]`")?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let body = read_body(body)?;
    let edges = super::runtime()?.block_on(async {
        let store = Store::connect(&config.storage)
            .await
            .map_err(|e| format!("storage: {e}"))?;
        store.graph().edges().await.map_err(|e| e.to_string())
    })?;
    if edges.is_empty() {
        eprintln!(
            "note: the stored relationship graph is empty; start the gateway once to sync it"
        );
    }
    let graph = LiveGraph::from_stored(edges.into_iter().collect());
    let route = find_route(method, path).ok_or_else(|| Rejection::NoSuchRoute {
        method: method.to_owned(),
        path: path.to_owned(),
    });
    let decision = route.and_then(|r| {
        authz::authorize(&who, r, query, body, &graph, &config.rules).map(|d| (r, d))
    });
    let reseller = matches!(who.tier, Tier::CloudReseller | Tier::ResellerStaff);
    let checked = |r: &tiergate_policy::Route| reseller && r.checks_answer;
    // Why a reseller may not call what the vendor lets partners call.
    let not_for_resellers = find_route(method, path)
        .filter(|_| reseller)
        .and_then(|r| r.not_for_resellers);
    let out = match &decision {
        Ok((route, (permit, forward))) => json!({
            "answer_checked": checked(route),
            "decision": "allow",
            "operation": route.operation,
            "money_moving": route.money_moving,
            "principal": {"tier": who.tier, "partner": who.partner_id, "role": who.role},
            "acting_as": permit.acting(),
            "rule": permit.rule(),
            "injected": permit.injection().map(|i| json!({"field": i.field, "value": i.value, "in": i.location})),
            "forwarded_query": forward.query,
            "forwarded_body": String::from_utf8_lossy(&forward.body),
        }),
        Err(r) => json!({
            "decision": "deny",
            "code": r.answer().code,
            "status": r.answer().status,
            "message": r.to_string(),
            "rule": r.rule(),
            "why": not_for_resellers,
            "principal": {"tier": who.tier, "partner": who.partner_id, "role": who.role},
        }),
    };
    if as_json {
        println!("{out}");
        return Ok(());
    }
    match decision {
        Ok((route, (permit, _))) => {
            println!("allow  {} ({} {})", route.operation, method, path);
            println!("  principal  {} {}", who.tier, who.partner_id);
            println!("  acting as  {}", permit.acting());
            println!("  rule       {}", permit.rule());
            if let Some(i) = permit.injection() {
                println!("  injects    {}={} ({:?})", i.field, i.value, i.location);
            }
            if checked(route) {
                println!("  answer     checked: every customer_id in it must be the reseller's");
            }
        }
        Err(r) => {
            println!("deny   {} {}", r.answer().code, r);
            println!("  principal  {} {}", who.tier, who.partner_id);
            println!("  rule       {}", r.rule().unwrap_or("route-catalogue"));
            if let Some(why) = not_for_resellers {
                println!("  why        {why}");
            }
        }
    }
    Ok(())
}
