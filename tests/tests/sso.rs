//! The identity broker end to end on loopback: the partner API simulator's vendor SP (samael)
//! sends customers to Tiergate, Tiergate sends them to their reseller's IdP (res-1's is
//! pysaml2, a library Tiergate shares no code with) and on to the vendor's ACS, bind
//! notifications come back; every refusal is checked and audited.

use serde_json::{Value, json};
use std::net::SocketAddr;
use tiergate_tests::harness::{Gateway, HttpResponse, fixture, http, start_sim};
use tiergate_tests::sso::{Browser, PyIdp, ResellerIdp, form, form_field, keypair, request_id};

type R = Result<(), String>;

#[path = "sso/single_use.rs"]
mod single_use;

struct Chain {
    sim: tiergate_tests::sim::Simulator,
    gw: Gateway,
    sso: SocketAddr,
    /// res-1's IdP: pysaml2.
    res1: PyIdp,
    /// res-2's IdP: Tiergate's own SAML code playing an IdP (it can also misbehave).
    res2: ResellerIdp,
    /// res-1's platform notification endpoint.
    notify: std::net::TcpListener,
    /// Tiergate's certificate (it signs forwarded notifications).
    cert: Vec<u8>,
    /// Tiergate's SP metadata, as the reseller IdPs imported it.
    sp_metadata: String,
    /// The configuration added to the gateway's (a second gateway can share it).
    extra: String,
    _dir: tempfile::TempDir,
}

