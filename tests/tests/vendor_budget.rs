//! The vendor budget against the simulator's own rule (at most 10 calls of one API in any one
//! second, refused with 429 `CBC.0250`): three gateways on one Redis, two resellers flooding
//! one list operation; a call that finds the budget spent waits for its turn, then is refused
//! with `TG.6002` and `Retry-After`; the vendor never has to refuse.

use std::time::{Duration, Instant};
use tiergate_tests::harness::{Cred, Gateway, Signer, fixture, redis, start_sim};
use tiergate_tests::sim::Faults;

type R = Result<(), String>;

/// One flood at a time: each measures the budget in real time.
static ONE_AT_A_TIME: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

const LIST: &str = "/v2/promotions/benefits/partner-coupons";

/// One call's fate.
struct Sent {
    partner: String,
    status: u16,
    code: String,
    retry_after: Option<String>,
    done: Instant,
    /// From sending to the whole answer.
    took: Duration,
}

/// `per_second` calls a second for `secs` seconds (open loop: each on its own thread, at its
/// own time), spread over the gateways (each with the partner's credential it issued).
fn flood(
    gws: &[(std::net::SocketAddr, Cred)],
    per_second: u32,
    secs: u32,
    start: Instant,
) -> std::thread::JoinHandle<Vec<Sent>> {
    let gws = gws.to_vec();
    std::thread::spawn(move || {
        let mut calls = Vec::new();
        for i in 0..per_second * secs {
            let at = start + Duration::from_secs_f64(f64::from(i) / f64::from(per_second));
            // The caller's pace, not a wait for synchronisation.
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            let (addr, c) = gws[i as usize % gws.len()].clone();
            calls.push(std::thread::spawn(move || {
                let signer = Signer {
                    addr,
                    ak: &c.ak,
                    sk: &c.sk,
                };
                let sent = Instant::now();
                let r = signer.send("GET", LIST, &format!("limit=10&offset={i}"), b"");
                let took = sent.elapsed();
                match r {
                    Ok(r) => Sent {
                        partner: c.partner.clone(),
                        status: r.status,
                        code: r.code(),
                        retry_after: r.header("retry-after").map(str::to_owned),
                        done: Instant::now(),
                        took,
                    },
                    Err(e) => Sent {
                        partner: c.partner.clone(),
                        status: 0,
                        code: e,
                        retry_after: None,
                        done: Instant::now(),
                        took,
                    },
                }
            }));
        }
        calls.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// Three gateways sharing the vendor budget of 10/s through Redis at `url`, under a prefix of
/// their own.
fn three_gateways(sim: std::net::SocketAddr, url: &str) -> Result<Vec<Gateway>, String> {
    let prefix = format!("tg-budget-{}", uuid::Uuid::new_v4().simple());
    let config = format!(
        "[ratelimit]\nredis = \"{url}\"\nprefix = \"{prefix}\"\n[ratelimit.upstream]\nrate = \"10/s\"\n"
    );
    (0..3).map(|_| Gateway::start_with(sim, &config)).collect()
}

/// A credential for `partner` on each gateway.
fn of(gws: &[Gateway], partner: &str) -> Result<Vec<(std::net::SocketAddr, Cred)>, String> {
    gws.iter()
        .map(|g| Ok((g.addr, g.issue(partner)?)))
        .collect()
}

/// How long the two-reseller flood runs (`TG_FLOOD_SECS`; 8 s in the suite, 20 s for the
/// figures in benches/RESULTS.md).
fn flood_secs() -> u32 {
    std::env::var("TG_FLOOD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_resellers_flooding_one_api_through_three_gateways_never_meet_the_vendors_429() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = start_sim(fixture()?).await?;
    let (url, _) = redis()?;
    let gws = three_gateways(sim.addr(), &url)?;
    let (res1, res2, dist) = (of(&gws, "res-1")?, of(&gws, "res-2")?, of(&gws, "dist-1")?);
    let start = Instant::now() + Duration::from_millis(100);
    let secs = flood_secs();
    let heavy = flood(&res1, 60, secs, start);
    let lighter = flood(&res2, 20, secs, start);
    // A light caller beside the floods: 2 calls a second, well under any fair share.
    let light = flood(&dist, 2, secs, start);
    let mut sent = heavy.join().map_err(|_| "the flood panicked")?;
    sent.extend(lighter.join().map_err(|_| "the flood panicked")?);
    let light = light.join().map_err(|_| "the light caller panicked")?;

    let vendor_429 = sent
        .iter()
        .chain(&light)
        .filter(|s| s.code == "CBC.0250")
        .count();
    assert_eq!(vendor_429, 0, "the vendor never had to refuse");
    for s in sent.iter().filter(|s| s.status != 200) {
        assert_eq!(
            (s.status, s.code.as_str()),
            (429, "TG.6002"),
            "only the budget refuses"
        );
        assert!(s.retry_after.is_some(), "a refusal says when to come back");
    }
    // The light caller is never refused and never waits long behind the floods.
    let refused: Vec<_> = light.iter().filter(|s| s.status != 200).collect();
    assert!(
        refused.is_empty(),
        "the light caller was refused {} times",
        refused.len()
    );
    let mut took: Vec<Duration> = light.iter().map(|s| s.took).collect();
    took.sort();
    let p99 = took[(took.len() * 99).div_ceil(100).saturating_sub(1)];
    let p50 = took[took.len() / 2];
    assert!(p99 < Duration::from_millis(500), "light caller p99 {p99:?}");

    let ok: Vec<&Sent> = sent
        .iter()
        .chain(&light)
        .filter(|s| s.status == 200)
        .collect();
    let last = ok
        .iter()
        .map(|s| s.done)
        .max()
        .ok_or("nothing was forwarded")?;
    // Never over: the vendor never refused (above). Fully used: past the first two seconds
    // (the first window's whole burst goes at once), the rate holds within 5% of 10/s.
    let steady = start + Duration::from_secs(2);
    let after: Vec<_> = ok.iter().filter(|s| s.done >= steady).collect();
    let rate = after.len() as f64 / last.duration_since(steady).as_secs_f64();
    assert!(
        (9.5..=10.5).contains(&rate),
        "forwarded {rate:.2}/s: the vendor's 10/s, used within 5%"
    );
    let floods: Vec<_> = ok.iter().filter(|s| s.partner != "dist-1").collect();
    let res2_share =
        floods.iter().filter(|s| s.partner == "res-2").count() as f64 / floods.len() as f64;
    let refused = sent.len() + light.len() - ok.len();
    eprintln!(
        "{secs} s: forwarded {} of {} ({rate:.2}/s past the first 2 s), of the floods' res-2 {:.0}%, \
         {refused} TG.6002; light caller {} calls, p50 {p50:?}, p99 {p99:?}",
        ok.len(),
        sent.len() + light.len(),
        res2_share * 100.0,
        light.len(),
    );
    assert!(
        (0.35..=0.65).contains(&res2_share),
        "each flooding reseller gets about its fair half, whatever its demand: {res2_share:.2}"
    );
    // Measured: the refusals, and the waits of the calls that waited for their turn.
    let (mut refusals, mut waits) = (0.0, 0.0);
    for g in &gws {
        refusals += g.metric_sum("tiergate_vendor_budget_refused_total")?;
        waits += g.metric_sum("tiergate_vendor_budget_waited_seconds_count")?;
    }
    assert_eq!(refusals as usize, refused, "every refusal counted");
    assert!(
        waits >= ok.len() as f64,
        "every admission's wait observed: {waits}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_waits_for_its_turn_until_the_deadline_then_gets_tg_6002() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(
        sim.addr(),
        "[ratelimit.upstream]\nrate = \"10/s\"\nwait = \"300ms\"\n",
    )?;
    let res1 = gw.issue("res-1")?;
    // 40 calls at once (40 per second for one second, 25 ms apart, is at once next to the
    // window): 10 go at once, and a call waits at most 300 ms for the next free turn.
    let sent = flood(&[(gw.addr, res1)], 40, 1, Instant::now())
        .join()
        .map_err(|_| "the flood panicked")?;
    let ok = sent.iter().filter(|s| s.status == 200).count();
    // 10 in the first window; the window frees 1.025 s after the first call, so only the calls
    // sent in the last 300 ms before that get the second window's turns.
    assert!((10..=25).contains(&ok), "{ok} forwarded");
    assert!(sent.len() - ok >= 10, "the rest refused at their deadline");
    for s in sent.iter().filter(|s| s.status != 200) {
        assert_eq!((s.status, s.code.as_str()), (429, "TG.6002"));
        assert!(s.retry_after.is_some());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vendors_own_429_never_reaches_a_caller() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The vendor's limit is lower than the budget Tiergate was told (it changed, or another
    // system spends the same account): the simulator refuses past its 10 a second.
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), "[ratelimit.upstream]\nrate = \"40/s\"\n")?;
    let res1 = gw.issue("res-1")?;
    let sent = flood(&[(gw.addr, res1)], 30, 1, Instant::now())
        .join()
        .map_err(|_| "the flood panicked")?;
    assert!(sent.iter().any(|s| s.status == 200));
    assert!(
        sent.iter().all(|s| s.code != "CBC.0250"),
        "the vendor's raw refusal reached a caller"
    );
    let refused: Vec<&Sent> = sent.iter().filter(|s| s.status != 200).collect();
    assert!(
        !refused.is_empty(),
        "the vendor refused some: answered by Tiergate"
    );
    for s in refused {
        assert_eq!((s.status, s.code.as_str()), (429, "TG.6002"));
        assert!(s.retry_after.is_some());
    }
    let counted = gw.metric_sum("tiergate_vendor_429_total")?;
    assert!(counted >= 1.0, "counted: {counted}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_429_on_a_read_is_tried_again_and_on_a_money_call_answered_tg_6002() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), "[ratelimit.upstream]\nrate = \"10/s\"\n")?;
    let dist = gw.issue("dist-1")?;
    let signer = Signer {
        addr: gw.addr,
        ak: &dist.ak,
        sk: &dist.sk,
    };
    // Another system spent the account's window: the vendor refuses the next call.
    sim.set_faults(Faults {
        throttle_next: 1,
        ..Faults::default()
    });
    let r = signer.send("GET", LIST, "limit=10&offset=0", b"")?;
    assert_eq!(
        r.status,
        200,
        "tried again once its turn came: {:?}",
        r.json()
    );
    assert_eq!(gw.metric_sum("tiergate_vendor_429_total")?, 1.0);
    // Counted with the vendor's own code, though the caller never saw its answer.
    let by_code = "tiergate_vendor_429_total{code=\"CBC.0250\"";
    assert_eq!(gw.metric_sum(by_code)?, 1.0);
    // Refused again on its second try: TG.6002 with Retry-After, never the vendor's 429.
    sim.set_faults(Faults {
        throttle_next: 2,
        ..Faults::default()
    });
    let r = signer.send("GET", LIST, "limit=10&offset=1", b"")?;
    assert_eq!(
        (r.status, r.code().as_str()),
        (429, "TG.6002"),
        "{:?}",
        r.json()
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(gw.metric_sum("tiergate_vendor_429_total")?, 3.0);
    assert_eq!(
        gw.metric_sum(by_code)?,
        3.0,
        "both refusals by the vendor's code"
    );

    // A money call is never sent twice: the caller gets TG.6002 with Retry-After, and
    // nothing moved, so the same call goes through when sent again.
    let before = sim.world().adjust_records.len();
    sim.set_faults(Faults {
        throttle_next: 1,
        ..Faults::default()
    });
    let body = br#"{"customer_id":"cust-d1","amount":10}"#;
    let adjust = "/v2/accounts/partner-accounts/adjust-amount";
    let r = signer.send("POST", adjust, "", body)?;
    assert_eq!(
        (r.status, r.code().as_str()),
        (429, "TG.6002"),
        "{:?}",
        r.json()
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(sim.world().adjust_records.len(), before, "nothing moved");
    let r = signer.send("POST", adjust, "", body)?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(gw.metric_sum("tiergate_vendor_429_total")?, 4.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_redis_cut_mid_flood_the_gateways_keep_under_the_vendors_window() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (_, target) = redis()?;
    let redis = tiergate_tests::forward::Forwarder::start(target).await?;
    let sim = start_sim(fixture()?).await?;
    let gws = three_gateways(sim.addr(), &format!("redis://{}", redis.addr))?;
    // Each must have seen the others in Redis before it goes (its fallback share divides by
    // them; membership is refreshed each second).
    let deadline = Instant::now() + Duration::from_secs(15);
    for g in &gws {
        while g.metric_sum("tiergate_ratelimit_live_gateways")? < 3.0 {
            if Instant::now() > deadline {
                return Err("the gateways never saw each other in Redis".into());
            }
            std::thread::yield_now();
        }
    }
    let (res1, res2) = (of(&gws, "res-1")?, of(&gws, "res-2")?);
    let start = Instant::now() + Duration::from_millis(100);
    let heavy = flood(&res1, 40, 6, start);
    let lighter = flood(&res2, 20, 6, start);
    // Redis goes away in the middle of the flood (the flood's pace, not a wait for sync).
    std::thread::sleep(Duration::from_secs(3));
    redis.cut();
    let mut sent = heavy.join().map_err(|_| "the flood panicked")?;
    sent.extend(lighter.join().map_err(|_| "the flood panicked")?);
    let vendor_429 = sent.iter().filter(|s| s.code == "CBC.0250").count();
    assert_eq!(
        vendor_429, 0,
        "each gateway kept to its share of the window"
    );
    assert!(sent.iter().any(|s| s.status == 200), "calls still went");
    for s in sent.iter().filter(|s| s.status != 200) {
        assert_eq!((s.status, s.code.as_str()), (429, "TG.6002"), "no 5xx");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_never_waits_past_its_signatures_validity() -> R {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = start_sim(fixture()?).await?;
    // 10 calls in 3 s: a full window frees after about 3 s, within the 4 s a call may wait.
    let gw = Gateway::start_with(
        sim.addr(),
        "[ratelimit.upstream]\nrate = \"10/3s\"\nwait = \"4s\"\n",
    )?;
    let res1 = gw.issue("res-1")?;
    let signer = Signer {
        addr: gw.addr,
        ak: &res1.ak,
        sk: &res1.sk,
    };
    // An API the graph sync does not call (its calls would share the window).
    let get = |i: u32, at: time::OffsetDateTime| {
        let query = format!("x={i}");
        signer.send_at(
            "GET",
            "/v2/accounts/partner-accounts/balances",
            &query,
            b"",
            at,
        )
    };
    let now = time::OffsetDateTime::now_utc;
    for i in 0..10 {
        assert_eq!(get(i, now())?.status, 200);
    }
    // Signed 15 minutes less 2 s ago (the clock skew; `X-Sdk-Date` has whole seconds): 1 to 2 s
    // of validity left, not the 3 s its turn is away; the vendor would refuse it by then.
    let stale = get(
        10,
        now() - time::Duration::minutes(15) + time::Duration::seconds(2),
    )?;
    assert_eq!((stale.status, stale.code().as_str()), (429, "TG.6002"));
    assert!(stale.header("retry-after").is_some());
    // Signed now, the same call waits for its turn and goes.
    let fresh = get(11, now())?;
    assert_eq!(
        fresh.status,
        200,
        "{}",
        String::from_utf8_lossy(&fresh.body)
    );
    Ok(())
}
