//! Fund adjustment caps with the vendor SDK: per grantee (reseller, and a staff member on top),
//! per operation and per day, allocate and reclaim separately; a vendor refusal releases the
//! held amount; refusals are audited with their code.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use std::time::{Duration, Instant};
use tiergate_tests::harness::{Cred, Db, Gateway, call, fixture, sdk, start_sim};
use tiergate_tests::ledger::staff;

type R = Result<(), String>;

fn adjust(gw: &Gateway, c: &Cred, reclaim: bool, customer: &str, amount: &str) -> Value {
    let (req, class) = if reclaim {
        (
            "ReclaimToPartnerAccountRequest",
            "ReclaimToPartnerAccountBalancesReq",
        )
    } else {
        ("UpdateCustomerAccountAmountRequest", "AdjustAccountReq")
    };
    let mut v = call(&gw.endpoint(), &c.ak, &c.sk, &c.partner, req);
    v["body_class"] = json!(class);
    v["body"] = json!({"customer_id": customer, "amount": amount});
    v
}

fn cap(gw: &Gateway, args: &[&str]) -> R {
    let mut all = vec!["cap"];
    all.extend_from_slice(args);
    gw.command("funds", &all, &[]).map(drop)
}

/// A grantee's account once no amount is held (settlement follows each answer by a moment).
fn settled(gw: &Gateway, grantee: &[&str]) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = vec!["show"];
        all.extend_from_slice(grantee);
        let out = gw.command("funds", &all, &[])?;
        let a: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        if a["holds"].as_object().is_none_or(|h| h.is_empty()) {
            return Ok(a);
        }
        if Instant::now() > deadline {
            return Err(format!("still held after 10 s: {a}"));
        }
    }
}

fn moved(a: &Value, key: &str) -> Decimal {
    a["moved"][key]
        .as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn fund_adjustments_stay_within_each_grantees_caps() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    let alice = staff(&gw, "alice")?;
    cap(
        &gw,
        &[
            "--grantee",
            "res-1",
            "--direction",
            "allocate",
            "--per-operation",
            "100",
            "--per-day",
            "150",
        ],
    )?;
    cap(
        &gw,
        &[
            "--grantee",
            "res-1",
            "--staff",
            "alice",
            "--direction",
            "allocate",
            "--per-day",
            "50",
        ],
    )?;
    cap(
        &gw,
        &[
            "--grantee",
            "res-1",
            "--direction",
            "reclaim",
            "--per-day",
            "100",
        ],
    )?;
    let (a, b) = ("cust-r1-a", "cust-r1-b");
    let out = sdk(&[
        adjust(&gw, &res1, false, a, "120"),
        adjust(&gw, &alice, false, a, "40"),
        adjust(&gw, &alice, false, a, "20"),
        adjust(&gw, &res1, false, a, "100"),
        adjust(&gw, &res1, false, a, "20"),
        // The customer holds nothing: the vendor refuses and the held amount is released.
        adjust(&gw, &res1, true, b, "80"),
        adjust(&gw, &res1, true, a, "50"),
        adjust(&gw, &res1, true, a, "60"),
    ])?;
    let code = |i: usize| out[i]["error_code"].clone();
    assert_eq!(code(0), "TG.3013", "over the per-operation cap: {}", out[0]);
    assert_eq!(out[1]["status"], 200, "{}", out[1]);
    assert_eq!(code(2), "TG.3014", "over alice's own day cap: {}", out[2]);
    assert!(
        out[2]["error_msg"]
            .as_str()
            .unwrap_or_default()
            .contains("res-1/alice"),
        "{}",
        out[2]
    );
    assert_eq!(out[3]["status"], 200, "{}", out[3]);
    assert_eq!(
        code(4),
        "TG.3014",
        "over the reseller's day cap (40 + 100 of 150): {}",
        out[4]
    );
    assert!(
        out[5]["status"]
            .as_u64()
            .is_some_and(|s| (400..500).contains(&s)),
        "{}",
        out[5]
    );
    assert!(
        !code(5).as_str().unwrap_or_default().starts_with("TG."),
        "{}",
        out[5]
    );
    assert_eq!(
        out[6]["status"], 200,
        "the vendor's refusal released its hold: {}",
        out[6]
    );
    assert_eq!(code(7), "TG.3014", "{}", out[7]);

    let day = format!(
        "{}",
        time::OffsetDateTime::now_utc()
            .to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC))
            .date()
    );
    let r = settled(&gw, &["--grantee", "res-1"])?;
    assert_eq!(
        moved(&r, &format!("allocate:{day}")),
        Decimal::from(140),
        "{r}"
    );
    assert_eq!(
        moved(&r, &format!("reclaim:{day}")),
        Decimal::from(50),
        "{r}"
    );
    let s = settled(&gw, &["--grantee", "res-1", "--staff", "alice"])?;
    assert_eq!(
        moved(&s, &format!("allocate:{day}")),
        Decimal::from(40),
        "{s}"
    );
    let balance = sim.world().customers["cust-r1-a"].balance;
    assert_eq!(balance, Decimal::from(90), "140 allocated, 50 reclaimed");

    let refused = gw.audit("query", &["--outcome", "refused"])?;
    assert!(
        refused.contains("TG.3013") && refused.contains("TG.3014"),
        "{refused}"
    );
    let caps = gw.audit("query", &["--operation", "fund_caps"])?;
    assert_eq!(caps.lines().count(), 3, "{caps}");
    Ok(())
}
