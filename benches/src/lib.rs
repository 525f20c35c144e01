//! Benchmarks, and the small programs the load benchmark runs beside Tiergate: a static
//! upstream, a bare Pingora proxy and an open- or closed-loop load driver.

pub mod canned;
pub mod http1;
pub mod stats;

/// The `[ratelimit]` section of the benches' gateways: limits so high that every call is
/// admitted (the cost of deciding, not of refusing). `mode`: `off` (only the vendor budget,
/// in process), `local` (a cloud reseller tier limit too, in process), or `leased` / `strict`
/// (both on the machine's Redis, keys under `prefix`).
pub fn high_limits(mode: &str, prefix: &str) -> String {
    let high = "rate = \"1000000/s\"\nburst = 1000000";
    let tiers = "[ratelimit.tiers.cloud_reseller]\nall = { rate = \"1000000/s\", burst = 1000000 }";
    let shared = match mode {
        "off" => return format!("[ratelimit.upstream]\n{high}\n"),
        "local" => String::new(),
        m => format!("redis = \"redis://127.0.0.1:6379\"\nprefix = \"{prefix}\"\nmode = \"{m}\"\n"),
    };
    format!("[ratelimit]\n{shared}{tiers}\n[ratelimit.upstream]\n{high}\n")
}
