//! The delegation ledger under load and under a crash, on the machine's PostgreSQL, through
//! real gateway processes: several gateways racing on slices sized to run out never
//! oversubscribe any level, and a gateway killed mid-batch ends, after reconciliation, with
//! the ledger equal to what the vendor did.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tiergate_tests::harness::{Cred, Db, Gateway, Signer, TempDb, start_unlimited_sim};
use tiergate_tests::ledger::{dec, grant, settled, slices, staff, vendor_issued};
use tiergate_tests::sim::Faults;

type R = Result<(), String>;

const PATH: &str = "/v2/promotions/benefits/partner-coupons";

/// One voucher request; `memo` tells a caller's requests apart, as a real caller's order
/// reference does (two byte-identical requests signed in one second are one signature, which
/// Tiergate carries out once).
fn body(quota: &str, customer: &str, memo: &str) -> Vec<u8> {
    json!({"quota_id": quota, "customer_ids": [customer], "face_value": 1, "memo": memo})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_gateways_racing_never_oversubscribe_and_end_equal_to_the_vendor() -> R {
    let db = TempDb::create().await?;
    let sim = start_unlimited_sim().await?;
    let gws: Vec<Gateway> = (0..3)
        .map(|_| Gateway::start(sim.addr(), Db::Postgres(db.url.clone())))
        .collect::<Result<_, _>>()?;
    let g = &gws[0];
    grant(
        g,
        "q-dist-1",
        &["--id", "dist", "--grantee", "dist-1", "--total", "40000"],
    )?;
    let res1 = [
        "--id",
        "res-1",
        "--parent",
        "dist",
        "--grantee",
        "res-1",
        "--total",
        "3000",
        "--upstream-quota",
        "q-res-1",
    ];
    grant(g, "q-dist-1", &res1)?;
    let res2 = [
        "--id",
        "res-2",
        "--parent",
        "dist",
        "--grantee",
        "res-2",
        "--total",
        "2000",
        "--upstream-quota",
        "q-res-2",
    ];
    grant(g, "q-dist-1", &res2)?;
    for (id, total) in [("alice", "1000"), ("bob", "500")] {
        grant(
            g,
            "q-dist-1",
            &[
                "--id",
                id,
                "--parent",
                "res-1",
                "--grantee",
                id,
                "--total",
                total,
            ],
        )?;
    }
    // Who calls, from which quota, for which customer; each can issue at most `cap` vouchers
    // of 1.00 (res-1 itself: 3000 less what it granted on to alice and bob).
    let callers: Vec<(Cred, &str, &str, &str, i64)> = vec![
        (g.issue("res-1")?, "q-res-1", "cust-r1-a", "res-1", 1500),
        (staff(g, "alice")?, "q-res-1", "cust-r1-b", "alice", 1000),
        (staff(g, "bob")?, "q-res-1", "cust-r1-a", "bob", 500),
        (g.issue("res-2")?, "q-res-2", "cust-r2-a", "res-2", 2000),
    ];
    let callers = Arc::new(callers);
    let addrs: Vec<_> = gws.iter().map(|g| g.addr).collect();
    const THREADS: usize = 200;
    const EACH: usize = 50;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let callers = callers.clone();
            let addr = addrs[t % addrs.len()];
            std::thread::spawn(move || {
                let (c, quota, customer, _, _) = &callers[t % callers.len()];
                let signer = Signer {
                    addr,
                    ak: &c.ak,
                    sk: &c.sk,
                };
                (0..EACH)
                    .map(|i| {
                        match signer.send(
                            "POST",
                            PATH,
                            "",
                            &body(quota, customer, &format!("{t}-{i}")),
                        ) {
                            Ok(r) => (r.status, r.json()["error_code"].as_str().map(str::to_owned)),
                            Err(e) => (0, Some(e)),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ok = vec![0i64; callers.len()];
    let (mut refused, mut busy) = (0, 0);
    for (t, h) in handles.into_iter().enumerate() {
        for (status, code) in h.join().map_err(|_| "a caller thread panicked")? {
            match (status, code.as_deref()) {
                (200, _) => ok[t % callers.len()] += 1,
                (403, Some("TG.3002")) => refused += 1,
                // The vendor refuses concurrent operations on one quota; Tiergate releases.
                (400, Some("CBC.50000045")) => busy += 1,
                other => return Err(format!("unexpected answer {other:?}")),
            }
        }
    }
    let total = (THREADS * EACH) as i64;
    assert_eq!(ok.iter().sum::<i64>() + refused + busy, total);
    assert!(refused > 0, "the slices ran out");
    let t = settled(g, "q-dist-1")?;
    for (i, (_, _, _, slice, cap)) in callers.iter().enumerate() {
        // Never a voucher beyond the slice, and the ledger counts exactly what was issued.
        assert!(ok[i] <= *cap, "{slice}: {} issued of {cap}: {t}", ok[i]);
        assert_eq!(
            dec(&t[*slice]["used"]),
            Decimal::from(ok[i]),
            "{slice}: {t}"
        );
        assert!(
            dec(&t[*slice]["remaining"]) >= Decimal::ZERO,
            "{slice}: {t}"
        );
    }
    assert!(dec(&t["dist"]["remaining"]) >= Decimal::ZERO, "{t}");
    // The ledger equals the vendor's state, quota by quota.
    let r1: i64 = ok[..3].iter().sum();
    assert_eq!(vendor_issued(&sim, "q-res-1"), Decimal::from(r1));
    assert_eq!(vendor_issued(&sim, "q-res-2"), Decimal::from(ok[3]));
    assert_eq!(
        sim.world().quotas["q-res-1"].balance,
        Decimal::from(5000 - r1),
        "the vendor quota was drawn exactly as the ledger says"
    );
    drop(gws);
    db.drop_db().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_killed_mid_batch_ends_equal_to_the_vendor_after_reconciliation() -> R {
    let db = TempDb::create().await?;
    let sim = start_unlimited_sim().await?;
    let mut gw = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    grant(
        &gw,
        "q-res-1",
        &["--id", "r1", "--grantee", "res-1", "--total", "4000"],
    )?;
    let res1 = gw.issue("res-1")?;
    // The vendor applies each request, then drops the connection without answering.
    sim.set_faults(Faults {
        drop_after_commit: true,
        latency_ms: 20,
        ..Faults::default()
    });
    let before = sim.seen();
    let addr = gw.addr;
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let (ak, sk) = (res1.ak.clone(), res1.sk.clone());
            std::thread::spawn(move || {
                let signer = Signer {
                    addr,
                    ak: &ak,
                    sk: &sk,
                };
                let customer = if t % 2 == 0 { "cust-r1-a" } else { "cust-r1-b" };
                for i in 0..20 {
                    if signer
                        .send_within(
                            "POST",
                            PATH,
                            "",
                            &body("q-res-1", customer, &format!("{t}-{i}")),
                            time::OffsetDateTime::now_utc(),
                            Duration::from_secs(10),
                        )
                        .is_err_and(|e| e.contains("refused"))
                    {
                        return; // the gateway is gone
                    }
                }
            })
        })
        .collect();
    // Mid-batch: once the vendor has applied some of the requests.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.seen() < before + 20 {
        if Instant::now() > deadline {
            return Err("the vendor never saw the batch".into());
        }
        std::thread::yield_now();
    }
    gw.signal("KILL")?;
    gw.wait_exit(Duration::from_secs(10))?;
    for h in handles {
        h.join().map_err(|_| "a caller thread panicked")?;
    }
    sim.set_faults(Faults::default());
    let held = slices(&gw, "q-res-1")?;
    assert!(
        dec(&held["r1"]["reserved"]) > Decimal::ZERO,
        "reservations were held: {held}"
    );

    // Restarted on the same database, reconciled: the ledger equals the vendor's records.
    let gw = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    let out = gw.command(
        "ledger",
        &["reconcile", "--older-than", "0s", "--json"],
        &[],
    )?;
    let r: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    assert!(r["reservations"].as_u64().unwrap_or(0) > 0, "{r}");
    let t = slices(&gw, "q-res-1")?;
    assert_eq!(dec(&t["r1"]["reserved"]), Decimal::ZERO, "{t}");
    assert_eq!(dec(&t["r1"]["used"]), vendor_issued(&sim, "q-res-1"), "{t}");
    assert_eq!(
        dec(&t["r1"]["used"]) + sim.world().quotas["q-res-1"].balance,
        Decimal::from(5000),
        "{t}"
    );
    assert_eq!(
        r["unattributed"],
        json!([]),
        "every vendor voucher is explained: {r}"
    );
    drop(gw);
    db.drop_db().await;
    Ok(())
}
