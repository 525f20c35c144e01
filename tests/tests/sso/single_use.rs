//! What the sign-in chain answers once: the vendor's AuthnRequest (on one gateway and across
//! gateways sharing Redis, to a fresh browser and to one signed in already), our own request
//! to a reseller IdP (only from the browser that started it), and the vendor's bind
//! notifications (once, and only while fresh).

use super::{R, assert_refusal, body, capture_one, chain, path_of, reason};
use base64::Engine;
use serde_json::{Value, json};
use tiergate_tests::harness::{HttpResponse, http};
use tiergate_tests::sso::Browser;

/// The vendor console's login link followed to Tiergate: the path carrying the vendor's signed
/// AuthnRequest, as a browser (or whoever captured it) can send it.
fn vendor_request(c: &super::Chain, b: &mut Browser) -> Result<String, String> {
    let link = "/authui/saml/login?xAccountType=tiergate-dist-1&isFirstLogin=false&service=x";
    let r = b.get(c.sim.addr(), link)?;
    assert_eq!(r.status, 302, "{}", body(&r));
    let to_us = path_of(r.header("location").unwrap_or_default());
    assert!(to_us.starts_with("/saml/idp/sso?SAMLRequest="), "{to_us}");
    Ok(to_us)
}

/// The query of a redirect to a reseller IdP.
fn query_of(r: &HttpResponse) -> String {
    assert_eq!(r.status, 302, "{}", body(r));
    let location = r.header("location").unwrap_or_default();
    location
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default()
}

/// Refused as used already, and no Response in the answer.
fn assert_used(r: &HttpResponse) {
    assert_refusal(r, 403, "TG.7008");
    assert!(!body(r).contains("SAMLResponse"), "{}", body(r));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_request_is_answered_once_on_one_gateway() -> R {
    let c = chain().await?;
    let mut b = Browser::default();
    let to_us = vendor_request(&c, &mut b)?;
    // The discovery page does not spend it: the choice comes back with the same request.
    for _ in 0..2 {
        let page = b.get(c.sso, &to_us)?;
        assert_eq!(page.status, 200, "{}", body(&page));
        assert!(body(&page).contains("idp=res-1"), "{}", body(&page));
    }
    let picked = format!("{to_us}&idp=res-1");
    let q = query_of(&b.get(c.sso, &picked)?);

    // Sent on to the IdP once; again, from a fresh browser, whatever the choice: refused.
    assert_used(&Browser::default().get(c.sso, &picked)?);
    assert_used(&Browser::default().get(c.sso, &format!("{to_us}&idp=res-2"))?);

    // The rightful browser signs in ...
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "hana")?;
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert_eq!(c.to_vendor(&mut b, &page)?["name_id"], "res-1:hana");
    // ... and, signed in, is not answered from its session for the spent request either.
    assert_used(&b.get(c.sso, &picked)?);

    // A new request is answered from the session, once.
    let fresh = vendor_request(&c, &mut b)?;
    let page = b.get(c.sso, &fresh)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert_eq!(c.to_vendor(&mut b, &page)?["name_id"], "res-1:hana");
    assert_used(&b.get(c.sso, &fresh)?);

    // Counted like other refused input, not written one record each.
    let records = c.identity_records()?;
    assert!(
        records.iter().all(|r| r["outcome"] != "refused"),
        "{records:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_request_is_answered_once_across_gateways() -> R {
    let (c, _other, other_sso) = super::two_gateways().await?;

    // Sent on to the IdP by one gateway: refused by the other, to a fresh browser.
    let mut b = Browser::default();
    let picked = format!("{}&idp=res-1", vendor_request(&c, &mut b)?);
    let q = query_of(&b.get(c.sso, &picked)?);
    assert_used(&Browser::default().get(other_sso, &picked)?);

    // The browser signs in; the gateways share its session behind one public name.
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "ines")?;
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    c.to_vendor(&mut b, &page)?;
    b.same_site(c.sso, other_sso);

    // A request answered from the session by one gateway: the other does not answer it again.
    let fresh = vendor_request(&c, &mut b)?;
    let page = b.get(c.sso, &fresh)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert_used(&b.get(other_sso, &fresh)?);

    // Someone else's request, sent on by the other gateway, then replayed into the signed-in
    // browser: no Response naming this user.
    let mut someone = Browser::default();
    let theirs = vendor_request(&c, &mut someone)?;
    query_of(&someone.get(other_sso, &format!("{theirs}&idp=res-1"))?);
    assert_used(&b.get(c.sso, &theirs)?);
    assert_used(&b.get(other_sso, &theirs)?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_posted_from_another_browser_is_refused_and_spends_nothing() -> R {
    let c = chain().await?;
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-1", "https://console.vendor.example/home")?;
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "ivan")?;

    // Captured on its way and posted first, by a browser without the request's cookie ...
    let stolen = c.acs(&mut Browser::default(), &saml, None)?;
    assert_refusal(&stolen, 403, "TG.7002");
    assert!(
        reason(&c.gw, &stolen)?.contains("another browser"),
        "{}",
        body(&stolen)
    );
    // ... or with the cookie of a request of its own.
    let mut mallory = Browser::default();
    c.to_reseller(&mut mallory, "res-1", "https://console.vendor.example/home")?;
    assert_refusal(&c.acs(&mut mallory, &saml, None)?, 403, "TG.7002");
    assert_eq!(
        c.whoami(&mut mallory)?.status,
        401,
        "no session for mallory"
    );

    // The rightful browser still signs in, and its request's cookie is cleared.
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert!(
        page.headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with("tg_rq_") && v.contains("Max-Age=0")),
        "{:?}",
        page.headers
    );
    assert_eq!(c.to_vendor(&mut b, &page)?["name_id"], "res-1:ivan");
    assert_eq!(c.whoami(&mut b)?.status, 200);
    // Spent now, even for the browser that asked.
    assert_refusal(&c.acs(&mut b, &saml, None)?, 403, "TG.7002");
    Ok(())
}

