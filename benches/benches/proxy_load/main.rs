//! The side-by-side load benchmark: the same request mix, on loopback, against the static
//! upstream directly, a bare Pingora proxy, nginx `proxy_pass`, the peer a distributor would
//! hand-build (nginx + njs verifying the signature, `limit_req` per access key, re-signing; see
//! `peer.rs`) and Tiergate's full pipeline (AK/SK, tier policy and scoping, the Redis-backed
//! limiter leased and strict, re-signing; reads, then voucher issues with the ledger and audit
//! on PostgreSQL). For each: requests/s at saturation (closed loop), latency at half the bare
//! proxy's saturation rate (open loop, counted from each request's intended send time) and at
//! half the target's own, CPU per request. Every server under test
//! runs on core 1 with one worker; the driver and the upstream share core 0. Start it with
//! `benches/load.sh`, which installs what it needs and builds the release binaries first.
//! `--check-peer` runs only the nginx + njs peer's correctness check ([`peer::check`]).
#![allow(missing_docs)]

mod drive;
mod peer;
mod report;
mod targets;
mod tiergate;

use drive::Run;
use std::net::SocketAddr;
use std::path::Path;
use tiergate_tests::harness::Result;

/// The cores of the server under test.
const SERVER_CPUS: &str = "1";

/// A target measured at saturation, at the common open-loop rate, and at half its own
/// saturation rate (latency at equal utilization).
pub struct Measured {
    pub name: String,
    pub saturated: Run,
    pub paced: Option<Run>,
    pub half_own: Option<Run>,
}

/// An open-loop run at half the target's own saturation rate.
fn half_own(addr: SocketAddr, requests: &Path, pids: &[u32], saturated: &Run) -> Result<Run> {
    let r = (saturated.num("rps") / 2.0).max(100.0);
    drive::run(addr, requests, r, pids)
}

/// A closed-loop run only, with `connections` callers.
fn measure_with(
    name: &str,
    addr: SocketAddr,
    requests: &Path,
    pids: &[u32],
    connections: usize,
) -> Result<Measured> {
    eprintln!("{name}: saturation");
    let saturated = drive::run_with(addr, requests, 0.0, pids, connections)?;
    eprintln!("{name}: {}", saturated.report);
    Ok(Measured {
        name: name.to_owned(),
        saturated,
        paced: None,
        half_own: None,
    })
}

fn measure(
    name: &str,
    addr: SocketAddr,
    requests: &Path,
    pids: &[u32],
    rate: Option<f64>,
) -> Result<Measured> {
    eprintln!("{name}: saturation");
    let saturated = drive::run(addr, requests, 0.0, pids)?;
    let (paced, own) = match rate {
        Some(r) => {
            eprintln!("{name}: {r:.0} requests/s open loop");
            let paced = drive::run(addr, requests, r, pids)?;
            (
                Some(paced),
                Some(half_own(addr, requests, pids, &saturated)?),
            )
        }
        None => (None, None),
    };
    eprintln!("{name}: {}", saturated.report);
    if let Some(p) = &paced {
        eprintln!("{name}: {}", p.report);
    }
    Ok(Measured {
        name: name.to_owned(),
        saturated,
        paced,
        half_own: own,
    })
}

/// Which optional parts to run: all, or those named on the command line (`nginx`, `njs`,
/// `leased`, `attack`, `writes`, `strict`); the upstream and the bare proxy, the references,
/// always run.
fn wanted(part: &str) -> bool {
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    named.is_empty() || named.iter().any(|n| n == part)
}

