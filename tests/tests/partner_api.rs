//! The whole partner API through Tiergate with the vendor's own SDK: for each family of
//! operations, an allowed and a refused call for each kind of caller that may call it, the
//! reseller's scope injected and checked, a resale customer's own commerce calls audited, and
//! a foreign record never shown to a reseller (refused by the vendor, or, when the vendor's
//! answer is not scoped, by Tiergate before it leaves).

use serde_json::{Value, json};
use std::time::Duration;
use tiergate_tests::harness::{
    Cred, Db, Gateway, Signer, call, eventually, fixture, sdk, start_sim,
};
use tiergate_tests::sim::{Faults, Simulator};

type R = Result<(), String>;

struct World {
    sim: Simulator,
    gw: Gateway,
    res1: Cred,
    dist: Cred,
    cust: Cred,
}

async fn world() -> Result<World, String> {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let (res1, dist) = (gw.issue("res-1")?, gw.issue("dist-1")?);
    let args = [
        "--customer",
        "cust-r1-c",
        "--upstream-access-key",
        "CUSTAK0000000000003",
    ];
    let env = [(
        "TIERGATE_UPSTREAM_SK",
        "cust-r1-c-secret-0000000000000000000003",
    )];
    let cust = gw.issue_with("cust-r1-c", &args, &env)?;
    Ok(World {
        sim,
        gw,
        res1,
        dist,
        cust,
    })
}

/// An SDK call with query parameters.
fn get(w: &World, c: &Cred, request: &str, params: Value) -> Value {
    let mut v = call(&w.gw.endpoint(), &c.ak, &c.sk, &c.partner, request);
    v["params"] = params;
    v
}

/// An SDK call with a body.
fn post(w: &World, c: &Cred, request: &str, class: &str, body: Value) -> Value {
    let mut v = call(&w.gw.endpoint(), &c.ak, &c.sk, &c.partner, request);
    v["body_class"] = json!(class);
    v["body"] = body;
    v
}

fn code(v: &Value) -> &str {
    v["error_code"].as_str().unwrap_or_default()
}

