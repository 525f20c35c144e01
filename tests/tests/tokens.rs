//! Token mode on the admin listener: staff and auditors trade a signed request for a
//! short-lived bearer token, verifiable by anyone with the JWKS (checked here with the
//! jsonwebtoken crate, not Tiergate's own verifier), accepted by the admin API only while the
//! credential behind it is active.

use serde_json::Value;
use tiergate_tests::harness::{Cred, Gateway, HttpResponse, Signer, fixture, http, start_sim};

type R = Result<(), String>;

const TOKEN_KEY: &str = "MFECAQEwBQYDK2VwBCIEICcNI6E8crezj1ExS2q5PfLOkpHarhVjjZGBN34rZdn6gSEAKFNe/UHMeOMjBk9Em1KjD/xwQMFwdxG49ZPh0erVv60=";

fn tokens_section() -> String {
    format!("[tokens]\nsigning_key = {{ value = \"{TOKEN_KEY}\" }}\nttl = \"5m\"\n")
}

fn token_for(gw: &Gateway, c: &Cred) -> Result<HttpResponse, String> {
    let signer = Signer {
        addr: gw.admin,
        ak: &c.ak,
        sk: &c.sk,
    };
    signer.send("POST", "/tokens", "", b"{}")
}

fn records_with(gw: &Gateway, token: &str) -> Result<HttpResponse, String> {
    let auth = format!("Bearer {token}");
    http(
        gw.admin,
        "GET",
        "/audit/records?kind=credential",
        &[("authorization", &auth)],
        b"",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn auditors_and_staff_get_tokens_that_the_jwks_verifies() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), &tokens_section())?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let staff = [
        "--staff",
        "alice",
        "--reseller",
        "res-1",
        "--role",
        "viewer",
    ];
    let alice = gw.issue_with("res-1", &staff, &[])?;
    let reseller = gw.issue("res-1")?;

    let r = token_for(&gw, &auditor)?;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 300);
    let token = v["access_token"].as_str().unwrap_or_default().to_owned();

    // Anyone can check it with the published keys and a standard JWT library.
    let jwks = http(gw.admin, "GET", "/.well-known/jwks.json", &[], b"")?;
    assert_eq!(jwks.status, 200);
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(&jwks.body).map_err(|e| e.to_string())?;
    let header = jsonwebtoken::decode_header(&token).map_err(|e| e.to_string())?;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = header
        .kid
        .as_deref()
        .and_then(|k| set.find(k))
        .ok_or("the token's kid is in the JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["tiergate-admin"]);
    validation.set_issuer(&["tiergate"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .map_err(|e| e.to_string())?
        .claims;
    assert_eq!(claims["sub"], auditor.ak.as_str());
    assert_eq!(claims["tier"], "auditor");

    // The token opens the audit records, and the issue itself is in them.
    let r = records_with(&gw, &token)?;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let issued = r.json()["records"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|x| x["operation"] == "token_issued" && x["credential"] == auditor.ak)
                .count()
        })
        .unwrap_or_default();
    assert_eq!(
        issued,
        1,
        "the token issue is audited: {}",
        String::from_utf8_lossy(&r.body)
    );

    // Staff get tokens too; partners' own machine credentials keep signing.
    let r = token_for(&gw, &alice)?;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let staff_token = r.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Staff read their reseller's subtree only: not the auditor's token issue.
    let r = records_with(&gw, &staff_token)?;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = r.json()["records"].as_array().cloned().unwrap_or_default();
    assert!(
        seen.iter().any(|x| x["credential"] == alice.ak.as_str()),
        "its own credential's records: {seen:?}"
    );
    for x in &seen {
        assert!(
            x["principal"] == "res-1" || x["acting"] == "res-1",
            "outside the reseller's subtree: {x}"
        );
    }
    let r = token_for(&gw, &reseller)?;
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_tampered_and_orphaned_tokens_are_refused() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), &tokens_section())?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let r = token_for(&gw, &auditor)?;
    let token = r.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);

    // The payload changed (a claim rewritten), the signature kept.
    let payload = parts.get(1).copied().unwrap_or_default();
    let mut bytes = payload.as_bytes().to_vec();
    if let Some(b) = bytes.get_mut(5) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8_lossy(&bytes),
        parts[2]
    );
    // `alg: none` with the same claims and no signature.
    let none = format!(
        "{}.{}.",
        base64url(r#"{"alg":"none","typ":"JWT"}"#),
        payload
    );
    for bad in [tampered.as_str(), none.as_str(), "not-a-token"] {
        let r = records_with(&gw, bad)?;
        assert_eq!(r.status, 401, "{bad}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error_code"], "TG.1009");
    }

    assert_eq!(records_with(&gw, &token)?.status, 200);
    gw.cli(&["revoke", &auditor.ak])?;
    let r = records_with(&gw, &token)?;
    assert_eq!(r.status, 401, "revoking the credential ends its tokens");
    assert_eq!(r.json()["error_code"], "TG.1009");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_tokens_section_token_mode_is_off() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), "")?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let r = token_for(&gw, &auditor)?;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error_code"], "TG.1010");
    let r = records_with(&gw, "eyJhbGciOiJFZERTQSJ9.e30.AAAA")?;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error_code"], "TG.1009");
    Ok(())
}

fn base64url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_captured_token_request_sent_again_yields_no_second_token() -> R {
    let sim = start_sim(fixture()?).await?;
    let gw = Gateway::start_with(sim.addr(), &tokens_section())?;
    let auditor = gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let signer = Signer {
        addr: gw.admin,
        ak: &auditor.ak,
        sk: &auditor.sk,
    };
    // Captured on the wire: the same signed bytes, sent again.
    let headers = signer.headers(
        "POST",
        "/tokens",
        "",
        b"{}",
        time::OffsetDateTime::now_utc(),
    );
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let first = http(gw.admin, "POST", "/tokens", &refs, b"{}")?;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    for _ in 0..2 {
        let again = http(gw.admin, "POST", "/tokens", &refs, b"{}")?;
        assert_eq!(
            (again.status, again.json()["error_code"].clone()),
            (401, Value::from("TG.1012")),
            "{}",
            String::from_utf8_lossy(&again.body)
        );
        assert!(again.json()["access_token"].is_null());
    }
    // Signed anew (a later date), the credential gets its next token.
    let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let fresh = signer.send_at("POST", "/tokens", "", b"{}", later)?;
    assert_eq!(
        fresh.status,
        200,
        "{}",
        String::from_utf8_lossy(&fresh.body)
    );
    Ok(())
}
