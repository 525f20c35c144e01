//! A Prometheus of the test's own: Debian's `prometheus` on a free port with its data in a
//! temporary folder, scraping one gateway's admin listener over TLS; killed on drop.

use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tiergate_tests::harness::{eventually, http, tls_fixtures};

/// Runs one of the prometheus package's commands in `dir`; a missing one fails naming the fix.
pub fn run(program: &str, args: &[&str], dir: &Path) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| missing(program, &e))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.success() {
        true => Ok(text),
        false => Err(format!("{program} {args:?}: {}\n{text}", out.status)),
    }
}

fn missing(program: &str, e: &std::io::Error) -> String {
    format!(
        "`{program}` could not run ({e}): install Debian's prometheus package (scripts/deps.sh does)"
    )
}

/// A fault must show within the test, not after the minutes an operator's `for` asks: the
/// rules as given, each firing as soon as its expression holds.
fn at_once(rules: &str) -> String {
    rules
        .lines()
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            match l.trim_start().starts_with("for:") {
                true => format!("{indent}for: 0s\n"),
                false => format!("{l}\n"),
            }
        })
        .collect()
}

/// The running server.
pub struct Prometheus {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts it scraping `target` (job `tiergate`, every second) and evaluating `rules` (with
    /// their `for` at 0 s) every second; waits until it is ready.
    pub fn start(target: SocketAddr, rules: &str) -> Result<Prometheus, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let at = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(at("alerts.yml"), at_once(rules)).map_err(|e| e.to_string())?;
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: tiergate\n    scheme: https\n    tls_config:\n      \
             ca_file: {ca}\n      server_name: gateway.test\n    static_configs:\n      \
             - targets: [\"{target}\"]\n",
            rules = at("alerts.yml"),
            ca = tls_fixtures().join("ca.pem").display(),
        );
        std::fs::write(at("prometheus.yml"), config).map_err(|e| e.to_string())?;
        // A free port, not 9090: a system Prometheus or another test may hold that.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(at("prometheus.log")).map_err(|e| e.to_string())?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", at("prometheus.yml")))
            .arg(format!("--storage.tsdb.path={}", at("data")))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| missing("prometheus", &e))?;
        let mut p = Prometheus { addr, child, dir };
        let ready = eventually(Duration::from_secs(20), "Prometheus ready", || {
            Ok(http(addr, "GET", "/-/ready", &[], b"").is_ok_and(|r| r.status == 200))
        });
        if let Err(e) = ready {
            let exited = p.child.try_wait().ok().flatten();
            return Err(format!("{e} (exited: {exited:?}): {}", p.log()));
        }
        Ok(p)
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The `data` of an HTTP API answer, or its error.
    pub fn api(&self, path: &str) -> Result<Value, String> {
        let r = http(self.addr, "GET", path, &[], b"")?;
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| format!("{path}: {e}: {}", String::from_utf8_lossy(&r.body)))?;
        match v["status"].as_str() {
            Some("success") => Ok(v["data"].clone()),
            _ => Err(format!("{}: {}", v["errorType"], v["error"])),
        }
    }

    /// An instant query's samples.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let enc = percent_encoding::utf8_percent_encode(expr, percent_encoding::NON_ALPHANUMERIC);
        let data = self.api(&format!("/api/v1/query?query={enc}"))?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Whether it has scraped the gateway after `unix` seconds.
    pub fn scraped_after(&self, unix: f64) -> Result<bool, String> {
        let up = self.query("timestamp(up{job=\"tiergate\"})")?;
        Ok(up
            .iter()
            .any(|s| s["value"][0].as_f64().is_some_and(|t| t > unix)))
    }

    /// Whether alert `name` is firing now.
    pub fn firing(&self, name: &str) -> Result<bool, String> {
        let data = self.api("/api/v1/alerts")?;
        Ok(data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["state"] == "firing" && a["labels"]["alertname"] == name))
    }

    /// The alerting rules it loaded.
    pub fn alerts(&self) -> Result<Vec<Value>, String> {
        let data = self.api("/api/v1/rules")?;
        Ok(data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["type"] == "alerting")
            .collect())
    }
}
