//! The vendor's SAML side, as a partner's IdP sees it: SP metadata, the console login link
//! (`/authui/saml/login?xAccountType=..&isFirstLogin=..&service=..`) sending a signed
//! AuthnRequest on the Redirect binding, the ACS verifying the IdP's signed Response (samael, a
//! library Tiergate's verifier does not share code with), and signed `bindRequest`
//! notifications to the partner's notification URL.
//!
//! Control: `POST /__sim/saml/idp` `{"metadata", "notify_url"}` registers the partner's IdP;
//! `POST /__sim/saml/bind` `{"xUserId", "domainId", "domainName", "bindAction"}` makes the
//! vendor notify a binding, stamped with the current `timestamp` (Unix milliseconds) unless the
//! body gives one, and answers the partner's status and the form it was sent (so a test can
//! send it again); `GET /__sim/saml/logins` lists accepted sign-ins.

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The vendor SP's state.
pub struct Vendor {
    base: String,
    key: PKey<Private>,
    cert: samael::crypto::CertificateDer,
    idp: Option<EntityDescriptor>,
    notify_url: Option<String>,
    /// Outstanding AuthnRequest ids and whether their login link said first login.
    outstanding: HashMap<String, bool>,
    logins: Vec<Value>,
}

/// An HTTP answer: status, content type, extra headers, body.
pub type Answer = (u16, &'static str, Vec<(&'static str, String)>, Vec<u8>);

fn json_answer(status: u16, v: Value) -> Answer {
    (
        status,
        "application/json",
        Vec::new(),
        v.to_string().into_bytes(),
    )
}

