//! End-to-end harness: the simulator in-process, the real `tiergate` binary on port 0, and
//! the vendor's Python SDK as the client. Nothing here skips: a missing prerequisite is a
//! loud failure naming the command that provides it.

use crate::sim::{Fixture, Simulator, World, serve};
use serde_json::{Value, json};
use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Any failure in the harness, with what to do about it.
pub type Result<T> = std::result::Result<T, String>;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The standard test world.
pub fn fixture() -> Result<Fixture> {
    let path = repo_root().join("tests/fixtures/world.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Starts the simulator on 127.0.0.1:0 on the current runtime.
pub async fn start_sim(f: Fixture) -> Result<Simulator> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    serve(l, World::from_fixture(f)).map_err(|e| e.to_string())
}

/// A built binary of this workspace (`cargo build --bins` makes them).
pub fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?;
    let bin = dir.join(name);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
            bin.display()
        ))
    }
}

/// How [`Gateway::launch`] starts a gateway.
struct Launch<'a> {
    db: Db,
    probe: &'a str,
    extra: &'a str,
    audit_db: Option<&'a str>,
    threads: usize,
    wrapper: &'a [&'a str],
    credential_cache: &'a str,
    env: &'a [(&'a str, &'a str)],
}

impl<'a> Launch<'a> {
    fn new(db: Db, probe: &'a str, extra: &'a str) -> Self {
        Launch {
            db,
            probe,
            extra,
            audit_db: None,
            threads: 2,
            wrapper: &[],
            credential_cache: "0ms",
            env: &[],
        }
    }
}

/// A credential issued by Tiergate.
#[derive(Debug, Clone)]
pub struct Cred {
    /// Partner.
    pub partner: String,
    /// AK.
    pub ak: String,
    /// SK.
    pub sk: String,
}

/// How the gateway under test stores credentials.
pub enum Db {
    /// A fresh SQLite file in the gateway's temp dir.
    Sqlite,
    /// A PostgreSQL URL.
    Postgres(String),
    /// A PostgreSQL URL (the gateway's role) and its schema owner's URL (`migrate_url`).
    Owned {
        /// The gateway's role.
        url: String,
        /// The schema owner.
        owner: String,
    },
}

/// The demo audit signing key of the test configurations.
pub const AUDIT_KEY: &str = "MFECAQEwBQYDK2VwBCIEIDmdT4ji0OB2Kwxco+mLltCzxzi2onc04xySgnKE/IU4gSEAbDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=";

/// The public key of [`AUDIT_KEY`].
pub const AUDIT_PUBLIC_KEY: &str = "bDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=";

/// A running `tiergate serve`.
pub struct Gateway {
    /// The partner API listener.
    pub addr: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
    /// The identity broker's listener, when `[sso]` is configured.
    pub sso: Option<SocketAddr>,
    /// The plaintext metrics listener, when `metrics_listen` is configured.
    pub metrics: Option<SocketAddr>,
    /// Whether the admin listener serves TLS (certificates configured).
    pub admin_tls: bool,
    /// The config file.
    pub config: PathBuf,
    /// The environment it was started with (its commands get it too).
    env: Vec<(String, String)>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Writes a config for `upstream`, starts the gateway on port 0 and waits until it is
    /// ready (credential store up, relationship graph synced).
    pub fn start(upstream: SocketAddr, db: Db) -> Result<Gateway> {
        Self::launch(upstream, Launch::new(db, "/readyz", ""))
    }

    /// Like [`Gateway::start`], with more configuration appended (e.g. a `[tls]` section).
    pub fn start_with(upstream: SocketAddr, extra: &str) -> Result<Gateway> {
        Self::launch(upstream, Launch::new(Db::Sqlite, "/readyz", extra))
    }

    /// Like [`Gateway::start_with`], on the given storage.
    pub fn start_on(upstream: SocketAddr, db: Db, extra: &str) -> Result<Gateway> {
        Self::launch(upstream, Launch::new(db, "/readyz", extra))
    }

