//! Helpers for the delegation ledger's end-to-end tests: slices through the command line, and
//! the vendor's side of the books from the simulator.

use crate::harness::{Cred, Gateway};
use crate::sim::Simulator;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// An amount field of the tree (`Decimal::MIN` when absent, so it never passes for zero).
pub fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or(Decimal::MIN)
}

/// `tiergate delegation grant --quota Q ARGS`.
pub fn grant(gw: &Gateway, quota: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["grant", "--quota", quota];
    all.extend_from_slice(args);
    gw.command("delegation", &all, &[])
}

/// A staff credential of res-1 with the `operator` role.
pub fn staff(gw: &Gateway, name: &str) -> Result<Cred, String> {
    let args = ["--staff", name, "--reseller", "res-1", "--role", "operator"];
    gw.issue_with("res-1", &args, &[])
}

/// The slices of a quota, by id.
pub fn slices(gw: &Gateway, quota: &str) -> Result<Value, String> {
    let out = gw.command("delegation", &["show", "--quota", quota, "--json"], &[])?;
    let t: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    let mut by_id = serde_json::Map::new();
    for s in t["slices"].as_array().into_iter().flatten() {
        by_id.insert(s["id"].as_str().unwrap_or_default().to_owned(), s.clone());
    }
    Ok(Value::Object(by_id))
}

/// The slices once no reservation is held. Settlement is written right after the answer has
/// gone out (with the audit outcome), so a client can be a moment ahead of it (bounded wait).
pub fn settled(gw: &Gateway, quota: &str) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = slices(gw, quota)?;
        let held = t
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .any(|s| dec(&s["reserved"]) != Decimal::ZERO);
        if !held {
            return Ok(t);
        }
        if Instant::now() > deadline {
            return Err(format!("still held after 30 s: {t}"));
        }
    }
}

/// What the simulator holds as issued (usable vouchers' face value) from a quota.
pub fn vendor_issued(sim: &Simulator, quota: &str) -> Decimal {
    sim.world()
        .coupons
        .values()
        .filter(|c| c.quota_id == quota && c.status == 1)
        .map(|c| c.face_value)
        .sum()
}
