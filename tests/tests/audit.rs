//! The audit log through the gateway, with the vendor SDK: one intent and one outcome per
//! money-moving call whatever happens to it, nothing moves while the audit store is down,
//! and an archive verifies offline with the public key alone.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Command;
use tiergate_tests::harness::{
    AUDIT_PUBLIC_KEY, Cred, Db, Gateway, TempDb, binary, call, fixture, sdk, sdk1, start_sim,
};

type R = Result<(), String>;

fn allocate(gw: &Gateway, c: &Cred, customer: &str, amount: &str) -> Value {
    let mut v = call(
        &gw.endpoint(),
        &c.ak,
        &c.sk,
        &c.partner,
        "UpdateCustomerAccountAmountRequest",
    );
    v["body_class"] = json!("AdjustAccountReq");
    v["body"] = json!({"customer_id": customer, "amount": amount});
    v
}

fn records(gw: &Gateway) -> Result<Vec<Value>, String> {
    let out = gw.audit("query", &["--limit", "1000"])?;
    out.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_money_moving_call_has_one_intent_and_one_outcome() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    let mut coupons = call(
        &gw.endpoint(),
        &res1.ak,
        &res1.sk,
        "res-1",
        "CreatePartnerCouponsRequest",
    );
    coupons["body_class"] = json!("CreatePartnerCouponsReq");
    coupons["body"] = json!({"quota_id": "q-res-1", "customer_ids": ["cust-r1-a", "cust-r1-b"], "face_value": "3000"});
    let mut list = call(
        &gw.endpoint(),
        &res1.ak,
        &res1.sk,
        "res-1",
        "ListSubCustomersRequest",
    );
    list["body_class"] = json!("QuerySubCustomerListReq");
    let out = sdk(&[
        allocate(&gw, &res1, "cust-r1-a", "1.00"),
        coupons,
        allocate(&gw, &res1, "cust-r2-a", "2.00"),
        allocate(&gw, &res1, "cust-r1-a", "999999.00"),
        list,
    ])?;
    assert_eq!(out[3]["error_code"], "CBC.99005003", "{}", out[3]);

    let recs = records(&gw)?;
    let mut by_request: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in recs
        .iter()
        .filter(|r| r["kind"] == "intent" || r["kind"] == "outcome")
    {
        by_request
            .entry(r["request_id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(r);
    }
    assert_eq!(
        by_request.len(),
        4,
        "four money-moving calls, the list call none: {recs:?}"
    );
    let mut outcomes = Vec::new();
    for (id, rs) in &by_request {
        let kinds: Vec<&str> = rs.iter().filter_map(|r| r["kind"].as_str()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "intent").count(),
            1,
            "{id}: {kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "outcome").count(),
            1,
            "{id}: {kinds:?}"
        );
        let outcome = rs
            .iter()
            .find(|r| r["kind"] == "outcome")
            .ok_or("no outcome")?;
        let intent = rs
            .iter()
            .find(|r| r["kind"] == "intent")
            .ok_or("no intent")?;
        assert!(
            intent["seq"].as_i64() < outcome["seq"].as_i64(),
            "intent first"
        );
        outcomes.push((
            intent["amount"].clone(),
            outcome["outcome"].clone(),
            outcome["detail"]["error_code"].clone(),
        ));
    }
    outcomes.sort_by_key(|o| o.1.to_string());
    assert_eq!(
        outcomes,
        vec![
            (json!("1.00"), json!("ok"), Value::Null),
            (json!("6000"), json!("partial"), Value::Null),
            (json!("2.00"), json!("refused"), json!("TG.2004")),
            (
                json!("999999.00"),
                json!("vendor_error"),
                json!("CBC.99005003")
            ),
        ]
    );
    let ok = recs
        .iter()
        .find(|r| r["kind"] == "intent" && r["amount"] == "1.00")
        .ok_or("no ok intent")?;
    assert_eq!(ok["principal"], "res-1");
    assert_eq!(ok["acting"], "res-1");
    assert_eq!(ok["credential"], res1.ak.as_str());
    assert_eq!(ok["customers"], json!(["cust-r1-a"]));
    assert_eq!(ok["currency"], "CNY");
    assert!(gw.audit("verify", &[])?.starts_with("intact"));

    // Exports: JSON Lines and CSV, same records.
    let filter = [
        "--operation",
        "update_customer_account_amount",
        "--kind",
        "intent",
    ];
    let jsonl = gw.audit("export", &[&filter[..], &["--format", "jsonl"]].concat())?;
    assert_eq!(jsonl.lines().count(), 3, "{jsonl}");
    let csv = gw.audit("export", &[&filter[..], &["--format", "csv"]].concat())?;
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("seq,at,kind,request_id,principal"))
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows.iter()
            .any(|r| r.contains(",999999.00,CNY,forwarding,")),
        "{csv}"
    );
    // Read back by a CSV reader, every row has every column; an export has no page limit.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let width = reader.headers().map_err(|e| e.to_string())?.len();
    for r in reader.records() {
        assert_eq!(r.map_err(|e| e.to_string())?.len(), width);
    }
    let all = gw.audit("export", &["--format", "jsonl"])?;
    let listed = gw.audit("query", &[])?;
    assert!(all.lines().count() >= listed.lines().count());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_audit_store_down_money_calls_are_refused_and_nothing_moves() -> R {
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let gw = Gateway::start_with_audit_db(sim.addr(), &db.url)?;
    let res1 = gw.issue("res-1")?;
    assert_eq!(sdk1(allocate(&gw, &res1, "cust-r1-a", "1.00"))?["ok"], true);
    db.drop_db().await;
    let before = sim.world();
    let seen = sim.seen();
    let out = sdk1(allocate(&gw, &res1, "cust-r1-a", "5.00"))?;
    assert_eq!(
        (out["status"].clone(), out["error_code"].clone()),
        (json!(503), json!("TG.5006")),
        "{out}"
    );
    assert!(sim.requests_since(seen).is_empty(), "nothing forwarded");
    let after = sim.world();
    assert_eq!(after.customers, before.customers);
    assert_eq!(after.partners, before.partners);
    // Calls that move no money are not held up.
    let mut list = call(
        &gw.endpoint(),
        &res1.ak,
        &res1.sk,
        "res-1",
        "ListSubCustomersRequest",
    );
    list["body_class"] = json!("QuerySubCustomerListReq");
    assert_eq!(sdk1(list)?["status"], 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_verifies_offline_and_an_edit_is_named() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    sdk(&[
        allocate(&gw, &res1, "cust-r1-a", "1.00"),
        allocate(&gw, &res1, "cust-r1-a", "2.00"),
    ])?;
    let file = gw.dir().join("archive.jsonl");
    let path = file.display().to_string();
    gw.audit("archive", &["--out", &path])?;
    let offline = |f: &str| {
        Command::new(binary("tiergate")?)
            .args([
                "audit",
                "verify-archive",
                f,
                "--public-key",
                AUDIT_PUBLIC_KEY,
            ])
            .output()
            .map_err(|e| e.to_string())
    };
    let ok = offline(&path)?;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    let edited = gw.dir().join("edited.jsonl");
    let changed = text.replacen(r#"\"amount\":\"2.00\""#, r#"\"amount\":\"20.00\""#, 1);
    assert_ne!(changed, text, "the archive holds the amount");
    std::fs::write(&edited, changed).map_err(|e| e.to_string())?;
    let bad = offline(&edited.display().to_string())?;
    let report = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success());
    assert!(report.contains("modified"), "{report}");
    let line = text
        .lines()
        .find(|l| l.contains(r#"\"amount\":\"2.00\""#))
        .unwrap_or_default();
    let seq: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let seq = seq["row"]["seq"].as_i64().unwrap_or_default();
    assert!(
        report.contains(&format!("record {seq}")),
        "the edited record is named: {report}"
    );
    Ok(())
}

fn admin_get(gw: &Gateway, c: &Cred, query: &str) -> Result<(u16, Value), String> {
    let signer = tiergate_tests::harness::Signer {
        addr: gw.admin,
        ak: &c.ak,
        sk: &c.sk,
    };
    let r = signer.send("GET", "/audit/records", query, b"")?;
    Ok((r.status, r.json()))
}

#[tokio::test(flavor = "multi_thread")]
async fn auditors_query_records_over_the_admin_api_and_unmasking_is_audited() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    sdk(&[allocate(&gw, &res1, "cust-r1-a", "7.00")])?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let trusted = gw.issue_with(
        "dist-1",
        &["--auditor", "sec-bo", "--role", "unmasked"],
        &[],
    )?;

    let (status, body) = admin_get(
        &gw,
        &auditor,
        "operation=update_customer_account_amount&kind=intent",
    )?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(body["records"][0]["amount"], "7.00");
    let (status, body) = admin_get(&gw, &auditor, "amount_min=8&kind=intent")?;
    assert_eq!(
        (status, body["count"].clone()),
        (200, json!(0)),
        "amount filter: {body}"
    );

    // A reseller reads its own subtree: what it did or what acted for it, nothing else.
    let (status, body) = admin_get(&gw, &res1, "")?;
    assert_eq!(status, 200, "{body}");
    let own = body["records"].as_array().cloned().unwrap_or_default();
    assert!(
        own.iter().any(|r| r["amount"] == "7.00"),
        "its allocation: {body}"
    );
    for r in &own {
        assert!(
            r["principal"] == "res-1" || r["acting"] == "res-1",
            "outside its subtree: {r}"
        );
    }
    let (status, body) = admin_get(&gw, &res1, "principal=dist-1")?;
    assert_eq!((status, body["count"].clone()), (200, json!(0)), "{body}");
    let (status, body) = admin_get(&gw, &auditor, "unmasked=true")?;
    assert_eq!(
        (status, body["error_code"].clone()),
        (403, json!("TG.2006")),
        "unmasking needs the role"
    );
    let (status, _) = admin_get(&gw, &trusted, "unmasked=true")?;
    assert_eq!(status, 200);

    // The same filters export every matching record as CSV or JSON Lines, to auditors only.
    let export = |c: &Cred, query: &str| {
        tiergate_tests::harness::Signer {
            addr: gw.admin,
            ak: &c.ak,
            sk: &c.sk,
        }
        .send("GET", "/audit/export", query, b"")
    };
    let r = export(&auditor, "format=csv&kind=intent")?;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    // Written while it is read: chunked, never assembled whole first.
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    let mut csv = csv::Reader::from_reader(&r.body[..]);
    let headers = csv.headers().map_err(|e| e.to_string())?.clone();
    let amount = headers
        .iter()
        .position(|h| h == "amount")
        .ok_or("no amount")?;
    let rows: Vec<csv::StringRecord> = csv
        .records()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    assert!(
        rows.iter().any(|r| r.get(amount) == Some("7.00")),
        "{rows:?}"
    );
    let r = export(&auditor, "format=jsonl&kind=intent")?;
    assert_eq!(r.status, 200);
    assert_eq!(String::from_utf8_lossy(&r.body).lines().count(), rows.len());
    // A reseller exports its own subtree only.
    let r = export(&res1, "format=jsonl")?;
    assert_eq!(r.status, 200);
    let lines = String::from_utf8_lossy(&r.body).into_owned();
    assert!(lines.contains("7.00"), "{lines}");
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        assert!(
            v["principal"] == "res-1" || v["acting"] == "res-1",
            "outside its subtree: {v}"
        );
    }
    let r = export(&auditor, "format=xlsx")?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (400, json!("TG.4002"))
    );
    let access = gw.audit("query", &["--kind", "access"])?;
    assert!(
        access.contains(&trusted.ak),
        "unmasked access is audited: {access}"
    );

    // Credential changes are audited, and so is the gateway's own start.
    let creds = gw.audit("query", &["--kind", "credential"])?;
    assert!(
        creds.contains(&res1.ak) && creds.contains("\"operation\":\"issue\""),
        "{creds}"
    );
    let system = gw.audit("query", &["--kind", "system"])?;
    assert!(system.contains("\"operation\":\"start\""), "{system}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_stop_is_audited_with_a_final_checkpoint() -> R {
    let sim = start_sim(fixture()?).await?;
    let mut gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    sdk(&[allocate(&gw, &res1, "cust-r1-a", "1.00")])?;
    gw.signal("TERM")?;
    let status = gw.wait_exit(std::time::Duration::from_secs(30))?;
    assert!(status.success(), "{status}");
    let system = gw.audit("query", &["--kind", "system"])?;
    assert!(system.contains("\"operation\":\"stop\""), "{system}");
    let checkpoints = std::fs::read_to_string(gw.dir().join("audit-checkpoints.jsonl"))
        .map_err(|e| e.to_string())?;
    assert!(
        !checkpoints.trim().is_empty(),
        "the stop signs a checkpoint outside the database"
    );
    assert!(gw.audit("verify", &[])?.starts_with("intact"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_command_line_wrote_is_covered_by_a_checkpoint_before_it_exits() -> R {
    let sim = start_sim(fixture()?).await?;
    // The harness' gateways checkpoint only hourly: whatever is covered here, the command
    // line covered itself.
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    gw.issue("res-1")?;
    let out = gw.audit("verify", &[])?;
    assert!(
        out.contains(", 0 trailing records not yet covered"),
        "the credential record was covered when `issue` exited: {out}"
    );
    // The verification run wrote its own record, and covered it too: erasing that trace
    // (as someone with the database, past its append-only triggers) is found.
    let db = format!("sqlite://{}", gw.dir().join("tiergate.db").display());
    let pool = sqlx::SqlitePool::connect(&db)
        .await
        .map_err(|e| e.to_string())?;
    for sql in [
        "DROP TRIGGER audit_records_no_delete",
        "DELETE FROM audit_records WHERE seq = (SELECT MAX(seq) FROM audit_records)",
    ] {
        sqlx::query(sql)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    pool.close().await;
    let erased = gw.audit("verify", &[]);
    let report = erased.err().ok_or("a deleted record went unnoticed")?;
    assert!(report.contains("were removed"), "{report}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filterable_column_edited_under_an_intact_body_is_named() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    gw.issue("res-1")?;
    gw.audit("verify", &[])?;
    let db = format!("sqlite://{}", gw.dir().join("tiergate.db").display());
    let pool = sqlx::SqlitePool::connect(&db)
        .await
        .map_err(|e| e.to_string())?;
    let run = |sql: String| {
        let pool = pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    };
    let trigger: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'audit_records_no_update'")
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
    for (column, value) in [
        ("at", "at - 86400000"),
        ("request_id", "'elsewhere'"),
        ("tier", "'auditor'"),
        ("customers", "',c-9,'"),
    ] {
        // The column as it was, restored afterwards (as SQL text: a quoted value or NULL).
        let was: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(quote({column}), 'NULL') FROM audit_records WHERE seq = 2"
        )))
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
        run("DROP TRIGGER audit_records_no_update".into()).await?;
        run(format!(
            "UPDATE audit_records SET {column} = {value} WHERE seq = 2"
        ))
        .await?;
        let report = gw.audit("verify", &[]).err();
        let report = report.ok_or_else(|| format!("an edited {column} went unnoticed"))?;
        assert!(
            report.contains("record 2: its query columns were altered"),
            "{column}: {report}"
        );
        run(format!(
            "UPDATE audit_records SET {column} = {was} WHERE seq = 2"
        ))
        .await?;
        run(trigger.clone()).await?;
        gw.audit("verify", &[])?;
    }
    pool.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_data_in_free_text_is_masked_with_the_names_the_graph_knows() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    // A memo that names the customer (as the vendor lists it, in another case), an e-mail
    // address and a mobile number.
    let memo = "for ACME RETAIL: call 13800001234 or buyer@acme.example";
    let mut v = call(
        &gw.endpoint(),
        &res1.ak,
        &res1.sk,
        &res1.partner,
        "CreatePartnerCouponsRequest",
    );
    v["body_class"] = json!("CreatePartnerCouponsReq");
    v["body"] = json!({"quota_id": "q-res-1", "customer_ids": ["cust-r1-a"],
                       "face_value": "10", "memo": memo});
    let out = sdk1(v)?;
    assert_eq!(out["status"], 200, "{out}");
    let masked = gw.audit("query", &["--operation", "create_partner_coupons"])?;
    for secret in ["ACME RETAIL", "13800001234", "buyer@acme.example"] {
        assert!(!masked.contains(secret), "{secret} shows: {masked}");
    }
    assert!(masked.contains("A*********L"), "{masked}");
    assert!(masked.contains("b***r@acme.example"), "{masked}");
    let args = [
        "--operation",
        "create_partner_coupons",
        "--unmasked",
        "--auditor",
        "sec-ann",
    ];
    let unmasked = gw.audit("query", &args)?;
    assert!(unmasked.contains(memo), "{unmasked}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_reads_and_verifies_with_the_database_and_the_public_key_alone() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    sdk(&[allocate(&gw, &res1, "cust-r1-a", "1.00")])?;
    // No signing key, master key or vendor key: the audit database and the public key.
    let db = gw.dir().join("tiergate.db").display().to_string();
    let log = gw
        .dir()
        .join("audit-checkpoints.jsonl")
        .display()
        .to_string();
    let reader = gw.dir().join("audit-reader.toml");
    let text = format!(
        "[audit]\nstorage = \"sqlite://{db}\"\npublic_key = \"{AUDIT_PUBLIC_KEY}\"\n\
         checkpoint_log = \"{log}\"\n"
    );
    std::fs::write(&reader, text).map_err(|e| e.to_string())?;
    let run = |args: &[&str]| {
        Command::new(binary("tiergate")?)
            .arg("audit")
            .arg(args[0])
            .arg("--config")
            .arg(&reader)
            .args(&args[1..])
            .env_clear()
            .output()
            .map_err(|e| e.to_string())
    };
    let before = records(&gw)?.len();
    let verified = run(&["verify"])?;
    let out = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(
        verified.status.success() && out.starts_with("intact"),
        "{out}"
    );
    let said = String::from_utf8_lossy(&verified.stderr).into_owned();
    assert!(said.contains("not recorded"), "{said}");

    let queried = run(&["query", "--operation", "update_customer_account_amount"])?;
    assert!(queried.status.success(), "{:?}", queried);
    let lines: Vec<Value> = String::from_utf8_lossy(&queried.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2, "the intent and the outcome: {lines:?}");
    let csv = run(&["export", "--format", "csv"])?;
    assert!(csv.status.success());
    assert!(String::from_utf8_lossy(&csv.stdout).lines().count() > 2);

    // An unmasked read is itself recorded, which needs the signing key: refused.
    let unmasked = run(&["query", "--unmasked"])?;
    assert!(!unmasked.status.success());
    let why = String::from_utf8_lossy(&unmasked.stderr).into_owned();
    assert!(why.contains("read-only"), "{why}");
    // It wrote nothing, and the chain still verifies with the gateway's own configuration.
    assert_eq!(records(&gw)?.len(), before, "the reader wrote nothing");
    assert!(gw.audit("verify", &[])?.starts_with("intact"));
    Ok(())
}
