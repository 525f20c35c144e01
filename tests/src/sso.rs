//! Pieces of the SSO chain for the end-to-end tests: keys and certificates, a reseller IdP
//! (answering Tiergate's signed AuthnRequests with signed Responses), and a browser that
//! follows redirects and posts forms by hand, keeping cookies.

use crate::harness::{HttpResponse, Result, http};
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use std::net::SocketAddr;
use tiergate_broker::saml::idp::{Identity, Idp, Incoming, VendorSp};

/// A key and a self-signed certificate.
pub struct Pem {
    /// PKCS#8 PEM key.
    pub key: Vec<u8>,
    /// PEM certificate.
    pub cert: Vec<u8>,
    /// DER certificate, base64.
    pub cert_b64: String,
}

/// A fresh RSA-2048 key and certificate for `cn`.
pub fn keypair(cn: &str) -> Result<Pem> {
    let e = |x: openssl::error::ErrorStack| x.to_string();
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).map_err(e)?).map_err(e)?;
    let mut name = openssl::x509::X509NameBuilder::new().map_err(e)?;
    name.append_entry_by_text("CN", cn).map_err(e)?;
    let name = name.build();
    let mut b = openssl::x509::X509Builder::new().map_err(e)?;
    b.set_version(2).map_err(e)?;
    let mut serial = openssl::bn::BigNum::new().map_err(e)?;
    serial
        .rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .map_err(e)?;
    let serial = serial.to_asn1_integer().map_err(e)?;
    b.set_serial_number(&serial).map_err(e)?;
    b.set_subject_name(&name).map_err(e)?;
    b.set_issuer_name(&name).map_err(e)?;
    b.set_pubkey(&key).map_err(e)?;
    let (from, until) = (
        openssl::asn1::Asn1Time::days_from_now(0).map_err(e)?,
        openssl::asn1::Asn1Time::days_from_now(30).map_err(e)?,
    );
    b.set_not_before(&from).map_err(e)?;
    b.set_not_after(&until).map_err(e)?;
    b.sign(&key, MessageDigest::sha256()).map_err(e)?;
    let cert = b.build();
    Ok(Pem {
        key: key.private_key_to_pem_pkcs8().map_err(e)?,
        cert: cert.to_pem().map_err(e)?,
        cert_b64: base64::engine::general_purpose::STANDARD.encode(cert.to_der().map_err(e)?),
    })
}

/// A reseller's IdP.
pub struct ResellerIdp {
    idp: Idp,
    /// Its metadata, for Tiergate's registration.
    pub metadata: String,
}

impl ResellerIdp {
    /// An IdP at a (never contacted) SSO URL, signing with a fresh key.
    pub fn new(name: &str) -> Result<Self> {
        let pem = keypair(name)?;
        let entity = format!("https://idp.{name}.example/saml");
        let sso = format!("http://127.0.0.1:9/{name}/sso");
        let idp = Idp::new(&entity, &sso, &pem.key, &pem.cert).map_err(|e| e.to_string())?;
        let metadata = idp.metadata();
        Ok(Self { idp, metadata })
    }

    /// Its certificate, DER base64.
    pub fn cert_b64(&self) -> &str {
        self.idp.cert_b64()
    }

    /// Signs a Response for `user` answering the AuthnRequest with id `id` whoever it was
    /// sent to (an IdP misbehaving or attacking).
    pub fn respond_to(&self, id: &str, tiergate: &str, user: &str) -> Result<String> {
        let sp = VendorSp::from_metadata(tiergate).map_err(|e| e.to_string())?;
        let incoming = Incoming {
            id: id.to_owned(),
            relay_state: None,
        };
        self.sign(Some(&incoming), &sp, user)
    }

    /// Answers Tiergate's AuthnRequest (the query of the redirect) for `user`, or signs the
    /// user in unsolicited (`query` none); `tiergate` is Tiergate's SP metadata.
    pub fn respond(&self, query: Option<&str>, tiergate: &str, user: &str) -> Result<String> {
        let sp = VendorSp::from_metadata(tiergate).map_err(|e| e.to_string())?;
        let incoming = match query {
            Some(q) => Some(self.idp.accept(q, &sp).map_err(|e| e.to_string())?.incoming),
            None => None,
        };
        self.sign(incoming.as_ref(), &sp, user)
    }

    fn sign(&self, incoming: Option<&Incoming>, sp: &VendorSp, user: &str) -> Result<String> {
        let who = Identity {
            x_user_id: user.to_owned(),
            x_account_type: "reseller-platform".into(),
            partner_id: "res".into(),
        };
        self.idp
            .respond(incoming, sp, &who)
            .map_err(|e| e.to_string())
    }
}

