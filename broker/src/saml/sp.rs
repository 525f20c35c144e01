//! Tiergate as the SP of every reseller's IdP: one SP entity (one ACS), one registration per
//! reseller IdP with that IdP's signing certificates pinned from its registered metadata.
//!
//! A Response is accepted only when, in this order: it is small enough and base64; the
//! structural [`scan`](super::scan) passes; samael verifies a signature over it (or its
//! Assertion) made by one of the pinned certificates, with the algorithms allowed here, and
//! reduces the document to what is signed; and the signed content then says, exactly, our
//! Destination, Recipient and Audience, the registered Issuer, times within three minutes'
//! skew, the expected `InResponseTo` (or none, for an IdP-initiated login the registration
//! allows), and the same NameID the scan read as canonical text. The assertion id's single use
//! is the caller's to enforce ([`super::replay`]), until [`Login::expires`].

use super::scan::{Scan, ScanError, scan};
use base64::Engine;
use chrono::{DateTime, Utc};
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::ServiceProviderBuilder;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The largest `SAMLResponse` form field accepted (base64 characters).
pub const MAX_RESPONSE: usize = 256 * 1024;
/// Clock skew accepted either side.
pub const SKEW: chrono::Duration = chrono::Duration::seconds(180);

/// Tiergate's SP endpoint.
#[derive(Debug, Clone)]
pub struct Sp {
    /// Our SP entity id (the Audience every reseller IdP must name).
    pub entity_id: String,
    /// Our ACS URL (Destination and Recipient).
    pub acs_url: String,
}

impl Sp {
    /// The SP metadata every reseller IdP imports (`cert_b64`: our signing certificate, DER
    /// base64; AuthnRequests are signed, assertions must be).
    pub fn metadata(&self, cert_b64: &str) -> String {
        use quick_xml::escape::escape;
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{e}"><md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{a}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
            e = escape(&self.entity_id),
            a = escape(&self.acs_url),
        )
    }

    /// An AuthnRequest with id `id` for the IdP SSO URL `destination` (to be sent signed on
    /// the Redirect binding).
    pub fn authn_request(&self, id: &str, destination: &str) -> String {
        use quick_xml::escape::escape;
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{d}" AssertionConsumerServiceURL="{a}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{e}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
            id = escape(id),
            now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            d = escape(destination),
            a = escape(&self.acs_url),
            e = escape(&self.entity_id),
        )
    }
}

/// A reseller's IdP, as registered.
#[derive(Debug, Clone)]
pub struct ResellerIdp {
    /// The reseller it signs users in for.
    pub reseller: String,
    /// Its metadata, with the signing certificates pinned to this reseller.
    pub metadata: EntityDescriptor,
    /// Whether logins it starts itself (no AuthnRequest of ours) are accepted.
    pub idp_initiated: bool,
}

/// A signing certificate a registration pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedCert {
    /// SHA-256 of its DER, lower-case hex.
    pub sha256: String,
    /// Its subject's names.
    pub subject: String,
    /// When it expires (Unix seconds), if it could be read.
    pub not_after: Option<i64>,
}

fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a registration's metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// DTDs or processing instructions, or not well-formed.
    #[error("metadata: {0}")]
    Unsafe(String),
    /// Not an IdP's EntityDescriptor.
    #[error("metadata: {0}")]
    Invalid(String),
}

impl ResellerIdp {
    /// A registration from the reseller IdP's metadata XML.
    pub fn from_metadata(
        reseller: &str,
        xml: &str,
        idp_initiated: bool,
    ) -> Result<Self, MetadataError> {
        super::scan::plain_xml(xml).map_err(|e| MetadataError::Unsafe(e.to_string()))?;
        let metadata =
            EntityDescriptor::from_str(xml).map_err(|e| MetadataError::Invalid(e.to_string()))?;
        let me = Self {
            reseller: reseller.to_owned(),
            metadata,
            idp_initiated,
        };
        if me.entity_id().is_empty() {
            return Err(MetadataError::Invalid("no entityID".into()));
        }
        if me.sso_url().is_none() {
            return Err(MetadataError::Invalid(
                "no SingleSignOnService with the HTTP-Redirect binding".into(),
            ));
        }
        if me.signing_certificates() == 0 {
            return Err(MetadataError::Invalid(
                "no signing certificate: unsigned logins are never accepted".into(),
            ));
        }
        Ok(me)
    }