fn ok(v: &Value) -> Result<&Value, String> {
    if v["ok"] == true {
        Ok(&v["body"])
    } else {
        Err(format!("refused: {v}"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_for_partners_and_customers_scoped_and_checked() -> R {
    let w = world().await?;
    let seen = w.sim.seen();
    let out = sdk(&[
        get(
            &w,
            &w.res1,
            "ListCustomerOrdersRequest",
            json!({"customer_id": "cust-r1-c"}),
        ),
        get(
            &w,
            &w.res1,
            "ListCustomerOrdersRequest",
            json!({"customer_id": "cust-r2-b"}),
        ),
        get(
            &w,
            &w.res1,
            "ShowCustomerOrderDetailsRequest",
            json!({"order_id": "ord-r1c-paid"}),
        ),
        get(
            &w,
            &w.res1,
            "ShowCustomerOrderDetailsRequest",
            json!({"order_id": "ord-r2b-paid"}),
        ),
        get(
            &w,
            &w.dist,
            "ListCustomerOrdersRequest",
            json!({"indirect_partner_id": "res-2"}),
        ),
        get(&w, &w.cust, "ListCustomerOrdersRequest", json!({})),
        get(
            &w,
            &w.cust,
            "ShowCustomerOrderDetailsRequest",
            json!({"order_id": "ord-r2b-paid"}),
        ),
    ])?;
    let orders = ok(&out[0])?["order_infos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!orders.is_empty());
    assert!(
        orders.iter().all(|o| o["customer_id"] == "cust-r1-c"),
        "{orders:?}"
    );
    assert_eq!(
        code(&out[1]),
        "TG.2004",
        "another reseller's customer: {}",
        out[1]
    );
    assert_eq!(ok(&out[2])?["order_info"]["order_id"], "ord-r1c-paid");
    // A foreign order: the vendor, asked on res-1's behalf, refuses it; nothing is shown.
    assert_eq!(out[3]["ok"], false, "{}", out[3]);
    assert!(code(&out[3]).starts_with("CBC."), "{}", out[3]);
    let res2 = ok(&out[4])?["order_infos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        res2.iter().all(|o| o["customer_id"] == "cust-r2-b"),
        "{res2:?}"
    );
    assert!(
        !ok(&out[5])?["order_infos"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    assert_eq!(
        out[6]["ok"], false,
        "a customer sees only its own orders: {}",
        out[6]
    );
    // The reseller's calls went with its indirect_partner_id, signed by the distributor.
    let sent = w.sim.requests_since(seen);
    let reseller_calls: Vec<_> = sent
        .iter()
        .filter(|r| {
            let query = percent_encoding::percent_decode_str(&r.query).decode_utf8_lossy();
            r.path.starts_with("/v2/orders/") && query.contains("indirect_partner_id=res-1")
        })
        .collect();
    assert_eq!(reseller_calls.len(), 3, "{sent:?}");

    // A vendor whose answer is not scoped: Tiergate refuses it before the reseller sees it.
    w.sim.set_faults(Faults {
        unscoped: true,
        ..Faults::default()
    });
    let out = sdk(&[
        get(
            &w,
            &w.res1,
            "ShowCustomerOrderDetailsRequest",
            json!({"order_id": "ord-r2b-paid"}),
        ),
        get(&w, &w.res1, "ListCustomerOrdersRequest", json!({})),
    ])?;
    for o in &out {
        assert_eq!(
            (o["status"].as_u64(), code(o)),
            (Some(403), "TG.2009"),
            "{o}"
        );
    }
    w.sim.set_faults(Faults::default());
    let audit = w.gw.audit("query", &["--limit", "1000"])?;
    assert!(audit.contains("TG.2009"), "the refusal is audited: {audit}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bills_balances_and_records_for_each_tier() -> R {
    let w = world().await?;
    let cycle = "2026-11";
    let out = sdk(&[
        get(
            &w,
            &w.res1,
            "ListSubcustomerMonthlyBillsRequest",
            json!({"cycle": cycle}),
        ),
        get(
            &w,
            &w.res1,
            "ListSubcustomerMonthlyBillsRequest",
            json!({"cycle": cycle, "customer_id": "cust-r2-b"}),
        ),
        get(
            &w,
            &w.res1,
            "ListSubCustomerBillDetailRequest",
            json!({"bill_cycle": cycle, "customer_id": "cust-r1-c"}),
        ),
        get(
            &w,
            &w.res1,
            "ListPartnerAccountChangeRecordsRequest",
            json!({}),
        ),
        post(
            &w,
            &w.res1,
            "ListConsumeSubCustomersRequest",
            "ListConsumeSubCustomersReq",
            json!({"bill_cycle": cycle}),
        ),
        post(
            &w,
            &w.dist,
            "ListConsumeSubCustomersRequest",
            "ListConsumeSubCustomersReq",
            json!({"bill_cycle": cycle}),
        ),
        get(
            &w,
            &w.cust,
            "ShowCustomerMonthlySumRequest",
            json!({"bill_cycle": cycle}),
        ),
        get(
            &w,
            &w.res1,
            "ShowCustomerMonthlySumRequest",
            json!({"bill_cycle": cycle}),
        ),
        get(&w, &w.cust, "ListProvincesRequest", json!({})),
        get(&w, &w.res1, "ListProvincesRequest", json!({})),
        post(
            &w,
            &w.res1,
            "ListCustomersBalancesDetailRequest",
            "QueryCustomersBalancesReq",
            json!({"customer_infos": [{"customer_id": "cust-r1-c"}, {"customer_id": "cust-r1-a"}]}),
        ),
        post(
            &w,
            &w.res1,
            "ListCustomersBalancesDetailRequest",
            "QueryCustomersBalancesReq",
            json!({"customer_infos": [{"customer_id": "cust-r1-c"}, {"customer_id": "cust-r2-b"}]}),
        ),
    ])?;
    let sums = ok(&out[0])?["bill_sums"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        sums.iter().any(|s| s["customer_id"] == "cust-r1-c"),
        "{sums:?}"
    );
    assert!(
        sums.iter().all(|s| s["customer_id"] != "cust-r2-b"),
        "{sums:?}"
    );
    assert_eq!(code(&out[1]), "TG.2004", "{}", out[1]);
    ok(&out[2])?;
    ok(&out[3])?;
    assert_eq!(
        code(&out[4]),
        "TG.2002",
        "the vendor cannot scope it to a reseller: {}",
        out[4]
    );
    ok(&out[5])?;
    ok(&out[6])?;
    assert_eq!(code(&out[7]), "TG.2002", "customer-side only: {}", out[7]);
    ok(&out[8])?;
    ok(&out[9])?;
    // Customer ids nested in a list of objects are each checked as the reseller's.
    let balances = ok(&out[10])?["customer_balances"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(balances.len(), 2, "{balances:?}");
    assert_eq!(code(&out[11]), "TG.2004", "{}", out[11]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resale_customer_pays_renews_and_unsubscribes_audited_write_ahead() -> R {
    let w = world().await?;
    let before = w.sim.world().customers["cust-r1-c"].balance;
    let pay = json!({"order_id": "ord-r1c-pending", "use_discount": "YES",
        "discount_infos": [{"discount_id": "disc-r1c-partner", "discount_type": 3}]});
    let out = sdk(&[
        post(
            &w,
            &w.cust,
            "PayOrdersRequest",
            "PayCustomerOrderV3Req",
            pay.clone(),
        ),
        post(
            &w,
            &w.res1,
            "PayOrdersRequest",
            "PayCustomerOrderV3Req",
            pay,
        ),
        post(
            &w,
            &w.cust,
            "RenewalResourcesRequest",
            "RenewalResourcesReq",
            json!({"resource_ids": ["res-r1c-vm1"], "period_type": 2, "period_num": 1, "is_auto_pay": 1}),
        ),
        post(
            &w,
            &w.cust,
            "CancelResourcesSubscriptionRequest",
            "UnsubscribeResourcesReq",
            json!({"resource_ids": ["res-r1c-vm1"], "unsubscribe_type": 1}),
        ),
    ])?;
    assert!(
        out[0]["status"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s)),
        "{}",
        out[0]
    );
    assert_eq!(
        code(&out[1]),
        "TG.2002",
        "never through a partner's key: {}",
        out[1]
    );
    ok(&out[2])?;
    ok(&out[3])?;
    let after = w.sim.world();
    assert_eq!(after.orders["ord-r1c-pending"].status, 5, "paid");
    assert_ne!(after.customers["cust-r1-c"].balance, before, "money moved");
    assert_eq!(after.resources["res-r1c-vm1"].customer_id, "cust-r1-c");
    // Each money call's intent and outcome are in the audit log.
    let audit = w.gw.audit("query", &["--limit", "1000"])?;
    for op in [
        "pay_orders",
        "renewal_resources",
        "cancel_resources_subscription",
    ] {
        assert!(audit.contains(op), "{op} audited: {audit}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn freezing_identity_and_onboarding_calls_for_partners() -> R {
    let w = world().await?;
    let freeze = |who: &Cred, ids: &[&str]| {
        let body = json!({"customer_ids": ids, "reason": "budget", "freeze_type": "ACCOUNT"});
        Signer {
            addr: w.gw.addr,
            ak: &who.ak,
            sk: &who.sk,
        }
        .send(
            "POST",
            "/v2/partners/sub-customers/freeze",
            "",
            body.to_string().as_bytes(),
        )
    };
    // A viewer among the reseller's staff reads, but freezes nothing.
    let staff = ["--staff", "vera", "--reseller", "res-1", "--role", "viewer"];
    let viewer = w.gw.issue_with("res-1", &staff, &[])?;
    let r = freeze(&viewer, &["cust-r1-b"])?;
    assert_eq!(r.json()["error_code"], "TG.2006", "{:?}", r.json());
    let seen = sdk(&[get(
        &w,
        &viewer,
        "ListCustomerOrdersRequest",
        json!({"customer_id": "cust-r1-c"}),
    )])?;
    ok(&seen[0])?;
    assert!(w.sim.world().customers["cust-r1-b"].frozen.is_none());
    let r = freeze(&w.res1, &["cust-r1-b"])?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(w.sim.world().customers["cust-r1-b"].frozen.is_some());
    let r = freeze(&w.res1, &["cust-r2-b"])?;
    assert_eq!(r.json()["error_code"], "TG.2004");
    let r = freeze(&w.res1, &["cust-r1-adv"])?;
    assert_eq!(r.json()["error_code"], "TG.2005", "resale customers only");
    assert!(w.sim.world().customers["cust-r2-b"].frozen.is_none());

    let out = sdk(&[
        post(
            &w,
            &w.res1,
            "SendVerificationMessageCodeRequest",
            "SendVerificationCodeV2Req",
            json!({"receiver_type": 1, "mobile_phone": "13800000001", "scene": 29}),
        ),
        post(
            &w,
            &w.res1,
            "CheckUserIdentityRequest",
            "CheckSubcustomerUserReq",
            json!({"search_type": "name", "search_value": "cedar_bakery"}),
        ),
        post(
            &w,
            &w.dist,
            "CreatePersonalRealnameAuthRequest",
            "ApplyIndividualRealnameAuthsReq",
            json!({"customer_id": "cust-d1", "identify_type": 0, "verified_type": 0, "verified_file_url": ["a.png"], "name": "D One", "verified_number": "110101199001011234", "xaccount_type": "tiergate"}),
        ),
        post(
            &w,
            &w.res1,
            "CreatePersonalRealnameAuthRequest",
            "ApplyIndividualRealnameAuthsReq",
            json!({"customer_id": "cust-r1-a", "identify_type": 0, "verified_type": 0, "verified_file_url": ["a.png"], "name": "R One", "verified_number": "110101199001011234", "xaccount_type": "tiergate"}),
        ),
        post(
            &w,
            &w.res1,
            "ListSubCustomerNewTagRequest",
            "ListSubCustomerNewTagReq",
            json!({"customer_ids": ["cust-r1-c"]}),
        ),
        post(
            &w,
            &w.res1,
            "ListSubCustomerNewTagRequest",
            "ListSubCustomerNewTagReq",
            json!({"customer_ids": ["cust-r2-b"]}),
        ),
        post(
            &w,
            &w.res1,
            "ListCustomerOnDemandResourcesRequest",
            "QueryCustomerOnDemandResourcesReq",
            json!({"customer_id": "cust-r1-c"}),
        ),
    ])?;
    ok(&out[0])?;
    ok(&out[1])?;
    ok(&out[2])?;
    assert_eq!(
        code(&out[3]),
        "TG.2002",
        "real-name stays with the distributor: {}",
        out[3]
    );
    ok(&out[4])?;
    assert_eq!(code(&out[5]), "TG.2004", "{}", out[5]);
    ok(&out[6])?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_side_families_for_the_customer_only() -> R {
    let w = world().await?;
    let cycle = "2026-11";
    let seen = w.sim.seen();
    let calls = |c: &Cred| {
        vec![
            get(&w, c, "ListCustomerAccountChangeRecordsRequest", json!({})),
            post(
                &w,
                c,
                "ListPayPerUseCustomerResourcesRequest",
                "QueryResourcesReq",
                json!({}),
            ),
            post(
                &w,
                c,
                "ListFreeResourceInfosRequest",
                "ListFreeResourceInfosReq",
                json!({}),
            ),
            get(&w, c, "ShowRealNameAuthStatusRequest", json!({})),
            get(&w, c, "ListCustomerCouponChangeRecordsRequest", json!({})),
            get(
                &w,
                c,
                "ListResourceUsageSummaryRequest",
                json!({"bill_cycle": cycle}),
            ),
            post(
                &w,
                c,
                "ListBusinessDiscountInfoRequest",
                "BusinessDiscountQueryReq",
                json!({}),
            ),
        ]
    };
    let mine = sdk(&calls(&w.cust))?;
    for (i, o) in mine.iter().enumerate() {
        ok(o).map_err(|e| format!("call {i}: {e}"))?;
    }
    // The customer's own key signed each, never the distributor's.
    let sent = w.sim.requests_since(seen);
    assert_eq!(sent.len(), mine.len());
    assert!(
        sent.iter()
            .all(|r| r.access_key.as_deref() == Some("CUSTAK0000000000003"))
    );
    // A reseller reaches none of them (the vendor takes them from the customer's key only,
    // except the resources of a customer, which the vendor cannot scope to a reseller).
    let theirs = sdk(&calls(&w.res1))?;
    for o in &theirs {
        assert_eq!(code(o), "TG.2002", "{o}");
    }
    assert_eq!(
        w.sim.requests_since(seen).len(),
        mine.len(),
        "nothing forwarded"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checked_answer_never_passes_the_vendors_429_on() -> R {
    let w = world().await?;
    let orders = || {
        get(
            &w,
            &w.res1,
            "ListCustomerOrdersRequest",
            json!({"customer_id": "cust-r1-c"}),
        )
    };
    // Once: sent again when its turn comes. Twice: TG.6002, never the vendor's CBC.0250.
    w.sim.set_faults(Faults {
        throttle_next: 1,
        ..Faults::default()
    });
    ok(&sdk(&[orders()])?[0])?;
    w.sim.set_faults(Faults {
        throttle_next: 2,
        ..Faults::default()
    });
    // (Signed by hand: the SDK itself waits out a 429's Retry-After and tries again.)
    let r = Signer {
        addr: w.gw.addr,
        ak: &w.res1.ak,
        sk: &w.res1.sk,
    }
    .send(
        "GET",
        "/v2/orders/customer-orders",
        "customer_id=cust-r1-c",
        b"",
    )?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (429, json!("TG.6002")),
        "{:?}",
        r.json()
    );
    assert!(r.header("retry-after").is_some());
    // Counted as the request ends, which may be just after its answer reached the caller.
    eventually(Duration::from_secs(5), "the vendor's 429s counted", || {
        Ok(w.gw.metric_sum("tiergate_vendor_429_total")? >= 3.0)
    })?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn prices_for_customers_and_the_distributor_never_for_resellers() -> R {
    let w = world().await?;
    let ask = json!({"project_id": "p-1", "product_infos": [{
        "id": "1", "cloud_service_type": "hws.service.type.ec2",
        "resource_type": "hws.resource.type.vm", "resource_spec": "s6.small.1.linux",
        "region": "cn-north-4", "usage_factor": "Duration", "usage_value": 1,
        "usage_measure_id": 4, "subscription_num": 1}]});
    let rate = |c: &Cred| {
        post(
            &w,
            c,
            "ListOnDemandResourceRatingsRequest",
            "RateOnDemandReq",
            ask.clone(),
        )
    };
    let out = sdk(&[rate(&w.cust), rate(&w.dist), rate(&w.res1)])?;
    ok(&out[0])?;
    ok(&out[1])?;
    assert_eq!(
        code(&out[2]),
        "TG.2002",
        "the distributor's own discounts are not a reseller's to see: {}",
        out[2]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_solution_provider_serves_its_own_customers_with_its_own_key() -> R {
    let w = world().await?;
    let args = [
        "--solution-provider",
        "sp-1",
        "--upstream-access-key",
        "SP1AK00000000000001",
    ];
    let env = [(
        "TIERGATE_UPSTREAM_SK",
        "sp-1-secret-key-00000000000000000000001",
    )];
    let sp = w.gw.issue_with("sp-1", &args, &env)?;
    let seen = w.sim.seen();
    let unfreeze =
        json!({"customer_ids": ["cust-sp-a"], "reason": "paid", "unfreeze_type": "ACCOUNT"});
    let out = sdk(&[
        get(
            &w,
            &sp,
            "ListCustomerOrdersRequest",
            json!({"customer_id": "cust-sp-a"}),
        ),
        get(
            &w,
            &sp,
            "ListSubcustomerMonthlyBillsRequest",
            json!({"cycle": "2026-11"}),
        ),
        get(&w, &sp, "ListIssuedCouponQuotasRequest", json!({})),
        get(
            &w,
            &sp,
            "ListCustomerOrdersRequest",
            json!({"customer_id": "cust-r1-c"}),
        ),
    ])?;
    ok(&out[0])?;
    ok(&out[1])?;
    assert_eq!(code(&out[2]), "TG.2002", "distributor only: {}", out[2]);
    // Another partner's customer: the vendor refuses it to the provider's own key.
    assert_eq!(out[3]["ok"], false, "{}", out[3]);
    assert!(code(&out[3]).starts_with("CBC."), "{}", out[3]);
    let r = Signer {
        addr: w.gw.addr,
        ak: &sp.ak,
        sk: &sp.sk,
    }
    .send(
        "POST",
        "/v2/partners/sub-customers/unfreeze",
        "",
        unfreeze.to_string().as_bytes(),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(w.sim.world().customers["cust-sp-a"].frozen.is_none());
    // Its own key signed every call that went, never the distributor's.
    let sent = w.sim.requests_since(seen);
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|r| r.access_key.as_deref() == Some("SP1AK00000000000001"))
    );
    Ok(())
}
