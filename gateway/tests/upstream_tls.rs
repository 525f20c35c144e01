//! Upstream TLS follows the same policy: against `openssl s_server`, Tiergate's upstream
//! client completes a handshake with an allowlisted suite and refuses a server that offers
//! only suites outside the allowlist, or only TLS 1.1.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tiergate_certs::{TlsPolicy, TlsSpec};
use tiergate_config::{Secret, Upstream};
use tiergate_gateway::credentials::UpstreamKey;
use tiergate_gateway::upstream::{CallError, UpstreamClient};

struct Server(Child, SocketAddr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls")
}

fn s_server(args: &[&str]) -> Result<Server, String> {
    let f = fixtures();
    let mut child = Command::new("openssl")
        .args(["s_server", "-4", "-accept", "0", "-www", "-cert"])
        .arg(f.join("rsa.pem"))
        .arg("-key")
        .arg(f.join("rsa.key"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(out).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(a) = l.strip_prefix("ACCEPT ") {
                    let port = a.rsplit(':').next().unwrap_or_default();
                    break format!("127.0.0.1:{port}").parse().map_err(|_| l.clone())?;
                }
            }
            _ => return Err("s_server did not start".into()),
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Server(child, addr))
}

async fn call(server: &Server) -> Result<serde_json::Value, CallError> {
    let upstream = Upstream {
        host: "localhost".into(),
        port: server.1.port(),
        tls: true,
        timeout: Duration::from_secs(5),
        ca_file: Some(fixtures().join("ca.pem")),
    };
    let client = UpstreamClient::new(upstream, server.1);
    let key = UpstreamKey {
        access_key: "AK".into(),
        secret_key: Secret::new(b"SK".to_vec()),
        domain_id: "dist-1".into(),
    };
    client
        .call(&key, "GET", "/", "", &serde_json::Value::Null)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_connection_keeps_to_the_allowlist() -> Result<(), String> {
    let policy = TlsPolicy::compile(&TlsSpec::default()).map_err(|e| format!("{e:?}"))?;
    // This test binary's process-wide provider is the policy's, as in the gateway.
    let _ = policy.provider().install_default();

    let good = s_server(&["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])?;
    match call(&good).await {
        // The handshake succeeded: s_server answers its HTML status page, not JSON.
        Err(CallError::Body(_)) | Err(CallError::Status { .. }) | Ok(_) => {}
        Err(e) => return Err(format!("allowlisted suite refused: {e}")),
    }
    let cbc = s_server(&["-tls1_2", "-cipher", "AES128-SHA:ECDHE-RSA-AES128-SHA"])?;
    assert!(
        matches!(call(&cbc).await, Err(CallError::NotSent(_))),
        "CBC-only server accepted"
    );
    let old = s_server(&["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])?;
    assert!(
        matches!(call(&old).await, Err(CallError::NotSent(_))),
        "TLS 1.1 server accepted"
    );
    Ok(())
}
