//! The partner API simulator behaves like the vendor: checked with the vendor's own SDK
//! calling it directly, and with hand-signed requests for timing and faults.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use std::time::Duration;
use tiergate_tests::harness::{
    HttpResponse, Signer, call, fixture, http, sdk, sdk1, start_sim, start_unlimited_sim,
};
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

// The vendor's partner and resale-customer API, beyond money: each family shows state
// changed by one call and seen by another, and the vendor's refusals. Raw signed calls keep
// these fast; the SDK checks that answers deserialize.

type Key = (&'static str, &'static str);

const D: Key = (DIST.0, DIST.1);
const SP: Key = (
    "SP1AK00000000000001",
    "sp-1-secret-key-00000000000000000000001",
);
const CEDAR: Key = (
    "CUSTAK0000000000003",
    "cust-r1-c-secret-0000000000000000000003",
);
const DELTA: Key = (
    "CUSTAK0000000000002",
    "cust-r2-b-secret-0000000000000000000002",
);
const ECHO: Key = (
    "CUSTAK0000000000004",
    "cust-sp-a-secret-0000000000000000000004",
);
const RES1_KEY: Key = (RES1.0, RES1.1);

/// Sends a signed request; answers the status and the JSON body (`Null` when empty).
fn send(
    sim: &Simulator,
    who: Key,
    method: &str,
    path: &str,
    query: &str,
    body: Value,
) -> Result<(u16, Value), String> {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = Signer {
        addr: sim.addr(),
        ak: who.0,
        sk: who.1,
    }
    .send(method, path, query, &bytes)?;
    let v = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    Ok((r.status, v))
}

fn get(sim: &Simulator, who: Key, path: &str, query: &str) -> Result<(u16, Value), String> {
    send(sim, who, "GET", path, query, Value::Null)
}

fn post(sim: &Simulator, who: Key, path: &str, body: Value) -> Result<(u16, Value), String> {
    send(sim, who, "POST", path, "", body)
}

