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

/// A simulator, a ready gateway, credentials for res-1 and dist-1, and how many requests
/// the simulator had seen (the gateway's graph sync) before the test's own.
async fn setup(db: Db) -> Result<(Simulator, Gateway, Cred, Cred, usize), String> {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), db)?;
    let res1 = gw.issue("res-1")?;
    let dist = gw.issue("dist-1")?;
    let seen = sim.seen();
    Ok((sim, gw, res1, dist, seen))
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
    let (sim, gw, res1, _, seen) = setup(db).await?;
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
    let forwarded = sim.requests_since(seen);
    assert_eq!(forwarded.len(), 2);
    for r in &forwarded {
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
    let (sim, gw, res1, _, _) = setup(Db::Sqlite).await?;
    // The quota holds 5,000: the second 3,000 voucher fails upstream, the first stands.
    let out = sdk1(coupons(&gw, &res1, &["cust-r1-a", "cust-r1-b"], "3000"))?;
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"]["coupon_infos"][0]["id"], "cust-r1-a", "{out}");
    let errors = out["body"]["error_details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(errors.len(), 1, "{out}");
    assert_eq!(errors[0]["id"], "cust-r1-b");
    assert_eq!(errors[0]["error_code"], "CBC.99000013");
    assert_eq!(sim.world().coupons.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_resellers_customer_quota_and_coupon_are_refused_before_forwarding() -> R {
    let (sim, gw, res1, dist, _) = setup(Db::Sqlite).await?;
    // A voucher of res-2's, issued by the distributor acting for it.
    let mut for_res2 = as_cred(&gw, &dist, "CreatePartnerCouponsRequest");
    for_res2["body_class"] = json!("CreatePartnerCouponsReq");
    for_res2["body"] = json!({"quota_id": "q-res-2", "customer_ids": ["cust-r2-a"],
        "face_value": "10", "indirect_partner_id": "res-2"});
    let out = sdk1(for_res2)?;
    let foreign_coupon = out["body"]["coupon_infos"][0]["coupon_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!foreign_coupon.is_empty(), "{out}");
    let seen = sim.seen();

    let mut foreign_quota = coupons(&gw, &res1, &["cust-r1-a"], "10");
    foreign_quota["body"]["quota_id"] = json!("q-res-2");
    let mut reclaim = as_cred(&gw, &res1, "ReclaimPartnerCouponsRequest");
    reclaim["body_class"] = json!("ReclaimPartnerCouponsReq");
    reclaim["body"] = json!({"coupon_id": foreign_coupon});
    let out = sdk(&[
        allocate(&gw, &res1, "cust-r2-a", "5.00"),
        coupons(&gw, &res1, &["cust-r1-a", "cust-r2-a"], "10"),
        foreign_quota,
        reclaim,
        allocate(&gw, &res1, "cust-r1-adv", "5.00"),
    ])?;
    let expect = [
        ("TG.2004", "customer_id `cust-r2-a`"),
        ("TG.2004", "customer_ids `cust-r2-a`"),
        ("TG.2004", "quota_id `q-res-2`"),
        ("TG.2004", "coupon_id"),
        ("TG.2005", "customer_id `cust-r1-adv`"),
    ];
    for (o, (code, field)) in out.iter().zip(expect) {
        assert_eq!(o["status"], 403, "{o}");
        assert_eq!(o["error_code"], code, "{o}");
        let msg = o["error_msg"].as_str().unwrap_or_default();
        assert!(msg.contains(field), "{o}");
    }
    assert!(
        sim.requests_since(seen).is_empty(),
        "nothing may reach the vendor"
    );
    assert_eq!(sim.world().customers["cust-r2-a"].balance, Decimal::ZERO);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voucher_just_issued_can_be_reclaimed_at_once() -> R {
    let (sim, gw, res1, _, _) = setup(Db::Sqlite).await?;
    let out = sdk1(coupons(&gw, &res1, &["cust-r1-a"], "25"))?;
    let id = out["body"]["coupon_infos"][0]["coupon_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut reclaim = as_cred(&gw, &res1, "ReclaimPartnerCouponsRequest");
    reclaim["body_class"] = json!("ReclaimPartnerCouponsReq");
    reclaim["body"] = json!({"coupon_id": id});
    let out = sdk1(reclaim)?;
    assert_eq!(out["status"], 204, "learned from the issuing answer: {out}");
    assert_eq!(sim.world().quotas["q-res-1"].balance, dec("5000.00"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_key_is_401_and_nothing_is_forwarded() -> R {
    let (sim, gw, res1, _, seen) = setup(Db::Sqlite).await?;
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
    assert!(sim.requests_since(seen).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reseller_is_refused_distributor_only_apis() -> R {
    let (sim, gw, res1, _, seen) = setup(Db::Sqlite).await?;
    let mut v = as_cred(&gw, &res1, "UpdateIndirectPartnerAccountRequest");
    v["body_class"] = json!("AdjustToIndirectPartnerReq");
    v["body"] = json!({"indirect_partner_id": "res-1", "amount": "100"});
    let mut list = as_cred(&gw, &res1, "ListIndirectPartnersRequest");
    list["body_class"] = json!("QueryIndirectPartnersReq");
    for out in sdk(&[v, list])? {
        assert_eq!(out["status"], 403, "{out}");
        assert_eq!(out["error_code"], "TG.2002");
    }
    assert!(sim.requests_since(seen).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_distributor_calls_through_tiergate_as_itself() -> R {
    let (sim, gw, _, dist, _seen) = setup(Db::Sqlite).await?;
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
    let (sim, gw, res1, _, seen) = setup(Db::Sqlite).await?;
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
    assert_eq!(sim.requests_since(seen).len(), 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_credential_is_refused() -> R {
    let (sim, gw, res1, _, seen) = setup(Db::Sqlite).await?;
    assert!(gw.cli(&["list"])?.contains(&res1.ak));
    gw.cli(&["revoke", &res1.ak])?;
    assert!(gw.cli(&["list"])?.contains("revoked"));
    let out = sdk1(allocate(&gw, &res1, "cust-r1-a", "1.00"))?;
    assert_eq!(out["error_code"], "TG.1003", "{out}");
    assert!(sim.requests_since(seen).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reseller_calls_work_with_credentials_in_postgres() -> R {
    let db = TempDb::create().await?;
    let result = reseller_issues_vouchers_and_allocates_funds(Db::Postgres(db.url.clone())).await;
    db.drop_db().await;
    result
}