    /// Like [`Gateway::start_with`], with environment variables for the process (e.g.
    /// `SSL_CERT_FILE` for a test CA).
    pub fn start_with_env(
        upstream: SocketAddr,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Result<Gateway> {
        let mut l = Launch::new(Db::Sqlite, "/readyz", extra);
        l.env = env;
        Self::launch(upstream, l)
    }

    /// Like [`Gateway::start`], with more configuration, `threads` worker threads and the
    /// process started through `wrapper` (e.g. `taskset -c 1`), for the load bench.
    pub fn start_tuned(
        upstream: SocketAddr,
        db: Db,
        extra: &str,
        threads: usize,
        wrapper: &[&str],
    ) -> Result<Gateway> {
        let mut l = Launch::new(db, "/readyz", extra);
        l.threads = threads;
        l.wrapper = wrapper;
        // Production's default: a revoked key stops working within seconds, not at once.
        l.credential_cache = "5s";
        Self::launch(upstream, l)
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Like [`Gateway::start`], with the audit log in its own database.
    pub fn start_with_audit_db(upstream: SocketAddr, audit_url: &str) -> Result<Gateway> {
        let mut l = Launch::new(Db::Sqlite, "/readyz", "");
        l.audit_db = Some(audit_url);
        Self::launch(upstream, l)
    }

    /// Starts the gateway and waits only until it answers (`/healthz`), ready or not.
    pub fn start_unready(upstream: SocketAddr) -> Result<Gateway> {
        Self::launch(upstream, Launch::new(Db::Sqlite, "/healthz", ""))
    }

    /// Like [`Gateway::start_unready`], on the given storage and with more configuration.
    pub fn start_unready_on(upstream: SocketAddr, db: Db, extra: &str) -> Result<Gateway> {
        Self::launch(upstream, Launch::new(db, "/healthz", extra))
    }

    /// Sends a signal to the gateway process (`HUP`, `TERM`, ...).
    pub fn signal(&self, name: &str) -> Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -{name} failed"))
    }

    /// Waits (bounded) for the process to exit, e.g. after `signal("TERM")`.
    pub fn wait_exit(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("still running after {within:?}"));
            }
            std::thread::yield_now();
        }
    }

    fn launch(upstream: SocketAddr, l: Launch<'_>) -> Result<Gateway> {
        let Launch {
            db,
            probe,
            extra,
            audit_db,
            threads,
            wrapper,
            credential_cache,
            env,
        } = l;
        let audit_storage = audit_db
            .map(|u| format!("storage = \"{u}\""))
            .unwrap_or_default();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let storage = match db {
            Db::Sqlite => "url = \"sqlite://tiergate.db\"".to_owned(),
            Db::Postgres(url) => format!("url = \"{url}\""),
            Db::Owned { url, owner } => format!("url = \"{url}\"\nmigrate_url = \"{owner}\""),
        };
        let config = dir.path().join("tiergate.toml");
        // Suites about other things run faster than the vendor's 10/s per API (the simulator's
        // limit is off where they do); the rate-limit suites configure their own limits.
        let limits = if extra.contains("[ratelimit") {
            ""
        } else {
            "[ratelimit.upstream]\nrate = \"100000/s\"\nburst = 100000\n"
        };
        // Top-level keys at the head of `extra` (before its first table) go first in the file.
        let split = extra
            .find("\n[")
            .map(|i| i + 1)
            .filter(|_| !extra.trim_start().starts_with('['))
            .unwrap_or(0);
        let (top, extra) = extra.split_at(split);
        let text = format!(
            r#"listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
log_format = "json"
{top}
[server]
threads = {threads}
grace_period = "0s"
shutdown_timeout = "1s"
[upstream]
url = "http://{upstream}"
timeout = "5s"
[distributor]
partner_id = "dist-1"
access_key = "DISTAK0000000000001"
secret_key = {{ value = "dist-1-secret-key-0000000000000000000001" }}
[[resellers]]
partner_id = "res-1"
[[resellers]]
partner_id = "res-2"
[storage]
{storage}
[credentials]
master_key = {{ value = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=" }}
cache_ttl = "{credential_cache}"
[audit]
signing_key = {{ value = "{AUDIT_KEY}" }}
checkpoint_log = "audit-checkpoints.jsonl"
checkpoint_interval = "1h"
{audit_storage}
{limits}
{extra}
"#
        );
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        let tiergate = binary("tiergate")?;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&tiergate);
                c
            }
            None => Command::new(&tiergate),
        };
        let mut child = command
            .envs(env.iter().copied())
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            // Its log (one JSON object a line), for the suites about logs: `Gateway::log`.
            .stderr(
                std::fs::File::create(dir.path().join("tiergate.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut sso = None;
        let mut metrics = None;
        let (addr, admin) = loop {
            let line = match lines.next() {
                Some(Ok(l)) => l,
                _ => {
                    let status = child.wait().map_err(|e| e.to_string())?;
                    return Err(format!("tiergate exited before listening: {status}"));
                }
            };
            if let Some(rest) = line.strip_prefix("tiergate sso on ") {
                sso = rest.parse().ok();
            }
            if let Some(rest) = line.strip_prefix("tiergate metrics on ") {
                metrics = rest.parse().ok();
            }
            if let Some(rest) = line.strip_prefix("tiergate listening on ") {
                let (a, b) = rest.split_once(" admin ").ok_or("bad listening line")?;
                break (
                    a.parse().map_err(|_| "bad address")?,
                    b.parse().map_err(|_| "bad address")?,
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let gw = Gateway {
            addr,
            admin,
            sso,
            metrics,
            admin_tls: extra.contains("[[tls.certificates]]"),
            config,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            child,
            _dir: dir,
        };
        gw.wait_for(probe)?;
        Ok(gw)
    }

    /// Polls an admin probe until it answers 200 and the proxy listener accepts (bounded).
    fn wait_for(&self, probe: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Ready means the whole graph: not a first sync still listing (`ready; graph
            // syncing: ...`), which suites about other things would meet as TG.5005.
            let ready = self
                .admin_get(probe)
                .is_ok_and(|r| r.status == 200 && (probe != "/readyz" || r.body == b"ready\n"));
            if ready && TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            // Connecting to a port nobody listens on fails at once: no sleep needed.
            std::thread::yield_now();
        }
        Err(format!(
            "tiergate did not answer 200 on {probe} within 20 s"
        ))
    }

    /// A GET on the admin listener, over TLS (trusting the test CA) when it serves TLS.
    pub fn admin_get(&self, path: &str) -> Result<HttpResponse> {
        match self.admin_tls {
            true => https(self.admin, "gateway.test", path, false),
            false => http(self.admin, "GET", path, &[], b""),
        }
    }

    /// The sum of the metric series on `/metrics` whose line starts with `prefix` (a whole
    /// series, labels included, for one value); 0 when there is none.
    pub fn metric_sum(&self, prefix: &str) -> Result<f64> {
        let m = self.admin_get("/metrics")?;
        Ok(String::from_utf8_lossy(&m.body)
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// `tiergate credentials ...` against this gateway's config.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        self.command("credentials", args, &[])
    }

    /// `tiergate audit <action> --config <this gateway's config> <args>`.
    pub fn audit(&self, action: &str, args: &[&str]) -> Result<String> {
        let out = Command::new(binary("tiergate")?)
            .args(["audit", action, "--config"])
            .arg(&self.config)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `tiergate <family> --config <this gateway's config> <args>`, with extra environment.
    pub fn command(&self, family: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let out = Command::new(binary("tiergate")?)
            .args([family, "--config"])
            .arg(&self.config)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Issues a credential for a partner.
    pub fn issue(&self, partner: &str) -> Result<Cred> {
        self.issue_with(partner, &["--partner", partner], &[])
    }

    /// Issues a credential with any `credentials issue` options; `partner` is the
    /// `domain_id` the SDK will send (the partner, or the customer, it acts as).
    pub fn issue_with(&self, partner: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Cred> {
        let mut all = vec!["issue"];
        all.extend_from_slice(args);
        let out = self.command("credentials", &all, env)?;
        let field = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
                .ok_or_else(|| format!("no `{name}` in: {out}"))
        };
        Ok(Cred {
            partner: partner.to_owned(),
            ak: field("access key:")?,
            sk: field("secret key:")?,
        })
    }

    /// The gateway's log so far, one JSON object a line.
    pub fn log(&self) -> Result<Vec<serde_json::Value>> {
        let text =
            std::fs::read_to_string(self.dir().join("tiergate.log")).map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// The folder of the gateway's config (for files a test writes beside it).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// The base URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A minimal HTTP/1.1 answer.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// The envelope's `error_code` (empty when there is none).
    pub fn code(&self) -> String {
        self.json()["error_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Polls `done` until it holds, for at most `within` (state another process reaches on its
/// own clock: a sync, a reload).
pub fn eventually(within: Duration, what: &str, done: impl Fn() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if done()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not within {within:?}: {what}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One request on a fresh connection (`Connection: close`), for raw-protocol tests.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse> {
    http_within(
        addr,
        method,
        path_and_query,
        headers,
        body,
        Duration::from_secs(30),
    )
}

/// [`http`] with a read timeout.
pub fn http_within(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<HttpResponse> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut req = format!("{method} {path_and_query} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("bad status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < pos + 2 + size {
            break;
        }
        out.extend_from_slice(&b[pos + 2..pos + 2 + size]);
        b = &b[(pos + 4 + size).min(b.len())..];
    }
    out
}

/// A GET over TLS on a fresh connection, trusting only the test CA, with `sni`.
pub fn https_get(addr: SocketAddr, sni: &str, path: &str) -> Result<HttpResponse> {
    https(addr, sni, path, true)
}

/// Accepts any server certificate: the harness reading its own gateway's admin listener
/// (readiness, metrics), where the certificate is not what is tested.
#[derive(Debug)]
struct AnyCertificate(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn https(addr: SocketAddr, sni: &str, path: &str, verify: bool) -> Result<HttpResponse> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    let ca = tls_fixtures().join("ca.pem");
    for c in CertificateDer::pem_file_iter(&ca).map_err(|e| e.to_string())? {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match verify {
        true => builder.with_root_certificates(roots).with_no_client_auth(),
        false => builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    };
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    // A peer closing without close_notify still gave its whole answer here.
    let _ = tls.read_to_end(&mut raw);
    parse_response(&raw)
}

/// The virtualenv Python with the vendor SDK (scripts/test.sh creates it).
pub fn sdk_python() -> Result<PathBuf> {
    let py = repo_root().join(".venv/bin/python");
    if py.is_file() {
        Ok(py)
    } else {
        Err(format!(
            "{} is missing: run scripts/test.sh, which installs the vendor SDK \
             (tests/sdk/requirements.txt) into .venv",
            py.display()
        ))
    }
}

/// One SDK call description (see tests/sdk/call.py).
pub fn call(endpoint: &str, ak: &str, sk: &str, domain: &str, request: &str) -> Value {
    json!({"endpoint": endpoint, "ak": ak, "sk": sk, "domain_id": domain, "request": request})
}

/// Runs calls with the vendor's Python SDK and returns their results.
pub fn sdk(calls: &[Value]) -> Result<Vec<Value>> {
    let mut child = Command::new(sdk_python()?)
        .arg(repo_root().join("tests/sdk/call.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let input = serde_json::to_vec(calls).map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(&input)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "SDK driver failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "SDK driver output: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs one SDK call.
pub fn sdk1(call: Value) -> Result<Value> {
    sdk(&[call])?
        .into_iter()
        .next()
        .ok_or_else(|| "no result".to_owned())
}

/// A fresh database on the test server, dropped afterwards.
pub struct TempDb {
    admin: sqlx::PgPool,
    name: String,
    /// Its URL.
    pub url: String,
}

impl TempDb {
    /// Creates it; fails loudly when PostgreSQL is unreachable.
    pub async fn create() -> Result<TempDb> {
        let base = std::env::var("TIERGATE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&base)
            .await
            .map_err(|e| {
                format!("PostgreSQL at {base} is required for this test and is not reachable: {e}")
            })?;
        let name = format!("tiergate_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .map_err(|e| e.to_string())?;
        let url = match base.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{name}"),
            None => return Err(format!("bad URL {base}")),
        };
        Ok(TempDb { admin, name, url })
    }

    /// Takes it away from its clients (an outage): new connections refused, open ones ended;
    /// `false` gives it back.
    pub async fn outage(&self, down: bool) -> Result<()> {
        let allow = if down { "false" } else { "true" };
        self.admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
                self.name
            )))
            .await
            .map_err(|e| e.to_string())?;
        if down {
            self.admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{}' AND pid <> pg_backend_pid()",
                    self.name
                )))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Drops it.
    pub async fn drop_db(self) {
        let _ = self
            .admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await;
    }
}

/// Signs requests as the vendor SDK does, with one key, towards one address.
pub struct Signer<'a> {
    /// Where requests go (also the signed `host`).
    pub addr: SocketAddr,
    /// Access key.
    pub ak: &'a str,
    /// Secret key.
    pub sk: &'a str,
}

impl Signer<'_> {
    /// The headers the vendor SDK would send for a request signed at `at`.
    pub fn headers(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        at: time::OffsetDateTime,
    ) -> Vec<(String, String)> {
        use tiergate_policy::aksk;
        let host = self.addr.to_string();
        let date = aksk::format_date(at);
        let headers = [
            ("content-type", "application/json"),
            ("host", host.as_str()),
            ("x-sdk-date", date.as_str()),
        ];
        let hash = aksk::body_sha256(body);
        let auth = aksk::sign(
            method,
            path,
            query,
            &headers,
            &hash,
            self.ak,
            self.sk.as_bytes(),
        );
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        all.push(("authorization".into(), auth));
        all
    }

    /// Signs now and sends on a fresh connection.
    pub fn send(&self, method: &str, path: &str, query: &str, body: &[u8]) -> Result<HttpResponse> {
        self.send_at(method, path, query, body, time::OffsetDateTime::now_utc())
    }

    /// Signs at `at` and sends on a fresh connection.
    pub fn send_at(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        at: time::OffsetDateTime,
    ) -> Result<HttpResponse> {
        self.send_within(method, path, query, body, at, Duration::from_secs(30))
    }

    /// Signs at `at` and sends, waiting at most `timeout` for the answer.
    pub fn send_within(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        at: time::OffsetDateTime,
        timeout: Duration,
    ) -> Result<HttpResponse> {
        let headers = self.headers(method, path, query, body, at);
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        http_within(self.addr, method, &target, &refs, body, timeout)
    }
}

/// The TLS fixtures folder (made by tests/fixtures/tls/generate.sh).
pub fn tls_fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/tls")
}

/// A simulator without the vendor's 10 requests per second per API (for suites that drive
/// more load than that; the gateways' graph sync spends it at start too).
pub async fn start_unlimited_sim() -> Result<Simulator> {
    let mut f = fixture()?;
    f.rate_limit_per_second = 0;
    start_sim(f).await
}

/// The machine's Redis (`TIERGATE_TEST_REDIS`, default `redis://127.0.0.1:6379`): its URL and
/// its address, after checking that it answers; fails loudly when it does not.
pub fn redis() -> Result<(String, SocketAddr)> {
    let url =
        std::env::var("TIERGATE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let host = url
        .strip_prefix("redis://")
        .map(|s| s.trim_end_matches('/'))
        .unwrap_or_default();
    let addr: SocketAddr = host
        .parse()
        .map_err(|_| format!("TIERGATE_TEST_REDIS `{url}` is not redis://IP:PORT"))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| {
        format!("Redis at {addr} is required for this test and is not reachable: {e}")
    })?;
    Ok((url, addr))
}
