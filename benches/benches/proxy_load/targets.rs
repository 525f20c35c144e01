//! The processes under test: the static upstream, the bare Pingora proxy, nginx (the hand-built
//! peer, nginx + njs, in `peer.rs`, starts through [`start_nginx`] too), each started
//! pinned to its cores, and a way to read what they cost.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tiergate_tests::harness::{Result, binary};

/// A process the bench started; killed when dropped.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // TERM, not KILL: nginx's master then stops its worker too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// `taskset -c CPUS PROGRAM ARGS` (taskset execs: the pid is the program's).
pub fn pinned(cpus: &str, program: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", cpus]).arg(program).args(args);
    c
}

/// A free loopback port, for servers that cannot report what they bound (nginx, Pingora).
/// Picked and released: a bench on a quiet machine, not a test.
pub fn free_addr() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map_err(|e| e.to_string())
}

/// Waits (bounded) until `addr` accepts connections.
pub fn wait_listening(addr: SocketAddr, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::yield_now();
    }
    Err(format!("{what} did not listen on {addr} within 20 s"))
}

/// Starts a program that prints `listening on ADDR` and returns that address.
fn spawn_reporting(mut cmd: Command, what: &str) -> Result<Proc> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(a) = l.strip_prefix("listening on ") {
                    break a.parse().map_err(|_| format!("{what}: bad address {a}"))?;
                }
            }
            _ => return Err(format!("{what} exited before listening")),
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let p = Proc { child, addr };
    wait_listening(p.addr, what)?;
    Ok(p)
}

/// The static upstream on `cpus`.
pub fn upstream(cpus: &str) -> Result<Proc> {
    let cmd = pinned(cpus, &binary("tg-bench-upstream")?, &[]);
    spawn_reporting(cmd, "the static upstream")
}

/// The bare Pingora proxy on `cpus`, forwarding to `upstream`.
pub fn bare_pingora(cpus: &str, upstream: SocketAddr) -> Result<Proc> {
    let listen = free_addr()?.to_string();
    let up = upstream.to_string();
    let cmd = pinned(cpus, &binary("tg-bench-proxy")?, &[&listen, &up]);
    spawn_reporting(cmd, "the bare Pingora proxy")
}

/// nginx's binary (Debian's package; `benches/load.sh` installs it).
fn nginx_binary() -> Result<&'static Path> {
    let p = Path::new("/usr/sbin/nginx");
    p.is_file()
        .then_some(p)
        .ok_or_else(|| "nginx is missing: run benches/load.sh (it installs Debian's nginx)".into())
}

/// Starts nginx with one worker on `cpus`, its pid, log and temp files in `dir`, no access
/// log (none of the proxies it is compared with writes one per request to disk). `main` is
/// added to the main context (modules), `http` to the `http` block (upstreams, servers).
pub fn start_nginx(
    cpus: &str,
    dir: &Path,
    addr: SocketAddr,
    main: &str,
    http: &str,
) -> Result<Proc> {
    let d = dir.display();
    let conf = format!(
        r#"{main}worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{http}}}
"#
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let p = path.display().to_string();
    let prefix = format!("{d}/");
    let child = pinned(cpus, nginx_binary()?, &["-p", &prefix, "-c", &p])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("nginx: {e}"))?;
    let mut proc = Proc { child, addr };
    // A configuration nginx refuses ends the process at once: say why, not "did not listen".
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        let exited = proc.child.try_wait().map_err(|e| e.to_string())?.is_some();
        if exited || Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("nginx did not listen on {addr}: {log}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(proc)
}

/// nginx `proxy_pass` to `upstream` over kept-alive connections.
pub fn nginx(cpus: &str, upstream: SocketAddr, dir: &Path) -> Result<Proc> {
    let addr = free_addr()?;
    let http = format!(
        r#"    upstream partner {{ server {upstream}; keepalive 64; }}
    server {{
        listen {addr};
        location / {{
            proxy_pass http://partner;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }}
    }}
"#
    );
    start_nginx(cpus, dir, addr, "", &http)
}
