//! The monitoring pack in deploy/monitoring/ against a real Prometheus (Debian's `prometheus`
//! package, which scripts/deps.sh installs; without it the test fails saying so). promtool
//! checks the rules and runs their unit tests; a Prometheus scraping a gateway on PostgreSQL,
//! over TLS as production serves its admin listener, answers every dashboard query with data
//! and evaluates every alert without error on metrics the gateway exports; with the audit
//! database gone, the audit-store alert fires and the gateway-down one does not.

// The helpers live beside the test, not as test targets of their own.
#[path = "monitoring/over_tls.rs"]
mod over_tls;
#[path = "monitoring/prometheus.rs"]
mod prometheus;

use over_tls::{console_sign_in, signed};
use prometheus::{Prometheus, run};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tiergate_tests::harness::{
    Cred, Db, Gateway, HttpResponse, TempDb, eventually, fixture, repo_root, start_sim,
    tls_fixtures,
};
use tiergate_tests::ledger::grant;
use tiergate_tests::sim::{Faults, Simulator};

type R = Result<(), String>;

const COUPONS: &str = "/v2/promotions/benefits/partner-coupons";
/// A read the graph sync never calls, so a flood of it meets only the callers' budget.
const BALANCES: &str = "/v2/accounts/partner-accounts/balances";

fn pack() -> PathBuf {
    repo_root().join("deploy/monitoring")
}

