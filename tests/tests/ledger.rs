//! The delegation ledger on the request path, with the vendor SDK: vouchers draw on the
//! caller's slice (reseller, or a staff member's own slice), refusals name the limit, partial
//! success commits only what the vendor issued, reclaims credit the slice back, an unknown
//! outcome stays held until reconciliation settles it from the vendor's records, and the
//! ledger ends equal to the simulator's state.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tiergate_tests::harness::{Cred, Db, Gateway, call, eventually, fixture, sdk, sdk1, start_sim};
use tiergate_tests::ledger::{dec, grant, settled, slices, staff, vendor_issued};
use tiergate_tests::sim::Faults;

type R = Result<(), String>;

fn issue(gw: &Gateway, c: &Cred, quota: &str, face: &str, customers: &[&str]) -> Value {
    let mut v = call(
        &gw.endpoint(),
        &c.ak,
        &c.sk,
        &c.partner,
        "CreatePartnerCouponsRequest",
    );
    v["body_class"] = json!("CreatePartnerCouponsReq");
    v["body"] = json!({"quota_id": quota, "customer_ids": customers, "face_value": face});
    v
}

fn reclaim(gw: &Gateway, c: &Cred, coupon: &str) -> Value {
    let mut v = call(
        &gw.endpoint(),
        &c.ak,
        &c.sk,
        &c.partner,
        "ReclaimPartnerCouponsRequest",
    );
    v["body_class"] = json!("ReclaimPartnerCouponsReq");
    v["body"] = json!({"coupon_id": coupon});
    v
}

