//! Gateways sharing one PostgreSQL elect one graph syncer: it lists the vendor for all, the
//! others reload what it stores, and when it dies without a word another takes over once its
//! lease lapses.

use std::time::{Duration, Instant};
use tiergate_tests::harness::{Db, Gateway, TempDb, fixture, start_sim};

type R = Result<(), String>;

/// Polls `done` until it holds, for at most `within`.
fn eventually(within: Duration, what: &str, done: impl Fn() -> Result<bool, String>) -> R {
    let deadline = Instant::now() + within;
    loop {
        if done()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not within {within:?}: {what}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

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

    // A second gateway on the same database follows: it reloads what the first stores and
    // never lists the vendor itself, while the first keeps syncing for both.
    let b = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), extra)?;
    let before = syncs(&a)?;
    eventually(
        Duration::from_secs(30),
        "the follower reloads two syncs",
        || Ok(b.metric_sum("tiergate_graph_loads_total")? >= 2.0 && syncs(&a)? >= before + 2.0),
    )?;
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
