//! What the sign-in chain answers once: the vendor's AuthnRequest (on one gateway and across
//! gateways sharing Redis, to a fresh browser and to one signed in already).

use super::{R, assert_refusal, body, chain, path_of};
use tiergate_tests::harness::HttpResponse;
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
