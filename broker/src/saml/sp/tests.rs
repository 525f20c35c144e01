//! Attack tests of the SP side: every validation point, with Responses signed by xmlsec (through
//! samael) from templates, then altered the way known attacks alter them.

use super::*;
use chrono::SecondsFormat;
use samael::crypto::{Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};

const SP_ENTITY: &str = "https://tiergate.example/saml/sp";
const ACS: &str = "https://tiergate.example/saml/acs";
const IDP_ENTITY: &str = "https://idp.res-1.example/saml";
const RSA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

struct Key {
    der: Vec<u8>,
    cert_b64: String,
}

fn key() -> Key {
    let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048));
    let Ok(idp) = idp else {
        return Key {
            der: Vec::new(),
            cert_b64: String::new(),
        };
    };
    let cert = idp.create_certificate(&CertificateParams {
        common_name: "idp",
        issuer_name: "idp",
        days_until_expiration: 30,
    });
    Key {
        der: idp.export_private_key_der().unwrap_or_default(),
        cert_b64: cert
            .map(|c| base64::engine::general_purpose::STANDARD.encode(c.der_data()))
            .unwrap_or_default(),
    }
}

fn metadata(entity: &str, cert_b64: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.res-1.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

fn registration(k: &Key, idp_initiated: bool) -> ResellerIdp {
    let r = ResellerIdp::from_metadata("res-1", &metadata(IDP_ENTITY, &k.cert_b64), idp_initiated);
    assert!(r.is_ok(), "{r:?}");
    r.unwrap_or_else(|_| ResellerIdp {
        reseller: String::new(),
        metadata: EntityDescriptor::default(),
        idp_initiated: false,
    })
}

fn sp() -> Sp {
    Sp {
        entity_id: SP_ENTITY.into(),
        acs_url: ACS.into(),
    }
}

fn at(offset_secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(offset_secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What goes into a Response; each test changes what its attack needs.
#[derive(Clone)]
struct P {
    issuer: String,
    destination: Option<String>,
    in_response_to: Option<String>,
    recipient: String,
    audience: Option<String>,
    name_id: String,
    not_before: i64,
    not_on_or_after: i64,
    signature_method: String,
    digest_method: String,
    signed: bool,
    id: String,
}

impl Default for P {
    fn default() -> Self {
        Self {
            issuer: IDP_ENTITY.into(),
            destination: Some(ACS.into()),
            in_response_to: Some("req-1".into()),
            recipient: ACS.into(),
            audience: Some(SP_ENTITY.into()),
            name_id: "alice@res-1".into(),
            not_before: -10,
            not_on_or_after: 300,
            signature_method: RSA256.into(),
            digest_method: SHA256.into(),
            signed: true,
            id: "_a1".into(),
        }
    }
}

fn assertion_xml(p: &P, cert_b64: &str) -> String {
    let irt = p
        .in_response_to
        .as_ref()
        .map(|i| format!(r#" InResponseTo="{i}""#))
        .unwrap_or_default();
    let signature = if p.signed {
        format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sm}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{dm}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
            sm = p.signature_method,
            dm = p.digest_method,
            id = p.id,
        )
    } else {
        String::new()
    };
    let audience = p
        .audience
        .as_ref()
        .map(|a| format!("<saml:AudienceRestriction><saml:Audience>{a}</saml:Audience></saml:AudienceRestriction>"))
        .unwrap_or_default();
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{name}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{recipient}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{until}">{audience}</saml:Conditions><saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{name}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
        id = p.id,
        now = at(0),
        issuer = p.issuer,
        name = p.name_id,
        until = at(p.not_on_or_after),
        nb = at(p.not_before),
        recipient = p.recipient,
    )
}

fn response_xml(p: &P, assertion: &str) -> String {
    let dest = p
        .destination
        .as_ref()
        .map(|d| format!(r#" Destination="{d}""#))
        .unwrap_or_default();
    let irt = p
        .in_response_to
        .as_ref()
        .map(|i| format!(r#" InResponseTo="{i}""#))
        .unwrap_or_default();
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="{now}"{dest}{irt}><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
        now = at(0),
        issuer = p.issuer,
    )
}

/// A Response with its Assertion signed by `k`.
fn signed(k: &Key, p: &P) -> String {
    let xml = response_xml(p, &assertion_xml(p, &k.cert_b64));
    if !p.signed {
        return xml;
    }
    let s = Crypto::sign_xml(&xml, &k.der);
    assert!(s.is_ok(), "{s:?}");
    s.unwrap_or_default()
}

fn check(xml: &str, reg: &ResellerIdp, expect: Expect<'_>) -> Result<Login, Refusal> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    let (xml, scan) = decode(&b64)?;
    verify(&xml, &scan, &sp(), reg, expect)
}

#[test]
fn a_signed_response_from_the_registered_idp_signs_the_user_in() {
    let k = key();
    let reg = registration(&k, false);
    let login = check(&signed(&k, &P::default()), &reg, Expect::Request("req-1"));
    assert!(login.is_ok(), "{login:?}");
    let Ok(login) = login else { return };
    assert_eq!(login.reseller, "res-1");
    assert_eq!(login.name_id, "alice@res-1");
    assert_eq!(login.assertion_id, "_a1");
    assert_eq!(
        login.attributes.get("mail"),
        Some(&vec!["alice@res-1".to_owned()])
    );
    assert!(login.expires > Utc::now() + chrono::Duration::seconds(300));
}

#[test]
fn unsigned_tampered_and_foreign_key_responses_are_refused() {
    let k = key();
    let reg = registration(&k, false);
    let unsigned = signed(
        &k,
        &P {
            signed: false,
            ..P::default()
        },
    );
    assert_eq!(
        check(&unsigned, &reg, Expect::Request("req-1")),
        Err(Refusal::Signature)
    );

    let tampered = signed(&k, &P::default()).replace("alice@res-1", "admin@res-1");
    assert_eq!(
        check(&tampered, &reg, Expect::Request("req-1")),
        Err(Refusal::Signature)
    );

    // Signed by another key whose certificate rides along in KeyInfo: KeyInfo is not trusted.
    let mallory = key();
    let foreign = signed(&mallory, &P::default());
    assert!(foreign.contains(&mallory.cert_b64));
    assert_eq!(
        check(&foreign, &reg, Expect::Request("req-1")),
        Err(Refusal::Signature)
    );

    // Another reseller's IdP, registered with its own key, cannot sign in for res-1.
    let res2 = key();
    let res2_response = signed(&res2, &P::default());
    assert_eq!(
        check(&res2_response, &reg, Expect::Request("req-1")),
        Err(Refusal::Signature)
    );
}

#[test]
fn signature_wrapping_in_its_known_forms_is_refused() {
    let k = key();
    let reg = registration(&k, false);
    let p = P::default();
    let good = signed(&k, &p);
    let evil_p = P {
        name_id: "admin@res-2".into(),
        signed: false,
        ..P::default()
    };
    let evil = assertion_xml(&evil_p, &k.cert_b64);
    let start = good.find("<saml:Assertion").unwrap_or_default();
    let end = good
        .find("</saml:Assertion>")
        .map_or(0, |e| e + "</saml:Assertion>".len());
    let original = &good[start..end];
    let head = &good[..start];
    let tail = &good[end..];
    let attacks = [
        // An unsigned assertion before the signed one.
        format!("{head}{evil}{original}{tail}"),
        // After it.
        format!("{head}{original}{evil}{tail}"),
        // The signed one hidden in Extensions, the evil one in its place.
        format!("{head}<samlp:Extensions>{original}</samlp:Extensions>{evil}{tail}"),
        // The signed one in a ds:Object of the evil one's Signature (both carry ID _a1).
        format!(
            "{head}{}{tail}",
            evil.replacen(
                "<saml:Subject>",
                &format!(
                    r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Object>{original}</ds:Object></ds:Signature><saml:Subject>"#
                ),
                1
            )
        ),
        // The signed one inside the evil one (in its Subject).
        format!(
            "{head}{}{tail}",
            evil.replacen("<saml:Subject>", &format!("<saml:Subject>{original}"), 1)
        ),
        // The whole signed Response wrapped by an evil one.
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_evil" Version="2.0" IssueInstant="{}" Destination="{ACS}" InResponseTo="req-1"><samlp:Extensions>{good}</samlp:Extensions>{evil}</samlp:Response>"#,
            at(0)
        ),
    ];
    for (i, a) in attacks.iter().enumerate() {
        let r = check(a, &reg, Expect::Request("req-1"));
        assert!(
            matches!(r, Err(Refusal::Scan(_) | Refusal::Signature)),
            "attack {i}: {r:?}"
        );
    }
}

#[test]
fn sha1_is_refused_even_when_the_signature_is_good() {
    let k = key();
    let reg = registration(&k, false);
    for (sm, dm) in [
        ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", SHA256),
        (RSA256, "http://www.w3.org/2000/09/xmldsig#sha1"),
    ] {
        let p = P {
            signature_method: sm.into(),
            digest_method: dm.into(),
            ..P::default()
        };
        let r = check(&signed(&k, &p), &reg, Expect::Request("req-1"));
        assert!(
            matches!(r, Err(Refusal::Scan(ScanError::Algorithm { .. }))),
            "{r:?}"
        );
    }
}

#[test]
fn issuer_audience_recipient_and_destination_must_be_exact() {
    let k = key();
    let reg = registration(&k, false);
    let cases = [
        P {
            issuer: "https://idp.res-2.example/saml".into(),
            ..P::default()
        },
        P {
            audience: Some("https://other-sp.example".into()),
            ..P::default()
        },
        P {
            audience: None,
            ..P::default()
        },
        P {
            recipient: "https://tiergate.example/saml/acs/".into(),
            ..P::default()
        },
        P {
            destination: Some("https://evil.example/acs".into()),
            ..P::default()
        },
        P {
            destination: None,
            ..P::default()
        },
    ];
    for (i, p) in cases.iter().enumerate() {
        let r = check(&signed(&k, p), &reg, Expect::Request("req-1"));
        assert!(
            matches!(
                r,
                Err(Refusal::Invalid(_) | Refusal::Audience(_) | Refusal::Destination(_))
            ),
            "case {i}: {r:?}"
        );
    }
}

#[test]
fn validity_allows_three_minutes_of_skew_and_no_more() {
    let k = key();
    let reg = registration(&k, false);
    let within = P {
        not_on_or_after: -120,
        not_before: -400,
        ..P::default()
    };
    let r = check(&signed(&k, &within), &reg, Expect::Request("req-1"));
    assert!(
        r.is_ok(),
        "expired two minutes ago is within the skew: {r:?}"
    );
    let expired = P {
        not_on_or_after: -240,
        not_before: -400,
        ..P::default()
    };
    let r = check(&signed(&k, &expired), &reg, Expect::Request("req-1"));
    assert!(matches!(r, Err(Refusal::Invalid(_))), "{r:?}");
    let early = P {
        not_before: 240,
        not_on_or_after: 600,
        ..P::default()
    };
    let r = check(&signed(&k, &early), &reg, Expect::Request("req-1"));
    assert!(matches!(r, Err(Refusal::Invalid(_))), "{r:?}");
}

#[test]
fn in_response_to_must_answer_our_request_and_unsolicited_logins_need_consent() {
    let k = key();
    let reg = registration(&k, false);
    let r = check(&signed(&k, &P::default()), &reg, Expect::Request("req-2"));
    assert_eq!(r, Err(Refusal::InResponseTo));
    let unsolicited = P {
        in_response_to: None,
        ..P::default()
    };
    let r = check(&signed(&k, &unsolicited), &reg, Expect::Unsolicited);
    assert_eq!(r, Err(Refusal::Unsolicited));
    let allowing = registration(&k, true);
    let r = check(&signed(&k, &unsolicited), &allowing, Expect::Unsolicited);
    assert!(r.is_ok(), "{r:?}");
    // A response naming a request cannot pass as unsolicited.
    let r = check(&signed(&k, &P::default()), &allowing, Expect::Unsolicited);
    assert_eq!(r, Err(Refusal::InResponseTo));
}

#[test]
fn a_comment_in_the_name_id_cannot_truncate_it() {
    let k = key();
    let reg = registration(&k, false);
    let p = P {
        name_id: "alice@res-1<!-- x -->.evil.example".into(),
        ..P::default()
    };
    let r = check(&signed(&k, &p), &reg, Expect::Request("req-1"));
    // Refusing is as good as reading it whole (xmlsec refuses this one); truncating is not.
    match r {
        Ok(login) => assert_eq!(login.name_id, "alice@res-1.evil.example"),
        Err(e) => assert!(matches!(e, Refusal::NameId | Refusal::Signature), "{e:?}"),
    }
}

#[test]
fn oversized_and_undecodable_input_is_refused_before_parsing() {
    let big = "A".repeat(MAX_RESPONSE + 4);
    assert_eq!(decode(&big).map(|_| ()), Err(Refusal::TooLarge));
    assert_eq!(decode("@@not base64@@").map(|_| ()), Err(Refusal::Encoding));
}

#[test]
fn metadata_without_a_signing_key_or_with_a_dtd_is_not_registered() {
    let no_key = metadata(IDP_ENTITY, "").replace(
        r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
        "",
    );
    assert!(matches!(
        ResellerIdp::from_metadata("res-1", &no_key, false),
        Err(MetadataError::Invalid(_))
    ));
    let dtd = format!(
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        metadata(IDP_ENTITY, "AAAA")
    );
    assert!(matches!(
        ResellerIdp::from_metadata("res-1", &dtd, false),
        Err(MetadataError::Unsafe(_))
    ));
}
