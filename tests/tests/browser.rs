//! The security team's console in a real browser (Debian's headless chromium, driven by
//! Playwright from `tests/browser/console.py`) against the real gateway on PostgreSQL: sign
//! in by keyboard, refusals, search, paging, exports, verification before and after someone
//! edits the audit table, a record's chain position, the overview, money, TLS and federation
//! pages, a reseller's own subtree and the pages it may not open, the distributor's grants the
//! ledger accepts and refuses, a credential issued and revoked and the API refusing it next,
//! CSRF, sign-out and revocation. Screenshots of each page land in `target/console-screens/`.

use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use tiergate_tests::browser::Script;
use tiergate_tests::harness::{Cred, Db, Gateway, Signer, TempDb, fixture, start_sim};

type R = Result<(), String>;

/// A money-moving call the gateway refuses before forwarding it (res-2's customer, asked by
/// res-1), and still writes to the audit log: two records each, the cheapest way to fill pages.
const REFUSED_PATH: &str = "/v2/accounts/partner-accounts/adjust-amount";
const REFUSED_OPERATION: &str = "update_customer_account_amount";
const REFUSED_BODY: &str = r#"{"customer_id":"cust-r2-a","amount":1.23}"#;
/// An allocation to res-1's own customer: money that moves.
const MOVED_BODY: &str = r#"{"customer_id":"cust-r1-a","amount":5}"#;
/// More than one console page (50) of outcomes.
const REFUSED_CALLS: usize = 60;

fn cred(c: &Cred) -> Value {
    json!({"ak": c.ak, "sk": c.sk})
}

/// Edits the amount of the first refused call's intent as someone with the database would,
/// past the append-only triggers (as superuser: replication role skips them); its seq.
async fn tamper(url: &str) -> Result<Value, String> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE audit_records SET amount = '9.23', body = replace(body, '1.23', '9.23') \
         WHERE seq = (SELECT MIN(seq) FROM audit_records WHERE kind = 'intent' AND operation = $1) \
         AND body LIKE '%1.23%' RETURNING seq",
    )
    .bind(REFUSED_OPERATION)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| format!("no refused intent to edit: {e}"))?;
    tx.commit().await.map_err(|e| e.to_string())?;
    pool.close().await;
    Ok(json!(seq))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_real_browser() -> R {
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let gw = Gateway::start(sim.addr(), Db::Postgres(db.url.clone()))?;
    let reseller = gw.issue("res-1")?;
    let distributor = gw.issue("dist-1")?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let unmasked = gw.issue_with(
        "dist-1",
        &["--auditor", "sec-bob", "--role", "unmasked"],
        &[],
    )?;
    let signer = Signer {
        addr: gw.addr,
        ak: &reseller.ak,
        sk: &reseller.sk,
    };
    for _ in 0..REFUSED_CALLS {
        let r = signer.send("POST", REFUSED_PATH, "", REFUSED_BODY.as_bytes())?;
        if r.json()["error_code"] != "TG.2004" {
            let body = String::from_utf8_lossy(&r.body);
            return Err(format!(
                "not refused as another's customer: {} {body}",
                r.status
            ));
        }
    }

    // Money that moved (the money page's totals), and a quota's root slice to delegate from.
    let moved = signer.send("POST", REFUSED_PATH, "", MOVED_BODY.as_bytes())?;
    if moved.status != 200 {
        return Err(format!("an allocation failed: {}", moved.status));
    }
    let root = r#"{"quota_id":"q-dist-1","id":"dist","grantee":"dist-1","limits":{"total":"1000","per_day":"300"}}"#;
    let granted = Signer {
        addr: gw.admin,
        ak: &distributor.ak,
        sk: &distributor.sk,
    }
    .send("POST", "/delegations", "", root.as_bytes())?;
    if granted.status != 200 {
        return Err(format!("the root slice: {}", granted.status));
    }

    let setup = json!({
        "origin": format!("http://{}", gw.admin),
        "credentials": {
            "reseller": cred(&reseller),
            "auditor": cred(&auditor),
            "unmasked": cred(&unmasked),
            "distributor": cred(&distributor),
        },
        "refused": {"operation": REFUSED_OPERATION, "count": REFUSED_CALLS},
    });
    let mut script = Script::start("console.py", setup)?;
    while let Some(ask) = script.question()? {
        let answer = match ask["do"].as_str() {
            Some("tamper") => tamper(&db.url).await,
            Some("revoke") => match ask["access_key"].as_str() {
                Some(ak) => gw.cli(&["revoke", ak]).map(|_| Value::Null),
                None => Err("revoke: no access_key".into()),
            },
            // A signed admin API read with a credential the browser was shown: its status.
            Some("call") => match (ask["ak"].as_str(), ask["sk"].as_str()) {
                (Some(ak), Some(sk)) => Signer {
                    addr: gw.admin,
                    ak,
                    sk,
                }
                .send("GET", "/credentials", "", b"")
                .map(|r| json!(r.status)),
                _ => Err("call: no ak/sk".into()),
            },
            _ => Err(format!("no such thing to do: {ask}")),
        };
        script.answer(answer)?;
    }
    drop(gw);
    db.drop_db().await;
    Ok(())
}
