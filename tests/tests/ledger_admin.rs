//! `/delegations` on the admin listener: the distributor grants a reseller a slice and issues
//! the vendor quota for it in one step; the reseller hands slices to its staff and manages only
//! those; each sees only its part of the tree; every change is audited.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use tiergate_tests::harness::{
    Cred, Db, Gateway, HttpResponse, Signer, call, fixture, sdk1, start_sim,
};
use tiergate_tests::ledger::staff;

type R = Result<(), String>;

fn admin(
    gw: &Gateway,
    c: &Cred,
    method: &str,
    path: &str,
    query: &str,
    body: &Value,
) -> Result<HttpResponse, String> {
    let signer = Signer {
        addr: gw.admin,
        ak: &c.ak,
        sk: &c.sk,
    };
    let b = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    signer.send(method, path, query, &b)
}

fn slice<'a>(tree: &'a Value, id: &str) -> &'a Value {
    tree["slices"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["id"] == id))
        .unwrap_or(&Value::Null)
}

fn ids(tree: &Value) -> Vec<String> {
    tree["slices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn distributors_and_resellers_manage_their_own_slices_over_the_admin_api() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let dist = gw.issue("dist-1")?;
    let res1 = gw.issue("res-1")?;
    let res2 = gw.issue("res-2")?;
    let staff = staff(&gw, "alice")?;
    let grant = |c: &Cred, body: Value| admin(&gw, c, "POST", "/delegations", "", &body);

    let r = grant(
        &dist,
        json!({"quota_id": "q-dist-1", "id": "dist", "grantee": "dist-1",
        "limits": {"total": "10000"}}),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    // One step: the slice, and the vendor quota issued to the reseller for it.
    let r = grant(
        &dist,
        json!({"quota_id": "q-dist-1", "id": "res-1", "parent": "dist",
        "grantee": "res-1", "limits": {"total": "1000.50", "max_face_value": "200"},
        "issue_upstream": true}),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let upstream = slice(&r.json()["tree"], "res-1")["upstream_quota"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let world = sim.world();
    let q = world
        .quotas
        .get(&upstream)
        .ok_or("no vendor quota issued")?;
    assert_eq!(
        (q.owner.as_str(), q.quota_value),
        ("res-1", Decimal::from_str("1000.50").unwrap_or_default())
    );
    assert_eq!(
        world.quotas["q-dist-1"].balance,
        Decimal::from_str("38999.50").unwrap_or_default()
    );

    // The reseller delegates to its staff, within its own slice only.
    let r = grant(
        &res1,
        json!({"quota_id": "q-dist-1", "id": "alice", "parent": "res-1",
        "grantee": "alice", "limits": {"total": "300", "max_face_value": "50"}}),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = grant(
        &res1,
        json!({"quota_id": "q-dist-1", "id": "bob", "parent": "res-1",
        "grantee": "bob", "limits": {"total": "900"}}),
    )?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (409, json!("TG.3012")),
        "more than the parent has left"
    );
    let r = grant(
        &res1,
        json!({"quota_id": "q-dist-1", "id": "mine", "parent": "dist",
        "grantee": "res-1", "limits": {"total": "10"}}),
    )?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (403, json!("TG.2004"))
    );
    // Within its own slice, still only to its staff: never to a partner.
    for partner in ["res-2", "dist-1", "res-1"] {
        let r = grant(
            &res1,
            json!({"quota_id": "q-dist-1", "id": format!("to-{partner}"), "parent": "res-1",
            "grantee": partner, "limits": {"total": "1"}}),
        )?;
        assert_eq!(
            (r.status, r.json()["error_code"].clone()),
            (403, json!("TG.2004")),
            "{partner}: {:?}",
            r.json()
        );
    }
    let adjust = |c: &Cred, id: &str, total: &str| {
        admin(
            &gw,
            c,
            "POST",
            &format!("/delegations/{id}/adjust"),
            "",
            &json!({"quota_id": "q-dist-1", "total": total}),
        )
    };
    assert_eq!(
        adjust(&res1, "res-1", "5000")?.status,
        403,
        "not its own slice"
    );
    assert_eq!(
        adjust(&res2, "alice", "1")?.status,
        403,
        "not another reseller's"
    );
    let r = adjust(&res1, "alice", "200")?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = admin(
        &gw,
        &res1,
        "POST",
        "/delegations/alice/suspend",
        "",
        &json!({"quota_id": "q-dist-1"}),
    )?;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(slice(&r.json()["tree"], "alice")["status"], "suspended");

    // Each sees its own part of the tree (staff their reseller's, read only); bad requests
    // are refused.
    let tree = |c: &Cred| {
        admin(
            &gw,
            c,
            "GET",
            "/delegations",
            "quota_id=q-dist-1",
            &Value::Null,
        )
    };
    assert_eq!(ids(&tree(&res1)?.json()), ["alice", "res-1"]);
    assert_eq!(ids(&tree(&dist)?.json()), ["alice", "dist", "res-1"]);
    assert!(ids(&tree(&res2)?.json()).is_empty());
    assert_eq!(ids(&tree(&staff)?.json()), ["alice", "res-1"]);
    let r = admin(
        &gw,
        &staff,
        "POST",
        "/delegations/alice/resume",
        "",
        &json!({"quota_id": "q-dist-1"}),
    )?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (403, json!("TG.2002")),
        "staff change nothing"
    );
    let r = grant(
        &dist,
        json!({"quota_id": "q-dist-1", "id": "x", "grantee": "res-2",
        "limits": {"total": "1"}, "colour": "blue"}),
    )?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (400, json!("TG.4002"))
    );

    // Vouchers issued from the new vendor quota draw on the reseller's slice.
    let mut v = call(
        &gw.endpoint(),
        &res1.ak,
        &res1.sk,
        "res-1",
        "CreatePartnerCouponsRequest",
    );
    v["body_class"] = json!("CreatePartnerCouponsReq");
    v["body"] = json!({"quota_id": upstream, "customer_ids": ["cust-r1-a"], "face_value": "300",
        // The vendor quota keeps the distributor quota's service restriction.
        "cloud_service_types": ["hws.service.type.ec2"]});
    let out = sdk1(v.clone())?;
    assert_eq!(out["error_code"], "TG.3004", "{out}");
    v["body"]["face_value"] = json!("100");
    let out = sdk1(v)?;
    assert_eq!(out["status"], 200, "{out}");

    // Every change is in the audit log, with who made it.
    // (The slice issued upstream is recorded twice: held while the vendor is asked, then
    // issued as its vendor quota.)
    let changes = gw.audit("query", &["--kind", "delegation"])?;
    assert_eq!(changes.lines().count(), 6, "{changes}");
    assert!(changes.contains(r#""outcome":"issuing""#), "{changes}");
    assert!(changes.contains(r#""principal":"res-1""#), "{changes}");
    let issued = gw.audit("query", &["--operation", "update_coupon_quotas"])?;
    assert!(
        issued.contains(r#""kind":"intent""#) && issued.contains(r#""kind":"outcome""#),
        "{issued}"
    );
    Ok(())
}
