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
    let reseller = sign_in(&gw, &res1.ak, &res1.sk)?.err().ok_or("signed in")?;
    assert_eq!(reseller.status, 401);
    assert!(String::from_utf8_lossy(&reseller.body).contains("auditors"));

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
    assert_eq!(
        page.header("content-security-policy")
            .map(|c| c.contains("default-src 'none'")),
        Some(true)
    );
    // Values are escaped: what a caller could put in a record is never markup here.
    assert!(!text.contains("<script"), "{text}");

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
