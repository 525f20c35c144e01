use super::*;

fn response(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><samlp:Response xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" xmlns:ds="{DSIG}" ID="r1" Destination="https://tg/acs" InResponseTo="req-1">{inner}</samlp:Response>"#
    )
}

fn assertion(name_id: &str, extra: &str) -> String {
    format!(
        r#"<saml:Assertion ID="a1"><saml:Issuer>idp</saml:Issuer>{extra}<saml:Subject><saml:NameID>{name_id}</saml:NameID></saml:Subject></saml:Assertion>"#
    )
}

fn signature(sig: &str, digest: &str, transform: &str) -> String {
    format!(
        r##"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="{transform}"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>x</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>x</ds:SignatureValue></ds:Signature>"##
    )
}

const RSA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

#[test]
fn a_plain_response_is_read() {
    let sig = signature(RSA256, SHA256, ENVELOPED);
    let s = scan(&response(&assertion("alice", &sig)));
    assert_eq!(
        s,
        Ok(Scan {
            response_id: Some("r1".into()),
            destination: Some("https://tg/acs".into()),
            in_response_to: Some("req-1".into()),
            assertion_id: Some("a1".into()),
            name_id: Some("alice".into()),
            issuer: Some("idp".into()),
        })
    );
}

#[test]
fn the_name_id_is_canonical_text_whatever_comments_or_references_it_holds() {
    let s = scan(&response(&assertion(
        "alice@res1.example<!-- cut -->.evil.example",
        "",
    )));
    assert_eq!(
        s.map(|s| s.name_id),
        Ok(Some("alice@res1.example.evil.example".into()))
    );
    let s = scan(&response(&assertion("a&amp;b&#65;<![CDATA[<c>]]>", "")));
    assert_eq!(s.map(|s| s.name_id), Ok(Some("a&bA<c>".into())));
}

#[test]
fn dtds_entities_and_processing_instructions_are_refused() {
    let dtd = format!(
        "<!DOCTYPE r [<!ENTITY x \"alice\">]>{}",
        response(&assertion("&x;", ""))
    );
    assert_eq!(scan(&dtd), Err(ScanError::Dtd));
    let entity = response(&assertion("&x;", ""));
    assert_eq!(scan(&entity), Err(ScanError::Entity("x".into())));
    let pi = response(&format!("<?evil x?>{}", assertion("a", "")));
    assert_eq!(scan(&pi), Err(ScanError::ProcessingInstruction));
}

#[test]
fn exactly_one_assertion_directly_in_the_response() {
    let two = response(&format!("{}{}", assertion("a", ""), assertion("b", "")));
    assert!(matches!(scan(&two), Err(ScanError::Assertions(_))));
    let none = response("");
    assert!(matches!(scan(&none), Err(ScanError::Assertions(_))));
    let wrapped = response(&format!(
        "<samlp:Extensions>{}</samlp:Extensions>",
        assertion("a", "")
    ));
    assert!(matches!(scan(&wrapped), Err(ScanError::Assertions(_))));
    let foreign_ns = response(r#"<x:Assertion xmlns:x="urn:evil" ID="a1"/>"#);
    assert!(matches!(scan(&foreign_ns), Err(ScanError::Assertions(_))));
    let encrypted = response("<saml:EncryptedAssertion/>");
    assert_eq!(scan(&encrypted), Err(ScanError::Encrypted));
    let not_response = format!(r#"<saml:Assertion xmlns:saml="{ASSERTION}"/>"#);
    assert_eq!(scan(&not_response), Err(ScanError::NotAResponse));
}

#[test]
fn signatures_only_where_they_belong_and_only_with_allowed_algorithms() {
    let sig = signature(RSA256, SHA256, ENVELOPED);
    let in_subject = response(&format!(
        r#"<saml:Assertion ID="a1"><saml:Subject>{sig}<saml:NameID>a</saml:NameID></saml:Subject></saml:Assertion>"#
    ));
    assert!(matches!(
        scan(&in_subject),
        Err(ScanError::MisplacedSignature(_))
    ));
    for (sig, digest, transform) in [
        (
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            SHA256,
            ENVELOPED,
        ),
        (RSA256, "http://www.w3.org/2000/09/xmldsig#sha1", ENVELOPED),
        (
            RSA256,
            SHA256,
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
        ),
        (
            RSA256,
            SHA256,
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
        ),
        (
            RSA256,
            SHA256,
            "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        ),
    ] {
        let doc = response(&assertion("a", &signature(sig, digest, transform)));
        assert!(
            matches!(scan(&doc), Err(ScanError::Algorithm { .. })),
            "{sig} {digest} {transform}"
        );
    }
}

#[test]
fn the_subject_has_exactly_one_plain_name_id() {
    let two = response(
        r#"<saml:Assertion ID="a1"><saml:Subject><saml:NameID>a</saml:NameID><saml:NameID>b</saml:NameID></saml:Subject></saml:Assertion>"#,
    );
    assert_eq!(scan(&two), Err(ScanError::NameId));
    let markup = response(&assertion("a<b>c</b>", ""));
    assert_eq!(scan(&markup), Err(ScanError::NameId));
    let none = response(r#"<saml:Assertion ID="a1"><saml:Subject/></saml:Assertion>"#);
    assert_eq!(scan(&none), Err(ScanError::NameId));
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}{}", "<x>".repeat(100), "</x>".repeat(100));
    let doc = response(&format!(
        "{}<samlp:Extensions>{deep}</samlp:Extensions>",
        assertion("a", "")
    ));
    assert_eq!(scan(&doc), Err(ScanError::TooDeep));
}
