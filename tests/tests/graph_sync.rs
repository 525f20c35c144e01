//! The relationship graph's syncs against the simulated vendor: a first start serves each
//! reseller as soon as its part is listed, within a share of the vendor's budget that leaves
//! resellers' own calls alone; incremental syncs pick up what the vendor associated since;
//! a full sync asked for by hand catches what was removed.

use serde_json::json;
use std::time::{Duration, Instant};
use tiergate_tests::harness::{
    Cred, Db, Gateway, HttpResponse, Signer, TempDb, eventually, fixture, start_sim,
};
use tiergate_tests::sim::{Customer, Fixture, Partner, fmt_time};

type R = Result<(), String>;

const CUSTOMERS: &str = "/v2/partners/sub-customers/query";

/// The fixture's world and `n` more resellers of the distributor (`res-g00`...), a customer
/// each.
fn world_with(n: usize) -> Result<Fixture, String> {
    let mut f = fixture()?;
    for i in 0..n {
        let id = format!("res-g{i:02}");
        let p: Partner = serde_json::from_value(json!({
            "id": id, "name": id, "tier": "cloud_reseller", "parent": "dist-1",
            "access_key": format!("RESGAK{i:013}"), "secret_key": format!("res-g{i:02}-secret"),
            "associated_on": "2026-01-01T00:00:00Z",
        }))
        .map_err(|e| e.to_string())?;
        f.partners.push(p);
        f.customers.push(customer(
            &format!("cust-g{i:02}"),
            &id,
            "2026-01-01T00:00:00Z",
        )?);
    }
    Ok(f)
}

fn customer(id: &str, partner: &str, associated_on: &str) -> Result<Customer, String> {
    serde_json::from_value(json!({
        "id": id, "name": format!("{id} Ltd"), "partner": partner, "association_type": 2,
        "associated_on": associated_on,
    }))
    .map_err(|e| e.to_string())
}

/// A reseller's search of its customers (`customer_id` is checked against the graph).
fn search(gw: &Gateway, c: &Cred, customer: Option<&str>) -> Result<HttpResponse, String> {
    let signer = Signer {
        addr: gw.addr,
        ak: &c.ak,
        sk: &c.sk,
    };
    let body = match customer {
        Some(id) => json!({"customer_id": id, "offset": 0, "limit": 10}),
        None => json!({"offset": 0, "limit": 10}),
    };
    signer.send("POST", CUSTOMERS, "", body.to_string().as_bytes())
}

