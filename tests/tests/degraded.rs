//! With its database gone, a gateway keeps serving reads for the credentials it knew, for a
//! bounded stale period, while calls that move money are refused before anything reaches the
//! vendor; `/readyz` says it is degraded and keeps it in its load balancer. When the database
//! is back, everything works again and the audit chain verifies.

use std::time::{Duration, Instant};
use tiergate_tests::harness::{Db, Gateway, Signer, TempDb, fixture, start_sim};

type R = Result<(), String>;

const LIST: &str = "/v2/promotions/benefits/partner-coupons";
const ADJUST: &str = "/v2/accounts/partner-accounts/adjust-amount";

#[tokio::test(flavor = "multi_thread")]
async fn with_the_database_gone_reads_go_on_for_known_credentials_and_money_calls_are_refused() -> R
{
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let gw = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), "")?;
    let res1 = gw.issue("res-1")?;
    let res2 = gw.issue("res-2")?;
    let signer = Signer {
        addr: gw.addr,
        ak: &res1.ak,
        sk: &res1.sk,
    };
    // res-1 called before the outage; res-2 never did.
    let r = signer.send("GET", LIST, "limit=10&offset=0", b"")?;
    assert_eq!(r.status, 200, "{:?}", r.json());

    db.outage(true).await?;
    let seen = sim.seen();
    for offset in 1..4 {
        let query = format!("limit=10&offset={offset}");
        let r = signer.send("GET", LIST, &query, b"")?;
        assert_eq!(r.status, 200, "a read during the outage: {:?}", r.json());
    }
    let body = br#"{"customer_id":"cust-r1-a","amount":10}"#;
    let r = signer.send("POST", ADJUST, "", body)?;
    assert_eq!(r.status, 503, "{:?}", r.json());
    assert!(
        matches!(r.code().as_str(), "TG.5003" | "TG.5006"),
        "{:?}",
        r.json()
    );
    let stranger = Signer {
        addr: gw.addr,
        ak: &res2.ak,
        sk: &res2.sk,
    };
    let r = stranger.send("GET", LIST, "limit=10&offset=0", b"")?;
    assert_eq!(
        (r.status, r.code().as_str()),
        (503, "TG.5003"),
        "a credential never looked up is not served: {:?}",
        r.json()
    );
    let reached: Vec<String> = sim
        .requests_since(seen)
        .into_iter()
        .map(|x| x.path)
        .collect();
    assert!(
        reached.iter().all(|p| p == LIST),
        "only the reads reached the vendor: {reached:?}"
    );
    let ready = gw.admin_get("/readyz")?;
    let says = String::from_utf8_lossy(&ready.body).into_owned();
    assert_eq!(ready.status, 200, "{says}");
    assert!(says.starts_with("degraded"), "{says}");
    assert!(gw.metric_sum("tiergate_credentials_stale_served_total")? >= 3.0);
    assert_eq!(gw.metric_sum("tiergate_storage_degraded")?, 1.0);

    // Back: the money call goes through, the degraded state ends, the chain verifies.
    db.outage(false).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = signer.send("POST", ADJUST, "", body)?;
        if r.status == 200 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("not served again: {:?}", r.json()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(gw.metric_sum("tiergate_storage_degraded")?, 0.0);
    assert_eq!(gw.admin_get("/readyz")?.body, b"ready\n");
    let verified = gw.audit("verify", &[])?;
    assert!(verified.starts_with("intact"), "{verified}");
    drop(gw);
    db.drop_db().await;
    Ok(())
}