/// The value of a hidden form field in an HTML page, unescaped.
pub fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#x2F;", "/")
            .replace("&amp;", "&"),
    )
}

/// `application/x-www-form-urlencoded`.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser: cookies kept per host address.
#[derive(Default)]
pub struct Browser {
    cookies: Vec<(SocketAddr, String, String)>,
}

impl Browser {
    fn cookie_header(&self, addr: SocketAddr) -> String {
        self.cookies
            .iter()
            .filter(|(a, _, _)| *a == addr)
            .map(|(_, k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, addr: SocketAddr, r: &HttpResponse) {
        for (name, value) in &r.headers {
            if name != "set-cookie" {
                continue;
            }
            let Some((k, v)) = value.split(';').next().and_then(|c| c.split_once('=')) else {
                continue;
            };
            self.cookies.retain(|(a, n, _)| !(*a == addr && n == k));
            self.cookies.push((addr, k.to_owned(), v.to_owned()));
        }
    }

    /// From now on also sends `from`'s cookies to `to`: two gateways behind one public name,
    /// as a browser sees them.
    pub fn same_site(&mut self, from: SocketAddr, to: SocketAddr) {
        let shared: Vec<_> = self
            .cookies
            .iter()
            .filter(|(a, _, _)| *a == from)
            .map(|(_, k, v)| (to, k.clone(), v.clone()))
            .collect();
        self.cookies
            .retain(|(a, k, _)| !(*a == to && shared.iter().any(|(_, n, _)| n == k)));
        self.cookies.extend(shared);
    }

    /// GET.
    pub fn get(&mut self, addr: SocketAddr, path: &str) -> Result<HttpResponse> {
        let c = self.cookie_header(addr);
        let r = http(addr, "GET", path, &[("cookie", &c)], b"")?;
        self.keep(addr, &r);
        Ok(r)
    }

    /// POST a form.
    pub fn post(&mut self, addr: SocketAddr, path: &str, body: &str) -> Result<HttpResponse> {
        let c = self.cookie_header(addr);
        let headers = [
            ("cookie", c.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let r = http(addr, "POST", path, &headers, body.as_bytes())?;
        self.keep(addr, &r);
        Ok(r)
    }
}

/// The decoded value of `name` in a query or form body.
pub fn param(query: &str, name: &str) -> Result<String> {
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .ok_or_else(|| format!("no {name}"))?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|e| e.to_string())
}

/// The ID of the AuthnRequest in a Redirect-binding query.
pub fn request_id(query: &str) -> Result<String> {
    let b64 = param(query, "SAMLRequest")?;
    let xml = tiergate_broker::saml::redirect::inflate(&b64).map_err(|e| e.to_string())?;
    let start = xml.find(" ID=\"").ok_or("no ID")? + 5;
    let end = xml[start..].find('"').ok_or("no ID")? + start;
    Ok(xml[start..end].to_owned())
}

/// A reseller's IdP built with pysaml2 (tests/sso/idp.py), the third-party side of the chain.
pub struct PyIdp {
    dir: tempfile::TempDir,
    entity: String,
    sso: String,
    /// Its metadata, for Tiergate's registration.
    pub metadata: String,
}

impl PyIdp {
    /// An IdP with a fresh key, at a (never contacted) SSO URL.
    pub fn new(name: &str) -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pem = keypair(name)?;
        std::fs::write(dir.path().join("key.pem"), &pem.key).map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("cert.pem"), &pem.cert).map_err(|e| e.to_string())?;
        let mut me = Self {
            dir,
            entity: format!("https://idp.{name}.example/saml"),
            sso: format!("http://127.0.0.1:9/{name}/sso"),
            metadata: String::new(),
        };
        me.metadata = me.run(&["metadata"])?;
        Ok(me)
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let script = crate::harness::repo_root().join("tests/sso/idp.py");
        let out = std::process::Command::new(crate::harness::sdk_python()?)
            .arg(script)
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--entity", &self.entity, "--sso", &self.sso])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "pysaml2 IdP: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Like [`ResellerIdp::respond`], done by pysaml2.
    pub fn respond(&self, query: Option<&str>, tiergate: &str, user: &str) -> Result<String> {
        std::fs::write(self.dir.path().join("sp.xml"), tiergate).map_err(|e| e.to_string())?;
        let mut args = vec!["respond", "--user", user];
        if let Some(q) = query {
            args.extend(["--query", q]);
        }
        self.run(&args)
    }
}
