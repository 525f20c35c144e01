//! The TLS listener seen from outside, with real clients: `openssl s_client` and rustls,
//! each offering exactly one suite or protocol version.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, SupportedCipherSuite};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tiergate_tests::harness::{Gateway, fixture, http, start_sim, tls_fixtures};
use tiergate_tests::sim::Simulator;

type R = Result<(), String>;

fn certs(dir: &Path, pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(c, k)| {
            format!(
                "[[tls.certificates]]\nchain = \"{}\"\nkey = \"{}\"\n",
                dir.join(c).display(),
                dir.join(k).display()
            )
        })
        .collect()
}

async fn gateway(tls: &str) -> Result<(Simulator, Gateway), String> {
    let sim = start_sim(fixture()?).await?;
    let both = certs(
        &tls_fixtures(),
        &[("ecdsa.pem", "ecdsa.key"), ("rsa.pem", "rsa.key")],
    );
    let gw = Gateway::start_with(sim.addr(), &format!("[tls]\n{tls}\n{both}"))?;
    Ok((sim, gw))
}

fn iana(cs: SupportedCipherSuite) -> String {
    // rustls' names are the IANA ones, with TLS 1.3 suites prefixed `TLS13_`.
    format!("{:?}", cs.suite()).replace("TLS13_", "TLS_")
}

fn openssl_name(cs: SupportedCipherSuite) -> Option<&'static str> {
    tiergate_certs::suites::by_code(u16::from(cs.suite())).and_then(|s| s.openssl)
}

/// `openssl s_client` offering only `cs`; Ok(negotiated suite) or Err(output).
fn s_client(addr: SocketAddr, sni: &str, cs: SupportedCipherSuite) -> Result<String, String> {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-brief",
        "-connect",
        &addr.to_string(),
        "-servername",
        sni,
    ]);
    match openssl_name(cs) {
        Some(name) => cmd.args(["-tls1_2", "-cipher", name]),
        None => cmd.args(["-tls1_3", "-ciphersuites", &iana(cs)]),
    };
    s_client_run(cmd)
}

fn s_client_run(mut cmd: Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let suite = text
        .lines()
        .find_map(|l| l.strip_prefix("Ciphersuite: "))
        .map(str::to_owned);
    match (out.status.success(), suite) {
        (true, Some(s)) => Ok(s),
        _ => Err(text),
    }
}

fn ca_roots() -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for c in
        CertificateDer::pem_file_iter(tls_fixtures().join("ca.pem")).map_err(|e| e.to_string())?
    {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    Ok(roots)
}

/// A rustls client offering only `cs`: the negotiated suite and the served leaf, or the error.
fn rustls_client(
    addr: SocketAddr,
    sni: &str,
    cs: SupportedCipherSuite,
) -> Result<(String, Vec<u8>), String> {
    let (conn, _) = rustls_session(addr, sni, cs)?;
    let suite = conn.negotiated_cipher_suite().map(iana).unwrap_or_default();
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok((suite, leaf))
}

/// An established rustls session offering only `cs`.
fn rustls_session(
    addr: SocketAddr,
    sni: &str,
    cs: SupportedCipherSuite,
) -> Result<(ClientConnection, TcpStream), String> {
    let provider = CryptoProvider {
        cipher_suites: vec![cs],
        ..rustls::crypto::ring::default_provider()
    };
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[cs.version()])
        .map_err(|e| e.to_string())?
        .with_root_certificates(ca_roots()?)
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let mut conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
    }
    Ok((conn, sock))
}

fn leaf(file: &str) -> Result<Vec<u8>, String> {
    CertificateDer::pem_file_iter(tls_fixtures().join(file))
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no certificate")?
        .map(|c| c.to_vec())
        .map_err(|e| e.to_string())
}