fn readyz(gw: &Gateway) -> Result<(u16, String), String> {
    let r = gw.admin_get("/readyz")?;
    Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_serves_each_reseller_once_its_part_is_listed_within_its_budget_share() -> R {
    // 43 owners (the distributor, res-1, res-2 and 40 more), at 3 calls a second per list
    // operation (30% of the vendor's 10): about 15 s for the first sync. Two gateways on one
    // database: the first syncs, the second serves what the first has listed so far.
    let sim = start_sim(world_with(40)?).await?;
    let db = TempDb::create().await?;
    let extra = "[graph]\nsync_interval = \"1h\"\n\
                 [ratelimit.upstream]\nrate = \"10/s\"\n\
                 [[resellers]]\npartner_id = \"res-g39\"\n";
    let a = Gateway::start_unready_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    eventually(Duration::from_secs(10), "the first gateway leads", || {
        Ok(a.metric_sum("tiergate_graph_syncer")? == 1.0)
    })?;
    let b = Gateway::start_unready_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    let res1 = a.issue("res-1")?;
    let last = a.issue("res-g39")?;

    // Ready as soon as the resellers are listed, saying how far the sync is.
    for gw in [&a, &b] {
        eventually(Duration::from_secs(10), "ready while syncing", || {
            Ok(readyz(gw)?.0 == 200)
        })?;
        let (_, says) = readyz(gw)?;
        assert!(says.contains("graph syncing"), "{says}");
    }

    // res-1's part comes second: served by both, while the last reseller's is still being
    // listed.
    for gw in [&a, &b] {
        eventually(Duration::from_secs(10), "res-1 served", || {
            Ok(search(gw, &res1, Some("cust-r1-a"))?.status == 200)
        })?;
        let r = search(gw, &last, Some("cust-g39"))?;
        assert_eq!(
            (r.status, r.code().as_str()),
            (503, "TG.5005"),
            "{:?}",
            r.json()
        );
        assert!(
            readyz(gw)?.1.contains("graph syncing"),
            "the sync ended too soon to tell"
        );
    }

    // The sync keeps to its share: res-1's own searches at 4 a second (the budget's other
    // 70% is 6.8) are never refused or held back for it.
    let mut refused = Vec::new();
    let start = Instant::now();
    for i in 0..16u32 {
        let at = start + Duration::from_millis(250) * i;
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let r = search(&a, &res1, None)?;
        if r.status != 200 {
            refused.push((r.status, r.code()));
        }
    }
    assert!(refused.is_empty(), "refused during the sync: {refused:?}");
    let waited = a.metric_sum("tiergate_vendor_budget_waited_seconds_sum")?;
    assert!(
        waited < 2.0,
        "callers waited {waited} s in all for turns a sync took"
    );
    assert!(
        readyz(&a)?.1.contains("graph syncing"),
        "the flood ran after the sync"
    );

    // Then everyone is served, by both; the second never listed the vendor.
    eventually(Duration::from_secs(30), "the first sync completes", || {
        let full = "tiergate_graph_syncs_total{kind=\"full\",outcome=\"ok\"";
        Ok(readyz(&a)?.1 == "ready\n" && a.metric_sum(full)? == 1.0)
    })?;
    eventually(
        Duration::from_secs(10),
        "the second reloads the whole graph",
        || Ok(readyz(&b)?.1 == "ready\n"),
    )?;
    for gw in [&a, &b] {
        let r = search(gw, &last, Some("cust-g39"))?;
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    assert_eq!(b.metric_sum("tiergate_graph_syncs_total")?, 0.0);

    // One page per owner and list operation, never faster than its share.
    let pages = a.metric_sum("tiergate_graph_sync_calls_total{operation=\"list_sub_customers\"")?;
    assert!(pages >= 43.0, "pages: {pages}");
    let took = a.metric_sum("tiergate_graph_sync_duration_seconds{kind=\"full\"")?;
    assert!(
        pages <= 3.0 * took + 1.0,
        "{pages} pages in {took} s: over 3 a second"
    );
    drop((a, b));
    db.drop_db().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_sync_picks_up_a_new_customer_and_a_full_one_asked_by_hand_its_removal() -> R
{
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let extra = "[graph]\nsync_interval = \"1s\"\nfull_sync_interval = \"1h\"\n";
    let gw = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    let full = "tiergate_graph_syncs_total{kind=\"full\",outcome=\"ok\"";
    let incremental = "tiergate_graph_syncs_total{kind=\"incremental\",outcome=\"ok\"";
    eventually(Duration::from_secs(20), "a first full sync", || {
        Ok(gw.metric_sum(full)? >= 1.0)
    })?;
    let customers = "tiergate_graph_entries{kind=\"customer\"";
    let known = gw.metric_sum(customers)?;
    let res1 = gw.issue("res-1")?;

    // Associated at the vendor, not through Tiergate: the next incremental sync finds it.
    let now = fmt_time(time::OffsetDateTime::now_utc());
    let late = customer("cust-late", "res-1", &now)?;
    sim.change(|w| w.customers.insert(late.id.clone(), late));
    let ran = gw.metric_sum(incremental)?;
    eventually(
        Duration::from_secs(20),
        "the incremental sync finds it",
        || Ok(gw.metric_sum(customers)? == known + 1.0),
    )?;
    assert!(gw.metric_sum(incremental)? > ran);
    assert_eq!(gw.metric_sum(full)?, 1.0, "found without a full sync");
    let r = search(&gw, &res1, Some("cust-late"))?;
    assert_eq!(r.status, 200, "{:?}", r.json());

    // Unbound at the vendor: no time filter shows that. A full sync asked by hand does.
    sim.change(|w| w.customers.remove("cust-late"));
    let out = gw.command("graph", &["sync", "--full"], &[])?;
    assert!(out.contains("full sync done"), "{out}");
    assert_eq!(gw.metric_sum(full)?, 2.0);
    assert_eq!(gw.metric_sum(customers)?, known);
    let r = search(&gw, &res1, Some("cust-late"))?;
    assert_eq!(r.status, 403, "{:?}", r.json());
    let status = gw.command("graph", &["status"], &[])?;
    assert!(status.contains("lease held"), "{status}");
    drop(gw);
    db.drop_db().await;
    Ok(())
}