fn voucher(face: u32) -> Vec<u8> {
    format!(r#"{{"quota_id":"q-res-1","customer_ids":["cust-r1-a"],"face_value":{face}}}"#)
        .into_bytes()
}

fn answered(what: &str, r: HttpResponse, status: u16) -> R {
    match r.status == status {
        true => Ok(()),
        false => Err(format!(
            "{what}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )),
    }
}

/// Traffic that makes every series the dashboard shows: reads, a voucher and one over its
/// slice's maximum face value, refusals, the vendor's 429, a flood past the vendor budget and
/// console sign-ins, each checked for the answer it should get. Returns the reseller's key.
fn drive(gw: &Gateway, sim: &Simulator) -> Result<Cred, String> {
    let res1 = gw.issue("res-1")?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let grants = [
        "--id dist --grantee dist-1 --total 10000",
        "--id res-1 --parent dist --grantee res-1 --total 5000 --max-face-value 2500 \
         --upstream-quota q-res-1",
    ];
    for g in grants {
        grant(gw, "q-dist-1", &g.split_whitespace().collect::<Vec<_>>())?;
    }
    let to = gw.addr;
    for i in 0..5 {
        let query = format!("limit=10&offset={i}");
        answered(
            "a read",
            signed(to, &res1, "GET", COUPONS, &query, b"")?,
            200,
        )?;
    }
    let r = signed(to, &res1, "POST", COUPONS, "", &voucher(100))?;
    answered("a voucher", r, 200)?;
    let r = signed(to, &res1, "POST", COUPONS, "", &voucher(2600))?;
    answered("over the maximum face value (TG.3004)", r, 403)?;
    let forged = Cred {
        sk: "not-the-secret".into(),
        ..res1.clone()
    };
    let r = signed(to, &forged, "GET", COUPONS, "limit=1", b"")?;
    answered("a bad signature", r, 401)?;
    answered(
        "an unknown route",
        signed(to, &res1, "GET", "/v2/nowhere", "", b"")?,
        404,
    )?;
    // Refused by the vendor twice: tried once more, then TG.6002.
    sim.set_faults(Faults {
        throttle_next: 2,
        ..Faults::default()
    });
    let r = signed(to, &res1, "GET", COUPONS, "limit=10", b"")?;
    answered("the vendor's 429", r, 429)?;
    // 40 at once against 10 a second: more than can wait their turn within 2 s.
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let c = res1.clone();
            std::thread::spawn(move || {
                signed(to, &c, "GET", BALANCES, &format!("x={i}"), b"").map(|r| r.status)
            })
        })
        .collect();
    let statuses = flood
        .into_iter()
        .map(|h| h.join().map_err(|_| "a flood call panicked".to_owned())?)
        .collect::<Result<Vec<u16>, String>>()?;
    if !statuses.contains(&429) || !statuses.contains(&200) {
        return Err(format!(
            "a flood past the vendor budget, some served, some refused: {statuses:?}"
        ));
    }
    match console_sign_in(gw, &auditor.ak, "not-the-secret")? {
        401 => {}
        s => return Err(format!("a wrong secret signed in: {s}")),
    }
    match console_sign_in(gw, &auditor.ak, &auditor.sk)? {
        303 => Ok(res1),
        s => Err(format!("the auditor did not sign in: {s}")),
    }
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Every target expression of the dashboard, by panel title, as Grafana sends it for job
/// `tiergate` and all its instances.
fn dashboard_queries(d: &Value) -> Result<Vec<(String, String)>, String> {
    let variables: Vec<&str> = d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .collect();
    if variables != ["DS_PROMETHEUS", "job", "instance"] {
        return Err(format!("the dashboard's variables: {variables:?}"));
    }
    let mut panels: Vec<&Value> = Vec::new();
    for p in d["panels"].as_array().ok_or("no panels")? {
        panels.push(p);
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    let mut out = Vec::new();
    for p in panels.into_iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().unwrap_or_default().to_owned();
        if p["datasource"]["uid"] != "${DS_PROMETHEUS}" {
            return Err(format!("{title}: not on the DS_PROMETHEUS data source"));
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            if !expr.contains("job=\"$job\"") {
                return Err(format!(
                    "{title}: `{expr}` does not follow the job variable"
                ));
            }
            let expr = expr
                .replace("$job", "tiergate")
                .replace("$instance", ".*")
                .replace("$__rate_interval", "1m")
                .replace("$__range", "5m");
            out.push((title.clone(), expr));
        }
    }
    Ok(out)
}

/// The dashboard queries that answer nothing (or only NaN: a quantile of no observations).
fn dashboard_gaps(prom: &Prometheus, queries: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut gaps = Vec::new();
    for (title, expr) in queries {
        let samples = prom
            .query(expr)
            .map_err(|e| format!("{title}: `{expr}`: {e}"))?;
        if !samples.iter().any(|s| s["value"][1] != "NaN") {
            gaps.push(format!("no data: {title}: {expr}"));
        }
    }
    Ok(gaps)
}

/// The metric names an expression reads (the gateway's, the process's, `up`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names: Vec<String> = ["tiergate_", "process_", "up{"]
        .iter()
        .flat_map(|p| expr.match_indices(p).map(|(i, _)| &expr[i..]))
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What is wrong with the alerts Prometheus loaded: one not healthy (its query failed), one
/// without a severity, summary, description or its playbook, one without a unit test, one
/// reading a metric the gateway does not export.
fn alert_gaps(prom: &Prometheus, rules: &str) -> Result<Vec<String>, String> {
    let alerts = prom.alerts()?;
    let tests = std::fs::read_to_string(pack().join("alerts_test.yml"))
        .map_err(|e| format!("alerts_test.yml: {e}"))?;
    let mut gaps = Vec::new();
    if alerts.len() != rules.matches("- alert:").count() {
        gaps.push(format!("{} alerts loaded", alerts.len()));
    }
    for a in &alerts {
        let name = a["name"].as_str().unwrap_or_default();
        let expr = a["query"].as_str().unwrap_or_default();
        if a["health"] != "ok" {
            gaps.push(format!("{name}: {} {}", a["health"], a["lastError"]));
        }
        let playbook = format!("README.md#playbook-{}", name.to_lowercase());
        let notes = &a["annotations"];
        if a["labels"]["severity"].as_str().is_none()
            || notes["summary"].as_str().is_none()
            || notes["description"].as_str().is_none()
            || notes["runbook"] != playbook.as_str()
        {
            gaps.push(format!(
                "{name}: labels {} annotations {notes}",
                a["labels"]
            ));
        }
        if !tests.contains(&format!("alertname: {name}\n")) {
            gaps.push(format!("{name}: no unit test"));
        }
        prom.query(expr).map_err(|e| format!("{name}: {e}"))?;
        for metric in metric_names(expr) {
            let any = format!("count({{__name__=\"{metric}\", job=\"tiergate\"}})");
            if prom.query(&any)?.is_empty() {
                gaps.push(format!("{name}: {metric} is not exported"));
            }
        }
    }
    Ok(gaps)
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_loads_the_pack_answers_the_dashboard_and_raises_the_audit_alert() -> R {
    let dir = pack();
    run("promtool", &["check", "rules", "alerts.yml"], &dir)?;
    run("promtool", &["test", "rules", "alerts_test.yml"], &dir)?;
    let text = std::fs::read_to_string(dir.join("grafana-dashboard.json"))
        .map_err(|e| format!("grafana-dashboard.json: {e}"))?;
    let dashboard: Value =
        serde_json::from_str(&text).map_err(|e| format!("grafana-dashboard.json: {e}"))?;
    let queries = dashboard_queries(&dashboard)?;

    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let outcome = scraped(&sim, &db, &queries).await;
    let _ = db.outage(false).await;
    db.drop_db().await;
    outcome
}

/// The gateway on `db` under Prometheus: the dashboard and the alerts, then the fault.
async fn scraped(sim: &Simulator, db: &TempDb, queries: &[(String, String)]) -> R {
    let extra = format!(
        "[tls]\n[[tls.certificates]]\nchain = \"{0}/ecdsa.pem\"\nkey = \"{0}/ecdsa.key\"\n\
         [[tls.certificates]]\nchain = \"{0}/rsa.pem\"\nkey = \"{0}/rsa.key\"\n\
         [ratelimit.upstream]\nrate = \"10/s\"\n",
        tls_fixtures().display()
    );
    // The harness signs checkpoints hourly; production's default is every second, and the
    // checkpoint panels and alert are about that cadence.
    let gw = Gateway::start_tuned(
        sim.addr(),
        Db::Postgres(db.url.clone()),
        &extra,
        2,
        &["env", "TIERGATE__AUDIT__CHECKPOINT_INTERVAL=1s"],
    )?;
    let rules = std::fs::read_to_string(pack().join("alerts.yml")).map_err(|e| e.to_string())?;
    let prom = Prometheus::start(gw.admin, &rules)?;
    let logged = |e: String| format!("{e}\n--- Prometheus log:\n{}", prom.log());

    let res1 = drive(&gw, sim)?;
    // Then a read and a voucher at a time until three scrapes have seen them: a histogram's
    // quantiles need its buckets to grow between scrapes, and each series two samples.
    // On a loaded machine a scrape may time out: load goes on until every panel answers (or
    // 90 s pass, and the panels still empty are named).
    let since = now_unix();
    let sent = AtomicU32::new(0);
    let waiting = std::sync::Mutex::new(Vec::new());
    let filled = eventually(
        Duration::from_secs(90),
        "every panel with data, under load",
        || {
            let r = signed(gw.addr, &res1, "GET", COUPONS, "limit=10", b"")?;
            answered("a read", r, 200)?;
            // Small vouchers that vary (so none replays the one before) and never add up to the
            // slice, however long this takes.
            let v = voucher(1 + sent.fetch_add(1, Ordering::Relaxed) % 10);
            answered(
                "a voucher",
                signed(gw.addr, &res1, "POST", COUPONS, "", &v)?,
                200,
            )?;
            if !prom.scraped_after(since + 3.0)? {
                return Ok(false);
            }
            let gaps = dashboard_gaps(&prom, queries)?;
            let done = gaps.is_empty();
            if let Ok(mut w) = waiting.lock() {
                *w = gaps;
            }
            Ok(done)
        },
    );
    let mut gaps = match filled {
        Ok(()) => Vec::new(),
        Err(_) if waiting.lock().is_ok_and(|w| !w.is_empty()) => {
            waiting.into_inner().unwrap_or_default()
        }
        Err(e) => return Err(logged(e)),
    };
    gaps.extend(alert_gaps(&prom, &rules)?);
    if prom.firing("TiergateAuditStoreUnavailable")? {
        gaps.push("the audit-store alert fires before the fault".into());
    }
    // Failures are returned, not asserted: the caller drops the database either way.
    if !gaps.is_empty() {
        return Err(gaps.join("\n"));
    }

    // The audit database goes away: money calls are refused TG.5006 until the alert fires
    // (each with another face value, so none replays the one before).
    db.outage(true).await?;
    eventually(
        Duration::from_secs(30),
        "the audit-store alert firing",
        || {
            let v = voucher(1 + sent.fetch_add(1, Ordering::Relaxed));
            let r = signed(gw.addr, &res1, "POST", COUPONS, "", &v)?;
            if !String::from_utf8_lossy(&r.body).contains("TG.5006") {
                return answered("a money call with the audit store gone", r, 503).map(|()| false);
            }
            prom.firing("TiergateAuditStoreUnavailable")
        },
    )
    .map_err(logged)?;
    let up = prom.query("up{job=\"tiergate\"} == 1")?;
    if up.len() != 1 || prom.firing("TiergateDown")? {
        return Err(logged(format!("the gateway is up and scraped: {up:?}")));
    }
    Ok(())
}
