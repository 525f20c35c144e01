//! Calls over TLS, trusting only the test CA: with certificates configured, the gateway's
//! partner API and admin listeners both serve TLS, so the harness' plaintext client cannot
//! drive them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use tiergate_tests::harness::{Cred, Gateway, HttpResponse, Signer, tls_fixtures};

/// One request on a fresh connection. The body is kept as it came (chunked or not): the
/// callers read statuses, headers and error codes.
pub fn https(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<HttpResponse, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(tls_fixtures().join("ca.pem")).map_err(|e| err(&e))? {
        roots.add(c.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("gateway.test").map_err(|e| err(&e))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| err(&e))?;
    let mut sock = TcpStream::connect(addr).map_err(|e| err(&e))?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| err(&e))?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n == "host") {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    tls.write_all(req.as_bytes()).map_err(|e| err(&e))?;
    tls.write_all(body).map_err(|e| err(&e))?;
    let mut raw = Vec::new();
    // A peer closing without close_notify still gave its whole answer.
    let _ = tls.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no answer")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// Signs now as the vendor SDK does, and sends to the partner API.
pub fn signed(
    to: SocketAddr,
    c: &Cred,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<HttpResponse, String> {
    let s = Signer {
        addr: to,
        ak: &c.ak,
        sk: &c.sk,
    };
    let headers = s.headers(method, path, query, body, time::OffsetDateTime::now_utc());
    let target = match query {
        "" => path.to_owned(),
        q => format!("{path}?{q}"),
    };
    https(to, method, &target, &headers, body)
}

/// Signs in to the console through its form; the answer's status (303 signed in).
pub fn console_sign_in(gw: &Gateway, ak: &str, sk: &str) -> Result<u16, String> {
    let form = https(gw.admin, "GET", "/console/", &[], b"")?;
    let token = form
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .find_map(|(_, v)| v.split(';').next()?.strip_prefix("tg_console_form="))
        .ok_or("no form cookie")?
        .to_owned();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let body = format!("form={token}&access_key={}&secret_key={}", enc(ak), enc(sk));
    let headers = [
        ("cookie".to_owned(), format!("tg_console_form={token}")),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let r = https(
        gw.admin,
        "POST",
        "/console/sign-in",
        &headers,
        body.as_bytes(),
    )?;
    Ok(r.status)
}