/// The `timestamp` of a `bindRequest=..&SigAlg=..&Signature=..` body.
fn timestamp(form: &str) -> Result<i64, String> {
    let b64 = tiergate_tests::sso::param(form, "bindRequest")?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    v["timestamp"]
        .as_i64()
        .ok_or_else(|| format!("no timestamp: {v}"))
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bind_notification_is_used_once_and_only_while_fresh() -> R {
    let c = chain().await?;
    let notify = |form: &str| {
        let ct = [("content-type", "application/x-www-form-urlencoded")];
        http(c.sso, "POST", "/saml/notify", &ct, form.as_bytes())
    };
    let n = json!({"xUserId": "res-1:judy", "domainId": "cust-r1-a", "domainName": "acme",
                   "bindAction": "bind"});
    let (forwarded, server) = capture_one(c.notify.try_clone().map_err(|e| e.to_string())?);
    let sent = c.notify_as_vendor(&n)?;
    assert_eq!(sent["partner_status"], 200, "{sent}");
    let form = sent["form"].as_str().ok_or("no form")?.to_owned();

    // Forwarded to the reseller platform with a timestamp of its own, fresh.
    let _ = server.join();
    let forwarded = forwarded.recv().map_err(|e| e.to_string())?;
    let age = now_ms() - timestamp(&forwarded)?;
    assert!((0..60_000).contains(&age), "forwarded {age} ms ago");

    // The same bytes again, at once: refused.
    assert_refusal(&notify(&form)?, 403, "TG.7008");

    // Signed by the vendor but stale, or from the future, or without a timestamp.
    let mut unbind = n.clone();
    unbind["bindAction"] = json!("unbind");
    for at in [
        json!(now_ms() - 600_000),
        json!(now_ms() + 600_000),
        Value::Null,
    ] {
        let mut old = unbind.clone();
        old["timestamp"] = at.clone();
        let sent = c.notify_as_vendor(&old)?;
        assert_eq!(sent["partner_status"], 400, "{at}: {sent}");
        let r = notify(sent["form"].as_str().ok_or("no form")?)?;
        assert_refusal(&r, 400, "TG.7003");
        assert!(body(&r).contains("timestamp"), "{}", body(&r));
    }

    // Only the first one changed anything: judy is still bound.
    let records = c.identity_records()?;
    let binds: Vec<&Value> = records
        .iter()
        .filter(|r| r["operation"] == "bind")
        .collect();
    assert_eq!(binds.len(), 1, "{binds:?}");
    assert_eq!(binds[0]["detail"]["bind_action"], "bind");
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-1", "https://console.vendor.example/home")?;
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "judy")?;
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert_eq!(c.whoami(&mut b)?.json()["customer_id"], "cust-r1-a");
    Ok(())
}