impl Vendor {
    /// A vendor SP at `addr` with a fresh key.
    pub fn new(addr: SocketAddr) -> Result<Self, String> {
        let pem = crate::sso::keypair("vendor-sp")?;
        let key = PKey::private_key_from_pem(&pem.key).map_err(|e| e.to_string())?;
        let cert = base64::engine::general_purpose::STANDARD
            .decode(&pem.cert_b64)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            base: format!("http://{addr}"),
            key,
            cert: cert.into(),
            idp: None,
            notify_url: None,
            outstanding: HashMap::new(),
            logins: Vec::new(),
        })
    }

    fn sp(&self, idp_initiated: bool) -> Result<ServiceProvider, String> {
        let mut b = ServiceProviderBuilder::default();
        b.entity_id(format!("{}/authui/saml/metadata", self.base))
            .acs_url(format!("{}/authui/saml/acs", self.base))
            .certificate(self.cert.clone())
            .key(self.key.clone())
            .allow_idp_initiated(idp_initiated)
            .allowed_signature_algorithms(vec![
                samael::crypto::AllowedSignatureAlgorithm::RsaSha256,
            ]);
        if let Some(idp) = &self.idp {
            b.idp_metadata(idp.clone());
        }
        b.build().map_err(|e| e.to_string())
    }

    /// Routes `/authui/...` and `/__sim/saml/...`.
    pub async fn handle(
        vendor: &tokio::sync::Mutex<Option<Vendor>>,
        addr: SocketAddr,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Answer {
        let mut guard = vendor.lock().await;
        if guard.is_none() {
            match Vendor::new(addr) {
                Ok(v) => *guard = Some(v),
                Err(e) => return json_answer(500, json!({"error": e})),
            }
        }
        let Some(v) = guard.as_mut() else {
            return json_answer(500, json!({"error": "no vendor"}));
        };
        let r = match (method, path) {
            ("GET", "/authui/saml/metadata") => v.metadata(),
            ("GET", "/authui/saml/login") => v.login(query),
            ("POST", "/authui/saml/acs") => v.acs(body),
            ("POST", "/__sim/saml/idp") => v.register(body),
            ("GET", "/__sim/saml/logins") => Ok(json_answer(200, json!(v.logins))),
            ("POST", "/__sim/saml/bind") => {
                let (url, form) = match v.bind_request(body) {
                    Ok(x) => x,
                    Err(e) => return json_answer(400, json!({"error": e})),
                };
                drop(guard);
                return match post_form(&url, &form).await {
                    Ok(status) => json_answer(200, json!({"partner_status": status, "form": form})),
                    Err(e) => json_answer(502, json!({"error": e})),
                };
            }
            _ => Ok(json_answer(404, json!({"error": "not found"}))),
        };
        r.unwrap_or_else(|e| json_answer(400, json!({"error": e})))
    }

    fn metadata(&self) -> Result<Answer, String> {
        let md = self
            .sp(false)?
            .metadata()
            .map_err(|e| e.to_string())?
            .to_string()
            .map_err(|e| e.to_string())?;
        Ok((
            200,
            "application/samlmetadata+xml",
            Vec::new(),
            md.into_bytes(),
        ))
    }

    fn register(&mut self, body: &[u8]) -> Result<Answer, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let md = v["metadata"].as_str().ok_or("metadata")?;
        self.idp = Some(md.parse::<EntityDescriptor>().map_err(|e| e.to_string())?);
        self.notify_url = v["notify_url"].as_str().map(str::to_owned);
        Ok(json_answer(200, json!({"registered": true})))
    }

    fn login(&mut self, query: &str) -> Result<Answer, String> {
        let field = |n: &str| super::saml_field(query, n);
        let sp = self.sp(false)?;
        let sso = sp
            .sso_binding_location(samael::metadata::HTTP_REDIRECT_BINDING)
            .ok_or("no partner IdP registered (POST /__sim/saml/idp)")?;
        let req = sp
            .make_authentication_request(&sso)
            .map_err(|e| e.to_string())?;
        self.outstanding.insert(
            req.id.clone(),
            field("isFirstLogin").as_deref() == Some("true"),
        );
        let relay = field("service").unwrap_or_default();
        let url = req
            .signed_redirect(&relay, &self.key)
            .map_err(|e| e.to_string())?
            .ok_or("no redirect")?;
        Ok((
            302,
            "text/plain",
            vec![("location", url.to_string())],
            Vec::new(),
        ))
    }

    fn acs(&mut self, body: &[u8]) -> Result<Answer, String> {
        let form = String::from_utf8_lossy(body);
        let resp = super::saml_field(&form, "SAMLResponse").ok_or("no SAMLResponse")?;
        let relay = super::saml_field(&form, "RelayState");
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(resp.trim())
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let solicited = xml.contains("InResponseTo=");
        let ids: Vec<String> = self.outstanding.keys().cloned().collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let assertion = self
            .sp(!solicited)?
            .parse_xml_response(&xml, Some(&ids))
            .map_err(|e| format!("refused: {e}"))?;
        let in_response_to = assertion
            .subject
            .as_ref()
            .and_then(|s| s.subject_confirmations.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.subject_confirmation_data.as_ref())
            .and_then(|d| d.in_response_to.clone());
        let first_login = in_response_to
            .as_ref()
            .and_then(|id| self.outstanding.remove(id))
            .unwrap_or(false);
        let mut attributes = serde_json::Map::new();
        for s in assertion.attribute_statements.iter().flatten() {
            for a in &s.attributes {
                if let (Some(n), Some(v)) =
                    (&a.name, a.values.first().and_then(|v| v.value.clone()))
                {
                    attributes.insert(n.clone(), json!(v));
                }
            }
        }
        let login = json!({
            "name_id": assertion.subject.and_then(|s| s.name_id).map(|n| n.value),
            "attributes": attributes,
            "relay_state": relay,
            "in_response_to": in_response_to,
            "first_login": first_login,
        });
        self.logins.push(login.clone());
        Ok(json_answer(200, login))
    }

    fn bind_request(&self, body: &[u8]) -> Result<(String, String), String> {
        let url = self.notify_url.clone().ok_or("no notify_url registered")?;
        let mut v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if let Some(fields) = v.as_object_mut() {
            let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
            fields.entry("timestamp").or_insert(json!(now));
        }
        let value = base64::engine::general_purpose::STANDARD.encode(v.to_string());
        let pct = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let alg = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
        let signed = format!("bindRequest={}&SigAlg={}", pct(&value), pct(alg));
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &self.key)
            .map_err(|e| e.to_string())?;
        signer
            .update(signed.as_bytes())
            .map_err(|e| e.to_string())?;
        let sig = signer.sign_to_vec().map_err(|e| e.to_string())?;
        let sig = base64::engine::general_purpose::STANDARD.encode(sig);
        Ok((url, format!("{signed}&Signature={}", pct(&sig))))
    }
}

/// POSTs a form over plain HTTP/1.1 and returns the status.
async fn post_form(url: &str, form: &str) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// notify URLs")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no status in: {}",
                text.chars().take(200).collect::<String>()
            )
        })
}
