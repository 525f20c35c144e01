//! Tiergate as the one IdP the vendor trusts for the distributor.
//!
//! - [`Idp::metadata`]: the metadata the distributor uploads to the vendor.
//! - [`Idp::accept`]: the vendor's AuthnRequest on the HTTP-Redirect binding, its query
//!   signature verified with the certificate of the vendor's SP metadata; Issuer, Destination,
//!   ACS and age checked. Its single use is the caller's to enforce ([`super::replay`]) until
//!   [`Accepted::usable_until`], when this check would refuse it anyway.
//! - [`Idp::respond`]: a Response whose Assertion is signed (RSA-SHA256, SHA-256 digests),
//!   answering the request (`InResponseTo`), for the vendor's audience and ACS only, valid for
//!   five minutes, naming the platform user the vendor binds (`xUserId`).

use super::redirect::{self, RedirectError};
use super::scan::plain_xml;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use openssl::pkey::{PKey, Private, Public};
use quick_xml::escape::escape;
use samael::crypto::{Crypto, CryptoProvider};
use samael::metadata::{EntityDescriptor, HTTP_POST_BINDING};
use samael::schema::AuthnRequest;
use std::str::FromStr;

/// How long an assertion for the vendor is valid.
pub const ASSERTION_LIFETIME: chrono::Duration = chrono::Duration::seconds(300);
/// How old (or early, by clock skew) an AuthnRequest may be.
pub const REQUEST_WINDOW: chrono::Duration = chrono::Duration::seconds(180);

/// The vendor's SP, from its metadata.
#[derive(Clone)]
pub struct VendorSp {
    /// Its entity id (our assertions' Audience).
    pub entity_id: String,
    /// Its ACS (POST binding): Destination and Recipient.
    pub acs_url: String,
    /// The key its AuthnRequests are signed with.
    pub key: PKey<Public>,
}

/// Why something from or for the vendor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpError {
    /// The vendor metadata is unusable.
    #[error("vendor SP metadata: {0}")]
    Metadata(String),
    /// The Redirect binding refused the query.
    #[error("{0}")]
    Redirect(#[from] RedirectError),
    /// The AuthnRequest is not one we answer.
    #[error("AuthnRequest: {0}")]
    Request(String),
    /// Our own key or signing failed.
    #[error("signing: {0}")]
    Signing(String),
}

impl VendorSp {
    /// The vendor SP from its metadata XML (signing certificate and POST ACS required).
    pub fn from_metadata(xml: &str) -> Result<Self, IdpError> {
        plain_xml(xml).map_err(|e| IdpError::Metadata(e.to_string()))?;
        let md = EntityDescriptor::from_str(xml).map_err(|e| IdpError::Metadata(e.to_string()))?;
        let entity_id = md
            .entity_id
            .clone()
            .ok_or_else(|| IdpError::Metadata("no entityID".into()))?;
        let sp = md
            .sp_sso_descriptors
            .as_ref()
            .and_then(|d| d.first())
            .ok_or_else(|| IdpError::Metadata("no SPSSODescriptor".into()))?;
        let acs_url = sp
            .assertion_consumer_services
            .iter()
            .find(|a| a.binding == HTTP_POST_BINDING)
            .map(|a| a.location.clone())
            .ok_or_else(|| IdpError::Metadata("no HTTP-POST AssertionConsumerService".into()))?;
        let keys = sp.key_descriptors.as_deref().unwrap_or_default();
        let cert = super::signing_certs(keys)
            .into_iter()
            .next()
            .ok_or_else(|| IdpError::Metadata("no signing certificate".into()))?;
        let der = STANDARD
            .decode(cert.split_whitespace().collect::<String>())
            .map_err(|_| IdpError::Metadata("certificate is not base64".into()))?;
        let key = openssl::x509::X509::from_der(&der)
            .and_then(|c| c.public_key())
            .map_err(|e| IdpError::Metadata(e.to_string()))?;
        Ok(Self {
            entity_id,
            acs_url,
            key,
        })
    }
}

/// A verified AuthnRequest from the vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Its ID (our `InResponseTo`).
    pub id: String,
    /// RelayState to send back.
    pub relay_state: Option<String>,
}

/// A verified AuthnRequest, and how long [`Idp::accept`] would go on accepting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The request.
    pub incoming: Incoming,
    /// Its IssueInstant plus [`REQUEST_WINDOW`] (the window already allows for skew): a mark
    /// of its use must last until then, and need not last longer.
    pub usable_until: DateTime<Utc>,
}

/// Who signs in at the vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The platform user id the vendor binds to a customer account.
    pub x_user_id: String,
    /// The vendor's platform id of this IdP (`xAccountType`).
    pub x_account_type: String,
    /// The distributor's partner id.
    pub partner_id: String,
}

