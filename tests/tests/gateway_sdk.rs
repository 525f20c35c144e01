//! A reseller calls the partner API through Tiergate with the vendor's own Python SDK.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use tiergate_tests::harness::{Cred, Db, Gateway, TempDb, call, fixture, sdk, sdk1, start_sim};
use tiergate_tests::sim::Simulator;

type R = Result<(), String>;

const DIST_AK: &str = "DISTAK0000000000001";

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

async fn setup(db: Db) -> Result<(Simulator, Gateway, Cred, Cred), String> {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), db)?;
    let res1 = gw.issue("res-1")?;
    let dist = gw.issue("dist-1")?;
    Ok((sim, gw, res1, dist))
}

fn as_cred(gw: &Gateway, c: &Cred, request: &str) -> Value {
    call(&gw.endpoint(), &c.ak, &c.sk, &c.partner, request)
}

fn coupons(gw: &Gateway, c: &Cred, customers: &[&str], face: &str) -> Value {
    let mut v = as_cred(gw, c, "CreatePartnerCouponsRequest");
    v["body_class"] = json!("CreatePartnerCouponsReq");
    v["body"] = json!({"quota_id": "q-res-1", "customer_ids": customers, "face_value": face});
    v
}

fn allocate(gw: &Gateway, c: &Cred, customer: &str, amount: &str) -> Value {
    let mut v = as_cred(gw, c, "UpdateCustomerAccountAmountRequest");
    v["body_class"] = json!("AdjustAccountReq");
    v["body"] = json!({"customer_id": customer, "amount": amount});
    v
}