fn all_suites() -> Vec<SupportedCipherSuite> {
    rustls::crypto::ring::ALL_CIPHER_SUITES.to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_default_policy_every_backend_suite_is_served() -> R {
    let (_sim, gw) = gateway("").await?;
    for cs in all_suites() {
        let expected = openssl_name(cs).map_or_else(|| iana(cs), str::to_owned);
        assert_eq!(
            s_client(gw.addr, "gateway.test", cs),
            Ok(expected),
            "openssl, {}",
            iana(cs)
        );
        let got = rustls_client(gw.addr, "gateway.test", cs).map(|(s, _)| s);
        assert_eq!(got, Ok(iana(cs)), "rustls");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_narrowed_policy_serves_exactly_its_suites() -> R {
    let keep = [
        "TLS_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ];
    let (_sim, gw) = gateway(&format!("suites = {keep:?}")).await?;
    for cs in all_suites() {
        let allowed = keep.contains(&iana(cs).as_str());
        assert_eq!(
            s_client(gw.addr, "gateway.test", cs).is_ok(),
            allowed,
            "openssl, {}",
            iana(cs)
        );
        assert_eq!(
            rustls_client(gw.addr, "gateway.test", cs).is_ok(),
            allowed,
            "rustls, {}",
            iana(cs)
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_3_only_refuses_1_2() -> R {
    let (_sim, gw) = gateway("versions = [\"1.3\"]").await?;
    for cs in all_suites() {
        let is13 = openssl_name(cs).is_none();
        assert_eq!(
            rustls_client(gw.addr, "gateway.test", cs).is_ok(),
            is13,
            "{}",
            iana(cs)
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_0_and_1_1_offers_are_refused() -> R {
    let (_sim, gw) = gateway("").await?;
    for flag in ["-tls1", "-tls1_1"] {
        let mut cmd = Command::new("openssl");
        // SECLEVEL=0 lets OpenSSL 3 offer the old versions at all, so the refusal is the server's.
        cmd.args([
            "s_client",
            "-brief",
            "-connect",
            &gw.addr.to_string(),
            flag,
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ]);
        let out = s_client_run(cmd);
        let text = out.as_ref().err().cloned().unwrap_or_default();
        assert!(out.is_err(), "{flag} was accepted");
        // The server's alert (rustls answers an old ClientHello with handshake_failure) shows
        // the client did offer the old version and the server refused it.
        let alert =
            text.contains("alert handshake failure") || text.contains("alert protocol version");
        assert!(alert, "{flag}: {text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sni_and_the_offered_suites_select_the_certificate() -> R {
    let (_sim, gw) = gateway("").await?;
    let (ecdsa, rsa) = (leaf("ecdsa.pem")?, leaf("rsa.pem")?);
    let tls13 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let rsa12 = rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let ec12 = rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    assert_eq!(rustls_client(gw.addr, "rsa.test", tls13)?.1, rsa);
    assert_eq!(rustls_client(gw.addr, "ecdsa.test", tls13)?.1, ecdsa);
    assert_eq!(
        rustls_client(gw.addr, "gateway.test", rsa12)?.1,
        rsa,
        "an RSA-only offer gets the RSA certificate"
    );
    assert_eq!(rustls_client(gw.addr, "gateway.test", ec12)?.1, ecdsa);
    let metrics = gw.admin_get("/metrics")?;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("tiergate_tls_handshakes_total{suite="),
        "{text}"
    );
    assert!(
        text.contains("tiergate_tls_certificate_expiry_timestamp_seconds{subject=\"CN=rsa\"}"),
        "{text}"
    );
    Ok(())
}

/// A gateway serving `served.pem`/`served.key` from a folder the test rewrites, starting
/// with the ECDSA fixture, checking the files every `interval`.
struct Reloadable {
    _sim: Simulator,
    gw: Gateway,
    dir: tempfile::TempDir,
}

impl Reloadable {
    async fn start(interval: &str) -> Result<Reloadable, String> {
        let sim = start_sim(fixture()?).await?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let served = certs(dir.path(), &[("served.pem", "served.key")]);
        let tls = format!("[tls]\nreload_interval = \"{interval}\"\n{served}");
        serve(dir.path(), "ecdsa")?;
        let gw = Gateway::start_with(sim.addr(), &tls)?;
        Ok(Reloadable { _sim: sim, gw, dir })
    }

    /// Puts fixture `name`.pem/.key in place of the served files.
    fn serve(&self, name: &str) -> R {
        serve(self.dir.path(), name)
    }
}

fn serve(dir: &Path, name: &str) -> R {
    for ext in ["pem", "key"] {
        let from = tls_fixtures().join(format!("{name}.{ext}"));
        std::fs::copy(from, dir.join(format!("served.{ext}"))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_reload_on_sighup_without_dropping_connections() -> R {
    // A long file-check interval: only the signal can trigger the reload here.
    let r = Reloadable::start("1h").await?;
    let gw = &r.gw;
    let tls13 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    assert_eq!(
        rustls_client(gw.addr, "localhost", tls13)?.1,
        leaf("ecdsa.pem")?
    );
    let (mut open_conn, mut open_sock) = rustls_session(gw.addr, "localhost", tls13)?;
    r.serve("rsa")?;
    gw.signal("HUP")?;
    await_metric(gw, "tiergate_tls_reloads_total{outcome=\"ok\"} 1")?;
    assert_eq!(
        rustls_client(gw.addr, "localhost", tls13)?.1,
        leaf("rsa.pem")?
    );
    // The connection opened before the reload still works, with its old certificate.
    let mut tls = rustls::Stream::new(&mut open_conn, &mut open_sock);
    let request = b"GET /v2/nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    std::io::Write::write_all(&mut tls, request).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut tls, &mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 404") && answer.contains("TG.2001"),
        "{answer}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_agrees_with_what_is_served() -> R {
    let (_sim, gw) = gateway("").await?;
    let out = Command::new(tiergate_tests::harness::binary("tiergate")?)
        .args(["tls", "report", "--json", "--config"])
        .arg(&gw.config)
        .output()
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let mut reported: Vec<String> = ["TLSv1.2", "TLSv1.3"]
        .iter()
        .flat_map(|v| {
            report["effective"][v]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    reported.sort();
    let mut served: Vec<String> = all_suites()
        .into_iter()
        .filter(|cs| rustls_client(gw.addr, "gateway.test", *cs).is_ok())
        .map(iana)
        .collect();
    served.sort();
    assert_eq!(reported, served);
    assert_eq!(report["certificates"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["warnings"], serde_json::json!([]));
    Ok(())
}

/// Acceptance: an outside scanner sees exactly the effective set on TLS 1.2 and 1.3, nothing
/// on SSL 2/3 or TLS 1.0/1.1, and `tiergate tls report` agrees.
#[tokio::test(flavor = "multi_thread")]
async fn sslyze_sees_exactly_the_reported_effective_set() -> R {
    let (_sim, gw) = gateway("").await?;
    let out_file = gw.dir().join("scan.json");
    let python = tiergate_tests::harness::sdk_python()?;
    let status = Command::new(python)
        .args([
            "-m",
            "sslyze",
            "--quiet",
            "--sslv2",
            "--sslv3",
            "--tlsv1",
            "--tlsv1_1",
            "--tlsv1_2",
            "--tlsv1_3",
        ])
        .arg(format!("--json_out={}", out_file.display()))
        .arg(gw.addr.to_string())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success(), "sslyze failed");
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let result = &scan["server_scan_results"][0]["scan_result"];
    let accepted = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = result[key]["result"]["accepted_cipher_suites"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c["cipher_suite"]["name"].as_str().map(str::to_owned))
            .collect();
        v.sort();
        v
    };
    for old in [
        "ssl_2_0_cipher_suites",
        "ssl_3_0_cipher_suites",
        "tls_1_0_cipher_suites",
        "tls_1_1_cipher_suites",
    ] {
        assert_eq!(result[old]["status"], "COMPLETED", "{old}");
        assert!(accepted(old).is_empty(), "{old}: {:?}", accepted(old));
    }
    let report = Command::new(tiergate_tests::harness::binary("tiergate")?)
        .args(["tls", "report", "--json", "--config"])
        .arg(&gw.config)
        .output()
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_slice(&report.stdout).map_err(|e| e.to_string())?;
    for (key, version) in [
        ("tls_1_2_cipher_suites", "TLSv1.2"),
        ("tls_1_3_cipher_suites", "TLSv1.3"),
    ] {
        let mut reported: Vec<String> = report["effective"][version]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        reported.sort();
        assert_eq!(accepted(key), reported, "{version}");
        assert!(!reported.is_empty());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_handshakes_are_counted_by_reason() -> R {
    let (_sim, gw) = gateway("").await?;
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-brief",
        "-connect",
        &gw.addr.to_string(),
        "-tls1_2",
        "-cipher",
        "ECDHE-RSA-AES128-SHA",
    ]);
    assert!(s_client_run(cmd).is_err(), "a CBC suite was accepted");
    let m = gw.admin_get("/metrics")?;
    let text = String::from_utf8_lossy(&m.body);
    let line = "tiergate_tls_handshake_failures_total{reason=\"no_shared_cipher_suite\"} 1";
    assert!(text.contains(line), "{text}");
    Ok(())
}

/// Polls `/metrics` until it shows `needle` (bounded).
fn await_metric(gw: &Gateway, needle: &str) -> R {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = gw.admin_get("/metrics")?;
        if String::from_utf8_lossy(&m.body).contains(needle) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("no `{needle}` within 10 s"));
        }
        std::thread::yield_now();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_reload_when_their_files_change() -> R {
    let r = Reloadable::start("50ms").await?;
    let gw = &r.gw;
    r.serve("p384")?;
    await_metric(gw, "tiergate_tls_reloads_total{outcome=\"ok\"}")?;
    let tls13 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    assert_eq!(
        rustls_client(gw.addr, "p384.test", tls13)?.1,
        leaf("p384.pem")?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_warns_30_days_before_expiry() -> R {
    let sim = start_sim(fixture()?).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let f = tls_fixtures();
    let (csr, crt) = (dir.path().join("soon.csr"), dir.path().join("soon.crt"));
    let run = |args: Vec<std::ffi::OsString>| -> R {
        let ok = Command::new("openssl")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        ok.success()
            .then_some(())
            .ok_or_else(|| "openssl failed".to_owned())
    };
    run(vec![
        "req".into(),
        "-new".into(),
        "-key".into(),
        f.join("ecdsa.key").into(),
        "-subj".into(),
        "/CN=soon".into(),
        "-addext".into(),
        // gateway.test too: the admin listener serves it, and the harness checks its name.
        "subjectAltName=DNS:soon.test,DNS:gateway.test".into(),
        "-out".into(),
        csr.clone().into(),
    ])?;
    run(vec![
        "x509".into(),
        "-req".into(),
        "-in".into(),
        csr.into(),
        "-CA".into(),
        f.join("ca.pem").into(),
        "-CAkey".into(),
        f.join("ca.key").into(),
        "-days".into(),
        "10".into(),
        "-copy_extensions".into(),
        "copy".into(),
        "-out".into(),
        crt.clone().into(),
    ])?;
    let chain = std::fs::read_to_string(&crt).map_err(|e| e.to_string())?
        + &std::fs::read_to_string(f.join("ca.pem")).map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("soon.pem"), chain).map_err(|e| e.to_string())?;
    std::fs::copy(f.join("ecdsa.key"), dir.path().join("soon.key")).map_err(|e| e.to_string())?;
    let gw = Gateway::start_with(
        sim.addr(),
        &format!("[tls]\n{}", certs(dir.path(), &[("soon.pem", "soon.key")])),
    )?;
    let out = Command::new(tiergate_tests::harness::binary("tiergate")?)
        .args(["tls", "report", "--json", "--config"])
        .arg(&gw.config)
        .output()
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let warnings = report["warnings"].to_string();
    // Signed for 10 days a moment ago: whole days left are 10, or 9 past a day boundary.
    let soon = ["expires in 10 days", "expires in 9 days"]
        .iter()
        .any(|w| warnings.contains(w));
    assert!(
        soon && warnings.contains("certificate CN=soon"),
        "{warnings}"
    );
    // An ECDSA-only listener cannot serve the allowlisted ECDHE-RSA suites: said too.
    assert!(
        warnings.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 needs a certificate"),
        "{warnings}"
    );
    Ok(())
}

#[test]
fn an_unreadable_certificate_stops_startup_with_its_path_not_a_panic() -> R {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("t.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[upstream]\nurl = \"http://127.0.0.1:1\"\n\
         [distributor]\npartner_id = \"d\"\naccess_key = \"a\"\nsecret_key = {{ value = \"s\" }}\n\
         [credentials]\nmaster_key = {{ value = \"ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=\" }}\n\
         [audit]\nsigning_key = {{ value = \"{}\" }}\n[tls]\n{}",
        tiergate_tests::harness::AUDIT_KEY,
        certs(
            &tls_fixtures(),
            &[("expired.pem", "expired.key"), ("gone.pem", "gone.key")]
        )
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let out = Command::new(tiergate_tests::harness::binary("tiergate")?)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("tls.certificates[0]: ") && err.contains("expired on 2021-01-01"),
        "{err}"
    );
    assert!(
        err.contains("tls.certificates[1]: ") && err.contains("gone.pem"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_listener_serves_the_same_certificates_and_policy() -> R {
    let sim = start_sim(fixture()?).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let vendor = http(sim.addr(), "GET", "/authui/saml/metadata", &[], b"")?;
    let ours = tiergate_tests::sso::keypair("tiergate-idp")?;
    for (name, data) in [
        ("k.pem", &ours.key),
        ("c.pem", &ours.cert),
        ("v.xml", &vendor.body),
    ] {
        std::fs::write(dir.path().join(name), data).map_err(|e| e.to_string())?;
    }
    let d = dir.path().display();
    let both = certs(
        &tls_fixtures(),
        &[("ecdsa.pem", "ecdsa.key"), ("rsa.pem", "rsa.key")],
    );
    let extra = format!(
        "[tls]\n{both}\n[sso]\nlisten = \"127.0.0.1:0\"\nidp_key = {{ file = \"{d}/k.pem\" }}\n\
         idp_cert = \"{d}/c.pem\"\nvendor_metadata = \"{d}/v.xml\"\nx_account_type = \"tg\"\n"
    );
    let gw = Gateway::start_with(sim.addr(), &extra)?;
    let sso = gw.sso.ok_or("no sso listener")?;
    for cs in all_suites() {
        let got = rustls_client(sso, "gateway.test", cs).map(|(s, _)| s);
        assert_eq!(got, Ok(iana(cs)), "sso listener, {}", iana(cs));
    }
    let cs = all_suites().into_iter().next().ok_or("no suite")?;
    let (mut conn, mut sock) = rustls_session(sso, "gateway.test", cs)?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    std::io::Write::write_all(
        &mut tls,
        b"GET /saml/idp/metadata HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n",
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut tls, &mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains(&format!("entityID=\"https://{sso}/saml/idp/metadata\"")),
        "the public URL is https: {text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_certificates_the_admin_listener_serves_tls_and_metrics_may_have_their_own() -> R {
    let sim = start_sim(fixture()?).await?;
    let both = certs(
        &tls_fixtures(),
        &[("ecdsa.pem", "ecdsa.key"), ("rsa.pem", "rsa.key")],
    );
    let extra = format!("metrics_listen = \"127.0.0.1:0\"\n[tls]\n{both}");
    let gw = Gateway::start_with(sim.addr(), &extra)?;
    let r = tiergate_tests::harness::https_get(gw.admin, "gateway.test", "/healthz")?;
    assert_eq!(r.status, 200);
    // Plaintext on the admin listener gets no answer at all.
    let plain = http(gw.admin, "GET", "/healthz", &[], b"");
    assert!(plain.is_err(), "{plain:?}");
    // The metrics listener serves metrics and nothing else.
    let m = gw.metrics.ok_or("no metrics listener")?;
    let r = http(m, "GET", "/metrics", &[], b"")?;
    assert_eq!(r.status, 200);
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        text.contains("tiergate_tls_certificate_expiry_timestamp_seconds"),
        "{text}"
    );
    let r = http(m, "GET", "/readyz", &[], b"")?;
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (404, Some("TG.2001"))
    );
    Ok(())
}
