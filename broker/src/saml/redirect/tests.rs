use super::*;
use openssl::rsa::Rsa;

type R = Result<(), Box<dyn std::error::Error>>;

fn keys() -> Result<(PKey<Private>, PKey<Public>), openssl::error::ErrorStack> {
    let private = PKey::from_rsa(Rsa::generate(2048)?)?;
    let public = PKey::public_key_from_der(&private.public_key_to_der()?)?;
    Ok((private, public))
}

const XML: &str =
    r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="req-1"/>"#;

#[test]
fn a_signed_query_verifies_and_gives_back_message_and_relay_state() -> R {
    let (private, public) = keys()?;
    let q = sign(
        "SAMLRequest",
        XML,
        Some("https://console.example/x?a=1&b= 2"),
        &private,
    )?;
    let r = verify(&q, "SAMLRequest", &public)?;
    assert_eq!(r.xml, XML);
    assert_eq!(
        r.relay_state.as_deref(),
        Some("https://console.example/x?a=1&b= 2")
    );
    Ok(())
}

#[test]
fn the_signature_covers_the_bytes_as_sent() -> R {
    let (private, public) = keys()?;
    let q = sign("SAMLRequest", XML, Some("home"), &private)?;
    let other = q.replace("RelayState=home", "RelayState=evil");
    assert_eq!(
        verify(&other, "SAMLRequest", &public),
        Err(RedirectError::Signature)
    );
    let (_, stranger) = keys()?;
    assert_eq!(
        verify(&q, "SAMLRequest", &stranger),
        Err(RedirectError::Signature)
    );
    // Equivalent encodings are different bytes: not re-encoded, so not accepted.
    let reencoded = q.replacen("%3A", "%3a", 1);
    assert_eq!(
        verify(&reencoded, "SAMLRequest", &public),
        Err(RedirectError::Signature)
    );
    Ok(())
}

#[test]
fn unsigned_repeated_and_sha1_queries_are_refused() -> R {
    let (private, public) = keys()?;
    let q = sign("SAMLRequest", XML, None, &private)?;
    let unsigned = q.split("&SigAlg").next().unwrap_or_default().to_owned();
    assert_eq!(
        verify(&unsigned, "SAMLRequest", &public),
        Err(RedirectError::Parameter("SigAlg"))
    );
    let twice = format!("{q}&SAMLRequest=AAAA");
    assert_eq!(
        verify(&twice, "SAMLRequest", &public),
        Err(RedirectError::Parameter("SAMLRequest"))
    );
    let sha1 = q
        .replace("rsa-sha256", "rsa-sha1")
        .replace("xmldsig-more", "xmldsig");
    assert!(matches!(
        verify(&sha1, "SAMLRequest", &public),
        Err(RedirectError::Algorithm(_))
    ));
    Ok(())
}

#[test]
fn a_deflate_bomb_stops_at_the_cap() -> R {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&vec![b'a'; 10 * 1024 * 1024])?;
    let bomb = STANDARD.encode(enc.finish()?);
    assert!(bomb.len() < MAX_QUERY, "small on the wire");
    assert_eq!(inflate(&bomb), Err(RedirectError::TooLarge));
    assert_eq!(inflate("%%%"), Err(RedirectError::Encoding));
    Ok(())
}
