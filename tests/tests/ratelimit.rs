//! Rate limits through the gateway: per caller (tier default, partner override) and the
//! vendor budget per API shared by every caller; 429 in the vendor envelope with `TG.` codes,
//! `Retry-After` and `RateLimit-*` headers; in process and in Redis across gateways.

use std::time::Duration;
use tiergate_tests::harness::{
    Cred, Gateway, HttpResponse, Signer, fixture, redis, start_sim, start_unlimited_sim,
};

type R = Result<(), String>;

/// These tests measure limits in real time: one at a time, so that one's load (the 30 s run
/// drives 500 requests a second) cannot starve another's gateways into a fallback.
static ONE_AT_A_TIME: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

/// A cheap list call (vouchers the caller issued).
const LIST: &str = "/v2/promotions/benefits/partner-coupons";

fn get(gw: &Gateway, c: &Cred) -> Result<HttpResponse, String> {
    Signer {
        addr: gw.addr,
        ak: &c.ak,
        sk: &c.sk,
    }
    .send("GET", LIST, "limit=10&offset=0", b"")
}

fn statuses(gw: &Gateway, c: &Cred, n: usize) -> Result<Vec<HttpResponse>, String> {
    (0..n).map(|_| get(gw, c)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_over_its_limit_gets_429_with_retry_after_and_ratelimit_headers() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = start_sim(fixture()?).await?;
    // Slow limits (per minute), so the test's own pace cannot refill them.
    let gw = Gateway::start_with(
        sim.addr(),
        r#"[ratelimit.tiers.cloud_reseller]
all = { rate = "5/m", burst = 5 }
[[ratelimit.principals]]
partner = "res-2"
rate = "2/m"
burst = 2
[ratelimit.upstream]
rate = "1000/s"
burst = 1000
"#,
    )?;
    let (res1, res2) = (gw.issue("res-1")?, gw.issue("res-2")?);
    let out = statuses(&gw, &res1, 7)?;
    let ok: Vec<u16> = out.iter().map(|r| r.status).collect();
    assert_eq!(
        ok,
        [200, 200, 200, 200, 200, 429, 429],
        "the burst, then refusals"
    );
    assert_eq!(out[4].header("ratelimit-limit"), Some("5"));
    assert_eq!(out[4].header("ratelimit-remaining"), Some("0"));
    let refused = &out[5];
    assert_eq!(refused.code(), "TG.6001", "{:?}", refused.json());
    assert_eq!(
        refused.header("retry-after"),
        Some("12"),
        "one interval of 5/min"
    );
    let reset: u64 = refused
        .header("ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((48..=60).contains(&reset), "{reset}");
    let later: u64 = out[6]
        .header("ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(later + 1 >= reset, "the reset never moves backwards");
    // Another reseller has its own limit (a partner override here).
    let out = statuses(&gw, &res2, 3)?;
    assert_eq!(
        out.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 429]
    );
    // Refusals are counted by limit, outcome and mode.
    let m = tiergate_tests::harness::http(gw.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains(r#"tiergate_ratelimit_decisions_total{limit="tier:cloud_reseller:all",mode="local",outcome="refused"} 2"#),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vendor_budget_is_shared_by_every_caller_and_a_shadow_limit_only_counts() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = start_sim(fixture()?).await?;
    // Through Redis: a gateway deciding alone holds each API back for its first window after
    // start (what the process before it sent is unknown), here a whole minute.
    let prefix = format!("tgtest{}", uuid::Uuid::new_v4().simple());
    let gw = redis_gateway(
        sim.addr(),
        &prefix,
        r#"[ratelimit.tiers.cloud_reseller]
all = { rate = "1/m", burst = 1, shadow = true }
[ratelimit.upstream]
routes = { list_partner_coupons_record = { rate = "3/m", burst = 3 } }
"#,
    )?;
    let (res1, res2) = (gw.issue("res-1")?, gw.issue("res-2")?);
    let records = |c: &Cred| {
        Signer {
            addr: gw.addr,
            ak: &c.ak,
            sk: &c.sk,
        }
        .send("GET", RECORDS, "limit=10&offset=0", b"")
    };
    let out = [
        records(&res1)?,
        records(&res1)?,
        records(&res2)?,
        records(&res2)?,
    ];
    let got: Vec<u16> = out.iter().map(|r| r.status).collect();
    assert_eq!(
        got,
        [200, 200, 200, 429],
        "3 per minute for the API, whoever calls"
    );
    assert_eq!(out[3].code(), "TG.6002", "{:?}", out[3].json());
    let m = tiergate_tests::harness::http(gw.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body);
    assert!(text.contains(r#"outcome="shadow_refused""#), "{text}");
    Ok(())
}

/// A gateway sharing limits through the machine's Redis under its own key prefix.
fn redis_gateway(sim: std::net::SocketAddr, prefix: &str, extra: &str) -> Result<Gateway, String> {
    let (url, _) = redis()?;
    Gateway::start_with(
        sim,
        &format!("[ratelimit]\nredis = \"{url}\"\nprefix = \"{prefix}\"\n{extra}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_limits_hold_across_gateways_through_redis() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    redis()?;
    let sim = start_unlimited_sim().await?;
    let prefix = format!("tgtest{}", uuid::Uuid::new_v4().simple());
    let extra = r#"mode = "strict"
[ratelimit.tiers.cloud_reseller]
all = { rate = "6/m", burst = 6 }
[ratelimit.upstream]
rate = "1000/s"
burst = 1000
"#;
    let a = redis_gateway(sim.addr(), &prefix, extra)?;
    let b = redis_gateway(sim.addr(), &prefix, extra)?;
    // Each gateway keeps its own credentials here; the limit is res-1's wherever it calls.
    let (on_a, on_b) = (a.issue("res-1")?, b.issue("res-1")?);
    let mut got = Vec::new();
    for i in 0..10 {
        let (gw, c) = if i % 2 == 0 { (&a, &on_a) } else { (&b, &on_b) };
        got.push(get(gw, c)?.status);
    }
    assert_eq!(got.iter().filter(|s| **s == 200).count(), 6, "{got:?}");
    assert_eq!(got.iter().filter(|s| **s == 429).count(), 4, "{got:?}");
    let m = tiergate_tests::harness::http(a.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body);
    assert!(text.contains(r#"mode="strict""#), "{text}");
    Ok(())
}

/// Decisions of the reseller tier's limit in `mode` (the gateway's own graph sync spends the
/// vendor budget through the limiter too, so those are left out).
fn caller_decisions(gw: &Gateway, mode: &str) -> Result<u64, String> {
    let m = tiergate_tests::harness::http(gw.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body);
    Ok(text
        .lines()
        .filter(|l| l.starts_with("tiergate_ratelimit_decisions_total"))
        .filter(|l| l.contains(r#"limit="tier:cloud_reseller:all""#))
        .filter(|l| l.contains(&format!("mode=\"{mode}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

fn decisions(gw: &Gateway, mode: &str) -> Result<u64, String> {
    let m = tiergate_tests::harness::http(gw.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body);
    Ok(text
        .lines()
        .filter(|l| {
            l.starts_with("tiergate_ratelimit_decisions_total")
                && l.contains(&format!("mode=\"{mode}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_redis_gone_each_gateway_enforces_its_share_and_recovers_by_itself() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (_, target) = redis()?;
    let redis = tiergate_tests::forward::Forwarder::start(target).await?;
    let sim = start_unlimited_sim().await?;
    let prefix = format!("tgtest{}", uuid::Uuid::new_v4().simple());
    let gw = Gateway::start_with(
        sim.addr(),
        &format!(
            r#"[ratelimit]
redis = "redis://{}"
prefix = "{prefix}"
mode = "strict"
[ratelimit.tiers.cloud_reseller]
all = {{ rate = "6/m", burst = 6 }}
[ratelimit.upstream]
rate = "1000/s"
burst = 1000
"#,
            redis.addr
        ),
    )?;
    let res1 = gw.issue("res-1")?;
    let first: Vec<u16> = statuses(&gw, &res1, 2)?.iter().map(|r| r.status).collect();
    assert_eq!(first, [200, 200]);
    assert_eq!(
        caller_decisions(&gw, "strict")?,
        2,
        "two calls, decided in Redis"
    );

    // Redis goes away mid-run: no 5xx, and the gateway keeps to its share (it is alone: all).
    redis.cut();
    let out = statuses(&gw, &res1, 9)?;
    let got: Vec<u16> = out.iter().map(|r| r.status).collect();
    assert!(got.iter().all(|s| *s == 200 || *s == 429), "{got:?}");
    assert_eq!(
        got.iter().filter(|s| **s == 200).count(),
        6,
        "the fallback share: {got:?}"
    );
    assert!(decisions(&gw, "fallback_share")? > 0);

    // Redis returns: the gateway goes back to it by itself, and the global limit holds again
    // (two of its six were spent before the cut).
    redis.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let before = decisions(&gw, "strict")?;
    let mut after_recovery = Vec::new();
    while decisions(&gw, "strict")? == before {
        if std::time::Instant::now() > deadline {
            return Err("the gateway did not go back to Redis".into());
        }
        after_recovery.push(get(&gw, &res1)?.status);
    }
    let more: Vec<u16> = statuses(&gw, &res1, 6)?.iter().map(|r| r.status).collect();
    let admitted = more.iter().filter(|s| **s == 200).count();
    assert!(admitted <= 4, "Redis' count holds again: {more:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn three_gateways_at_five_times_a_leased_limit_admit_within_one_percent() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    redis()?;
    let sim = start_unlimited_sim().await?;
    let prefix = format!("tgtest{}", uuid::Uuid::new_v4().simple());
    let extra = r#"mode = "leased"
max_error = 0.01
[[ratelimit.principals]]
partner = "res-1"
rate = "100/s"
burst = 100
[ratelimit.upstream]
rate = "100000/s"
burst = 100000
"#;
    let gws: Vec<Gateway> = (0..3)
        .map(|_| redis_gateway(sim.addr(), &prefix, extra))
        .collect::<Result<_, _>>()?;
    let creds: Vec<Cred> = gws
        .iter()
        .map(|g| g.issue("res-1"))
        .collect::<Result<_, _>>()?;
    const SECONDS: u64 = 30;
    const THREADS: u64 = 30;
    // 500 requests per second in all: five times the limit, spread evenly over the gateways.
    let pace = Duration::from_micros(1_000_000 * THREADS / 500);
    let start = std::time::Instant::now();
    let end = start + Duration::from_secs(SECONDS);
    let handles: Vec<_> = (0..THREADS as usize)
        .map(|t| {
            let g = t % gws.len();
            let (addr, ak, sk) = (gws[g].addr, creds[g].ak.clone(), creds[g].sk.clone());
            std::thread::spawn(move || {
                let signer = Signer {
                    addr,
                    ak: &ak,
                    sk: &sk,
                };
                let mut next = start + pace.mul_f64(t as f64 / THREADS as f64);
                let (mut ok, mut refused, mut other) = (0u64, 0u64, 0u64);
                while next < end {
                    // Open loop: each request at its planned time, whatever the last took.
                    if let Some(wait) = next.checked_duration_since(std::time::Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    match signer
                        .send("GET", LIST, "limit=10&offset=0", b"")
                        .map(|r| r.status)
                    {
                        Ok(200) => ok += 1,
                        Ok(429) => refused += 1,
                        _ => other += 1,
                    }
                    next += pace;
                }
                (ok, refused, other)
            })
        })
        .collect();
    let (mut ok, mut refused, mut other) = (0, 0, 0);
    for h in handles {
        let (a, b, c) = h.join().map_err(|_| "a load thread panicked")?;
        ok += a;
        refused += b;
        other += c;
    }
    let elapsed = start.elapsed().as_secs_f64().min(SECONDS as f64);
    let expected = 100.0 + 100.0 * elapsed;
    let total = ok + refused + other;
    assert_eq!(other, 0, "no errors: {ok} admitted, {refused} refused");
    let error = (ok as f64 - expected).abs() / expected;
    assert!(
        error <= 0.01,
        "admitted {ok} of {total}, limit {expected:.0}: {:.2}% off",
        error * 100.0
    );
    let mut trips = 0.0;
    for g in &gws {
        trips += g.metric_sum("tiergate_ratelimit_redis_calls_total")?;
    }
    let per_request = trips / total as f64;
    eprintln!(
        "leased: {ok} admitted of {total} (limit {expected:.0}, {:.2}% off), {trips} Redis round trips ({per_request:.3} per request)",
        error * 100.0
    );
    assert!(
        per_request <= 0.1,
        "{trips} Redis round trips for {total} requests\n{}",
        debug_metrics(&gws[0])?
    );
    Ok(())
}

fn debug_metrics(gw: &Gateway) -> Result<String, String> {
    let m = tiergate_tests::harness::http(gw.admin, "GET", "/metrics", &[], b"")?;
    let text = String::from_utf8_lossy(&m.body).into_owned();
    Ok(text
        .lines()
        .filter(|l| l.contains("ratelimit") && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A list operation the graph sync does not use (its budget is the test's alone).
const RECORDS: &str = "/v2/promotions/benefits/partner-coupons/records/query";

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_reseller_does_not_starve_another_and_the_vendor_never_says_429() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The simulator keeps the vendor's own 10 per second per API; the gateway shapes below it
    // (at most 5 in any second; a window budget has no burst to tune). A call that finds the
    // budget spent waits for its turn (up to the default 2 s), so the shaping shows as the
    // flood's pace.
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(
        sim.addr(),
        r#"[ratelimit.upstream]
rate = "5/s"
"#,
    )?;
    let began = std::time::Instant::now();
    let (res1, res2) = (gw.issue("res-1")?, gw.issue("res-2")?);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..2)
        .map(|_| {
            let (addr, ak, sk, stop) = (gw.addr, res1.ak.clone(), res1.sk.clone(), stop.clone());
            std::thread::spawn(move || {
                let signer = Signer {
                    addr,
                    ak: &ak,
                    sk: &sk,
                };
                let mut codes = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    match signer.send("GET", RECORDS, "limit=10&offset=0", b"") {
                        Ok(r) => codes.push((r.status, r.code())),
                        Err(e) => codes.push((0, e)),
                    }
                }
                codes
            })
        })
        .collect();
    // The other reseller calls at 1.67/s, under its fair share (half of 5/s).
    let signer = Signer {
        addr: gw.addr,
        ak: &res2.ak,
        sk: &res2.sk,
    };
    let mut fair = Vec::new();
    for _ in 0..6 {
        let r = signer.send("GET", RECORDS, "limit=10&offset=0", b"")?;
        fair.push((r.status, r.code()));
        std::thread::sleep(Duration::from_millis(600)); // its calling pace, not a wait for sync
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut flooded = Vec::new();
    for h in flood {
        flooded.extend(h.join().map_err(|_| "a flooding thread panicked")?);
    }
    assert!(
        fair.iter().all(|(s, _)| *s == 200),
        "the fair caller is never refused: {fair:?}"
    );
    // The flood is shaped to what the budget leaves: 5 in any second (plus the window's
    // edge), less what the fair caller used; it never takes the fair caller's turns.
    let elapsed = began.elapsed().as_secs_f64();
    let through = flooded.iter().filter(|(s, _)| *s == 200).count() as f64;
    assert!(
        through + fair.len() as f64 <= 5.0 * elapsed + 5.0,
        "the flood is shaped: {through} through in {elapsed:.1} s"
    );
    assert!(
        flooded.iter().all(|(s, c)| *s == 200 || c == "TG.6002"),
        "the flood waits or is refused by the budget, nothing else"
    );
    let vendor_429 = flooded
        .iter()
        .chain(&fair)
        .filter(|(_, c)| c == "CBC.0250")
        .count();
    assert_eq!(
        vendor_429, 0,
        "the gateway shaped traffic before the vendor had to"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_redis_gone_two_gateways_each_keep_to_half() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (_, target) = redis()?;
    let redis = tiergate_tests::forward::Forwarder::start(target).await?;
    let sim = start_unlimited_sim().await?;
    let prefix = format!("tgtest{}", uuid::Uuid::new_v4().simple());
    let extra = format!(
        r#"[ratelimit]
redis = "redis://{}"
prefix = "{prefix}"
[ratelimit.tiers.cloud_reseller]
all = {{ rate = "6/m", burst = 6 }}
[ratelimit.upstream]
rate = "1000/s"
burst = 1000
"#,
        redis.addr
    );
    let gws = [
        Gateway::start_with(sim.addr(), &extra)?,
        Gateway::start_with(sim.addr(), &extra)?,
    ];
    // Both must have seen each other in Redis before it goes (membership is refreshed each second).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    for g in &gws {
        while g.metric_sum("tiergate_ratelimit_live_gateways")? < 2.0 {
            if std::time::Instant::now() > deadline {
                return Err("the gateways never saw each other in Redis".into());
            }
            std::thread::yield_now();
        }
    }
    redis.cut();
    for g in &gws {
        let c = g.issue("res-1")?;
        let got: Vec<u16> = statuses(g, &c, 5)?.iter().map(|r| r.status).collect();
        assert!(
            got.iter().all(|s| *s == 200 || *s == 429),
            "no 5xx: {got:?}"
        );
        assert_eq!(
            got.iter().filter(|s| **s == 200).count(),
            3,
            "half of 6 each: {got:?}"
        );
    }
    Ok(())
}
