//! The admin API keeps to its own OpenAPI document (`GET /openapi.json`): every documented
//! operation is routed, and schemathesis, generating requests from the document (valid and
//! invalid), finds no server error and no answer outside the document (status, content type,
//! schema), for an auditor and reseller staff with bearer tokens and for the distributor
//! signing as the vendor's SDK does, against a gateway on PostgreSQL. Seeded, so a run
//! repeats; about 45 s in all on two cores.

use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;
use tiergate_tests::harness::{
    Cred, Db, Gateway, Signer, TempDb, fixture, http, repo_root, start_sim,
};

type R = Result<(), String>;

const TOKEN_KEY: &str = "MFECAQEwBQYDK2VwBCIEICcNI6E8crezj1ExS2q5PfLOkpHarhVjjZGBN34rZdn6gSEAKFNe/UHMeOMjBk9Em1KjD/xwQMFwdxG49ZPh0erVv60=";

/// Test cases per operation and phase: enough to reach every branch of the small handlers,
/// few enough for the three runs to stay around a minute on two cores.
const EXAMPLES: &str = "20";

fn token_mode() -> String {
    format!("[tokens]\nsigning_key = {{ value = \"{TOKEN_KEY}\" }}\nttl = \"15m\"\n")
}

fn document(gw: &Gateway) -> Result<Value, String> {
    let r = http(gw.admin, "GET", "/openapi.json", &[], b"")?;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    serde_json::from_slice(&r.body).map_err(|e| format!("/openapi.json is not JSON: {e}"))
}

/// Each documented path with `x` for its `{name}` segments.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_routed_and_named_once() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), &token_mode())?;
    let doc = document(&gw)?;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi: {version}");
    let paths = doc["paths"].as_object().ok_or("no paths")?;
    assert!(paths.len() >= 10, "{}", paths.len());
    let mut ids = HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().ok_or("a path item is not an object")? {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            let method = method.to_uppercase();
            let r = http(gw.admin, &method, &concrete(path), &[], b"{}")?;
            let unrouted = r.status == 404 && r.json()["error_code"] == "TG.2001";
            assert!(!unrouted, "{method} {path} is documented but not routed");
        }
    }
    // The console is the admin listener's too, but no part of the API.
    assert!(paths.keys().all(|p| !p.starts_with("/console")));
    let r = http(gw.admin, "GET", "/no/such/endpoint", &[], b"")?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (404, "TG.2001".into())
    );
    Ok(())
}

/// How a schemathesis run authenticates.
enum Auth<'a> {
    Bearer(String),
    Signed(&'a Cred),
}

fn bearer(gw: &Gateway, c: &Cred) -> Result<String, String> {
    let signer = Signer {
        addr: gw.admin,
        ak: &c.ak,
        sk: &c.sk,
    };
    let r = signer.send("POST", "/tokens", "", b"{}")?;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no access_token".to_owned())
}

/// Runs schemathesis against the gateway's document; its whole output on failure.
fn schemathesis(gw: &Gateway, who: &str, auth: Auth<'_>) -> R {
    let root = repo_root();
    let exe = root.join(".venv/bin/schemathesis");
    if !exe.is_file() {
        return Err(format!(
            "{} is missing: run scripts/deps.sh (tests/sdk/requirements.txt)",
            exe.display()
        ));
    }
    // Its reports and example database go to a folder of their own.
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(work.path())
        .env("PYTHONPATH", root.join("tests/sdk"))
        .env("NO_COLOR", "1")
        .args(["run", &format!("http://{}/openapi.json", gw.admin)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", EXAMPLES, "--seed", "20261207", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "10", "--suppress-health-check", "all"]);
    match auth {
        Auth::Bearer(token) => {
            cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        Auth::Signed(c) => {
            cmd.env("SCHEMATHESIS_HOOKS", "schemathesis_sign")
                .env("TIERGATE_AK", &c.ak)
                .env("TIERGATE_SK", &c.sk);
        }
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        // Shown with --nocapture: what was exercised.
        eprintln!("schemathesis as {who}:\n{text}");
        Ok(())
    } else {
        // Its report as it printed it (a returned error would be shown escaped).
        eprintln!("{text}");
        Err(format!(
            "schemathesis as {who} found problems: its report is above"
        ))
    }
}

/// On PostgreSQL, whose types are strict (a filter SQLite would quietly compare as text fails
/// there), so that bad input reaching a query shows as the server error it would be.
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() -> R {
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let gw = Gateway::start_on(sim.addr(), Db::Postgres(db.url.clone()), &token_mode())?;
    let found = schemathesis_runs(&gw);
    drop(gw);
    db.drop_db().await;
    found
}

fn schemathesis_runs(gw: &Gateway) -> R {
    let staff = [
        "--staff",
        "alice",
        "--reseller",
        "res-1",
        "--role",
        "viewer",
    ];
    let alice = gw.issue_with("res-1", &staff, &[])?;
    schemathesis(gw, "reseller staff", Auth::Bearer(bearer(gw, &alice)?))?;
    // The distributor and the auditor may revoke credentials, and schemathesis reuses the
    // access keys the listings answered: each run gets its own credential, and the run that
    // may revoke the most goes last.
    let distributor = gw.issue("dist-1")?;
    schemathesis(gw, "the distributor", Auth::Signed(&distributor))?;
    let auditor = gw.issue_with(
        "dist-1",
        &["--auditor", "sec-ann", "--role", "unmasked"],
        &[],
    )?;
    schemathesis(gw, "an auditor", Auth::Bearer(bearer(gw, &auditor)?))
}
