//! A reseller onboards a customer through Tiergate with the vendor's SDK and serves it in its
//! very next call, on any gateway: the gateway that forwarded the creation learns the new
//! customer from the vendor's answer; another gateway asks the vendor once before it would
//! refuse the unknown customer, and remembers what the vendor did not confirm.

use serde_json::{Value, json};
use tiergate_tests::harness::{Cred, Gateway, call, fixture, sdk, start_sim};

type R = Result<(), String>;

fn as_cred(gw: &Gateway, c: &Cred, request: &str) -> Value {
    call(&gw.endpoint(), &c.ak, &c.sk, &c.partner, request)
}

fn create_customer(gw: &Gateway, c: &Cred, name: &str) -> Value {
    let mut v = as_cred(gw, c, "CreateSubCustomerRequest");
    v["body_class"] = json!("CreateCustomerV2Req");
    v["body"] = json!({"domain_name": name, "xaccount_id": name, "xaccount_type": "tiergate"});
    v
}

fn coupons(gw: &Gateway, c: &Cred, quota: &str, customer: &str) -> Value {
    let mut v = as_cred(gw, c, "CreatePartnerCouponsRequest");
    v["body_class"] = json!("CreatePartnerCouponsReq");
    v["body"] = json!({"quota_id": quota, "customer_ids": [customer], "face_value": "10"});
    v
}

fn allocate(gw: &Gateway, c: &Cred, customer: &str, amount: &str) -> Value {
    let mut v = as_cred(gw, c, "UpdateCustomerAccountAmountRequest");
    v["body_class"] = json!("AdjustAccountReq");
    v["body"] = json!({"customer_id": customer, "amount": amount});
    v
}

fn customer_lookups(sim: &tiergate_tests::sim::Simulator, since: usize) -> usize {
    sim.requests_since(since)
        .iter()
        .filter(|r| r.path == "/v2/partners/sub-customers/query")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reseller_serves_a_customer_it_just_created_on_any_gateway() -> R {
    let sim = start_sim(fixture()?).await?;
    // Two gateways with their own storage: what one learns, the other cannot read.
    let (a, b) = (
        Gateway::start_with(sim.addr(), "")?,
        Gateway::start_with(sim.addr(), "")?,
    );
    let (res1_a, res1_b, res2_b) = (a.issue("res-1")?, b.issue("res-1")?, b.issue("res-2")?);

    let out = sdk(&[create_customer(&a, &res1_a, "onboarded-co")])?;
    assert_eq!(out[0]["ok"], true, "{}", out[0]);
    let id = out[0]["body"]["domain_id"]
        .as_str()
        .ok_or("no domain_id")?
        .to_owned();
    assert_eq!(
        sim.world().customers[&id].partner,
        "res-1",
        "created for the reseller"
    );

    // The very next call, on the same gateway: learned from the answer, the vendor not asked.
    let seen = sim.seen();
    let out = sdk(&[coupons(&a, &res1_a, "q-res-1", &id)])?;
    assert_eq!(out[0]["ok"], true, "{}", out[0]);
    assert_eq!(customer_lookups(&sim, seen), 0);

    // On the other gateway: asked of the vendor once, then known.
    let seen = sim.seen();
    let out = sdk(&[
        allocate(&b, &res1_b, &id, "5"),
        allocate(&b, &res1_b, &id, "6"),
    ])?;
    assert_eq!(out[0]["ok"], true, "{}", out[0]);
    assert_eq!(out[1]["ok"], true, "{}", out[1]);
    assert_eq!(customer_lookups(&sim, seen), 1);
    assert_eq!(sim.world().customers[&id].balance.to_string(), "11");

    // Another reseller is refused without asking: the graph knows whose it is.
    let seen = sim.seen();
    let out = sdk(&[allocate(&b, &res2_b, &id, "5")])?;
    assert_eq!(
        (out[0]["status"].as_u64(), out[0]["error_code"].as_str()),
        (Some(403), Some("TG.2004")),
        "{}",
        out[0]
    );
    // A customer the vendor does not list for the reseller: asked once, then refused from
    // memory.
    let out = sdk(&[
        allocate(&b, &res2_b, "no-such-customer", "5"),
        allocate(&b, &res2_b, "no-such-customer", "6"),
    ])?;
    for o in &out {
        assert_eq!(o["error_code"], "TG.2004", "{o}");
    }
    assert_eq!(customer_lookups(&sim, seen), 1);
    assert!(
        sim.requests_since(seen)
            .iter()
            .all(|r| r.path != "/v2/accounts/partner-accounts/adjust-amount"),
        "nothing refused was forwarded"
    );
    Ok(())
}