fn code(r: &(u16, Value)) -> (u16, String) {
    (
        r.0,
        r.1["error_code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_is_paid_with_discount_voucher_and_balance() -> R {
    let sim = start_unlimited_sim().await?;
    // The reseller (through its distributor) gives its customer a voucher.
    let (s, v) = post(
        &sim,
        D,
        "/v2/promotions/benefits/partner-coupons",
        json!({"quota_id": "q-res-1", "indirect_partner_id": "res-1", "customer_ids": ["cust-r1-c"], "face_value": 10}),
    )?;
    assert_eq!(s, 200, "{v}");
    let coupon = v["coupon_infos"][0]["coupon_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let q = "order_id=ord-r1c-pending";
    let (_, discounts) = get(&sim, CEDAR, "/v2/orders/customer-orders/order-discounts", q)?;
    assert_eq!(
        discounts["discounts"][0]["discount_id"], "disc-r1c-partner",
        "{discounts}"
    );
    let (_, usable) = get(&sim, CEDAR, "/v2/orders/customer-orders/order-coupons", q)?;
    assert_eq!(
        usable["user_coupons"][0]["coupon_id"],
        coupon.as_str(),
        "{usable}"
    );

    // Refusals first: nothing may change.
    let pay = |discount: &str| {
        json!({"order_id": "ord-r1c-pending", "use_coupon": "YES", "use_discount": "YES",
        "coupon_infos": [{"id": coupon, "type": 301}], "discount_infos": [{"id": discount, "type": 3}]})
    };
    let refused = [
        code(&post(
            &sim,
            D,
            "/v3/orders/customer-orders/pay",
            pay("disc-r1c-partner"),
        )?),
        code(&post(
            &sim,
            DELTA,
            "/v3/orders/customer-orders/pay",
            pay("disc-r1c-partner"),
        )?),
        code(&post(
            &sim,
            CEDAR,
            "/v3/orders/customer-orders/pay",
            pay("disc-nope"),
        )?),
        code(&get(
            &sim,
            SP,
            "/v2/orders/customer-orders",
            "customer_id=cust-r1-c",
        )?),
        code(&send(
            &sim,
            D,
            "GET",
            "/v2/orders/customer-orders/details/ord-r1c-paid",
            "indirect_partner_id=res-2",
            Value::Null,
        )?),
        code(&get(
            &sim,
            DELTA,
            "/v2/orders/customer-orders/details/ord-r1c-paid",
            "",
        )?),
    ];
    assert_eq!(
        refused,
        [
            (403, "CBC.0151".to_owned()),
            (400, "CBC.30000010".to_owned()),
            (400, "CBC.99003108".to_owned()),
            (400, "CBC.99003110".to_owned()),
            (400, "CBC.99003151".to_owned()),
            (400, "CBC.99003151".to_owned()),
        ]
    );
    assert_eq!(sim.world().customers["cust-r1-c"].balance, dec("2000.00"));

    // 60.00 list, 10% partner discount: 54.00, of which the voucher pays 10.00.
    let (s, v) = post(
        &sim,
        CEDAR,
        "/v3/orders/customer-orders/pay",
        pay("disc-r1c-partner"),
    )?;
    assert_eq!(s, 204, "{v}");
    let again = post(
        &sim,
        CEDAR,
        "/v3/orders/customer-orders/pay",
        pay("disc-r1c-partner"),
    )?;
    assert_eq!(
        code(&again),
        (400, "CBC.99003106".to_owned()),
        "paid once only"
    );
    let w = sim.world();
    assert_eq!(w.customers["cust-r1-c"].balance, dec("1956.00"));
    assert_eq!(w.coupons[&coupon].balance, Decimal::ZERO);
    let order = &w.orders["ord-r1c-pending"];
    assert_eq!(
        (order.status, order.amount, order.cash_amount),
        (5, dec("54.00"), dec("44.00"))
    );
    let opened = order.lines[0].resource_id.clone().unwrap_or_default();
    assert_eq!(w.resources[&opened].status, 2);

    // The partner sees the paid order; the customer its charge, resource and bill.
    let (_, seen) = get(
        &sim,
        D,
        "/v2/orders/customer-orders",
        "customer_id=cust-r1-c&indirect_partner_id=res-1&status=5",
    )?;
    assert_eq!(seen["total_count"], 2, "{seen}");
    let (_, changes) = get(
        &sim,
        CEDAR,
        "/v2/accounts/customer-accounts/account-change-records",
        "trade_type=DEDEUCT&limit=1",
    )?;
    assert_eq!(
        changes["records"][0]["change_amount"], "-44.00",
        "{changes}"
    );
    assert_eq!(changes["total_count"], 4);
    let (_, coupon_changes) = get(
        &sim,
        CEDAR,
        "/v2/promotions/benefits/account-change-records",
        "",
    )?;
    assert_eq!(
        coupon_changes["records"][0]["change_amount"], "-10",
        "{coupon_changes}"
    );
    let (_, res) = post(
        &sim,
        CEDAR,
        "/v2/orders/suscriptions/resources/query",
        json!({"order_id": "ord-r1c-pending"}),
    )?;
    assert_eq!(res["data"][0]["resource_id"], opened.as_str(), "{res}");
    let cycle = &w
        .fee_records
        .last()
        .map(|r| r.bill_cycle.clone())
        .unwrap_or_default();
    let (_, sum) = get(
        &sim,
        CEDAR,
        "/v2/bills/customer-bills/monthly-sum",
        &format!("bill_cycle={cycle}"),
    )?;
    assert!(
        sum["bill_sums"]
            .as_array()
            .is_some_and(|a| a.iter().any(|b| b["consume_amount"]
                .as_number()
                .map(ToString::to_string)
                .as_deref()
                == Some("54.00"))),
        "{sum}"
    );

    // Through the vendor's SDK: the same order deserializes with its amounts as numbers.
    let mut list = call(
        &format!("http://{}", sim.addr()),
        CEDAR.0,
        CEDAR.1,
        "cust-r1-c",
        "ListCustomerOrdersRequest",
    );
    list["params"] = json!({"order_id": "ord-r1c-pending"});
    let out = sdk1(list)?;
    assert_eq!(
        out["body"]["order_infos"][0]["amount_after_discount"],
        json!(54.0),
        "{out}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_charges_and_unsubscription_refunds_the_balance() -> R {
    let sim = start_unlimited_sim().await?;
    let before = sim.world().resources["res-r1c-vm1"].expire_time.clone();
    let renew = |ids: Value| json!({"resource_ids": ids, "period_type": 2, "period_num": 1, "is_auto_pay": 1});
    let (s, v) = post(
        &sim,
        CEDAR,
        "/v2/orders/subscriptions/resources/renew",
        renew(json!(["res-r1c-vm1", "res-r2b-vm1"])),
    )?;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["order_ids"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        v["fail_resource_infos"][0]["error_code"], "CBC.99003012",
        "another customer's resource"
    );
    let w = sim.world();
    assert_eq!(w.customers["cust-r1-c"].balance, dec("1940.00"));
    assert_eq!(before.as_deref(), Some("2027-10-10T02:05:00Z"));
    assert_eq!(
        w.resources["res-r1c-vm1"].expire_time.as_deref(),
        Some("2027-11-10T02:05:00Z")
    );

    let frozen = post(
        &sim,
        ECHO,
        "/v2/orders/subscriptions/resources/renew",
        renew(json!(["res-spa-vm1"])),
    )?;
    assert_eq!(
        code(&frozen),
        (400, "CBC.99003626".to_owned()),
        "a frozen customer cannot renew"
    );
    let (_, quote) = post(
        &sim,
        CEDAR,
        "/v2/bills/ratings/period-resources/renew-rate",
        json!({"resource_ids": ["res-r1c-vm1"], "period_type": 3, "period_num": 1}),
    )?;
    assert_eq!(
        quote["renew_inquiry_results"][0]["amount"], "612.00",
        "{quote}"
    );

    let (s, v) = post(
        &sim,
        CEDAR,
        "/v2/orders/subscriptions/resources/unsubscribe",
        json!({"resource_ids": ["res-r1c-vm1"], "unsubscribe_type": 1}),
    )?;
    assert_eq!(s, 200, "{v}");
    let refund_order = v["order_ids"][0].as_str().unwrap_or_default().to_owned();
    let w = sim.world();
    let refunded = w.orders[&refund_order].cash_amount;
    assert!(refunded > dec("500") && refunded < dec("672"), "{refunded}");
    assert_eq!(w.customers["cust-r1-c"].balance, dec("1940.00") + refunded);
    assert_eq!(w.resources["res-r1c-vm1"].status, 3);
    let q = format!("order_id={refund_order}&customer_id=cust-r1-c&indirect_partner_id=res-1");
    let (_, details) = get(&sim, D, "/v2/orders/customer-orders/refund-orders", &q)?;
    assert_eq!(
        details["refund_infos"][0]["base_order_id"], "ord-r1c-paid",
        "{details}"
    );
    let not_refund = get(
        &sim,
        CEDAR,
        "/v2/orders/customer-orders/refund-orders",
        "order_id=ord-r1c-paid",
    )?;
    assert_eq!(code(&not_refund), (400, "CBC.99005026".to_owned()));
    let (_, cancel) = send(
        &sim,
        CEDAR,
        "PUT",
        "/v2/orders/customer-orders/cancel",
        "",
        json!({"order_id": "ord-r1c-evs"}),
    )?;
    assert!(cancel.is_null(), "{cancel}");
    assert_eq!(sim.world().orders["ord-r1c-evs"].status, 4);

    // Auto-renewal and to-on-demand settings are the customer's own.
    let path = "/v2/orders/subscriptions/resources/autorenew/res-r2b-vm1";
    let (s, _) = post(&sim, DELTA, path, json!({"auto_renew_times": 2}))?;
    assert_eq!(s, 204);
    assert_eq!(sim.world().resources["res-r2b-vm1"].expire_policy, 3);
    assert_eq!(
        code(&post(&sim, CEDAR, path, json!({}))?),
        (400, "CBC.99003012".to_owned())
    );
    assert_eq!(send(&sim, DELTA, "DELETE", path, "", Value::Null)?.0, 204);
    assert_eq!(sim.world().resources["res-r2b-vm1"].expire_policy, 0);
    let (_, now) = post(
        &sim,
        DELTA,
        "/v2/orders/subscriptions/resources/to-on-demand/instantly",
        json!({"resource_ids": ["res-r2b-vm1"]}),
    )?;
    assert_eq!(
        now["to_ondemand_service_results"][0]["result"], "SUCCESS",
        "{now}"
    );
    let (_, od) = post(
        &sim,
        D,
        "/v2/partners/sub-customers/on-demand-resources/query",
        json!({"customer_id": "cust-r2-b", "indirect_partner_id": "res-2"}),
    )?;
    assert_eq!(od["resources"][0]["resource_id"], "res-r2b-vm1", "{od}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn frozen_customers_cannot_buy_until_unfrozen_with_the_same_type() -> R {
    let sim = start_unlimited_sim().await?;
    let freeze = |path: &str, kind: &str, field: &str, ids: Value| {
        let mut b =
            json!({"customer_ids": ids, "reason": "budget", "indirect_partner_id": "res-1"});
        b[field] = json!(kind);
        post(&sim, D, path, b)
    };
    let (s, v) = freeze(
        "/v2/partners/sub-customers/freeze",
        "ACCOUNT_AND_RESOURCE",
        "freeze_type",
        json!(["cust-r1-c", "cust-r2-a", "cust-r1-adv"]),
    )?;
    assert_eq!(s, 200, "{v}");
    let errs: Vec<Value> = v["error_details"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        errs.iter()
            .map(|e| e["error_code"].clone())
            .collect::<Vec<_>>(),
        [json!("CBC.99003110"), json!("CBC.99003127")]
    );
    let w = sim.world();
    assert!(w.customers["cust-r1-c"].frozen.is_some());
    assert_eq!(w.resources["res-r1c-vm1"].status, 4);
    let (_, listed) = post(
        &sim,
        D,
        "/v2/partners/sub-customers/query",
        json!({"customer_id": "cust-r1-c", "indirect_partner_id": "res-1"}),
    )?;
    assert_eq!(listed["customer_infos"][0]["is_frozen"], 1, "{listed}");

    let pay = json!({"order_id": "ord-r1c-pending"});
    assert_eq!(
        code(&post(
            &sim,
            CEDAR,
            "/v3/orders/customer-orders/pay",
            pay.clone()
        )?),
        (400, "CBC.99003626".to_owned())
    );
    let (_, wrong) = freeze(
        "/v2/partners/sub-customers/unfreeze",
        "ACCOUNT",
        "unfreeze_type",
        json!(["cust-r1-c"]),
    )?;
    assert_eq!(
        wrong["error_details"][0]["customer_id"], "cust-r1-c",
        "the type frozen with: {wrong}"
    );
    assert!(
        code(&post(
            &sim,
            CEDAR,
            "/v2/partners/sub-customers/freeze",
            json!({"customer_ids": ["cust-r1-c"], "reason": "x"})
        )?)
        .0 == 403
    );
    assert_eq!(
        code(&post(
            &sim,
            SP,
            "/v2/partners/sub-customers/unfreeze",
            json!({"customer_ids": ["cust-sp-a"], "reason": "budget set", "unfreeze_type": ""})
        )?)
        .1,
        "CBC.0100"
    );
    let (s, ok) = freeze(
        "/v2/partners/sub-customers/unfreeze",
        "ACCOUNT_AND_RESOURCE",
        "unfreeze_type",
        json!(["cust-r1-c"]),
    )?;
    assert_eq!((s, ok.clone()), (200, json!({})));
    assert_eq!(sim.world().resources["res-r1c-vm1"].status, 2);
    assert_eq!(
        post(&sim, CEDAR, "/v3/orders/customer-orders/pay", pay)?.0,
        204,
        "unfrozen, it buys again"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_are_created_with_the_code_sent_and_bound_to_the_reseller() -> R {
    let sim = start_unlimited_sim().await?;
    let (s, _) = post(
        &sim,
        D,
        "/v2/bases/verificationcode/send",
        json!({"receiver_type": 1, "mobile_phone": "13800000005"}),
    )?;
    assert_eq!(s, 204);
    let sent = sim
        .world()
        .verification_codes
        .last()
        .map(|v| v.code.clone())
        .unwrap_or_default();
    let create = |name: &str, mobile: &str, code: &str| {
        post(
            &sim,
            D,
            "/v2/partners/sub-customers",
            json!({
        "domain_name": name, "mobile_phone": mobile, "verification_code": code,
        "xaccount_id": name, "xaccount_type": "tiergate_IDP", "indirect_partner_id": "res-1"}),
        )
    };
    assert_eq!(
        code(&create("foxtrot_co", "13800000005", "000000")?),
        (400, "CBC.99000026".to_owned())
    );
    assert_eq!(
        code(&create("foxtrot_co", "13800000009", "999999")?),
        (400, "CBC.99000027".to_owned())
    );
    let (s, made) = create("foxtrot_co", "13800000005", &sent)?;
    assert_eq!(s, 200, "{made}");
    let id = made["domain_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        code(&create("foxtrot_co", "13800000001", "246810")?),
        (400, "CBC.0100".to_owned()),
        "name taken"
    );
    let w = sim.world();
    let x = &w.customers[&id];
    assert_eq!(
        (x.partner.as_str(), x.association_type, x.frozen.is_some()),
        ("res-1", 2, true)
    );
    let (_, listed) = post(
        &sim,
        D,
        "/v2/partners/sub-customers/query",
        json!({"account_name": "foxtrot", "indirect_partner_id": "res-1"}),
    )?;
    assert_eq!(
        listed["customer_infos"][0]["customer_id"],
        id.as_str(),
        "{listed}"
    );
    let (_, check) = post(
        &sim,
        D,
        "/v2/partners/sub-customers/users/check-identity",
        json!({"search_type": "name", "search_value": "foxtrot_co"}),
    )?;
    assert_eq!(check["check_result"], "used_by_user");
    let (_, other) = post(
        &sim,
        D,
        "/v2/partners/sub-customers/query",
        json!({"account_name": "foxtrot", "indirect_partner_id": "res-2"}),
    )?;
    assert_eq!(other["count"], 0, "another reseller's list");
    assert_eq!(
        code(&post(
            &sim,
            CEDAR,
            "/v2/bases/verificationcode/send",
            json!({"receiver_type": 1, "mobile_phone": "1"})
        )?)
        .0,
        403
    );

    // Real-name authentication, applied for by the partner, seen by the customer.
    let apply = json!({"customer_id": "cust-r1-b", "identify_type": 0, "verified_type": 0,
        "verified_file_url": ["a.jpg", "b.jpg"], "name": "Bo Chen", "verified_number": "110101199001011234"});
    assert_eq!(
        code(&post(
            &sim,
            SP,
            "/v2/customers/realname-auths/individual",
            apply.clone()
        )?),
        (400, "CBC.99003110".to_owned())
    );
    let mut mine = apply;
    mine["indirect_partner_id"] = json!("res-1");
    let (_, review) = post(&sim, D, "/v2/customers/realname-auths/individual", mine)?;
    assert_eq!(review["is_review"], 1, "{review}");
    let (_, result) = get(
        &sim,
        D,
        "/v2/customers/realname-auths/result",
        "customer_id=cust-r1-b&indirect_partner_id=res-1",
    )?;
    assert_eq!(result["review_result"], 0);
    let (_, tags) = post(
        &sim,
        D,
        "/v2/partners/sub-customers/new-customers-tags/batch-query",
        json!({"customer_ids": ["cust-r1-c", "cust-r1-b"], "indirect_partner_id": "res-1"}),
    )?;
    assert_eq!(
        tags["new_customer_tags"][0]["new_customer_tag"], "Y",
        "{tags}"
    );
    assert_eq!(
        tags["new_customer_tags"][1]["new_customer_tag"], "",
        "not authenticated yet"
    );
    let (_, status) = get(&sim, CEDAR, "/v2/customers/real-name-auth-status", "")?;
    assert_eq!(
        (
            status["verified_status"].clone(),
            status["verified_type"].clone()
        ),
        (json!(2), json!(0))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bills_and_balances_follow_the_books() -> R {
    let sim = start_unlimited_sim().await?;
    let balances = |ids: Value| {
        post(
            &sim,
            D,
            "/v2/accounts/customer-accounts/balances/batch-query",
            json!({"customer_infos": ids, "indirect_partner_id": "res-1"}),
        )
    };
    let (_, v) = balances(json!([{"customer_id": "cust-r1-c"}]))?;
    assert_eq!(
        v["customer_balances"][0]["amount"].to_string(),
        "2000.00",
        "{v}"
    );
    assert_eq!(
        code(&balances(json!([{"customer_id": "cust-r1-adv"}]))?),
        (400, "CBC.99003127".to_owned())
    );
    let (s, _) = post(
        &sim,
        D,
        "/v2/accounts/partner-accounts/adjust-amount",
        json!({"customer_id": "cust-r1-c", "amount": 5, "indirect_partner_id": "res-1"}),
    )?;
    assert_eq!(s, 200);
    let (_, v) = balances(json!([{"customer_id": "cust-r1-c"}]))?;
    assert_eq!(v["customer_balances"][0]["amount"].to_string(), "2005.00");
    let (_, changes) = get(
        &sim,
        D,
        "/v2/accounts/partner-accounts/account-change-records",
        "indirect_partner_id=res-1",
    )?;
    assert_eq!(
        (
            changes["total_count"].clone(),
            changes["records"][0]["change_amount"].clone()
        ),
        (json!(1), json!("-5")),
        "{changes}"
    );

    let (_, sums) = get(
        &sim,
        D,
        "/v2/bills/partner-bills/subcustomer-bills/monthly-sum",
        "cycle=2026-11&indirect_partner_id=res-1",
    )?;
    assert_eq!(
        sums["bill_sums"][0]["amount"].to_string(),
        "17.28",
        "{sums}"
    );
    let (_, who) = post(
        &sim,
        D,
        "/v2/bills/subcustomer-bills/res-fee-records/sub-customers/query",
        json!({"bill_cycle": "2026-11", "indirect_partner_id": "res-2"}),
    )?;
    assert_eq!(
        who["sub_customers"],
        json!([{"customer_id": "cust-r2-b"}]),
        "{who}"
    );
    assert_eq!(
        code(&get(
            &sim,
            SP,
            "/v2/bills/subcustomer-bills/res-fee-records",
            "bill_cycle=2026-11&customer_id=cust-r1-c"
        )?),
        (400, "CBC.99003110".to_owned())
    );
    assert_eq!(
        get(
            &sim,
            CEDAR,
            "/v2/bills/subcustomer-bills/res-fee-records",
            "bill_cycle=2026-11"
        )?
        .0,
        403
    );

    let (_, fees) = get(
        &sim,
        CEDAR,
        "/v2/bills/customer-bills/fee-records",
        "bill_cycle=2026-10&charging_mode=3",
    )?;
    assert_eq!(
        fees["records"][0]["consume_amount"].to_string(),
        "14.40",
        "{fees}"
    );
    let (_, usage) = get(
        &sim,
        CEDAR,
        "/v2/bills/customer-bills/resources/usage/summary",
        "bill_cycle=2026-11",
    )?;
    assert_eq!(
        usage["summary_usage_info_list"][0]["resource_id"], "res-r1c-obs1",
        "{usage}"
    );
    let (_, costs) = post(
        &sim,
        CEDAR,
        "/v4/costs/cost-analysed-bills/query",
        json!({
        "time_condition": {"time_measure_id": 2, "begin_time": "2026-10", "end_time": "2026-11"},
        "groupby": [{"type": "dimension", "key": "SERVICE_TYPE"}]}),
    )?;
    assert_eq!(costs["total_count"], 2, "{costs}");
    let (_, packages) = post(
        &sim,
        CEDAR,
        "/v3/payments/free-resources/query",
        json!({"status": 1}),
    )?;
    assert_eq!(
        packages["free_resource_packages"][0]["free_resources"][0]["amount"], "25.50",
        "{packages}"
    );
    let (_, cards) = get(
        &sim,
        CEDAR,
        "/v2/promotions/benefits/stored-value-cards",
        "",
    )?;
    assert_eq!(cards["stored_value_cards"][0]["balance"], "40.00");

    // Through the SDK: a partner's view and a customer's deserialize.
    let endpoint = format!("http://{}", sim.addr());
    let mut monthly = call(
        &endpoint,
        CEDAR.0,
        CEDAR.1,
        "cust-r1-c",
        "ShowCustomerMonthlySumRequest",
    );
    monthly["params"] = json!({"bill_cycle": "2026-10"});
    let out = sdk(&[monthly])?;
    assert_eq!(out[0]["body"]["consume_amount"], "626.40", "{}", out[0]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_data_pages_and_enterprise_apis_refuse_non_masters() -> R {
    let sim = start_unlimited_sim().await?;
    let (_, cities) = get(
        &sim,
        CEDAR,
        "/v2/systems/configs/cities",
        "province_code=440000",
    )?;
    assert_eq!(cities["count"], 2, "{cities}");
    let (_, provinces) = get(&sim, D, "/v2/systems/configs/provinces", "limit=1&offset=2")?;
    assert_eq!(
        (
            provinces["count"].clone(),
            provinces["provinces"].as_array().map(Vec::len)
        ),
        (json!(3), Some(1))
    );
    assert_eq!(
        code(&get(&sim, D, "/v2/systems/configs/provinces", "limit=0")?).1,
        "CBC.0100"
    );
    let (_, specs) = post(
        &sim,
        CEDAR,
        "/v2/products/resource-specs-query",
        json!({"cloud_service_type": "hws.service.type.ec2", "charge_mode": "PERIOD"}),
    )?;
    assert_eq!(
        specs["cloud_service_basics"][0]["resource_spec"], "s6.small.1.linux",
        "{specs}"
    );
    let (_, price) = post(
        &sim,
        CEDAR,
        "/v2/bills/ratings/period-resources/subscribe-rate",
        json!({"project_id": "p", "product_infos": [{
        "id": "1", "cloud_service_type": "hws.service.type.ec2", "resource_type": "hws.resource.type.vm",
        "resource_spec": "s6.small.1.linux", "region": "cn-north-4", "period_type": 2, "period_num": 2, "subscription_num": 1}]}),
    )?;
    assert_eq!(
        price["optional_discount_rating_results"][0]["amount"].to_string(),
        "108.00",
        "business discount: {price}"
    );
    let missing = post(
        &sim,
        CEDAR,
        "/v2/bills/ratings/on-demand-resources",
        json!({"project_id": "p", "product_infos": [{
        "id": "1", "cloud_service_type": "hws.service.type.ec2", "resource_type": "hws.resource.type.vm",
        "resource_spec": "none", "region": "cn-north-4", "usage_value": 1}]}),
    )?;
    assert_eq!(code(&missing), (400, "CBC.99006006".to_owned()));
    assert_eq!(
        code(&get(&sim, RES1_KEY, "/v2/systems/configs/provinces", "")?),
        (403, "CBC.0151".to_owned())
    );
    assert_eq!(
        code(&get(
            &sim,
            D,
            "/v2/enterprises/multi-accounts/sub-customers",
            ""
        )?),
        (403, "CBC.0151".to_owned())
    );
    assert_eq!(
        code(&get(
            &sim,
            CEDAR,
            "/v2/enterprises/multi-accounts/transfer-amount",
            ""
        )?),
        (403, "CBC.0151".to_owned())
    );
    assert_eq!(
        code(&get(
            &sim,
            CEDAR,
            "/v2/accounts/partner-accounts/account-change-records",
            ""
        )?)
        .0,
        403
    );
    Ok(())
}