fn reconcile(gw: &Gateway, args: &[&str]) -> Result<Value, String> {
    let mut all = vec!["reconcile", "--json"];
    all.extend_from_slice(args);
    let out = gw.command("ledger", &all, &[])?;
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

fn coupon_of(out: &Value, i: usize) -> String {
    out["body"]["coupon_infos"][i]["coupon_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn vouchers_draw_on_the_callers_slice_and_settle_as_the_vendor_did() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    grant(
        &gw,
        "q-dist-1",
        &["--id", "dist", "--grantee", "dist-1", "--total", "10000"],
    )?;
    // res-1's slice was issued upstream as its own vendor quota q-res-1 (5,000 on the vendor).
    let res = [
        "--id",
        "res-1",
        "--parent",
        "dist",
        "--grantee",
        "res-1",
        "--total",
        "5300",
        "--max-face-value",
        "2500",
        "--upstream-quota",
        "q-res-1",
    ];
    grant(&gw, "q-dist-1", &res)?;
    let alice = [
        "--id",
        "alice",
        "--parent",
        "res-1",
        "--grantee",
        "alice",
        "--total",
        "100",
        "--max-face-value",
        "40",
    ];
    grant(&gw, "q-dist-1", &alice)?;
    let res1 = gw.issue("res-1")?;
    let staff = staff(&gw, "alice")?;
    let (a, b) = ("cust-r1-a", "cust-r1-b");

    let out = sdk(&[
        issue(&gw, &res1, "q-res-1", "2450", &[a, b]),
        issue(&gw, &res1, "q-res-1", "2600", &[a]),
        issue(&gw, &res1, "q-res-1", "150", &[a, b, a]),
        // 5300 - 4900 issued - 100 granted on to alice: 300 left.
        issue(&gw, &res1, "q-res-1", "200", &[a, b]),
        // The vendor has 100 left on q-res-1: the first voucher is issued, the second not.
        issue(&gw, &res1, "q-res-1", "60", &[a, b]),
        issue(&gw, &staff, "q-res-1", "50", &[a]),
        issue(&gw, &staff, "q-res-1", "40", &[a]),
    ])?;
    assert_eq!(out[0]["status"], 200, "{}", out[0]);
    assert_eq!(
        out[1]["error_code"], "TG.3004",
        "over the maximum face value: {}",
        out[1]
    );
    assert!(
        out[1]["error_msg"]
            .as_str()
            .unwrap_or_default()
            .contains("2500"),
        "{}",
        out[1]
    );
    assert_eq!(
        out[2]["error_code"], "TG.4002",
        "a customer twice: {}",
        out[2]
    );
    assert_eq!(
        out[3]["error_code"], "TG.3002",
        "over the slice: {}",
        out[3]
    );
    assert!(
        out[3]["error_msg"]
            .as_str()
            .unwrap_or_default()
            .contains("300"),
        "names what is left: {}",
        out[3]
    );
    assert_eq!(out[4]["status"], 200, "{}", out[4]);
    assert_eq!(
        out[4]["body"]["error_details"].as_array().map(Vec::len),
        Some(1),
        "{}",
        out[4]
    );
    assert_eq!(
        out[5]["error_code"], "TG.3004",
        "the staff member's own maximum: {}",
        out[5]
    );
    assert_eq!(
        out[6]["status"], 200,
        "staff draw on their own slice: {}",
        out[6]
    );

    let t = settled(&gw, "q-dist-1")?;
    let d = |s: &str, f: &str| dec(&t[s][f]);
    assert_eq!(
        d("res-1", "used"),
        Decimal::from(4960),
        "the failed voucher was released: {t}"
    );
    assert_eq!(d("alice", "used"), Decimal::from(40), "{t}");
    assert_eq!(
        d("res-1", "reserved") + d("alice", "reserved"),
        Decimal::ZERO,
        "{t}"
    );
    assert_eq!(d("res-1", "remaining"), Decimal::from(240), "{t}");
    assert_eq!(t["res-1"]["upstream_quota"], "q-res-1", "{t}");
    assert_eq!(
        vendor_issued(&sim, "q-res-1"),
        d("res-1", "used") + d("alice", "used"),
        "the ledger equals what the vendor issued"
    );

    // A reclaim credits the slice with what the vendor returned to the quota.
    let out = sdk1(reclaim(&gw, &res1, &coupon_of(&out[0], 0)))?;
    assert_eq!(out["status"], 204, "{out}");
    // The gateway wakes its reconciler on a reclaim; the command (here reading every record,
    // as for a reclaim made on the vendor console) may run alongside. Either way the voucher
    // is credited exactly once.
    reconcile(&gw, &["--full"])?;
    let t = slices(&gw, "q-dist-1")?;
    assert_eq!(dec(&t["res-1"]["used"]), Decimal::from(2510), "{t}");
    assert_eq!(vendor_issued(&sim, "q-res-1"), Decimal::from(2550));
    let again = reconcile(&gw, &["--full"])?;
    assert_eq!(again["reclaims"], 0, "credited once: {again}");
    let credits = gw.audit(
        "query",
        &["--kind", "delegation", "--operation", "reclaim_credit"],
    )?;
    assert_eq!(credits.lines().count(), 1, "{credits}");
    assert!(credits.contains(r#""credited":"2450""#), "{credits}");

    // Every reservation has its audit trail: the intent names the slice, refusals the limit.
    let intents = gw.audit(
        "query",
        &["--kind", "intent", "--operation", "create_partner_coupons"],
    )?;
    assert!(intents.contains(r#""slice":"alice""#), "{intents}");
    let refused = gw.audit("query", &["--outcome", "refused"])?;
    assert!(
        refused.contains("TG.3002") && refused.contains("TG.3004"),
        "{refused}"
    );

    // The same in the metrics: holds made, holds refused by the ledger's code, every write
    // to the chain counted, and no hold left once everything settled.
    let reserved = r#"tiergate_ledger_reservations_total{outcome="reserved"}"#;
    assert!(gw.metric_sum(reserved)? >= 3.0);
    for code in ["TG.3002", "TG.3004"] {
        let refused = format!(r#"tiergate_ledger_refusals_total{{code="{code}"}}"#);
        assert!(gw.metric_sum(&refused)? >= 1.0, "{code}");
    }
    assert!(gw.metric_sum(r#"tiergate_audit_appends_total{outcome="ok"}"#)? >= 10.0);
    assert_eq!(
        gw.metric_sum(r#"tiergate_audit_appends_total{outcome="failed"}"#)?,
        0.0
    );
    assert!(gw.metric_sum("tiergate_audit_append_duration_seconds_count")? >= 10.0);
    // The chain's length as of the last record written alone; its verification ran at start.
    assert!(gw.metric_sum("tiergate_audit_chain_length ")? >= 10.0);
    eventually(
        Duration::from_secs(10),
        "the chain verified at start",
        || Ok(gw.metric_sum("tiergate_audit_chain_intact ")? == 1.0),
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_outcome_stays_held_until_reconciliation_settles_it() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    // A root slice on the reseller's own vendor quota.
    grant(
        &gw,
        "q-res-1",
        &["--id", "r1", "--grantee", "res-1", "--total", "1000"],
    )?;
    let res1 = gw.issue("res-1")?;
    sim.set_faults(Faults {
        drop_after_commit: true,
        ..Faults::default()
    });
    let out = sdk1(issue(
        &gw,
        &res1,
        "q-res-1",
        "100",
        &["cust-r1-a", "cust-r1-b"],
    ))?;
    assert_eq!(
        out["error_code"], "TG.5002",
        "the connection dropped: {out}"
    );
    sim.set_faults(Faults::default());
    let t = slices(&gw, "q-res-1")?;
    assert_eq!(dec(&t["r1"]["reserved"]), Decimal::from(200), "held: {t}");
    assert_eq!(dec(&t["r1"]["remaining"]), Decimal::from(800), "{t}");

    // Too young to settle by default: it may still be in flight.
    let r = reconcile(&gw, &[])?;
    assert_eq!(r["reservations"], 0, "{r}");
    let r = reconcile(&gw, &["--older-than", "0s"])?;
    assert_eq!(r["reservations"], 1, "{r}");
    assert_eq!(dec(&r["issued"]), Decimal::from(200), "{r}");
    let t = slices(&gw, "q-res-1")?;
    assert_eq!(
        (dec(&t["r1"]["reserved"]), dec(&t["r1"]["used"])),
        (Decimal::ZERO, Decimal::from(200)),
        "{t}"
    );
    assert_eq!(vendor_issued(&sim, "q-res-1"), Decimal::from(200));
    let outcomes = gw.audit("query", &["--outcome", "reconciled"])?;
    assert!(outcomes.contains("create_partner_coupons"), "{outcomes}");
    Ok(())
}

fn with_key(mut call: Value, key: &str) -> Value {
    call["headers"] = json!({"X-Idempotency-Key": key});
    call
}

/// Sends a retry until the first request's answer is recorded (a retry that overtakes the
/// recording is told TG.3010, retry later; bounded).
fn retry(call: &Value) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = sdk1(call.clone())?;
        if out["error_code"] != "TG.3010" || Instant::now() > deadline {
            return Ok(out);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_request_never_reserves_twice_and_gets_the_first_outcome() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    grant(
        &gw,
        "q-res-1",
        &["--id", "r1", "--grantee", "res-1", "--total", "1000"],
    )?;
    let res1 = gw.issue("res-1")?;
    let first = with_key(
        issue(&gw, &res1, "q-res-1", "100", &["cust-r1-a"]),
        "order-1",
    );
    let out = sdk1(first.clone())?;
    assert_eq!(out["status"], 200, "{out}");
    let again = retry(&first)?;
    assert_eq!(again["status"], 200, "{again}");
    assert_eq!(
        coupon_of(&again, 0),
        coupon_of(&out, 0),
        "the first answer, replayed"
    );
    assert_eq!(
        vendor_issued(&sim, "q-res-1"),
        Decimal::from(100),
        "issued once"
    );
    let other = with_key(
        issue(&gw, &res1, "q-res-1", "50", &["cust-r1-a"]),
        "order-1",
    );
    let out = sdk1(other)?;
    assert_eq!(
        out["error_code"], "TG.3011",
        "the key names another request: {out}"
    );

    // A refusal is the first outcome too.
    let over = with_key(
        issue(&gw, &res1, "q-res-1", "950", &["cust-r1-b"]),
        "order-2",
    );
    assert_eq!(sdk1(over.clone())?["error_code"], "TG.3002");
    assert_eq!(retry(&over)?["error_code"], "TG.3002");

    // An unknown outcome: retries are told to wait until reconciliation says what happened,
    // then get that as the answer.
    sim.set_faults(Faults {
        drop_after_commit: true,
        ..Faults::default()
    });
    let dropped = with_key(
        issue(&gw, &res1, "q-res-1", "200", &["cust-r1-b"]),
        "order-3",
    );
    assert_eq!(sdk1(dropped.clone())?["error_code"], "TG.5002");
    sim.set_faults(Faults::default());
    let out = sdk1(dropped.clone())?;
    assert_eq!(out["error_code"], "TG.3010", "{out}");
    assert_eq!(out["status"], 409, "{out}");
    let r = reconcile(&gw, &["--older-than", "0s"])?;
    assert_eq!(r["reservations"], 1, "{r}");
    let out = sdk1(dropped)?;
    assert_eq!(out["status"], 200, "{out}");
    assert!(!coupon_of(&out, 0).is_empty(), "{out}");
    assert_eq!(
        vendor_issued(&sim, "q-res-1"),
        Decimal::from(300),
        "issued once"
    );
    let t = settled(&gw, "q-res-1")?;
    assert_eq!(dec(&t["r1"]["used"]), Decimal::from(300), "{t}");
    Ok(())
}
