//! `tiergate delegation`: slices of a quota granted, narrowed, refused beyond the parent,
//! suspended and revoked through the command line, every change in the audit log.

use serde_json::Value;
use tiergate_tests::harness::{Db, Gateway, fixture, start_sim};

type R = Result<(), String>;

fn tree(gw: &Gateway) -> Result<Value, String> {
    let out = gw.command(
        "delegation",
        &["show", "--quota", "q-dist-1", "--json"],
        &[],
    )?;
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

fn slice<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["slices"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["id"] == id))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn slices_are_granted_narrowed_and_revoked_with_an_audit_trail() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let grant = |args: &[&str]| {
        let mut all = vec!["grant", "--quota", "q-dist-1"];
        all.extend_from_slice(args);
        gw.command("delegation", &all, &[])
    };
    grant(&["--id", "dist", "--grantee", "dist-1", "--total", "10000"])?;
    grant(&[
        "--id",
        "res-1",
        "--parent",
        "dist",
        "--grantee",
        "res-1",
        "--total",
        "2000",
        "--max-face-value",
        "300",
    ])?;
    grant(&[
        "--id",
        "alice",
        "--parent",
        "res-1",
        "--grantee",
        "alice",
        "--total",
        "500",
        "--max-face-value",
        "200",
    ])?;
    let over = grant(&[
        "--id",
        "bob",
        "--parent",
        "res-1",
        "--grantee",
        "bob",
        "--total",
        "1600",
        "--max-face-value",
        "200",
    ]);
    assert!(over.is_err_and(|e| e.contains("more than the parent has left (1500)")));
    let wider = grant(&[
        "--id",
        "bob",
        "--parent",
        "res-1",
        "--grantee",
        "bob",
        "--total",
        "10",
    ]);
    assert!(wider.is_err_and(|e| e.contains("`max_face_value` may only narrow")));

    let t = tree(&gw)?;
    assert_eq!(slice(&t, "res-1")["remaining"], "1500");
    assert_eq!(slice(&t, "alice")["granted"], "500");
    gw.command(
        "delegation",
        &[
            "adjust", "--quota", "q-dist-1", "--id", "alice", "--total", "800",
        ],
        &[],
    )?;
    gw.command(
        "delegation",
        &["revoke", "--quota", "q-dist-1", "--id", "res-1"],
        &[],
    )?;
    let t = tree(&gw)?;
    assert_eq!(slice(&t, "alice")["status"], "revoked");
    assert_eq!(
        slice(&t, "dist")["remaining"],
        "10000",
        "nothing was spent: all of it returns"
    );

    let log = gw.audit("query", &["--kind", "delegation"])?;
    assert_eq!(
        log.lines().count(),
        5,
        "three grants, an adjustment, a revocation: {log}"
    );
    assert!(
        log.contains("\"operation\":\"revoke\"") && log.contains("\"delegation\":\"res-1\""),
        "{log}"
    );
    Ok(())
}