    /// The IdP's entity id.
    pub fn entity_id(&self) -> &str {
        self.metadata.entity_id.as_deref().unwrap_or_default()
    }

    /// Where AuthnRequests go (HTTP-Redirect binding).
    pub fn sso_url(&self) -> Option<String> {
        self.idp().and_then(|d| {
            d.single_sign_on_services
                .iter()
                .find(|s| s.binding == samael::metadata::HTTP_REDIRECT_BINDING)
                .map(|s| s.location.clone())
        })
    }

    /// SHA-256 fingerprints (lower-case hex) of the signing certificates it pins.
    pub fn signing_fingerprints(&self) -> Vec<String> {
        self.signing_ders()
            .iter()
            .map(|der| sha256_hex(der))
            .collect()
    }

    /// The signing certificates it pins: fingerprint, subject and expiry.
    pub fn signing_certificates_pinned(&self) -> Vec<PinnedCert> {
        self.signing_ders()
            .iter()
            .map(|der| {
                let parsed = openssl::x509::X509::from_der(der).ok();
                let not_after = parsed.as_ref().and_then(|x| {
                    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
                    let d = epoch.diff(x.not_after()).ok()?;
                    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
                });
                let subject = parsed
                    .as_ref()
                    .map(|x| {
                        x.subject_name()
                            .entries()
                            .filter_map(|e| e.data().to_string().ok())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                PinnedCert {
                    sha256: sha256_hex(der),
                    subject,
                    not_after,
                }
            })
            .collect()
    }

    fn signing_ders(&self) -> Vec<Vec<u8>> {
        let certs = self
            .idp()
            .map(|d| super::signing_certs(&d.key_descriptors))
            .unwrap_or_default();
        certs
            .iter()
            .filter_map(|c| {
                let compact: String = c.chars().filter(|ch| !ch.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .ok()
            })
            .collect()
    }

    fn idp(&self) -> Option<&samael::metadata::IdpSsoDescriptor> {
        self.metadata.idp_sso_descriptors.as_ref()?.first()
    }

    fn signing_certificates(&self) -> usize {
        self.idp()
            .map_or(0, |d| super::signing_certs(&d.key_descriptors).len())
    }
}

/// What the Response must answer.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// Our AuthnRequest with this id (taken from the outstanding requests, single use).
    Request(&'a str),
    /// Nothing: an IdP-initiated login.
    Unsolicited,
}

/// A verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The reseller whose IdP signed it.
    pub reseller: String,
    /// The user, as that IdP names them (canonical text of the signed NameID).
    pub name_id: String,
    /// The Assertion's id (single use until `expires`).
    pub assertion_id: String,
    /// When the assertion stops being valid (plus skew): the replay cache keeps it until then.
    pub expires: DateTime<Utc>,
    /// Attributes by name.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Why a Response was refused (each is audited with its reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Larger than [`MAX_RESPONSE`].
    #[error("SAMLResponse over {MAX_RESPONSE} bytes")]
    TooLarge,
    /// Not base64 or not UTF-8.
    #[error("SAMLResponse is not base64 of UTF-8 XML")]
    Encoding,
    /// The structural scan refused it.
    #[error("{0}")]
    Scan(#[from] ScanError),
    /// No signature by the reseller's pinned key (or a disallowed algorithm).
    #[error("not signed by the registered IdP's key")]
    Signature,
    /// samael refused the signed content (times, issuer, recipient, InResponseTo, status).
    #[error("{0}")]
    Invalid(String),
    /// The Response's Destination is missing or not our ACS.
    #[error("Destination must be exactly {0}")]
    Destination(String),
    /// Conditions or AudienceRestriction missing, or the Audience is not us.
    #[error("the Assertion must be restricted to the audience {0} with NotBefore and NotOnOrAfter")]
    Audience(String),
    /// InResponseTo does not match what is expected.
    #[error("InResponseTo does not answer an outstanding request of ours")]
    InResponseTo,
    /// An IdP-initiated login the registration does not allow.
    #[error("IdP-initiated logins are not enabled for this IdP")]
    Unsolicited,
    /// The signed NameID is not the canonical text the scan read.
    #[error("the NameID is ambiguous (comments or markup inside it)")]
    NameId,
    /// The assertion was used before.
    #[error("assertion already used")]
    Replayed,
}

/// Decodes and scans a `SAMLResponse` form value: the XML and what it claims (untrusted).
pub fn decode(form_value: &str) -> Result<(String, Scan), Refusal> {
    if form_value.len() > MAX_RESPONSE {
        return Err(Refusal::TooLarge);
    }
    let compact: String = form_value
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Refusal::Encoding)?;
    let xml = String::from_utf8(bytes).map_err(|_| Refusal::Encoding)?;
    let s = scan(&xml)?;
    Ok((xml, s))
}

const ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Verifies a decoded Response from `idp` (CPU work: run it off the async threads).
pub fn verify(
    xml: &str,
    claimed: &Scan,
    sp: &Sp,
    idp: &ResellerIdp,
    expect: Expect<'_>,
) -> Result<Login, Refusal> {
    if claimed.destination.as_deref() != Some(sp.acs_url.as_str()) {
        return Err(Refusal::Destination(sp.acs_url.clone()));
    }
    let ids: Vec<&str> = match expect {
        Expect::Request(id) if claimed.in_response_to.as_deref() == Some(id) => vec![id],
        Expect::Request(_) => return Err(Refusal::InResponseTo),
        Expect::Unsolicited if !idp.idp_initiated => return Err(Refusal::Unsolicited),
        Expect::Unsolicited if claimed.in_response_to.is_some() => {
            return Err(Refusal::InResponseTo);
        }
        Expect::Unsolicited => Vec::new(),
    };
    if idp.signing_certificates() == 0 {
        // samael would skip verification without certificates: never let it.
        return Err(Refusal::Signature);
    }
    let provider = ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.clone())
        .acs_url(sp.acs_url.clone())
        .idp_metadata(idp.metadata.clone())
        .allow_idp_initiated(matches!(expect, Expect::Unsolicited))
        .max_clock_skew(SKEW)
        .max_issue_delay(SKEW)
        .allowed_signature_algorithms(ALGORITHMS.to_vec())
        .build()
        .map_err(|e| Refusal::Invalid(e.to_string()))?;
    let assertion = provider
        .parse_xml_response(xml, Some(&ids))
        .map_err(|e| match e {
            samael::service_provider::Error::FailedToValidateSignature => Refusal::Signature,
            other => Refusal::Invalid(other.to_string()),
        })?;
    let expires = audience_and_times(&assertion, sp)?;
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.clone())
        .unwrap_or_default();
    if name_id.is_empty() || Some(&name_id) != claimed.name_id.as_ref() {
        return Err(Refusal::NameId);
    }
    if claimed.assertion_id.as_deref() != Some(assertion.id.as_str()) {
        return Err(Refusal::Invalid(
            "the signed Assertion is not the one sent".into(),
        ));
    }
    Ok(Login {
        reseller: idp.reseller.clone(),
        name_id,
        assertion_id: assertion.id.clone(),
        expires: expires + SKEW,
        attributes: attributes(&assertion),
    })
}

/// Requires Conditions with both times and an AudienceRestriction naming us in every
/// restriction (samael checks only what is present); answers when the assertion expires.
fn audience_and_times(a: &Assertion, sp: &Sp) -> Result<DateTime<Utc>, Refusal> {
    let refused = || Refusal::Audience(sp.entity_id.clone());
    let c = a.conditions.as_ref().ok_or_else(refused)?;
    let (Some(_), Some(until)) = (c.not_before, c.not_on_or_after) else {
        return Err(refused());
    };
    let restrictions = c.audience_restrictions.as_deref().unwrap_or_default();
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| r.audience.iter().any(|x| x == &sp.entity_id))
    {
        return Err(refused());
    }
    Ok(until)
}

fn attributes(a: &Assertion) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in a.attribute_statements.iter().flatten() {
        for attr in &s.attributes {
            let Some(name) = &attr.name else { continue };
            let values = attr.values.iter().filter_map(|v| v.value.clone());
            out.entry(name.clone()).or_default().extend(values);
        }
    }
    out
}

#[cfg(test)]
mod tests;
