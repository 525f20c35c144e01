//! The security team's console over HTTP, as a browser uses it: sign in with an auditor's own
//! credential, search and page the audit log, export it, verify the chain, sign out; cookies
//! flagged, changes refused without the session's CSRF token, other tiers and wrong secrets
//! refused and audited.

use tiergate_tests::harness::{Db, Gateway, HttpResponse, fixture, http, start_sim};

type R = Result<(), String>;

fn cookie_of(r: &HttpResponse, name: &str) -> Option<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .find_map(|(_, v)| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            (k == name && !val.is_empty()).then(|| val.to_owned())
        })
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Signs in through the form; the session cookie, or the refusal.
fn sign_in(gw: &Gateway, ak: &str, sk: &str) -> Result<Result<String, HttpResponse>, String> {
    let form = http(gw.admin, "GET", "/console/", &[], b"")?;
    assert_eq!(form.status, 200);
    let token = cookie_of(&form, "tg_console_form").ok_or("no form cookie")?;
    let body = format!("form={token}&access_key={}&secret_key={}", enc(ak), enc(sk));
    let cookie = format!("tg_console_form={token}");
    let r = http(
        gw.admin,
        "POST",
        "/console/sign-in",
        &[
            ("cookie", &cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    )?;
    Ok(match cookie_of(&r, "tg_console") {
        Some(s) if r.status == 303 => {
            let set = r.header("set-cookie").unwrap_or_default();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict"),
                "{set}"
            );
            Ok(s)
        }
        _ => Err(r),
    })
}

fn csrf_of(page: &HttpResponse) -> Option<String> {
    let text = String::from_utf8_lossy(&page.body);
    let at = text.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(text[at..].split('"').next()?.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_searches_exports_and_verifies_the_log_in_the_console() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let res1 = gw.issue("res-1")?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;

    // Wrong secret and another tier: refused, audited, no session.
    let wrong = sign_in(&gw, &auditor.ak, "not-the-secret")?
        .err()
        .ok_or("signed in")?;
    assert_eq!(wrong.status, 401);
    // A customer has no business in the console.
    let customer = gw.issue_with(
        "cust-r1-c",
        &[
            "--customer",
            "cust-r1-c",
            "--upstream-access-key",
            "CUSTAK0000000000003",
        ],
        &[(
            "TIERGATE_UPSTREAM_SK",
            "cust-r1-c-secret-0000000000000000000003",
        )],
    )?;
    let refused = sign_in(&gw, &customer.ak, &customer.sk)?
        .err()
        .ok_or("a customer signed in")?;
    assert_eq!(refused.status, 401);
    assert!(String::from_utf8_lossy(&refused.body).contains("this console is for"));

    let session = sign_in(&gw, &auditor.ak, &auditor.sk)?.map_err(|r| format!("{r:?}"))?;
    let cookie = format!("tg_console={session}");
    let get = |path: &str| http(gw.admin, "GET", path, &[("cookie", &cookie)], b"");
    let page = get("/console/audit?kind=access")?;
    assert_eq!(page.status, 200);
    let text = String::from_utf8_lossy(&page.body).into_owned();
    assert!(
        text.contains("console_sign_in"),
        "sign-ins are in the log: {text}"
    );
    assert!(
        text.contains("refused") && text.contains("signed_in"),
        "{text}"
    );
    // And counted: two refused, one in.
    let signed = |outcome: &str| {
        gw.metric_sum(&format!(
            r#"tiergate_sign_ins_total{{kind="console",outcome="{outcome}"}}"#
        ))
    };
    assert_eq!((signed("refused")?, signed("ok")?), (2.0, 1.0));
    assert_eq!(
        page.header("content-security-policy")
            .map(|c| c.contains("default-src 'none'")),
        Some(true)
    );
    // Values are escaped: what a caller could put in a record is never markup here; the
    // one script is the console's own file.
    assert_eq!(text.matches("<script").count(), 1, "{text}");
    assert!(text.contains("<script src=\"/console/local.js\" defer></script>"));

    let csv = get("/console/audit/export?format=csv&kind=access")?;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(&csv.body[..]);
    assert!(reader.records().count() >= 3);

    // Who holds which credential, never a secret.
    let creds = get("/console/credentials")?;
    assert_eq!(creds.status, 200);
    let listed = String::from_utf8_lossy(&creds.body).into_owned();
    assert!(
        listed.contains(&res1.ak) && listed.contains(&auditor.ak),
        "{listed}"
    );
    assert!(
        listed.contains("sec-ann") && listed.contains("cloud_reseller"),
        "{listed}"
    );
    assert!(!listed.contains(&res1.sk) && !listed.contains(&auditor.sk));

    // Changes need the session's CSRF token.
    let csrf = csrf_of(&page).ok_or("no csrf token on the page")?;
    let post = |path: &str, body: &str| {
        http(
            gw.admin,
            "POST",
            path,
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(post("/console/audit/verify", "csrf=forged")?.status, 403);
    let verified = post("/console/audit/verify", &format!("csrf={csrf}"))?;
    assert_eq!(verified.status, 200);
    assert!(String::from_utf8_lossy(&verified.body).contains("Chain intact"));
    assert_eq!(post("/console/sign-out", "")?.status, 403);
    assert_eq!(
        post("/console/sign-out", &format!("csrf={csrf}"))?.status,
        303
    );
    // Signed out: the session no longer opens a page.
    let after = get("/console/audit")?;
    assert_eq!(
        (after.status, after.header("location")),
        (303, Some("/console/"))
    );
    // Revoking the credential ends its sessions at once.
    let again = sign_in(&gw, &auditor.ak, &auditor.sk)?.map_err(|r| format!("{r:?}"))?;
    let again = format!("tg_console={again}");
    let open = http(
        gw.admin,
        "GET",
        "/console/audit",
        &[("cookie", &again)],
        b"",
    )?;
    assert_eq!(open.status, 200);
    gw.cli(&["revoke", &auditor.ak])?;
    let closed = http(
        gw.admin,
        "GET",
        "/console/audit",
        &[("cookie", &again)],
        b"",
    )?;
    assert_eq!(closed.status, 303, "a revoked credential's session is over");
    // Without a session, nothing but the sign-in form.
    let anon = http(
        gw.admin,
        "GET",
        "/console/audit/export?format=csv",
        &[],
        b"",
    )?;
    assert_eq!(anon.status, 303);
    Ok(())
}

/// A signed-in browser: its cookie and the page's CSRF token.
struct Browser<'a> {
    gw: &'a Gateway,
    cookie: String,
    csrf: String,
}

impl Browser<'_> {
    fn open<'a>(gw: &'a Gateway, c: &tiergate_tests::harness::Cred) -> Result<Browser<'a>, String> {
        let session = sign_in(gw, &c.ak, &c.sk)?.map_err(|r| format!("{r:?}"))?;
        let cookie = format!("tg_console={session}");
        let first = http(
            gw.admin,
            "GET",
            "/console/audit",
            &[("cookie", &cookie)],
            b"",
        )?;
        let csrf = csrf_of(&first).ok_or("no csrf token")?;
        Ok(Browser { gw, cookie, csrf })
    }

    fn get(&self, path: &str) -> Result<(u16, String), String> {
        let r = http(self.gw.admin, "GET", path, &[("cookie", &self.cookie)], b"")?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<(u16, String), String> {
        let mut body = format!("csrf={}", self.csrf);
        for (k, v) in form {
            body.push_str(&format!("&{k}={}", enc(v)));
        }
        let r = http(
            self.gw.admin,
            "POST",
            path,
            &[
                ("cookie", &self.cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        )?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }
}

fn field_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let at = text.find(label)? + label.len();
    let rest = &text[at..];
    let start = rest.find("<code>")? + "<code>".len();
    let end = rest[start..].find("</code>")?;
    Some(&rest[start..start + end])
}

#[tokio::test(flavor = "multi_thread")]
async fn each_person_sees_and_changes_what_the_admin_api_lets_them() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start(sim.addr(), Db::Sqlite)?;
    let dist = gw.issue("dist-1")?;
    let res1 = gw.issue("res-1")?;
    let res2 = gw.issue("res-2")?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;

    // The distributor's platform team: every page, and the delegation tree to manage.
    let d = Browser::open(&gw, &dist)?;
    for page in [
        "/console/overview",
        "/console/tls",
        "/console/federation",
        "/console/money",
    ] {
        let (status, text) = d.get(page)?;
        assert_eq!(status, 200, "{page}: {text}");
    }
    let (_, overview) = d.get("/console/overview")?;
    assert!(overview.contains("Requests per minute") && overview.contains("<svg"));
    let signed = |c: &tiergate_tests::harness::Cred, m: &str, p: &str, b: &str| {
        tiergate_tests::harness::Signer {
            addr: gw.admin,
            ak: &c.ak,
            sk: &c.sk,
        }
        .send(m, p, "", b.as_bytes())
    };
    let root =
        r#"{"quota_id":"q-dist-1","id":"dist","grantee":"dist-1","limits":{"total":"1000"}}"#;
    assert_eq!(signed(&dist, "POST", "/delegations", root)?.status, 200);
    let grant = |b: &Browser<'_>, parent: &str, id: &str, grantee: &str, total: &str| {
        b.post(
            "/console/delegations/change",
            &[
                ("action", "grant"),
                ("quota_id", "q-dist-1"),
                ("id", parent),
                ("new_id", id),
                ("grantee", grantee),
                ("total", total),
                ("per_day", "100"),
            ],
        )
    };
    let (status, text) = grant(&d, "dist", "res-1", "res-1", "400")?;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("grant res-1: done"), "{text}");
    // Over the parent's grant: the ledger refuses, in words, and nothing changes.
    let (status, text) = grant(&d, "dist", "res-2", "res-2", "700")?;
    assert_eq!(status, 409, "{text}");
    assert!(
        text.contains("Refused:") && text.contains("TG.3012"),
        "{text}"
    );
    let (_, tree) = d.get("/console/delegations?quota_id=q-dist-1")?;
    assert!(
        tree.contains("granted below 400") && !tree.contains(">res-2<"),
        "{tree}"
    );
    assert!(tree.contains("GMT+08:00"), "{tree}");

    // A reseller: its own subtree, no gateway-wide pages.
    let r = Browser::open(&gw, &res1)?;
    assert_eq!(r.get("/console/overview")?.0, 403);
    assert_eq!(r.get("/console/tls")?.0, 403);
    let (_, nav) = r.get("/console/audit")?;
    assert!(
        !nav.contains("href=\"/console/tls\""),
        "no link to a page it may not open"
    );
    let (_, creds) = r.get("/console/credentials")?;
    assert!(creds.contains(&res1.ak) && !creds.contains(&res2.ak) && !creds.contains(&auditor.ak));
    let (_, records) = r.get("/console/audit")?;
    assert!(records.contains("res-1's subtree"), "{records}");
    // Every record shown is one it made or one that acted for it.
    let body = records.split("<tbody>").nth(1).unwrap_or_default();
    let rows: Vec<Vec<&str>> = body
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let inner = cell.split_once('>').map_or("", |(_, v)| v);
                    inner.split("</td>").next().unwrap_or_default()
                })
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "{records}");
    for row in &rows {
        // Columns: seq, at, kind, principal, credential, tier, operation, acting, ...
        assert!(
            row.get(3) == Some(&"res-1") || row.get(7) == Some(&"res-1"),
            "outside res-1's subtree: {row:?}"
        );
    }
    let (_, slices) = r.get("/console/delegations")?;
    assert!(
        slices.contains("res-1") && !slices.contains("<strong>dist</strong>"),
        "{slices}"
    );

    // It issues its own staff a credential (the secret shown once), never another's.
    let (status, text) = r.post(
        "/console/credentials/issue",
        &[
            ("reseller", "res-1"),
            ("staff", "carol"),
            ("role", "viewer"),
        ],
    )?;
    assert_eq!(status, 201, "{text}");
    let staff_ak = field_after(&text, "Access key: ")
        .ok_or("no access key shown")?
        .to_owned();
    let staff_sk = field_after(&text, "Secret key: ")
        .ok_or("no secret shown")?
        .to_owned();
    let (_, again) = r.get("/console/credentials")?;
    assert!(
        again.contains(&staff_ak) && !again.contains(&staff_sk),
        "the secret is shown once"
    );
    let (status, _) = r.post(
        "/console/credentials/issue",
        &[
            ("reseller", "res-2"),
            ("staff", "mallory"),
            ("role", "viewer"),
        ],
    )?;
    assert_eq!(status, 403);
    let (status, _) = r.post("/console/credentials/revoke", &[("access_key", &res2.ak)])?;
    assert_eq!(
        status, 403,
        "another reseller's credential is not its to revoke"
    );
    // Its staff member signs in and reads; then the reseller revokes them and the admin API
    // refuses the credential at once.
    let carol = tiergate_tests::harness::Cred {
        partner: "res-1".into(),
        ak: staff_ak.clone(),
        sk: staff_sk,
    };
    let c = Browser::open(&gw, &carol)?;
    assert_eq!(c.get("/console/delegations")?.0, 200);
    assert!(
        !c.get("/console/delegations")?.1.contains("Grant below"),
        "staff change nothing"
    );
    assert_eq!(signed(&carol, "GET", "/credentials", "")?.status, 200);
    let (status, text) = r.post("/console/credentials/revoke", &[("access_key", &staff_ak)])?;
    assert_eq!(status, 200, "{text}");
    assert_eq!(signed(&carol, "GET", "/credentials", "")?.status, 401);
    assert_eq!(
        c.get("/console/audit")?.0,
        303,
        "the revoked staff member's session is over"
    );

    // The same reads as JSON on the admin API, decided the same way.
    let r = signed(&res1, "GET", "/overview", "")?;
    assert_eq!(
        (r.status, r.json()["error_code"].clone()),
        (403, serde_json::json!("TG.2002"))
    );
    let r = signed(&dist, "GET", "/overview", "")?;
    assert_eq!(r.status, 200);
    assert!(r.json()["requests"].is_array() && r.json()["vendor_budget"].is_array());
    let listed = signed(&res1, "GET", "/credentials", "")?.json();
    let partners: Vec<&str> = listed["credentials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["partner_id"].as_str())
        .collect();
    assert!(
        !partners.is_empty() && partners.iter().all(|p| *p == "res-1"),
        "{listed}"
    );
    // When each credential was last used: the distributor's just now, res-2's never.
    let all = signed(&dist, "GET", "/credentials", "")?.json();
    let last_used = |ak: &str| {
        all["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["access_key"] == ak)
            .map(|c| c["last_used_at"].clone())
    };
    assert!(last_used(&dist.ak).is_some_and(|t| t.is_string()), "{all}");
    assert_eq!(last_used(&res2.ak), Some(serde_json::Value::Null), "{all}");
    let issued = signed(
        &dist,
        "POST",
        "/credentials",
        r#"{"reseller":"res-2","staff":"dave","role":"viewer"}"#,
    )?;
    assert_eq!(issued.status, 200, "{:?}", issued.json());
    let dave = issued.json()["access_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let revoked = signed(&auditor, "POST", &format!("/credentials/{dave}/revoke"), "")?;
    assert_eq!(
        (revoked.status, revoked.json()["revoked"].clone()),
        (200, serde_json::json!(true))
    );
    let verify = signed(&res1, "POST", "/audit/verify", "")?;
    assert_eq!(verify.status, 403, "only auditors verify");
    let verify = signed(&auditor, "POST", "/audit/verify", "")?;
    assert_eq!(
        (verify.status, verify.json()["intact"].clone()),
        (200, serde_json::json!(true))
    );
    // Every change is in the log, with who made it and through which door.
    let log = gw.audit("query", &["--kind", "credential"])?;
    assert!(
        log.contains("\"via\":\"console\"") && log.contains("\"via\":\"admin_api\""),
        "{log}"
    );
    // The auditor's overview shows the verification just run.
    let a = Browser::open(&gw, &auditor)?;
    let (_, overview) = a.get("/console/overview")?;
    assert!(
        overview.contains("Last verified") && overview.contains("intact"),
        "{overview}"
    );
    let (status, text) = a.post(
        "/console/delegations/change",
        &[
            ("action", "revoke"),
            ("quota_id", "q-dist-1"),
            ("id", "res-1"),
        ],
    )?;
    assert_eq!(
        status, 409,
        "auditors watch, they do not change delegations: {text}"
    );
    assert!(text.contains("TG.2002"), "{text}");
    let (_, tree) = d.get("/console/delegations?quota_id=q-dist-1")?;
    assert!(
        tree.contains("<strong>res-1</strong> → res-1 · active"),
        "nothing changed: {tree}"
    );
    Ok(())
}
