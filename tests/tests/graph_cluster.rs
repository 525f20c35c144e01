//! Gateways sharing one PostgreSQL elect one graph syncer: it lists the vendor for all, the
//! others reload what it stores, and when it dies without a word another takes over once its
//! lease lapses. What one learns from an answer, the others take in.

use serde_json::{Value, json};
use std::time::Duration;
use tiergate_tests::harness::{
    Cred, Db, Gateway, TempDb, call, eventually, fixture, sdk, start_sim,
};

type R = Result<(), String>;

#[tokio::test(flavor = "multi_thread")]
async fn one_gateway_syncs_for_all_and_another_takes_over_when_it_dies() -> R {
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let extra = "[graph]\nsync_interval = \"1s\"\n";
    let mut a = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    let syncs = |g: &Gateway| g.metric_sum("tiergate_graph_syncs_total");
    eventually(Duration::from_secs(20), "the first gateway syncs", || {
        Ok(syncs(&a)? >= 1.0)
    })?;

    // A second gateway on the same database follows: it never lists the vendor itself, while
    // the first keeps syncing for both (incrementally), and reloads what the first stores
    // after a full sync (here asked for by hand, through the second).
    let b = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    let before = syncs(&a)?;
    eventually(Duration::from_secs(30), "two more syncs", || {
        Ok(syncs(&a)? >= before + 2.0)
    })?;
    let loads = b.metric_sum("tiergate_graph_loads_total")?;
    let out = b.command("graph", &["sync", "--full"], &[])?;
    assert!(out.contains("full sync done"), "{out}");
    eventually(Duration::from_secs(10), "the follower reloads it", || {
        Ok(b.metric_sum("tiergate_graph_loads_total")? > loads)
    })?;
    assert_eq!(syncs(&b)?, 0.0, "the follower listed the vendor");
    assert_eq!(a.metric_sum("tiergate_graph_syncer")?, 1.0);
    assert_eq!(b.metric_sum("tiergate_graph_syncer")?, 0.0);
    assert_eq!(b.admin_get("/readyz")?.status, 200);

    // The syncer dies without giving the lease up: the follower takes over when it lapses.
    a.signal("KILL")?;
    a.wait_exit(Duration::from_secs(10))?;
    eventually(Duration::from_secs(30), "the follower takes over", || {
        Ok(syncs(&b)? >= 1.0)
    })?;
    assert_eq!(b.metric_sum("tiergate_graph_syncer")?, 1.0);
    drop(b);
    drop(a);
    db.drop_db().await;
    Ok(())
}

fn as_cred(gw: &Gateway, c: &Cred, request: &str, class: &str, body: Value) -> Value {
    let mut v = call(&gw.endpoint(), &c.ak, &c.sk, &c.partner, request);
    v["body_class"] = json!(class);
    v["body"] = body;
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_created_through_one_gateway_is_known_to_the_others_without_asking() -> R {
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    // No sync after the first: what the second gateway knows, it was told.
    let extra = "[graph]\nsync_interval = \"1h\"\n";
    let a = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    let b = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    // One database: the credential works on both.
    let res1 = a.issue("res-1")?;
    let body = json!({"domain_name": "clustered-co", "xaccount_id": "clustered-co",
                      "xaccount_type": "tiergate"});
    let made = sdk(&[as_cred(
        &a,
        &res1,
        "CreateSubCustomerRequest",
        "CreateCustomerV2Req",
        body,
    )])?;
    assert_eq!(made[0]["ok"], true, "{}", made[0]);
    let id = made[0]["body"]["domain_id"]
        .as_str()
        .ok_or("no domain_id")?
        .to_owned();
    eventually(
        Duration::from_secs(10),
        "the other gateway takes it in",
        || Ok(b.metric_sum("tiergate_graph_learned_total")? >= 1.0),
    )?;
    let seen = sim.seen();
    let body = json!({"customer_id": id, "amount": "5"});
    let out = sdk(&[as_cred(
        &b,
        &res1,
        "UpdateCustomerAccountAmountRequest",
        "AdjustAccountReq",
        body,
    )])?;
    assert_eq!(out[0]["ok"], true, "{}", out[0]);
    let lookups = sim
        .requests_since(seen)
        .iter()
        .filter(|r| r.path == "/v2/partners/sub-customers/query")
        .count();
    assert_eq!(
        lookups, 0,
        "the vendor was asked about a customer the cluster knew"
    );
    assert_eq!(b.metric_sum("tiergate_graph_syncs_total")?, 0.0);
    drop((a, b));
    db.drop_db().await;
    Ok(())
}