/// The nginx + njs peer with the reseller's credential of `gw`: checked in front of a capturing
/// upstream (the bench stops if it does not verify, refuse and re-sign), then measured in front
/// of the static upstream with the read mix signed for it.
fn njs_peer(
    gw: &tiergate::Tiergate,
    upstream: SocketAddr,
    dir: &Path,
    rate: f64,
) -> Result<Measured> {
    for line in peer::check(SERVER_CPUS, gw.cred(), &dir.join("peer-check"))? {
        eprintln!("{}: {line}", peer::NAME);
    }
    let p = peer::start(SERVER_CPUS, upstream, gw.cred(), &dir.join("peer"))?;
    peer::answers(p.addr, gw.cred())?;
    // Signed now, as the measured runs start: the peer keeps the vendor's 15 minutes.
    let reads = gw.reads_for(p.addr, dir.join("reads-peer.json"))?;
    measure(peer::NAME, p.addr, &reads, &[p.child.id()], Some(rate))
}

/// `--check-peer`: only the peer's check, with a credential from a gateway of its own.
fn check_peer() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let upstream = targets::upstream(drive::CLIENT_CPUS)?;
    let gw = tiergate::Tiergate::start(&rt, upstream.addr, "local", SERVER_CPUS)?;
    let checked = peer::check(SERVER_CPUS, gw.cred(), &dir.path().join("peer-check"));
    gw.stop(&rt);
    for line in checked? {
        println!("{}: {line}", peer::NAME);
    }
    Ok(())
}

/// Junk connections an attacker keeps busy.
const ATTACKERS: usize = 3;
/// A legitimate reseller's pace, reads and voucher issues, during the attack.
const LEGIT_READS: f64 = 1000.0;
const LEGIT_WRITES: f64 = 100.0;

/// A legitimate reseller's reads and voucher issues, idle and then while three connections
/// send junk at full speed (unknown access keys from the same address): what the junk adds
/// to their latency, how fast it is refused, and what it costs the database.
fn attack(
    rt: &tokio::runtime::Runtime,
    gw: &tiergate::Tiergate,
    dir: &Path,
    pids: &[u32],
) -> Result<Vec<Measured>> {
    let junk = gw.junk(dir)?;
    let reads = gw.reads(dir)?;
    let writes = gw.writes(dir)?;
    let addr = gw.gw.addr;
    // Junk alone first: its rate and what it costs PostgreSQL.
    let commits = gw.commits(rt)?;
    let alone = drive::flood(addr, &junk, ATTACKERS, drive::SECONDS)?;
    let per_junk = (gw.commits(rt)? - commits) as f64 / alone["all"].as_f64().unwrap_or(1.0);
    eprintln!(
        "junk alone, {ATTACKERS} connections: {} refusals/s, statuses {}, {per_junk:.5} PostgreSQL commits per junk request",
        alone["rps"], alone["statuses"]
    );
    let mut rows = Vec::new();
    for (name, file, rate) in [
        ("legit reads", &reads, LEGIT_READS),
        ("legit voucher issues", &writes, LEGIT_WRITES),
    ] {
        let idle = drive::run_with(addr, file, rate, pids, 8)?;
        let flood = {
            let junk = junk.clone();
            std::thread::spawn(move || drive::flood(addr, &junk, ATTACKERS, drive::SECONDS + 2.0))
        };
        let attacked = drive::run_with(addr, file, rate, pids, 8)?;
        let flood = flood.join().map_err(|_| "the junk driver panicked")??;
        eprintln!(
            "{name} at {rate}/s: idle {} | under attack {} | junk meanwhile {} refusals/s",
            idle.report, attacked.report, flood["rps"]
        );
        for (label, run) in [("idle", idle), ("under junk", attacked)] {
            rows.push(Measured {
                name: format!("Tiergate {name} at {rate:.0}/s, {label}"),
                saturated: drive::Run {
                    report: run.report.clone(),
                    server_cpu: run.server_cpu,
                    machine_cpu: run.machine_cpu,
                },
                paced: Some(run),
                half_own: None,
            });
        }
    }
    Ok(rows)
}