fn body(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn path_of(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.find('/')
        .map(|i| rest[i..].to_owned())
        .unwrap_or_default()
}

async fn chain() -> Result<Chain, String> {
    chain_with("").await
}

/// The chain with more `[sso]` settings.
async fn chain_with(more: &str) -> Result<Chain, String> {
    chain_registering(more, |file, _| Ok(format!("metadata = \"{file}\""))).await
}

/// The chain, res-2's registration written by `res2(metadata file, idp)`.
async fn chain_registering(
    more: &str,
    res2_lines: impl Fn(&str, &ResellerIdp) -> Result<String, String>,
) -> Result<Chain, String> {
    let sim = start_sim(fixture()?).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let write = |name: &str, data: &[u8]| -> Result<String, String> {
        let p = dir.path().join(name);
        std::fs::write(&p, data).map_err(|e| e.to_string())?;
        Ok(p.display().to_string())
    };
    let ours = keypair("tiergate-idp")?;
    let key = write("idp-key.pem", &ours.key)?;
    let cert = write("idp-cert.pem", &ours.cert)?;
    let vendor_md = http(sim.addr(), "GET", "/authui/saml/metadata", &[], b"")?;
    assert_eq!(vendor_md.status, 200, "{}", body(&vendor_md));
    let vendor = write("vendor-sp.xml", &vendor_md.body)?;
    let res1 = PyIdp::new("res-1")?;
    let res2 = ResellerIdp::new("res-2")?;
    let m1 = write("res-1.xml", res1.metadata.as_bytes())?;
    let m2 = write("res-2.xml", res2.metadata.as_bytes())?;
    let r2 = res2_lines(&m2, &res2)?;
    let sim_addr = sim.addr();
    let notify = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let notify_addr = notify.local_addr().map_err(|e| e.to_string())?;
    let extra = format!(
        r#"[sso]
listen = "127.0.0.1:0"
idp_key = {{ file = "{key}" }}
idp_cert = "{cert}"
vendor_metadata = "{vendor}"
x_account_type = "tiergate-dist-1"
{more}
vendor_login_url = "http://{sim_addr}/authui/saml/login"
allowed_targets = ["https://console.vendor.example"]
[[sso.resellers]]
reseller = "res-1"
metadata = "{m1}"
idp_initiated = true
notify_url = "http://{notify_addr}/platform/saml/bind"
[[sso.resellers]]
reseller = "res-2"
{r2}
"#
    );
    let gw = Gateway::start_with(sim.addr(), &extra)?;
    let sso = gw.sso.ok_or("no sso listener")?;
    let idp_md = http(sso, "GET", "/saml/idp/metadata", &[], b"")?;
    assert_eq!(idp_md.status, 200);
    let sp_md = http(sso, "GET", "/saml/sp/metadata", &[], b"")?;
    assert_eq!(sp_md.status, 200);
    let register =
        json!({"metadata": body(&idp_md), "notify_url": format!("http://{sso}/saml/notify")});
    let r = http(
        sim.addr(),
        "POST",
        "/__sim/saml/idp",
        &[("content-type", "application/json")],
        register.to_string().as_bytes(),
    )?;
    assert_eq!(r.status, 200, "{}", body(&r));
    Ok(Chain {
        sim,
        gw,
        sso,
        res1,
        res2,
        notify,
        cert: ours.cert.clone(),
        sp_metadata: body(&sp_md),
        extra,
        _dir: dir,
    })
}

impl Chain {
    /// The vendor console's login link, through Tiergate, to `idp`'s redirect query.
    fn to_reseller(&self, b: &mut Browser, idp: &str, service: &str) -> Result<String, String> {
        let link = format!(
            "/authui/saml/login?xAccountType=tiergate-dist-1&isFirstLogin=false&service={}",
            percent_encoding::utf8_percent_encode(service, percent_encoding::NON_ALPHANUMERIC)
        );
        let r = b.get(self.sim.addr(), &link)?;
        assert_eq!(r.status, 302, "{}", body(&r));
        let to_us = path_of(r.header("location").unwrap_or_default());
        assert!(to_us.starts_with("/saml/idp/sso?"), "{to_us}");
        let r = b.get(self.sso, &format!("{to_us}&idp={idp}"))?;
        assert_eq!(r.status, 302, "{}", body(&r));
        let to_idp = r.header("location").unwrap_or_default().to_owned();
        assert!(
            to_idp.contains(&format!("/{idp}/sso?SAMLRequest=")),
            "{to_idp}"
        );
        Ok(to_idp
            .split_once('?')
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default())
    }

    /// Posts a reseller IdP's Response to Tiergate's ACS.
    fn acs(
        &self,
        b: &mut Browser,
        saml: &str,
        relay: Option<&str>,
    ) -> Result<HttpResponse, String> {
        let mut fields = vec![("SAMLResponse", saml)];
        if let Some(r) = relay {
            fields.push(("RelayState", r));
        }
        b.post(self.sso, "/saml/sp/acs", &form(&fields))
    }

    /// Follows Tiergate's auto-posting form to the vendor ACS; the vendor's verdict.
    fn to_vendor(&self, b: &mut Browser, page: &HttpResponse) -> Result<Value, String> {
        let html = body(page);
        let saml = form_field(&html, "SAMLResponse").ok_or("no SAMLResponse in the page")?;
        let mut fields = vec![("SAMLResponse", saml.as_str())];
        let relay = form_field(&html, "RelayState");
        if let Some(r) = &relay {
            fields.push(("RelayState", r.as_str()));
        }
        let r = b.post(self.sim.addr(), "/authui/saml/acs", &form(&fields))?;
        assert_eq!(
            r.status,
            200,
            "the vendor accepts Tiergate's assertion: {}",
            body(&r)
        );
        Ok(r.json())
    }

    fn whoami(&self, b: &mut Browser) -> Result<HttpResponse, String> {
        b.get(self.sso, "/session/whoami")
    }

    fn bind(&self, x_user_id: &str, customer: &str) -> R {
        let n = json!({"xUserId": x_user_id, "domainId": customer, "domainName": "acme", "bindAction": "bind"});
        let sent = self.notify_as_vendor(&n)?;
        assert_eq!(sent["partner_status"], 200, "{sent}");
        Ok(())
    }

    /// Makes the vendor send notification `n` (stamped now unless it has a `timestamp`): the
    /// status Tiergate answered and the form it was sent.
    fn notify_as_vendor(&self, n: &Value) -> Result<Value, String> {
        let r = http(
            self.sim.addr(),
            "POST",
            "/__sim/saml/bind",
            &[("content-type", "application/json")],
            n.to_string().as_bytes(),
        )?;
        assert_eq!(r.status, 200, "{}", body(&r));
        Ok(r.json())
    }

    fn identity_records(&self) -> Result<Vec<Value>, String> {
        identity_records(&self.gw)
    }
}

fn identity_records(gw: &Gateway) -> Result<Vec<Value>, String> {
    let out = gw.audit("query", &["--kind", "identity"])?;
    Ok(out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The audited reason of a refusal the browser got only a reference to.
fn reason(gw: &Gateway, refused: &HttpResponse) -> Result<String, String> {
    let text = body(refused);
    let reference = text
        .split("reference ")
        .nth(1)
        .map(|r| r.trim_end_matches(|c: char| !c.is_ascii_hexdigit()))
        .ok_or_else(|| format!("no reference in: {text}"))?;
    let records = identity_records(gw)?;
    let found = records
        .iter()
        .find(|r| r["detail"]["reference"] == reference)
        .ok_or_else(|| format!("reference {reference} not audited: {records:?}"))?;
    Ok(found["detail"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_signs_in_through_its_resellers_idp_binds_and_signs_in_again() -> R {
    let c = chain().await?;
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-1", "https://console.vendor.example/home")?;
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "alice")?;
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    let v = c.to_vendor(&mut b, &page)?;
    assert_eq!(v["name_id"], "res-1:alice");
    assert_eq!(v["attributes"]["xUserId"], "res-1:alice");
    assert_eq!(v["attributes"]["xAccountType"], "tiergate-dist-1");
    assert_eq!(v["relay_state"], "https://console.vendor.example/home");
    assert!(
        v["in_response_to"].is_string(),
        "answers the vendor's request: {v}"
    );
    let who = c.whoami(&mut b)?;
    assert_eq!(who.status, 200, "{}", body(&who));
    let who = who.json();
    assert_eq!(
        (who["reseller"].as_str(), who["first_login"].as_bool()),
        (Some("res-1"), Some(true))
    );

    // The vendor binds the user to res-1's customer and tells Tiergate, which tells res-1's
    // platform, signed with its own key.
    let (forwarded, server) = capture_one(c.notify.try_clone().map_err(|e| e.to_string())?);
    c.bind("res-1:alice", "cust-r1-a")?;
    let _ = server.join();
    let forwarded = forwarded.recv().map_err(|e| e.to_string())?;
    assert!(
        signed_by(&forwarded, &c.cert)?,
        "forwarded, signed by Tiergate: {forwarded}"
    );
    assert!(!signed_by(
        &forwarded.replacen("bindRequest=", "bindRequest=e", 1),
        &c.cert
    )?);
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-1", "https://console.vendor.example/home")?;
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "alice")?;
    let page = c.acs(&mut b, &saml, None)?;
    c.to_vendor(&mut b, &page)?;
    let who = c.whoami(&mut b)?.json();
    assert_eq!(who["customer_id"], "cust-r1-a");
    assert_eq!(who["first_login"], false);

    // The same Response again: its request was answered already.
    let again = c.acs(&mut Browser::default(), &saml, None)?;
    assert_eq!(again.status, 403, "{}", body(&again));

    let records = c.identity_records()?;
    let count = |op: &str, outcome: &str| {
        records
            .iter()
            .filter(|r| r["operation"] == op && r["outcome"] == outcome)
            .count()
    };
    assert_eq!(count("sign_in", "ok"), 2, "{records:?}");
    assert_eq!(count("bind", "ok"), 1);
    assert!(count("sign_in", "refused") >= 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resellers_idp_cannot_sign_in_another_resellers_customer() -> R {
    let c = chain().await?;
    // bob of res-1 bound (by a mistake or an attack at the vendor) to res-2's customer.
    c.bind("res-1:bob", "cust-r2-a")?;
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-1", "https://console.vendor.example/home")?;
    let saml = c.res1.respond(Some(&q), &c.sp_metadata, "bob")?;
    let r = c.acs(&mut b, &saml, None)?;
    assert_eq!(r.status, 403, "{}", body(&r));
    assert!(
        !body(&r).contains("res-2"),
        "the browser is told no names: {}",
        body(&r)
    );
    assert!(
        reason(&c.gw, &r)?.contains("belongs to res-2"),
        "{}",
        body(&r)
    );
    assert_eq!(c.whoami(&mut b)?.status, 401, "no session after a refusal");

    // res-2's IdP answering a request Tiergate sent to res-1's: not its key.
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-1", "https://console.vendor.example/home")?;
    let forged = c
        .res2
        .respond_to(&request_id(&q)?, &c.sp_metadata, "alice")?;
    let r = c.acs(&mut b, &forged, None)?;
    assert_eq!(r.status, 403, "{}", body(&r));

    // res-2's own users are res-2's: the same name is another user at the vendor.
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-2", "https://console.vendor.example/home")?;
    let saml = c.res2.respond(Some(&q), &c.sp_metadata, "bob")?;
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert_eq!(c.to_vendor(&mut b, &page)?["name_id"], "res-2:bob");

    let refused: Vec<Value> = c
        .identity_records()?
        .into_iter()
        .filter(|r| r["operation"] == "sign_in" && r["outcome"] == "refused")
        .collect();
    assert!(
        refused.iter().any(|r| r["detail"]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("belongs to res-2"))),
        "the reason is audited: {refused:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_initiated_logins_replays_and_open_redirects() -> R {
    let c = chain().await?;
    let mut b = Browser::default();
    let saml = c.res1.respond(None, &c.sp_metadata, "carol")?;
    let r = c.acs(
        &mut b,
        &saml,
        Some("https://console.vendor.example/billing"),
    )?;
    // The vendor's own login starts, first-login binding since carol is not bound yet ...
    assert_eq!(r.status, 302, "{}", body(&r));
    let link = path_of(r.header("location").unwrap_or_default());
    assert!(
        link.starts_with(
            "/authui/saml/login?xAccountType=tiergate-dist-1&isFirstLogin=true&service="
        ),
        "{link}"
    );
    let r = b.get(c.sim.addr(), &link)?;
    assert_eq!(r.status, 302, "{}", body(&r));
    // ... and comes back to a signed-in browser: answered from the session.
    let page = b.get(c.sso, &path_of(r.header("location").unwrap_or_default()))?;
    assert_eq!(page.status, 200, "{}", body(&page));
    let v = c.to_vendor(&mut b, &page)?;
    assert_eq!(v["name_id"], "res-1:carol");
    assert_eq!(v["relay_state"], "https://console.vendor.example/billing");
    assert_eq!(v["first_login"], true, "{v}");
    assert!(
        v["in_response_to"].is_string(),
        "answers the vendor's request: {v}"
    );

    // The same assertion again, from any browser.
    let r = c.acs(&mut Browser::default(), &saml, None)?;
    assert_eq!(r.status, 403, "{}", body(&r));
    assert!(reason(&c.gw, &r)?.contains("already used"), "{}", body(&r));

    // Only allowlisted destinations.
    for evil in [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
    ] {
        let saml = c.res1.respond(None, &c.sp_metadata, "carol")?;
        let r = c.acs(&mut Browser::default(), &saml, Some(evil))?;
        assert_eq!(r.status, 403, "{evil}: {}", body(&r));
    }

    // res-2's registration does not allow IdP-initiated logins.
    let saml = c.res2.respond(None, &c.sp_metadata, "dave")?;
    let r = c.acs(&mut Browser::default(), &saml, None)?;
    assert_eq!(r.status, 403, "{}", body(&r));

    // A bind notification not signed by the vendor.
    let r = http(
        c.sso,
        "POST",
        "/saml/notify",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"bindRequest=e30%3D&SigAlg=x&Signature=AAAA",
    )?;
    assert_eq!(r.status, 400, "{}", body(&r));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_login_without_a_choice_shows_the_platforms() -> R {
    let c = chain().await?;
    let mut b = Browser::default();
    let r = b.get(
        c.sim.addr(),
        "/authui/saml/login?xAccountType=tiergate-dist-1&service=x",
    )?;
    let to_us = path_of(r.header("location").unwrap_or_default());
    let page = b.get(c.sso, &to_us)?;
    assert_eq!(page.status, 200);
    let html = body(&page);
    assert!(
        html.contains("idp=res-1") && html.contains("idp=res-2"),
        "{html}"
    );
    // A tampered vendor request is refused before anything else.
    let r = b.get(c.sso, &to_us.replacen("SAMLRequest=", "SAMLRequest=A", 1))?;
    assert_eq!(r.status, 400, "{}", body(&r));
    Ok(())
}

/// Accepts one request on `listener`, answers 200, and hands over its body.
fn capture_one(
    listener: std::net::TcpListener,
) -> (
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<()>,
) {
    use std::io::{BufRead, BufReader, Read, Write};
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = reader.into_inner();
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
    });
    (rx, handle)
}

/// Whether a `bindRequest=..&SigAlg=..&Signature=..` body verifies with `cert_pem` (openssl,
/// over the bytes as sent).
fn signed_by(body: &str, cert_pem: &[u8]) -> Result<bool, String> {
    use base64::Engine;
    let (signed, sig) = body.split_once("&Signature=").ok_or("no Signature")?;
    let sig = percent_encoding::percent_decode_str(sig)
        .decode_utf8()
        .map_err(|e| e.to_string())?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig.as_bytes())
        .map_err(|e| e.to_string())?;
    let key = openssl::x509::X509::from_pem(cert_pem)
        .and_then(|c| c.public_key())
        .map_err(|e| e.to_string())?;
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
        .map_err(|e| e.to_string())?;
    v.update(signed.as_bytes()).map_err(|e| e.to_string())?;
    Ok(v.verify(&sig).unwrap_or(false))
}

/// The chain with a second gateway sharing its Redis single-use store, both behind one public
/// name: the second gateway and its sign-in listener.
async fn two_gateways() -> Result<(Chain, Gateway, SocketAddr), String> {
    let (redis, _) = tiergate_tests::harness::redis()?;
    let more = format!("public_url = \"http://sso.tiergate.test\"\nredis = \"{redis}\"");
    let c = chain_with(&more).await?;
    let other = Gateway::start_with(c.sim.addr(), &c.extra)?;
    let other_sso = other.sso.ok_or("no sso listener")?;
    Ok((c, other, other_sso))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_assertion_accepted_by_one_gateway_is_refused_by_the_others() -> R {
    let (c, other, other_sso) = two_gateways().await?;
    let saml = c.res1.respond(None, &c.sp_metadata, "erin")?;
    let first = c.acs(&mut Browser::default(), &saml, None)?;
    assert_eq!(first.status, 302, "accepted once: {}", body(&first));
    let replay =
        Browser::default().post(other_sso, "/saml/sp/acs", &form(&[("SAMLResponse", &saml)]))?;
    assert_eq!(replay.status, 403, "{}", body(&replay));
    assert!(
        reason(&other, &replay)?.contains("already used"),
        "{}",
        body(&replay)
    );
    Ok(())
}

/// Serves `body` to every GET on a port of its own, for the life of the test process.
fn serve_forever(body: String) -> Result<SocketAddr, String> {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body.as_bytes());
        }
    });
    Ok(addr)
}

fn fingerprint(idp: &ResellerIdp) -> Result<String, String> {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(idp.cert_b64())
        .map_err(|e| e.to_string())?;
    Ok(openssl::sha::sha256(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reseller_idp_registered_by_url_with_its_certificate_pinned() -> R {
    let c = chain_registering("", |_, idp| {
        let at = serve_forever(idp.metadata.clone())?;
        let fp = fingerprint(idp)?;
        Ok(format!(
            "metadata_url = \"http://{at}/saml/metadata\"\ncert_sha256 = [\"{fp}\"]"
        ))
    })
    .await?;
    let mut b = Browser::default();
    let q = c.to_reseller(&mut b, "res-2", "https://console.vendor.example/home")?;
    let saml = c.res2.respond(Some(&q), &c.sp_metadata, "frank")?;
    let page = c.acs(&mut b, &saml, None)?;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert_eq!(c.to_vendor(&mut b, &page)?["name_id"], "res-2:frank");

    // Metadata whose signing certificate is not the pinned one: the gateway does not start.
    let other = ResellerIdp::new("res-2")?;
    let at = serve_forever(other.metadata.clone())?;
    let pinned = fingerprint(&c.res2)?;
    let extra = c.extra.replace(
        &c.extra[c.extra.find("metadata_url").unwrap_or(0)..],
        &format!("metadata_url = \"http://{at}/saml/metadata\"\ncert_sha256 = [\"{pinned}\"]\n"),
    );
    assert!(
        Gateway::start_with(c.sim.addr(), &extra).is_err(),
        "an unpinned signing certificate must stop the start"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platforms_login_link_names_its_idp_and_only_allowlisted_targets() -> R {
    let c = chain().await?;
    let mut b = Browser::default();
    let r = b.get(
        c.sso,
        "/saml/login?idp=res-2&service=https%3A%2F%2Fconsole.vendor.example%2Fhome",
    )?;
    assert_eq!(r.status, 302, "{}", body(&r));
    let link = path_of(r.header("location").unwrap_or_default());
    assert!(
        link.starts_with("/authui/saml/login?xAccountType=tiergate-dist-1"),
        "{link}"
    );
    let r = b.get(c.sim.addr(), &link)?;
    assert_eq!(r.status, 302, "{}", body(&r));
    // The vendor's request carries no hint; the remembered choice sends it to res-2's IdP.
    let r = b.get(c.sso, &path_of(r.header("location").unwrap_or_default()))?;
    assert_eq!(r.status, 302, "{}", body(&r));
    let to_idp = r.header("location").unwrap_or_default().to_owned();
    assert!(to_idp.contains("/res-2/sso?SAMLRequest="), "{to_idp}");
    let q = to_idp
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let saml = c.res2.respond(Some(&q), &c.sp_metadata, "gina")?;
    let page = c.acs(&mut b, &saml, None)?;
    let v = c.to_vendor(&mut b, &page)?;
    assert_eq!(v["name_id"], "res-2:gina");
    assert_eq!(v["relay_state"], "https://console.vendor.example/home");

    for bad in [
        "/saml/login?idp=res-9&service=https%3A%2F%2Fconsole.vendor.example%2F",
        "/saml/login?idp=res-1&service=%2F%2Fevil.example",
        "/saml/login?idp=res-1&service=https%3A%2F%2Fevil.example%2F",
    ] {
        let r = Browser::default().get(c.sso, bad)?;
        assert_eq!(r.status, 400, "{bad}: {}", body(&r));
    }
    Ok(())
}

/// The envelope every refusal of the sign-in listener carries: the vendor's `error_code`,
/// a request id, and headers that keep the page out of caches and frames.
fn assert_refusal(r: &HttpResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", body(r));
    assert_eq!(r.json()["error_code"], code, "{}", body(r));
    assert!(r.json()["error_msg"].is_string(), "{}", body(r));
    let id = r.header("x-request-id").unwrap_or_default();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "x-request-id {id:?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        r.header("content-type")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_of_the_sign_in_listener_is_the_vendor_envelope() -> R {
    let c = chain().await?;
    let get = |path: &str| Browser::default().get(c.sso, path);
    assert_refusal(&get("/session/whoami")?, 401, "TG.7001");
    assert_refusal(&get("/saml/login?idp=res-9")?, 400, "TG.7004");
    assert_refusal(&get("/no/such/page")?, 404, "TG.2001");
    assert_refusal(&get("/saml/idp/sso?SAMLRequest=AAAA")?, 400, "TG.7003");
    let garbage = c.acs(&mut Browser::default(), "not a SAML response", None)?;
    assert_refusal(&garbage, 403, "TG.7002");
    let r = http(
        c.sso,
        "POST",
        "/saml/notify",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"bindRequest=e30%3D&SigAlg=x&Signature=AAAA",
    )?;
    assert_refusal(&r, 400, "TG.7003");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn junk_on_the_sign_in_listener_is_counted_not_recorded_and_its_address_closed() -> R {
    let mut c = chain().await?;
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let mut statuses = Vec::new();
    for i in 0..130 {
        let r = match i % 3 {
            // An empty post, a vendor request that is not one, an unsigned notification.
            0 => http(c.sso, "POST", "/saml/sp/acs", &form, b"")?,
            1 => http(c.sso, "GET", "/saml/idp/sso?SAMLRequest=junk", &[], b"")?,
            _ => http(c.sso, "POST", "/saml/notify", &form, b"bindRequest=junk")?,
        };
        statuses.push(r.status);
        if r.status == 429 {
            assert_refusal(&r, 429, "TG.1011");
        }
    }
    // The default budget: 100 failures at once, then the address is refused outright (but
    // for what the budget refills meanwhile, 10 a second).
    assert!(statuses[..100].iter().all(|s| *s != 429), "{statuses:?}");
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 20, "{statuses:?}");
    // None of the junk took the audit chain's lock one record at a time.
    let records = c.identity_records()?;
    assert!(
        records.iter().all(|r| r["outcome"] != "refused"),
        "{records:?}"
    );
    // They are summed up, here at the stop.
    c.gw.signal("TERM")?;
    c.gw.wait_exit(std::time::Duration::from_secs(30))?;
    let summaries: Vec<Value> =
        c.gw.audit("query", &["--kind", "summary"])?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    let counted: u64 = summaries
        .iter()
        .filter_map(|s| s["detail"]["count"].as_u64())
        .sum();
    assert_eq!(counted as usize, statuses.len() - limited, "{summaries:?}");
    for op in ["sign_in", "vendor_request", "bind"] {
        assert!(
            summaries.iter().any(|s| s["operation"] == op),
            "{op}: {summaries:?}"
        );
    }
    Ok(())
}

/// The federation page's JSON: the registered IdPs with their pinned certificates, as each
/// reader may see them.
#[tokio::test(flavor = "multi_thread")]
async fn the_federation_read_shows_each_registered_idp_and_its_pinned_certificates() -> R {
    let c = chain().await?;
    let auditor = c.gw.issue_with("dist-1", &["--auditor", "sec-ann"], &[])?;
    let res1 = c.gw.issue("res-1")?;
    let read = |cred: &tiergate_tests::harness::Cred| {
        tiergate_tests::harness::Signer {
            addr: c.gw.admin,
            ak: &cred.ak,
            sk: &cred.sk,
        }
        .send("GET", "/federation", "", b"")
    };
    let all = read(&auditor)?;
    assert_eq!(all.status, 200, "{}", body(&all));
    let v = all.json();
    assert_eq!(v["enabled"], true);
    let idps = v["idps"].as_array().cloned().unwrap_or_default();
    let resellers: Vec<&str> = idps.iter().filter_map(|i| i["reseller"].as_str()).collect();
    assert_eq!(resellers, ["res-1", "res-2"], "{v}");
    for idp in &idps {
        let cert = &idp["certificates"][0];
        let sha = cert["sha256"].as_str().unwrap_or_default();
        assert_eq!(sha.len(), 64, "a SHA-256 fingerprint: {idp}");
        assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()), "{idp}");
        assert!(cert["days_left"].as_i64().is_some_and(|d| d > 0), "{idp}");
        assert!(
            !cert["not_after"].as_str().unwrap_or_default().is_empty(),
            "{idp}"
        );
    }
    assert_eq!(idps[0]["idp_initiated"], true);
    // A reseller sees its own IdP only.
    let own = read(&res1)?.json();
    let seen: Vec<&str> = own["idps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["reseller"].as_str())
        .collect();
    assert_eq!(seen, ["res-1"], "{own}");
    Ok(())
}
