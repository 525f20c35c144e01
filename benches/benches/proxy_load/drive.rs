//! Runs the load driver against one target and reads what the run cost.

use super::targets::pinned;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tiergate_benches::stats::{machine_cpu, tree_cpu};
use tiergate_tests::harness::{Result, binary};

/// The driver's cores (the server under test has the others).
pub const CLIENT_CPUS: &str = "0";
/// Connections the driver keeps open.
pub const CONNECTIONS: usize = 32;
/// Measured seconds per run.
pub const SECONDS: f64 = 10.0;

/// What one run measured.
pub struct Run {
    /// The driver's report.
    pub report: Value,
    /// CPU seconds the server processes used during the run.
    pub server_cpu: Duration,
    /// CPU seconds the whole machine used during the run.
    pub machine_cpu: Duration,
}

impl Run {
    /// A number from the driver's report.
    pub fn num(&self, field: &str) -> f64 {
        self.report[field].as_f64().unwrap_or(0.0)
    }

    /// Requests sent in all (warm-up included), the denominator of CPU per request.
    fn all(&self) -> f64 {
        self.num("all").max(1.0)
    }

    /// Server CPU microseconds per request.
    pub fn server_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.all()
    }

    /// Machine CPU microseconds per request (client, upstream and stores included).
    pub fn machine_us(&self) -> f64 {
        self.machine_cpu.as_secs_f64() * 1e6 / self.all()
    }
}

/// One run: closed loop when `rate` is 0, else open loop at `rate` requests per second.
pub fn run(target: SocketAddr, requests: &Path, rate: f64, server: &[u32]) -> Result<Run> {
    run_with(target, requests, rate, server, CONNECTIONS)
}

/// [`run`] with `connections` connections.
pub fn run_with(
    target: SocketAddr,
    requests: &Path,
    rate: f64,
    server: &[u32],
    connections: usize,
) -> Result<Run> {
    let cpu = || server.iter().map(|p| tree_cpu(*p)).sum::<Duration>();
    let (s0, m0) = (cpu(), machine_cpu());
    let report = driver(target, requests, connections, SECONDS, 2.0, rate)?;
    let (s1, m1) = (cpu(), machine_cpu());
    Ok(Run {
        report,
        server_cpu: s1.saturating_sub(s0),
        machine_cpu: m1.saturating_sub(m0),
    })
}

/// A closed-loop flood over `connections` for `seconds`, no warm-up (an attacker).
pub fn flood(
    target: SocketAddr,
    requests: &Path,
    connections: usize,
    seconds: f64,
) -> Result<Value> {
    driver(target, requests, connections, seconds, 0.0, 0.0)
}

/// A closed-loop run of `seconds` with no warm-up (every answer counts).
pub fn race(target: SocketAddr, requests: &Path, seconds: f64) -> Result<Value> {
    driver(target, requests, 2 * CONNECTIONS, seconds, 0.0, 0.0)
}

/// Runs the driver on the client's cores and returns its report.
fn driver(
    target: SocketAddr,
    requests: &Path,
    connections: usize,
    seconds: f64,
    warmup: f64,
    rate: f64,
) -> Result<Value> {
    let (target, requests) = (target.to_string(), requests.display().to_string());
    let numbers = [connections as f64, seconds, warmup, rate].map(|n| n.to_string());
    let [conns, secs, warm, rate] = &numbers;
    let args = [
        "--target",
        &target,
        "--requests",
        &requests,
        "--connections",
        conns,
        "--seconds",
        secs,
        "--warmup",
        warm,
        "--rate",
        rate,
    ];
    let out = pinned(CLIENT_CPUS, &binary("tg-bench-load")?, &args)
        .output()
        .map_err(|e| format!("the load driver: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the load driver failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the load driver's report: {e}"))
}
