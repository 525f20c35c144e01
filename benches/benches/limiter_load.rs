//! Gateway throughput with rate limiting off, leased and strict (Redis), on loopback: the
//! same closed-loop load of signed list calls through a release `tiergate` against the
//! simulator, limits set high enough that every call is admitted (the cost of deciding, not
//! of refusing). Run `cargo build --release --bins` first; needs the machine's Redis.
// A bench binary, not a library: its entry point is undocumented by nature.
#![allow(missing_docs)]

use std::time::{Duration, Instant};
use tiergate_benches::high_limits;
use tiergate_tests::harness::{Gateway, Signer, fixture, start_sim};

const SECONDS: u64 = 10;
const CLIENTS: usize = 8;
const PATH: &str = "/v2/promotions/benefits/partner-coupons";

fn run(gw: &Gateway, ak: &str, sk: &str) -> (u64, u64) {
    let end = Instant::now() + Duration::from_secs(SECONDS);
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (addr, ak, sk) = (gw.addr, ak.to_owned(), sk.to_owned());
            std::thread::spawn(move || {
                let s = Signer {
                    addr,
                    ak: &ak,
                    sk: &sk,
                };
                let (mut ok, mut other) = (0u64, 0u64);
                while Instant::now() < end {
                    match s
                        .send("GET", PATH, "limit=10&offset=0", b"")
                        .map(|r| r.status)
                    {
                        Ok(200) => ok += 1,
                        _ => other += 1,
                    }
                }
                (ok, other)
            })
        })
        .collect();
    handles
        .into_iter()
        .filter_map(|h| h.join().ok())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
}

fn main() {
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        return;
    };
    let Ok(mut f) = fixture() else {
        eprintln!("no fixture");
        return;
    };
    f.rate_limit_per_second = 0;
    let Ok(sim) = rt.block_on(start_sim(f)) else {
        eprintln!("the simulator did not start");
        return;
    };
    println!("| limiting | requests/s | errors |\n|---|---|---|");
    for mode in ["off", "leased", "strict"] {
        let prefix = format!("tgbench{}", std::process::id());
        let gw = match Gateway::start_with(sim.addr(), &high_limits(mode, &prefix)) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{mode}: {e}");
                return;
            }
        };
        let Ok(c) = gw.issue("res-1") else {
            eprintln!("{mode}: no credential");
            return;
        };
        let (ok, other) = run(&gw, &c.ak, &c.sk);
        println!("| {mode} | {:.0} | {other} |", ok as f64 / SECONDS as f64);
    }
}
