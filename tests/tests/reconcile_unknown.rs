//! What a lost answer leaves behind, and what a captured admin call can do: a slice issued
//! upstream is held before the vendor is called (two racing grants never both reach the
//! vendor), withdrawn when the vendor refuses, and settled from the vendor's quota records
//! when the answer was lost; a fund adjustment whose answer was lost is settled from the
//! vendor's adjust records, so its idempotency key answers instead of staying in flight; a
//! captured admin request sent again changes nothing.

use serde_json::{Value, json};
use std::str::FromStr;
use tiergate_tests::harness::{
    Cred, Db, Gateway, HttpResponse, Signer, TempDb, call, fixture, http, sdk1, start_sim,
};
use tiergate_tests::sim::Faults;

type R = Result<(), String>;

/// A signed admin request as it goes on the wire (its headers), with an idempotency key.
fn signed(gw: &Gateway, c: &Cred, path: &str, body: &Value, key: Option<&str>) -> Wire {
    let signer = Signer {
        addr: gw.admin,
        ak: &c.ak,
        sk: &c.sk,
    };
    let body = body.to_string().into_bytes();
    let mut headers = signer.headers("POST", path, "", &body, time::OffsetDateTime::now_utc());
    if let Some(k) = key {
        headers.push(("x-idempotency-key".into(), k.into()));
    }
    Wire {
        addr: gw.admin,
        path: path.to_owned(),
        headers,
        body,
    }
}

#[derive(Clone)]
struct Wire {
    addr: std::net::SocketAddr,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn send(&self) -> Result<HttpResponse, String> {
        let refs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        http(self.addr, "POST", &self.path, &refs, &self.body)
    }
}

fn post(gw: &Gateway, c: &Cred, path: &str, body: Value) -> Result<HttpResponse, String> {
    signed(gw, c, path, &body, None).send()
}

fn code(r: &HttpResponse) -> (u16, Value) {
    (r.status, r.json()["error_code"].clone())
}

fn tree(gw: &Gateway, c: &Cred) -> Result<Value, String> {
    let signer = Signer {
        addr: gw.admin,
        ak: &c.ak,
        sk: &c.sk,
    };
    let r = signer.send("GET", "/delegations", "quota_id=q-dist-1", b"")?;
    Ok(r.json())
}

fn slice<'a>(tree: &'a Value, id: &str) -> &'a Value {
    tree["slices"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["id"] == id))
        .unwrap_or(&Value::Null)
}