/// Tiergate's IdP for the vendor.
pub struct Idp {
    /// Our IdP entity id.
    pub entity_id: String,
    /// Our SSO URL (Redirect binding).
    pub sso_url: String,
    key_der: Vec<u8>,
    cert_b64: String,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Idp {
    /// An IdP signing with `key` (PEM, RSA) and publishing `cert` (PEM).
    pub fn new(
        entity_id: &str,
        sso_url: &str,
        key_pem: &[u8],
        cert_pem: &[u8],
    ) -> Result<Self, IdpError> {
        let key: PKey<Private> =
            PKey::private_key_from_pem(key_pem).map_err(|e| IdpError::Signing(e.to_string()))?;
        let rsa = key
            .rsa()
            .map_err(|_| IdpError::Signing("the IdP key must be RSA".into()))?;
        let cert = openssl::x509::X509::from_pem(cert_pem)
            .and_then(|c| c.to_der())
            .map_err(|e| IdpError::Signing(e.to_string()))?;
        Ok(Self {
            entity_id: entity_id.to_owned(),
            sso_url: sso_url.to_owned(),
            key_der: rsa
                .private_key_to_der()
                .map_err(|e| IdpError::Signing(e.to_string()))?,
            cert_b64: STANDARD.encode(cert),
        })
    }

    /// Our certificate, DER base64 (published in both metadata files).
    pub fn cert_b64(&self) -> &str {
        &self.cert_b64
    }

    /// Our signing key (also signs the AuthnRequests we send reseller IdPs).
    pub fn signing_key(&self) -> Result<PKey<Private>, IdpError> {
        openssl::rsa::Rsa::private_key_from_der(&self.key_der)
            .and_then(PKey::from_rsa)
            .map_err(|e| IdpError::Signing(e.to_string()))
    }

    /// The IdP metadata for the vendor.
    pub fn metadata(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{e}"><md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{s}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            e = escape(&self.entity_id),
            c = self.cert_b64,
            s = escape(&self.sso_url),
        )
    }

    /// Verifies the vendor's AuthnRequest from the raw query of our SSO URL.
    pub fn accept(&self, query: &str, vendor: &VendorSp) -> Result<Accepted, IdpError> {
        let r = redirect::verify(query, "SAMLRequest", &vendor.key)?;
        plain_xml(&r.xml).map_err(|e| IdpError::Request(e.to_string()))?;
        let req = AuthnRequest::from_str(&r.xml).map_err(|e| IdpError::Request(e.to_string()))?;
        let issuer = req.issuer.as_ref().and_then(|i| i.value.as_deref());
        if issuer != Some(vendor.entity_id.as_str()) {
            return Err(IdpError::Request(format!(
                "Issuer must be {}",
                vendor.entity_id
            )));
        }
        if req
            .destination
            .as_deref()
            .is_some_and(|d| d != self.sso_url)
        {
            return Err(IdpError::Request(format!(
                "Destination must be {}",
                self.sso_url
            )));
        }
        if req
            .assertion_consumer_service_url
            .as_deref()
            .is_some_and(|a| a != vendor.acs_url)
        {
            return Err(IdpError::Request(
                "AssertionConsumerServiceURL is not the vendor's registered ACS".into(),
            ));
        }
        let now = Utc::now();
        if req.issue_instant > now + REQUEST_WINDOW || req.issue_instant + REQUEST_WINDOW < now {
            return Err(IdpError::Request(
                "IssueInstant outside the accepted window".into(),
            ));
        }
        if req.id.is_empty() {
            return Err(IdpError::Request("no ID".into()));
        }
        Ok(Accepted {
            incoming: Incoming {
                id: req.id,
                relay_state: r.relay_state,
            },
            usable_until: req.issue_instant + REQUEST_WINDOW,
        })
    }

    /// A signed Response (base64, for the `SAMLResponse` form field) answering `incoming` (or
    /// unsolicited, when `None`), for `who`.
    pub fn respond(
        &self,
        incoming: Option<&Incoming>,
        vendor: &VendorSp,
        who: &Identity,
    ) -> Result<String, IdpError> {
        let now = Utc::now();
        let until = now + ASSERTION_LIFETIME;
        let rid = format!("_{}", uuid::Uuid::new_v4().simple());
        let aid = format!("_{}", uuid::Uuid::new_v4().simple());
        let irt = incoming
            .map(|i| format!(r#" InResponseTo="{}""#, escape(&i.id)))
            .unwrap_or_default();
        let attr = |name: &str, value: &str| {
            format!(
                r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
                escape(value)
            )
        };
        let xml = format!(
            r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{acs}"{irt}><saml:Issuer>{idp}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{aid}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{idp}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{aid}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{user}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{acs}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{now}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{a1}{a2}{a3}</saml:AttributeStatement></saml:Assertion></samlp:Response>"##,
            now = ts(now),
            until = ts(until),
            acs = escape(&vendor.acs_url),
            idp = escape(&self.entity_id),
            aud = escape(&vendor.entity_id),
            cert = self.cert_b64,
            user = escape(&who.x_user_id),
            a1 = attr("xUserId", &who.x_user_id),
            a2 = attr("xAccountType", &who.x_account_type),
            a3 = attr("bpId", &who.partner_id),
        );
        let signed =
            Crypto::sign_xml(&xml, &self.key_der).map_err(|e| IdpError::Signing(e.to_string()))?;
        Ok(STANDARD.encode(signed))
    }
}

/// The page that posts a Response to an ACS (HTTP-POST binding), values escaped.
pub fn post_form(acs: &str, saml_response: &str, relay_state: Option<&str>) -> String {
    let relay = relay_state
        .map(|r| {
            format!(
                r#"<input type="hidden" name="RelayState" value="{}"/>"#,
                escape(r)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing in</title></head><body onload="document.forms[0].submit()"><form method="post" action="{}"><input type="hidden" name="SAMLResponse" value="{}"/>{relay}<noscript><button type="submit">Continue</button></noscript></form></body></html>"#,
        escape(acs),
        escape(saml_response)
    )
}

#[cfg(test)]
mod tests;