async fn reseller_issues_vouchers_and_allocates_funds(db: Db) -> R {
    let (sim, gw, res1, _) = setup(db).await?;
    let out = sdk(&[
        coupons(&gw, &res1, &["cust-r1-a"], "100.50"),
        allocate(&gw, &res1, "cust-r1-a", "12.34"),
    ])?;
    assert_eq!(out[0]["ok"], true, "{}", out[0]);
    let infos = out[0]["body"]["coupon_infos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(infos.len(), 1, "{}", out[0]);
    assert_eq!(infos[0]["id"], "cust-r1-a");
    assert_eq!(out[1]["ok"], true, "{}", out[1]);
    assert!(out[1]["body"]["transfer_id"].is_string());

    let w = sim.world();
    let coupon_id = infos[0]["coupon_id"].as_str().unwrap_or_default();
    let coupon = w
        .coupons
        .get(coupon_id)
        .ok_or("coupon not in the simulator")?;
    assert_eq!(coupon.issuer, "res-1");
    assert_eq!(coupon.face_value, dec("100.50"));
    assert_eq!(w.quotas["q-res-1"].balance, dec("4899.50"));
    assert_eq!(w.customers["cust-r1-a"].balance, dec("12.34"));
    assert_eq!(w.partners["res-1"].account.amount, dec("19987.66"));
    // Every request reached the vendor signed by the distributor, never by the reseller.
    assert_eq!(w.requests.len(), 2);
    for r in &w.requests {
        assert_eq!(r.access_key.as_deref(), Some(DIST_AK));
        assert_eq!(r.status, 200);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reseller_issues_vouchers_and_allocates_funds_to_its_customer() -> R {
    reseller_issues_vouchers_and_allocates_funds(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_partial_success_unchanged() -> R {
    let (sim, gw, res1, _) = setup(Db::Sqlite).await?;
    let out = sdk1(coupons(
        &gw,
        &res1,
        &["cust-r1-a", "cust-r2-a", "cust-r1-adv"],
        "10",
    ))?;
    assert_eq!(out["status"], 200, "{out}");
    let errors = out["body"]["error_details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ids: Vec<&str> = errors.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, vec!["cust-r2-a", "cust-r1-adv"]);
    assert_eq!(sim.world().coupons.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_resellers_customer_is_refused_and_nothing_changes() -> R {
    let (sim, gw, res1, _) = setup(Db::Sqlite).await?;
    let before = sim.world();
    let out = sdk1(allocate(&gw, &res1, "cust-r2-a", "5.00"))?;
    assert_eq!(out["ok"], false);
    assert_eq!(out["status"], 400);
    assert_eq!(out["error_code"], "CBC.99003110");
    let after = sim.world();
    assert_eq!(after.customers, before.customers);
    assert_eq!(after.partners, before.partners);
    assert!(after.adjust_records.is_empty());

    // Naming another reseller outright never leaves Tiergate.
    let mut naming = allocate(&gw, &res1, "cust-r2-a", "5.00");
    naming["body"]["indirect_partner_id"] = json!("res-2");
    let out = sdk1(naming)?;
    assert_eq!(out["status"], 403, "{out}");
    assert_eq!(out["error_code"], "TG.2003");
    assert!(out["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(sim.world().requests.len(), after.requests.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_key_is_401_and_nothing_is_forwarded() -> R {
    let (sim, gw, res1, _) = setup(Db::Sqlite).await?;
    let wrong = Cred {
        sk: format!("{}x", res1.sk),
        ..res1.clone()
    };
    let out = sdk1(allocate(&gw, &wrong, "cust-r1-a", "1.00"))?;
    assert_eq!(out["status"], 401, "{out}");
    assert_eq!(out["error_code"], "TG.1004");
    let unknown = Cred {
        ak: "TGNOSUCHKEY000000000".into(),
        ..res1
    };
    let out = sdk1(allocate(&gw, &unknown, "cust-r1-a", "1.00"))?;
    assert_eq!(out["status"], 401, "{out}");
    assert_eq!(out["error_code"], "TG.1003");
    assert!(sim.world().requests.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reseller_is_refused_distributor_only_apis() -> R {
    let (sim, gw, res1, _) = setup(Db::Sqlite).await?;
    let mut v = as_cred(&gw, &res1, "UpdateIndirectPartnerAccountRequest");
    v["body_class"] = json!("AdjustToIndirectPartnerReq");
    v["body"] = json!({"indirect_partner_id": "res-1", "amount": "100"});
    let mut list = as_cred(&gw, &res1, "ListIndirectPartnersRequest");
    list["body_class"] = json!("QueryIndirectPartnersReq");
    for out in sdk(&[v, list])? {
        assert_eq!(out["status"], 403, "{out}");
        assert_eq!(out["error_code"], "TG.2002");
    }
    assert!(sim.world().requests.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_distributor_calls_through_tiergate_as_itself() -> R {
    let (sim, gw, _, dist) = setup(Db::Sqlite).await?;
    let mut list = as_cred(&gw, &dist, "ListIndirectPartnersRequest");
    list["body_class"] = json!("QueryIndirectPartnersReq");
    let mut fund = as_cred(&gw, &dist, "UpdateIndirectPartnerAccountRequest");
    fund["body_class"] = json!("AdjustToIndirectPartnerReq");
    fund["body"] = json!({"indirect_partner_id": "res-2", "amount": "250.00"});
    let out = sdk(&[list, fund])?;
    assert_eq!(out[0]["body"]["count"], 2, "{}", out[0]);
    assert_eq!(out[1]["ok"], true, "{}", out[1]);
    let w = sim.world();
    assert_eq!(w.partners["res-2"].account.amount, dec("20250.00"));
    assert!(
        w.requests
            .iter()
            .all(|r| r.access_key.as_deref() == Some(DIST_AK))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn query_routes_get_the_reseller_injected() -> R {
    let (sim, gw, res1, _) = setup(Db::Sqlite).await?;
    let out = sdk(&[
        allocate(&gw, &res1, "cust-r1-a", "3.00"),
        {
            let mut v = as_cred(&gw, &res1, "ListPartnerAdjustRecordsRequest");
            v["params"] = json!({"limit": 10});
            v
        },
        {
            let mut v = as_cred(&gw, &res1, "ListPartnerBalancesRequest");
            v["params"] = json!({});
            v
        },
    ])?;
    assert_eq!(out[1]["body"]["total_count"], 1, "{}", out[1]);
    assert_eq!(out[1]["body"]["records"][0]["customer_id"], "cust-r1-a");
    let balance = &out[2]["body"]["account_balances"][0]["amount"];
    assert_eq!(balance.to_string(), "19997.0", "{}", out[2]);
    assert_eq!(sim.world().requests.len(), 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_credential_is_refused() -> R {
    let (sim, gw, res1, _) = setup(Db::Sqlite).await?;
    assert!(gw.cli(&["list"])?.contains(&res1.ak));
    gw.cli(&["revoke", &res1.ak])?;
    assert!(gw.cli(&["list"])?.contains("revoked"));
    let out = sdk1(allocate(&gw, &res1, "cust-r1-a", "1.00"))?;
    assert_eq!(out["error_code"], "TG.1003", "{out}");
    assert!(sim.world().requests.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reseller_calls_work_with_credentials_in_postgres() -> R {
    let db = TempDb::create().await?;
    let result = reseller_issues_vouchers_and_allocates_funds(Db::Postgres(db.url.clone())).await;
    db.drop_db().await;
    result
}