fn bench() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let upstream = targets::upstream(drive::CLIENT_CPUS)?;
    let up = [upstream.child.id()];
    let mut rows = Vec::new();

    // Reads, signed for the leased gateway; the other targets ignore the signature.
    let leased = tiergate::Tiergate::start(&rt, upstream.addr, "leased", SERVER_CPUS)?;
    let reads = leased.reads(dir.path())?;
    let direct = drive::run(upstream.addr, &reads, 0.0, &up)?;
    let bare = targets::bare_pingora(SERVER_CPUS, upstream.addr)?;
    let bare_saturated = drive::run(bare.addr, &reads, 0.0, &[bare.child.id()])?;
    // Half the bare proxy's saturation rate, for every target's latency.
    let rate = (bare_saturated.num("rps") / 2.0).max(100.0);
    rows.push(Measured {
        name: "upstream directly".into(),
        saturated: direct,
        paced: Some(drive::run(upstream.addr, &reads, rate, &up)?),
        // Half the upstream's own rate would measure the driver, which shares its core.
        half_own: None,
    });
    let bare_pids = [bare.child.id()];
    let bare_half = half_own(bare.addr, &reads, &bare_pids, &bare_saturated)?;
    rows.push(Measured {
        name: "bare Pingora".into(),
        saturated: bare_saturated,
        paced: Some(drive::run(bare.addr, &reads, rate, &bare_pids)?),
        half_own: Some(bare_half),
    });
    drop(bare);
    if wanted("nginx") {
        let nginx = targets::nginx(SERVER_CPUS, upstream.addr, dir.path())?;
        let pids = [nginx.child.id()];
        rows.push(measure(
            "nginx proxy_pass",
            nginx.addr,
            &reads,
            &pids,
            Some(rate),
        )?);
    }
    if wanted("njs") {
        rows.push(njs_peer(&leased, upstream.addr, dir.path(), rate)?);
    }
    let pids = [leased.gw.pid()];
    if wanted("leased") {
        let name = "Tiergate reads, limiter leased";
        rows.push(measure(name, leased.gw.addr, &reads, &pids, Some(rate))?);
    }
    if wanted("attack") {
        rows.extend(attack(&rt, &leased, dir.path(), &pids)?);
    }
    // Voucher issues: saturation, then a slice raced to exhaustion.
    let mut race = None;
    if wanted("writes") {
        let writes = leased.writes(dir.path())?;
        let name = "Tiergate voucher issues, limiter leased";
        let commits = leased.commits(&rt)?;
        let m = measure(name, leased.gw.addr, &writes, &pids, None)?;
        // pg_stat_database's counters are sent by each backend at its transaction's end.
        let per_call = (leased.commits(&rt)? - commits) as f64 / m.saturated.num("all").max(1.0);
        eprintln!("{name}: {per_call:.2} PostgreSQL commits per call");
        rows.push(m);
        // Twice the callers: bigger batches per transaction (the ledger's group commit).
        let name = "Tiergate voucher issues, 64 connections";
        rows.push(measure_with(
            name,
            leased.gw.addr,
            &writes,
            &pids,
            2 * drive::CONNECTIONS,
        )?);
        race = Some(leased.race_to_exhaustion(dir.path())?);
    }
    leased.stop(&rt);
    if wanted("strict") {
        let strict = tiergate::Tiergate::start(&rt, upstream.addr, "strict", SERVER_CPUS)?;
        let reads = strict.reads(dir.path())?;
        let name = "Tiergate reads, limiter strict";
        let pids = [strict.gw.pid()];
        rows.push(measure(name, strict.gw.addr, &reads, &pids, Some(rate))?);
        strict.stop(&rt);
    }
    report::print(&rows, rate, race.as_ref());
    Ok(())
}

fn main() {
    let run = if std::env::args().any(|a| a == "--check-peer") {
        check_peer()
    } else {
        bench()
    };
    if let Err(e) = run {
        eprintln!("proxy_load: {e}");
        std::process::exit(1);
    }
}
