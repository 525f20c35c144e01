//! Every principal kind through the gateway with the vendor SDK: reseller staff roles, a
//! customer calling the customer-side APIs with its own vendor key, an auditor; and
//! `tiergate policy explain` agreeing with the gateway.

use serde_json::{Value, json};
use tiergate_tests::harness::{Cred, Db, Gateway, call, fixture, sdk, start_sim};

type R = Result<(), String>;

fn req(gw: &Gateway, c: &Cred, request: &str, body_class: Option<&str>, body: Value) -> Value {
    let mut v = call(&gw.endpoint(), &c.ak, &c.sk, &c.partner, request);
    match body_class {
        Some(b) => {
            v["body_class"] = json!(b);
            v["body"] = body;
        }
        None => v["params"] = body,
    }
    v
}

fn allocate(gw: &Gateway, c: &Cred) -> Value {
    let body = json!({"customer_id": "cust-r1-a", "amount": "1.00"});
    req(
        gw,
        c,
        "UpdateCustomerAccountAmountRequest",
        Some("AdjustAccountReq"),
        body,
    )
}

fn customers(gw: &Gateway, c: &Cred) -> Value {
    req(
        gw,
        c,
        "ListSubCustomersRequest",
        Some("QuerySubCustomerListReq"),
        json!({}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_roles_narrow_what_a_reseller_may_do() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let staff = ["--staff", "alice", "--reseller", "res-1", "--role"];
    let viewer = gw.issue_with("res-1", &[&staff[..], &["viewer"]].concat(), &[])?;
    let operator = gw.issue_with("res-1", &[&staff[..], &["operator"]].concat(), &[])?;
    let out = sdk(&[
        customers(&gw, &viewer),
        allocate(&gw, &viewer),
        allocate(&gw, &operator),
    ])?;
    // res-1's four customers in the fixture (cust-r1-a, cust-r1-adv, cust-r1-b, cust-r1-c).
    assert_eq!(
        out[0]["body"]["count"], 4,
        "a viewer lists res-1's customers: {}",
        out[0]
    );
    assert_eq!(
        (out[1]["status"].clone(), out[1]["error_code"].clone()),
        (json!(403), json!("TG.2006"))
    );
    assert_eq!(out[2]["ok"], true, "{}", out[2]);
    let unknown = gw.issue_with("res-1", &[&staff[..], &["janitor"]].concat(), &[]);
    assert!(unknown.is_err_and(|e| e.contains("role `janitor` is not defined")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_calls_customer_apis_with_its_own_vendor_key() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let args = [
        "--customer",
        "cust-r1-a",
        "--upstream-access-key",
        "CUSTAK0000000000001",
    ];
    let env = [(
        "TIERGATE_UPSTREAM_SK",
        "cust-r1-a-secret-0000000000000000000001",
    )];
    let me = gw.issue_with("cust-r1-a", &args, &env)?;
    let seen = sim.seen();
    let out = sdk(&[
        req(
            &gw,
            &me,
            "ShowCustomerAccountBalancesRequest",
            None,
            json!({}),
        ),
        req(&gw, &me, "ListStoredValueCardsRequest", None, json!({})),
        customers(&gw, &me),
    ])?;
    assert_eq!(out[0]["status"], 200, "{}", out[0]);
    assert_eq!(
        out[0]["body"]["account_balances"][0]["account_id"],
        "cust-r1-a-cash"
    );
    assert_eq!(out[1]["status"], 200, "{}", out[1]);
    assert_eq!(
        out[2]["error_code"], "TG.2002",
        "never a partner API: {}",
        out[2]
    );
    // Upstream, the customer's own key signed, never the distributor's.
    let forwarded = sim.requests_since(seen);
    assert_eq!(forwarded.len(), 2);
    assert!(
        forwarded
            .iter()
            .all(|r| r.access_key.as_deref() == Some("CUSTAK0000000000001"))
    );
    let stranger = gw.issue_with(
        "cust-x",
        &["--customer", "cust-x", "--upstream-access-key", "X"],
        &env,
    );
    assert!(stranger.is_err_and(|e| e.contains("not a customer of this distributor")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_never_reaches_the_partner_api() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-team"], &[])?;
    let seen = sim.seen();
    let out = sdk(&[customers(&gw, &auditor), allocate(&gw, &auditor)])?;
    for o in &out {
        assert_eq!(
            (o["status"].clone(), o["error_code"].clone()),
            (json!(403), json!("TG.2002")),
            "{o}"
        );
    }
    assert!(sim.requests_since(seen).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_explain_gives_the_gateways_decision_and_its_rule() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let explain = |principal: &str, request: &str, body: &str| -> Result<Value, String> {
        let file = dir.path().join("body.json");
        std::fs::write(&file, body).map_err(|e| e.to_string())?;
        let path = file.display().to_string();
        let args = [
            "explain",
            "--principal",
            principal,
            "--request",
            request,
            "--body",
            &path,
            "--json",
        ];
        let out = gw.command("policy", &args, &[])?;
        serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
    };
    let adjust = "POST /v2/accounts/partner-accounts/adjust-amount";
    let ok = explain(
        "cloud_reseller:res-1",
        adjust,
        r#"{"customer_id":"cust-r1-a","amount":1}"#,
    )?;
    assert_eq!(ok["decision"], "allow", "{ok}");
    assert_eq!(ok["rule"], "tiers.cloud_reseller");
    assert_eq!(ok["injected"]["value"], "res-1");
    let no = explain(
        "cloud_reseller:res-1",
        adjust,
        r#"{"customer_id":"cust-r2-a","amount":1}"#,
    )?;
    assert_eq!(no["decision"], "deny", "{no}");
    assert_eq!(no["code"], "TG.2004");
    assert_eq!(no["rule"], "own-identifiers-only");
    let staff = explain(
        "reseller_staff:res-1:viewer",
        adjust,
        r#"{"customer_id":"cust-r1-a","amount":1}"#,
    )?;
    assert_eq!(
        (staff["code"].clone(), staff["rule"].clone()),
        (json!("TG.2006"), json!("role-grants"))
    );
    let dist = explain(
        "distributor:dist-1",
        "POST /v2/partners/indirect-partners/query",
        "{}",
    )?;
    assert_eq!(dist["decision"], "allow", "{dist}");
    // Routes beyond the first 64 of the catalogue, a path template, an answer checked, and
    // an operation the vendor cannot scope to a reseller.
    let freeze = explain(
        "cloud_reseller:res-1",
        "POST /v2/partners/sub-customers/freeze",
        r#"{"customer_ids":["cust-r1-a"],"reason":"budget"}"#,
    )?;
    assert_eq!(freeze["decision"], "allow", "{freeze}");
    assert_eq!(freeze["injected"]["value"], "res-1");
    let order = explain(
        "cloud_reseller:res-1",
        "GET /v2/orders/customer-orders/details/ord-1",
        "",
    )?;
    assert_eq!(
        (order["operation"].clone(), order["answer_checked"].clone()),
        (json!("show_customer_order_details"), json!(true)),
        "{order}"
    );
    let consume = explain(
        "cloud_reseller:res-1",
        "POST /v2/bills/subcustomer-bills/res-fee-records/sub-customers/query",
        "{}",
    )?;
    assert_eq!(consume["code"], "TG.2002", "{consume}");
    assert!(
        consume["why"]
            .as_str()
            .is_some_and(|w| w.contains("indirect_partner_id")),
        "{consume}"
    );
    let rate = explain(
        "customer:cust-r1-c",
        "POST /v2/bills/ratings/on-demand-resources",
        "{}",
    )?;
    assert_eq!(rate["decision"], "allow", "{rate}");
    Ok(())
}