fn reconcile(gw: &Gateway) -> Result<Value, String> {
    let out = gw.command(
        "ledger",
        &["reconcile", "--json", "--older-than", "0s"],
        &[],
    )?;
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

/// Vendor quotas issued from the distributor's quota.
fn issued_from_dist(sim: &tiergate_tests::sim::Simulator) -> usize {
    sim.world()
        .quotas
        .values()
        .filter(|q| q.parent_quota_id.as_deref() == Some("q-dist-1"))
        .count()
}

fn root(gw: &Gateway, dist: &Cred) -> R {
    let r = post(
        gw,
        dist,
        "/delegations",
        json!({"quota_id": "q-dist-1", "id": "dist", "grantee": "dist-1",
               "limits": {"total": "10000"}}),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    Ok(())
}

fn to_reseller(id: &str, reseller: &str, total: &str) -> Value {
    json!({"quota_id": "q-dist-1", "id": id, "parent": "dist", "grantee": reseller,
           "limits": {"total": total}, "issue_upstream": true})
}

#[tokio::test(flavor = "multi_thread")]
async fn two_racing_upstream_grants_never_both_reach_the_vendor() -> R {
    // Two gateways on one PostgreSQL database, one grant through each.
    let db = TempDb::create().await?;
    let sim = start_sim(fixture()?).await?;
    let a_gw = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    let b_gw = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    let dist = a_gw.issue("dist-1")?;
    root(&a_gw, &dist)?;
    let before = issued_from_dist(&sim);
    // A slow vendor widens the window between the check and the vendor's answer.
    sim.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            post(
                &a_gw,
                &dist,
                "/delegations",
                to_reseller("a", "res-1", "6000"),
            )
        });
        let b = s.spawn(|| {
            post(
                &b_gw,
                &dist,
                "/delegations",
                to_reseller("b", "res-2", "6000"),
            )
        });
        (a.join(), b.join())
    });
    sim.set_faults(Faults::default());
    let (a, b) = (a.map_err(|_| "a panicked")??, b.map_err(|_| "b panicked")??);
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{:?} {:?}", a.json(), b.json());
    assert_eq!(
        issued_from_dist(&sim),
        before + 1,
        "only the grant the ledger held reached the vendor"
    );
    let t = tree(&b_gw, &dist)?;
    assert_eq!(slice(&t, "dist")["remaining"], "4000", "{t}");
    drop((a_gw, b_gw));
    db.drop_db().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_upstream_grant_is_withdrawn_and_its_amount_freed() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let dist = gw.issue("dist-1")?;
    root(&gw, &dist)?;
    sim.set_faults(Faults {
        error_percent: 100,
        ..Faults::default()
    });
    let r = post(
        &gw,
        &dist,
        "/delegations",
        to_reseller("r1", "res-1", "2500"),
    )?;
    sim.set_faults(Faults::default());
    assert_eq!(code(&r), (502, json!("TG.5007")), "{:?}", r.json());
    let t = tree(&gw, &dist)?;
    assert!(slice(&t, "r1").is_null(), "withdrawn: {t}");
    assert_eq!(slice(&t, "dist")["remaining"], "10000", "{t}");
    // The same grant again, now that the vendor answers: the id is free.
    let r = post(
        &gw,
        &dist,
        "/delegations",
        to_reseller("r1", "res-1", "2500"),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let audit = gw.audit("query", &["--operation", "grant"])?;
    assert!(audit.contains("withdrawn"), "{audit}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_grant_whose_answer_was_lost_stays_held_until_reconciled() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let dist = gw.issue("dist-1")?;
    root(&gw, &dist)?;
    sim.set_faults(Faults {
        drop_after_commit: true,
        ..Faults::default()
    });
    let body = to_reseller("r1", "res-1", "2500");
    let r = signed(&gw, &dist, "/delegations", &body, Some("grant-r1")).send()?;
    sim.set_faults(Faults::default());
    assert_eq!(code(&r), (504, json!("TG.5008")), "{:?}", r.json());
    let t = tree(&gw, &dist)?;
    assert_eq!(slice(&t, "r1")["status"], "issuing", "held: {t}");
    assert_eq!(slice(&t, "dist")["remaining"], "7500", "{t}");
    // A retry (signed anew, same key) learns the outcome is not known yet.
    let again = signed(&gw, &dist, "/delegations", &body, Some("grant-r1"));
    let r = again.send()?;
    assert_eq!(code(&r), (409, json!("TG.3010")), "{:?}", r.json());

    let report = reconcile(&gw)?;
    assert_eq!(report["issues"], 1, "{report}");
    let t = tree(&gw, &dist)?;
    let upstream = slice(&t, "r1")["upstream_quota"].clone();
    assert_eq!(slice(&t, "r1")["status"], "active", "{t}");
    let world = sim.world();
    let q = upstream
        .as_str()
        .and_then(|q| world.quotas.get(q))
        .ok_or(format!("linked to the vendor's quota: {t}"))?;
    assert_eq!(
        (q.owner.as_str(), q.quota_value),
        (
            "res-1",
            rust_decimal::Decimal::from_str("2500").unwrap_or_default()
        )
    );
    // The retry now gets the settled answer, once, and nothing is issued again.
    let r = signed(&gw, &dist, "/delegations", &body, Some("grant-r1")).send()?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.header("x-idempotent-replay"), Some("true"));
    assert_eq!(r.json()["upstream_quota"], upstream);
    assert_eq!(reconcile(&gw)?["issues"], 0);
    let outcomes = gw.audit("query", &["--outcome", "reconciled"])?;
    assert!(outcomes.contains("update_coupon_quotas"), "{outcomes}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_captured_admin_call_sent_again_changes_nothing() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let dist = gw.issue("dist-1")?;
    root(&gw, &dist)?;
    let r = post(
        &gw,
        &dist,
        "/delegations",
        json!({"quota_id": "q-dist-1", "id": "r1", "parent": "dist", "grantee": "res-1",
               "limits": {"total": "100"}}),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let resume = json!({"quota_id": "q-dist-1"});
    let suspend = post(&gw, &dist, "/delegations/r1/suspend", resume.clone())?;
    assert_eq!(suspend.status, 200);
    // Captured: a `resume`, then the slice suspended again by a later call.
    let captured = signed(&gw, &dist, "/delegations/r1/resume", &resume, None);
    assert_eq!(captured.send()?.status, 200);
    let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let signer = Signer {
        addr: gw.admin,
        ak: &dist.ak,
        sk: &dist.sk,
    };
    let body = resume.to_string().into_bytes();
    let r = signer.send_at("POST", "/delegations/r1/suspend", "", &body, later)?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    // The replay, byte for byte, and with an unsigned idempotency key of its own.
    let mut keyed = captured.clone();
    keyed
        .headers
        .push(("x-idempotency-key".into(), "new-key".into()));
    for wire in [&captured, &keyed] {
        let r = wire.send()?;
        assert_eq!(r.status, 200, "{:?}", r.json());
        assert_eq!(r.header("x-idempotent-replay"), Some("true"));
    }
    let t = tree(&gw, &dist)?;
    assert_eq!(slice(&t, "r1")["status"], "suspended", "{t}");
    Ok(())
}

fn allocate(gw: &Gateway, c: &Cred, customer: &str, amount: &str, key: &str) -> Value {
    let mut v = call(
        &gw.endpoint(),
        &c.ak,
        &c.sk,
        &c.partner,
        "UpdateCustomerAccountAmountRequest",
    );
    v["body_class"] = json!("AdjustAccountReq");
    v["body"] = json!({"customer_id": customer, "amount": amount});
    v["headers"] = json!({"X-Idempotency-Key": key});
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fund_adjustment_whose_answer_was_lost_is_settled_from_the_vendors_records() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    let balance = |sim: &tiergate_tests::sim::Simulator| sim.world().customers["cust-r1-a"].balance;
    let before = balance(&sim);
    sim.set_faults(Faults {
        drop_after_commit: true,
        ..Faults::default()
    });
    let call = allocate(&gw, &res1, "cust-r1-a", "12.34", "pay-1");
    let out = sdk1(call.clone())?;
    sim.set_faults(Faults::default());
    assert_eq!(out["error_code"], "TG.5002", "{out}");
    let out = sdk1(call.clone())?;
    assert_eq!(
        out["error_code"], "TG.3010",
        "unknown until reconciled: {out}"
    );

    let report = reconcile(&gw)?;
    assert_eq!(report["outcomes"], 1, "{report}");
    let out = sdk1(call.clone())?;
    assert_eq!(out["status"], 200, "{out}");
    // The vendor's own answer field, so the SDK reads it: the transfer the records show.
    let transfer = sim
        .world()
        .adjust_records
        .iter()
        .find(|r| r.customer_id.as_deref() == Some("cust-r1-a"))
        .map(|r| r.trans_id.clone());
    assert_eq!(
        out["body"]["transfer_id"].as_str(),
        transfer.as_deref(),
        "{out}"
    );
    let moved = balance(&sim) - before;
    assert_eq!(
        moved,
        rust_decimal::Decimal::from_str("12.34").unwrap_or_default()
    );
    // Settled once: the next run finds nothing, and the record stays this request's.
    assert_eq!(reconcile(&gw)?["outcomes"], 0);
    let outcomes = gw.audit("query", &["--outcome", "reconciled"])?;
    assert!(
        outcomes.contains("update_customer_account_amount"),
        "{outcomes}"
    );
    Ok(())
}
