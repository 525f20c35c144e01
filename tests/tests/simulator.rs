//! The partner API simulator behaves like the vendor: checked with the vendor's own SDK
//! calling it directly, and with hand-signed requests for timing and faults.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use std::time::Duration;
use tiergate_tests::harness::{HttpResponse, Signer, call, fixture, http, sdk, sdk1, start_sim};
use tiergate_tests::sim::{Faults, Simulator};
use time::OffsetDateTime;

type R = Result<(), String>;

const DIST: (&str, &str, &str) = (
    "DISTAK0000000000001",
    "dist-1-secret-key-0000000000000000000001",
    "dist-1",
);
const RES1: (&str, &str, &str) = (
    "RES1AK0000000000001",
    "res-1-own-vendor-secret-000000000000001",
    "res-1",
);
const CUST: (&str, &str, &str) = (
    "CUSTAK0000000000001",
    "cust-r1-a-secret-0000000000000000000001",
    "cust-r1-a",
);

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

fn as_(
    sim: &Simulator,
    who: (&str, &str, &str),
    request: &str,
    body_class: Option<&str>,
    body: Value,
) -> Value {
    let mut v = call(
        &format!("http://{}", sim.addr()),
        who.0,
        who.1,
        who.2,
        request,
    );
    match body_class {
        Some(c) => {
            v["body_class"] = json!(c);
            v["body"] = body;
        }
        None => v["params"] = body,
    }
    v
}

fn allocate(sim: &Simulator, who: (&str, &str, &str), body: Value) -> Value {
    as_(
        sim,
        who,
        "UpdateCustomerAccountAmountRequest",
        Some("AdjustAccountReq"),
        body,
    )
}

