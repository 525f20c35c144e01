//! The vendor side, against samael's SP as the vendor (a client we did not write): its signed
//! Redirect AuthnRequest is accepted, and it accepts our signed Response.

use super::*;
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;

type R = Result<(), Box<dyn std::error::Error>>;

const VENDOR: &str = "https://auth.vendor.example/saml/sp";
const VENDOR_ACS: &str = "https://auth.vendor.example/saml/acs";
const SSO: &str = "https://tiergate.example/saml/idp/sso";

struct Party {
    key: PKey<Private>,
    cert_der: Vec<u8>,
}

fn party() -> Result<Party, Box<dyn std::error::Error>> {
    let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048))?;
    let cert = idp.create_certificate(&CertificateParams {
        common_name: "x",
        issuer_name: "x",
        days_until_expiration: 30,
    })?;
    let key = PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(
        &idp.export_private_key_der()?,
    )?)?;
    Ok(Party {
        key,
        cert_der: cert.der_data().to_vec(),
    })
}

fn our_idp(p: &Party) -> Result<Idp, Box<dyn std::error::Error>> {
    let key = p.key.private_key_to_pem_pkcs8()?;
    let cert = openssl::x509::X509::from_der(&p.cert_der)?.to_pem()?;
    Ok(Idp::new(
        "https://tiergate.example/saml/idp",
        SSO,
        &key,
        &cert,
    )?)
}

fn vendor_sp(
    entity: &str,
    v: &Party,
    idp: &Idp,
) -> Result<ServiceProvider, Box<dyn std::error::Error>> {
    Ok(ServiceProviderBuilder::default()
        .entity_id(entity.to_owned())
        .acs_url(VENDOR_ACS.to_owned())
        .certificate(samael::crypto::CertificateDer::from(v.cert_der.clone()))
        .key(v.key.clone())
        .idp_metadata(idp.metadata().parse::<EntityDescriptor>()?)
        .allowed_signature_algorithms(vec![samael::crypto::AllowedSignatureAlgorithm::RsaSha256])
        .build()?)
}

fn login_query(
    sp: &ServiceProvider,
    v: &Party,
    relay: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let req = sp.make_authentication_request(SSO)?;
    let id = req.id.clone();
    let url = req.signed_redirect(relay, &v.key)?.ok_or("no url")?;
    Ok((url.query().unwrap_or_default().to_owned(), id))
}

fn who() -> Identity {
    Identity {
        x_user_id: "res-1:alice".into(),
        x_account_type: "tiergate_dist-1".into(),
        partner_id: "dist-1".into(),
    }
}

#[test]
fn the_vendor_request_is_accepted_and_our_response_is_accepted_by_the_vendor() -> R {
    let (us, vendor) = (party()?, party()?);
    let idp = our_idp(&us)?;
    let sp = vendor_sp(VENDOR, &vendor, &idp)?;
    let vendor_md = VendorSp::from_metadata(&sp.metadata()?.to_string()?)?;
    assert_eq!(
        (vendor_md.entity_id.as_str(), vendor_md.acs_url.as_str()),
        (VENDOR, VENDOR_ACS)
    );

    let (query, id) = login_query(&sp, &vendor, "https://console.vendor.example/home")?;
    let before = Utc::now();
    let accepted = idp.accept(&query, &vendor_md)?;
    // Its use must be remembered as long as it could be accepted again, and no longer.
    let lasts = accepted.usable_until - before;
    assert!(
        lasts > REQUEST_WINDOW - chrono::Duration::seconds(5) && lasts <= REQUEST_WINDOW,
        "{lasts}"
    );
    let incoming = accepted.incoming;
    assert_eq!(incoming.id, id);
    assert_eq!(
        incoming.relay_state.as_deref(),
        Some("https://console.vendor.example/home")
    );

    let b64 = idp.respond(Some(&incoming), &vendor_md, &who())?;
    let assertion = sp.parse_base64_response(&b64, Some(&[id.as_str()]))?;
    let name = assertion.subject.and_then(|s| s.name_id).map(|n| n.value);
    assert_eq!(name.as_deref(), Some("res-1:alice"));
    let attrs: Vec<(Option<String>, Option<String>)> = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .map(|a| {
            (
                a.name.clone(),
                a.values.first().and_then(|v| v.value.clone()),
            )
        })
        .collect();
    assert!(attrs.contains(&(Some("xUserId".into()), Some("res-1:alice".into()))));
    assert!(attrs.contains(&(Some("xAccountType".into()), Some("tiergate_dist-1".into()))));

    // Not for another request id, and not for a Response altered after signing.
    assert!(sp.parse_base64_response(&b64, Some(&["other"])).is_err());
    let xml = String::from_utf8(STANDARD.decode(&b64)?)?;
    let forged = STANDARD.encode(xml.replace("res-1:alice", "res-2:bob"));
    assert!(
        sp.parse_base64_response(&forged, Some(&[id.as_str()]))
            .is_err()
    );
    Ok(())
}

#[test]
fn requests_not_signed_by_the_vendor_or_not_for_us_are_refused() -> R {
    let (us, vendor, mallory) = (party()?, party()?, party()?);
    let idp = our_idp(&us)?;
    let sp = vendor_sp(VENDOR, &vendor, &idp)?;
    let vendor_md = VendorSp::from_metadata(&sp.metadata()?.to_string()?)?;

    let (query, _) = login_query(&sp, &vendor, "home")?;
    let tampered = query.replace("RelayState=home", "RelayState=https%3A%2F%2Fevil.example");
    assert!(matches!(
        idp.accept(&tampered, &vendor_md),
        Err(IdpError::Redirect(RedirectError::Signature))
    ));
    let unsigned = query.split("&SigAlg").next().unwrap_or_default().to_owned();
    assert!(matches!(
        idp.accept(&unsigned, &vendor_md),
        Err(IdpError::Redirect(_))
    ));

    // Signed with another key.
    let (forged, _) = login_query(&sp, &mallory, "home")?;
    assert!(matches!(
        idp.accept(&forged, &vendor_md),
        Err(IdpError::Redirect(RedirectError::Signature))
    ));

    // Signed by the vendor's key but issued as another SP.
    let other = vendor_sp("https://other.example/sp", &vendor, &idp)?;
    let (query, _) = login_query(&other, &vendor, "home")?;
    assert!(matches!(
        idp.accept(&query, &vendor_md),
        Err(IdpError::Request(_))
    ));

    // An old request.
    let mut req = sp.make_authentication_request(SSO)?;
    req.issue_instant = Utc::now() - chrono::Duration::seconds(600);
    let url = req.signed_redirect("home", &vendor.key)?.ok_or("no url")?;
    let old = url.query().unwrap_or_default();
    assert!(matches!(
        idp.accept(old, &vendor_md),
        Err(IdpError::Request(_))
    ));
    Ok(())
}

#[test]
fn the_post_form_escapes_what_it_carries() {
    let html = post_form(VENDOR_ACS, "PHNhbWw+", Some(r#""><script>x</script>"#));
    assert!(html.contains(r#"action="https://auth.vendor.example/saml/acs""#));
    assert!(!html.contains("<script>x"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
}