fn coupons(sim: &Simulator, body: Value) -> Value {
    as_(
        sim,
        DIST,
        "CreatePartnerCouponsRequest",
        Some("CreatePartnerCouponsReq"),
        body,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_and_caller_constraints_are_the_vendors() -> R {
    let sim = start_sim(fixture()?).await?;
    let list = |who| {
        as_(
            &sim,
            who,
            "ListIndirectPartnersRequest",
            Some("QueryIndirectPartnersReq"),
            json!({}),
        )
    };
    let wrong = (DIST.0, "not-the-secret", DIST.2);
    let cust_balance = |who| {
        as_(
            &sim,
            who,
            "ShowCustomerAccountBalancesRequest",
            None,
            json!({}),
        )
    };
    let cards = |who| as_(&sim, who, "ListStoredValueCardsRequest", None, json!({}));
    let out = sdk(&[
        list(DIST),
        list(RES1),
        list(wrong),
        cust_balance(DIST),
        cust_balance(CUST),
        cards(CUST),
        list(CUST),
    ])?;
    assert_eq!(out[0]["body"]["count"], 2, "{}", out[0]);
    assert_eq!(
        (out[1]["status"].clone(), out[1]["error_code"].clone()),
        (json!(403), json!("CBC.0151")),
        "a reseller's own key is never accepted"
    );
    assert_eq!(
        (out[2]["status"].clone(), out[2]["error_code"].clone()),
        (json!(401), json!("CBC.0151"))
    );
    assert_eq!(out[3]["status"], 403, "customer-only API refuses a partner");
    assert_eq!(out[4]["status"], 200, "{}", out[4]);
    assert_eq!(out[5]["status"], 200, "{}", out[5]);
    assert_eq!(out[6]["status"], 403, "partner API refuses a customer");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn money_rules_amounts_balances_and_scoping() -> R {
    let sim = start_sim(fixture()?).await?;
    let out = sdk(&[
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-d1", "amount": "1.001"}),
        ),
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-d1", "amount": "-5"}),
        ),
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-d1", "amount": "99000.01"}),
        ),
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-d1", "amount": "99000.00"}),
        ),
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-r1-a", "amount": "1", "indirect_partner_id": "res-9"}),
        ),
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-r1-adv", "amount": "1", "indirect_partner_id": "res-1"}),
        ),
        allocate(
            &sim,
            DIST,
            json!({"customer_id": "cust-r1-a", "amount": "1"}),
        ),
    ])?;
    let codes: Vec<Value> = out.iter().map(|o| o["error_code"].clone()).collect();
    assert_eq!(codes[0], "CBC.0100");
    assert_eq!(codes[1], "CBC.0100");
    assert_eq!(
        codes[2], "CBC.99005003",
        "amount - designated_amount is the limit"
    );
    assert_eq!(out[3]["ok"], true, "{}", out[3]);
    assert_eq!(codes[4], "CBC.99000037");
    assert_eq!(codes[5], "CBC.99003127", "advisory customers get no funds");
    assert_eq!(
        codes[6], "CBC.99003110",
        "a reseller's customer, without acting as it"
    );
    let w = sim.world();
    assert_eq!(w.customers["cust-d1"].balance, dec("99000.00"));
    assert_eq!(w.partners["dist-1"].account.amount, dec("1000.00"));
    assert_eq!(w.adjust_records.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn vouchers_batch_partially_succeed_and_reclaim_answers_204() -> R {
    let sim = start_sim(fixture()?).await?;
    let out = sdk1(coupons(
        &sim,
        json!({"quota_id": "q-res-1", "indirect_partner_id": "res-1",
        "customer_ids": ["cust-r1-a", "cust-r2-a", "cust-r1-adv"], "face_value": "2000"}),
    ))?;
    assert_eq!(
        out["body"]["coupon_infos"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    let errs: Vec<Value> = out["body"]["error_details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(errs[0]["error_code"], "CBC.99003110");
    assert_eq!(errs[1]["error_code"], "CBC.99003127");
    let coupon = out["body"]["coupon_infos"][0]["coupon_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let widen = sdk1(coupons(
        &sim,
        json!({"quota_id": "q-dist-1", "customer_ids": ["cust-d1"],
        "face_value": "1", "cloud_service_types": ["hws.service.type.rds"]}),
    ))?;
    assert_eq!(
        widen["error_code"], "CBC.0100",
        "vouchers may only narrow the quota"
    );
    let over = sdk1(coupons(
        &sim,
        json!({"quota_id": "q-res-1", "indirect_partner_id": "res-1",
        "customer_ids": ["cust-r1-a", "cust-r1-a"], "face_value": "2000"}),
    ))?;
    let errs = over["body"]["error_details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(errs.len(), 1, "{over}");
    assert_eq!(errs[0]["error_code"], "CBC.99000013");
    assert_eq!(sim.world().quotas["q-res-1"].balance, dec("1000.00"));

    let reclaim = as_(
        &sim,
        DIST,
        "ReclaimPartnerCouponsRequest",
        Some("ReclaimPartnerCouponsReq"),
        json!({"coupon_id": coupon, "indirect_partner_id": "res-1"}),
    );
    let again = reclaim.clone();
    let out = sdk(&[reclaim, again])?;
    assert_eq!(out[0]["status"], 204, "{}", out[0]);
    assert_eq!(out[1]["error_code"], "CBC.99003107");
    assert_eq!(sim.world().quotas["q-res-1"].balance, dec("3000.00"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_goes_to_resellers_and_comes_back() -> R {
    let sim = start_sim(fixture()?).await?;
    let out = sdk1(as_(
        &sim,
        DIST,
        "UpdateCouponQuotasRequest",
        Some("AdjustCouponQuotasReq"),
        json!({"quota_id": "q-dist-1", "indirect_partner_ids": ["res-2", "sp-1"], "quota_amount": "700"}),
    ))?;
    let infos = out["body"]["simple_quota_infos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(infos.len(), 1, "{out}");
    assert_eq!(out["body"]["error_details"][0]["id"], "sp-1");
    let new_quota = infos[0]["quota_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(sim.world().quotas["q-dist-1"].balance, dec("39300.00"));
    let out = sdk(&[
        as_(
            &sim,
            DIST,
            "ListIssuedCouponQuotasRequest",
            None,
            json!({"indirect_partner_id": "res-2"}),
        ),
        as_(
            &sim,
            DIST,
            "ReclaimCouponQuotasRequest",
            Some("ReclaimCouponQuotasReq"),
            json!({"quota_ids": [new_quota, "q-nope"]}),
        ),
        as_(
            &sim,
            DIST,
            "ListCouponQuotasRecordsRequest",
            None,
            json!({}),
        ),
    ])?;
    assert_eq!(out[0]["body"]["total_count"], 2, "{}", out[0]);
    assert_eq!(
        out[1]["body"]["simple_quota_infos"][0]["quota_balance"].to_string(),
        "700",
        "{}",
        out[1]
    );
    assert_eq!(out[1]["body"]["error_details"][0]["id"], "q-nope");
    assert_eq!(out[2]["body"]["total_count"], 2);
    assert_eq!(sim.world().quotas["q-dist-1"].balance, dec("40000.00"));
    Ok(())
}

fn dist(addr: std::net::SocketAddr) -> Signer<'static> {
    Signer {
        addr,
        ak: DIST.0,
        sk: DIST.1,
    }
}

fn balances(sim: &Simulator) -> Result<u16, String> {
    Ok(balances_response(sim)?.status)
}

fn balances_response(sim: &Simulator) -> Result<HttpResponse, String> {
    dist(sim.addr()).send("GET", "/v2/accounts/partner-accounts/balances", "", b"")
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_requests_per_second_per_api_then_429() -> R {
    let sim = start_sim(fixture()?).await?;
    let statuses: Vec<u16> = (0..12).map(|_| balances(&sim)).collect::<Result<_, _>>()?;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    let r = balances_response(&sim)?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (429, json!("CBC.0250"))
    );
    // Another API has its own budget.
    let r = dist(sim.addr()).send("GET", "/v2/partners/issued-coupon-quotas", "", b"")?;
    assert_eq!(r.status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_5xx_drop_after_commit_and_hang() -> R {
    let sim = start_sim(fixture()?).await?;
    let body = br#"{"customer_id":"cust-d1","amount":10}"#;
    let path = "/v2/accounts/partner-accounts/adjust-amount";
    let addr = sim.addr();
    let send = || dist(addr).send("POST", path, "", body);
    sim.set_faults(Faults {
        error_percent: 100,
        ..Faults::default()
    });
    let r = send()?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (500, json!("CBC.0999"))
    );
    assert!(sim.world().adjust_records.is_empty());
    sim.set_faults(Faults {
        drop_after_commit: true,
        ..Faults::default()
    });
    assert!(
        send().is_err(),
        "the connection is dropped without an answer"
    );
    assert_eq!(
        sim.world().adjust_records.len(),
        1,
        "but the allocation happened"
    );
    // Faults switch through the control API too; a hung request never answers.
    let r = http(
        sim.addr(),
        "PUT",
        "/__sim/faults",
        &[],
        br#"{"hang": true}"#,
    )?;
    assert_eq!(r.status, 204);
    let hung = dist(sim.addr()).send_within(
        "POST",
        path,
        "",
        body,
        OffsetDateTime::now_utc(),
        Duration::from_millis(300),
    );
    assert!(hung.is_err(), "{hung:?}");
    sim.set_faults(Faults::default());
    assert_eq!(balances(&sim)?, 200, "the simulator still serves others");
    let state = http(sim.addr(), "GET", "/__sim/state", &[], b"")?;
    assert_eq!(state.json()["customers"]["cust-d1"]["balance"], "10");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_operations_on_one_quota_are_refused() -> R {
    let sim = start_sim(fixture()?).await?;
    sim.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    });
    let body = br#"{"quota_id":"q-res-1","indirect_partner_id":"res-1","customer_ids":["cust-r1-a"],"face_value":5}"#;
    let addr = sim.addr();
    let path = "/v2/promotions/benefits/partner-coupons";
    let both: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || dist(addr).send("POST", path, "", body)))
        .collect();
    let mut codes = Vec::new();
    for t in both {
        let r = t.join().map_err(|_| "thread panicked")??;
        codes.push((r.status, r.json()["error_code"].clone()));
    }
    codes.sort_by_key(|c| c.0);
    assert_eq!(
        codes,
        vec![(200, Value::Null), (400, json!("CBC.50000045"))]
    );
    assert_eq!(sim.world().coupons.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_calls_give_the_same_world() -> R {
    let mut worlds = Vec::new();
    for _ in 0..2 {
        let sim = start_sim(fixture()?).await?;
        sdk(&[
            coupons(
                &sim,
                json!({"quota_id": "q-dist-1", "customer_ids": ["cust-d1"], "face_value": "3"}),
            ),
            allocate(&sim, DIST, json!({"customer_id": "cust-d1", "amount": "4"})),
        ])?;
        let w = sim.world();
        worlds.push((
            w.coupons.keys().cloned().collect::<Vec<_>>(),
            w.adjust_records
                .iter()
                .map(|r| r.trans_id.clone())
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(worlds[0], worlds[1]);
    Ok(())
}
