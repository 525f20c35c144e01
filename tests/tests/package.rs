//! The Debian package as a platform team installs it: built by deploy/debian/build-deb.sh from
//! this workspace's binary, its files and control fields read back, installed with dpkg, the
//! unit's hardening checked, and the installed gateway started as its own user with the unit's
//! own commands and the installed configuration (only its addresses, database and upstream
//! moved by the environment, as a drop-in would), ready, stopped by SIGTERM, then purged.
//! Needs root, as dpkg does; a package left installed by an interrupted run is upgraded.
//! The container file is built too where a container engine and its base images are.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tiergate_tests::harness::{
    AUDIT_KEY, TempDb, binary, eventually, fixture, https_get, redis, repo_root, start_sim,
    tls_fixtures,
};

type R = Result<(), String>;

const UNIT: &str = "/lib/systemd/system/tiergate.service";
const CONFIG: &str = "/etc/tiergate/tiergate.toml";
const SECRETS: &str = "/etc/tiergate/tiergate.env";
const TLS: &str = "/etc/tiergate/tls";

#[tokio::test(flavor = "multi_thread")]
async fn the_package_installs_a_hardened_service_that_starts_and_purges_cleanly() -> R {
    if sh("id", &["-u"])?.trim() != "0" {
        return Err("this test installs a Debian package: run it as root".into());
    }
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let built = build(out.path())?;
    check_contents(&built)?;

    let installed = Installed;
    install(&built.deb)?;
    check_installed()?;
    let unit = check_unit()?;
    let version = sh("/usr/bin/tiergate", &["--version"])?;
    let stamp = format!("tiergate {} ({})", built.version, built.revision);
    assert_eq!(version.trim(), stamp);
    serve_installed(&unit).await?;

    // Purge: the package's files and state go; the user stays (files elsewhere may be its).
    drop(installed);
    let known = run(Command::new("dpkg-query").args(["-W", "-f", "${Status}", "tiergate"]));
    assert!(
        known.as_ref().is_err() || known.as_ref().is_ok_and(|s| s.contains("not-installed")),
        "still known to dpkg: {known:?}"
    );
    for path in [
        "/usr/bin/tiergate",
        UNIT,
        "/etc/tiergate",
        "/var/lib/tiergate",
        "/var/log/tiergate",
    ] {
        assert!(!Path::new(path).exists(), "{path} left after purge");
    }
    sh("getent", &["passwd", "tiergate"])?;
    Ok(())
}

/// What build-deb.sh made, and what it was made from.
struct Built {
    deb: PathBuf,
    version: String,
    revision: String,
}

/// Builds the package from the binary the suites test. xz at level 0: the debug binary is 60 MB
/// stripped and xz's default level takes most of a minute on two cores.
fn build(out: &Path) -> Result<Built, String> {
    let root = repo_root();
    let tiergate = binary("tiergate")?;
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let version = workspace
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or("Cargo.toml: no [workspace.package] version")?;
    let stamp = run(Command::new(&tiergate).arg("--version"))?;
    let revision = stamp.trim().rsplit('(').next().unwrap_or_default();
    let revision = revision.trim_end_matches(')').to_owned();
    let printed = run(Command::new("bash")
        .arg(root.join("deploy/debian/build-deb.sh"))
        .arg("--binary")
        .arg(&tiergate)
        .arg("--out")
        .arg(out)
        .env("DPKG_DEB_COMPRESSOR_TYPE", "xz")
        .env("DPKG_DEB_COMPRESSOR_LEVEL", "0"))?;
    let deb = PathBuf::from(printed.lines().last().unwrap_or_default());
    let arch = sh("dpkg", &["--print-architecture"])?;
    let name = deb.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert!(
        name.starts_with(&format!("tiergate_{version}+git"))
            && name.ends_with(&format!(".{revision}-1_{}.deb", arch.trim())),
        "{name}: not tiergate_{version}+git<date>.{revision}-1_{arch}.deb"
    );
    Ok(Built {
        deb,
        version,
        revision,
    })
}

/// Exactly these files, owned by root, the secrets template readable by no one else; the
/// control fields a host's apt resolves.
fn check_contents(built: &Built) -> R {
    let deb = built.deb.to_string_lossy();
    let listing = sh("dpkg-deb", &["-c", &deb])?;
    let mut files: Vec<(&str, &str)> = listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| {
            let mode = l.split_whitespace().next()?;
            Some((l.split_whitespace().last()?.trim_start_matches('.'), mode))
        })
        .collect();
    files.sort();
    let expected = [
        (SECRETS, "-rw-r-----"),
        (CONFIG, "-rw-r--r--"),
        (UNIT, "-rw-r--r--"),
        ("/usr/bin/tiergate", "-rwxr-xr-x"),
        ("/usr/share/doc/tiergate/README.Debian", "-rw-r--r--"),
        ("/usr/share/doc/tiergate/changelog.Debian.gz", "-rw-r--r--"),
        ("/usr/share/doc/tiergate/changelog.gz", "-rw-r--r--"),
        ("/usr/share/doc/tiergate/copyright", "-rw-r--r--"),
        ("/usr/share/lintian/overrides/tiergate", "-rw-r--r--"),
    ];
    assert_eq!(files, expected, "{listing}");
    assert!(
        listing.lines().all(|l| l.contains(" root/root ")),
        "{listing}"
    );

    let field = |f: &str| sh("dpkg-deb", &["-f", &deb, f]).map(|v| v.trim().to_owned());
    assert_eq!(field("Package")?, "tiergate");
    assert!(field("Version")?.starts_with(&format!("{}+git", built.version)));
    assert_eq!(
        field("Architecture")?,
        sh("dpkg", &["--print-architecture"])?.trim()
    );
    let depends = field("Depends")?;
    for package in [
        "libxmlsec1",
        "libxmlsec1-openssl",
        "libssl3",
        "libc6",
        "adduser",
    ] {
        assert!(
            depends
                .split(',')
                .any(|d| d.split_whitespace().next() == Some(package)),
            "Depends lacks {package}: {depends}"
        );
    }
    assert_eq!(field("Recommends")?, "postgresql, redis-server");
    let conffiles = sh("dpkg-deb", &["-I", &deb, "conffiles"])?;
    assert_eq!(conffiles.lines().collect::<Vec<_>>(), [CONFIG, SECRETS]);
    Ok(())
}

/// The package purged even when an assertion fails half-way (the machine is shared with the
/// other suites); the test's certificates go first, as they are no package file.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("{TLS}/gateway.pem"));
        let _ = std::fs::remove_file(format!("{TLS}/gateway.key"));
        let _ = sh("dpkg", &["--purge", "tiergate"]);
    }
}

/// `dpkg -i`, waiting out another dpkg or apt run holding its lock (bounded). Missing
/// dependencies fail the test in dpkg's own words.
fn install(deb: &Path) -> R {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match run(Command::new("dpkg").arg("-i").arg(deb)) {
            Ok(_) => return Ok(()),
            Err(e) if e.contains("lock") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(format!("the package does not install: {e}")),
        }
    }
}

/// The user, the owners and modes postinst sets, and a unit left disabled.
fn check_installed() -> R {
    let status = sh("dpkg-query", &["-W", "-f", "${Status}", "tiergate"])?;
    assert_eq!(status, "install ok installed");
    let passwd = sh("getent", &["passwd", "tiergate"])?;
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    assert_eq!(
        fields.get(5..7),
        Some(&["/var/lib/tiergate", "/usr/sbin/nologin"][..]),
        "{passwd}"
    );
    for (path, want) in [
        (SECRETS, "root:tiergate 640"),
        (CONFIG, "root:root 644"),
        (TLS, "root:tiergate 750"),
        ("/var/lib/tiergate", "tiergate:tiergate 750"),
        ("/var/log/tiergate", "tiergate:tiergate 750"),
        ("/usr/bin/tiergate", "root:root 755"),
    ] {
        assert_eq!(owner(path)?, want, "{path}");
    }
    // It cannot start before its secrets and certificates are in place.
    let wants = "/etc/systemd/system/multi-user.target.wants/tiergate.service";
    assert!(!Path::new(wants).exists(), "{wants}: enabled on install");
    Ok(())
}

/// The unit's hardening as deploy/README.md promises it, its stop timeout against the drain
/// the installed configuration asks for, and systemd's own verdict where systemd-analyze is.
fn check_unit() -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(UNIT).map_err(|e| e.to_string())?;
    let keys: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let pre = format!("/usr/bin/tiergate check-config {CONFIG}");
    let start = format!("/usr/bin/tiergate serve --config {CONFIG}");
    let secrets = format!("-{SECRETS}");
    for (key, want) in [
        ("User", "tiergate"),
        ("Group", "tiergate"),
        ("ExecStartPre", pre.as_str()),
        ("ExecStart", start.as_str()),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("KillSignal", "SIGTERM"),
        ("EnvironmentFile", secrets.as_str()),
        ("StateDirectory", "tiergate"),
        ("LogsDirectory", "tiergate"),
        ("ConfigurationDirectory", "tiergate"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "true"),
        ("PrivateTmp", "true"),
        ("PrivateDevices", "true"),
        ("NoNewPrivileges", "true"),
        ("ProtectKernelTunables", "true"),
        ("ProtectKernelModules", "true"),
        ("ProtectControlGroups", "true"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "true"),
        ("LockPersonality", "true"),
        ("MemoryDenyWriteExecute", "true"),
        ("SystemCallArchitectures", "native"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("Restart", "on-failure"),
        ("LimitNOFILE", "65536"),
    ] {
        assert_eq!(unit_value(&keys, key), Some(want), "{UNIT}: {key}");
    }
    let config = std::fs::read_to_string(CONFIG).map_err(|e| e.to_string())?;
    // No capability: the shipped listener must be an unprivileged port.
    let port = config_value(&config, "listen")
        .and_then(|v| v.rsplit(':').next()?.parse::<u16>().ok())
        .ok_or("no listen port")?;
    assert!(
        port >= 1024,
        "listen port {port} needs CAP_NET_BIND_SERVICE"
    );
    let seconds = |v: Option<&str>| v.and_then(|v| v.strip_suffix('s')?.parse::<u64>().ok());
    let stop = seconds(unit_value(&keys, "TimeoutStopSec")).ok_or("TimeoutStopSec")?;
    let drain = seconds(config_value(&config, "grace_period"))
        .zip(seconds(config_value(&config, "shutdown_timeout")))
        .map(|(a, b)| a + b)
        .ok_or("grace_period, shutdown_timeout")?;
    assert!(
        stop > drain,
        "TimeoutStopSec={stop}s, a drain takes {drain}s"
    );
    match run(Command::new("systemd-analyze").args(["verify", UNIT])) {
        Ok(_) => {}
        Err(e) if e.contains("No such file") => {
            eprintln!("package: no systemd-analyze: the unit's keys checked, not verified");
        }
        Err(e) => return Err(format!("systemd-analyze verify: {e}")),
    }
    Ok(keys)
}

/// The installed gateway under the unit's own commands, as its user: refused without its
/// secrets, checked and started with them, ready over TLS, writing where only it may, and
/// out cleanly on SIGTERM.
async fn serve_installed(unit: &[(String, String)]) -> R {
    // The certificates the installed configuration names, placed as README.Debian says.
    for (from, to, mode) in [
        ("rsa.pem", "gateway.pem", "644"),
        ("rsa.key", "gateway.key", "640"),
    ] {
        let dest = format!("{TLS}/{to}");
        std::fs::copy(tls_fixtures().join(from), &dest).map_err(|e| format!("{dest}: {e}"))?;
        sh("chown", &["root:tiergate", &dest])?;
        sh("chmod", &[mode, &dest])?;
    }
    let pre = unit_command(unit, "ExecStartPre")?;
    let refusal = run(&mut as_service(&pre))
        .err()
        .ok_or("ok without secrets")?;
    assert!(refusal.contains("TIERGATE_DISTRIBUTOR_SK"), "{refusal}");

    // What tiergate.env would hold: a fresh database, the simulator's distributor key.
    let sim = start_sim(fixture()?).await?;
    let db = TempDb::create().await?;
    let secrets = [
        (
            "TIERGATE_DISTRIBUTOR_SK",
            "dist-1-secret-key-0000000000000000000001",
        ),
        ("TIERGATE_DATABASE_URL", db.url.as_str()),
        ("TIERGATE_AUDIT_KEY", AUDIT_KEY),
        (
            "TIERGATE_MASTER_KEY",
            "c2FtcGxlLW1hc3Rlci1rZXktMzItYnl0ZXMtbG9uZyE=",
        ),
    ];
    let checked = run(as_service(&pre).envs(secrets))?;
    assert!(checked.contains(": ok"), "{checked}");

    // What a test must move: free ports, the simulator as the vendor (with its distributor),
    // the machine's Redis, and a drain of one second instead of thirty.
    let upstream = format!("http://{}", sim.addr());
    let (redis_url, _) = redis()?;
    let moved = [
        ("TIERGATE__LISTEN", "127.0.0.1:0"),
        ("TIERGATE__ADMIN_LISTEN", "127.0.0.1:0"),
        ("TIERGATE__METRICS_LISTEN", "127.0.0.1:0"),
        ("TIERGATE__UPSTREAM__URL", upstream.as_str()),
        ("TIERGATE__DISTRIBUTOR__PARTNER_ID", "dist-1"),
        ("TIERGATE__DISTRIBUTOR__ACCESS_KEY", "DISTAK0000000000001"),
        ("TIERGATE__RATELIMIT__REDIS", redis_url.as_str()),
        ("TIERGATE__SERVER__GRACE_PERIOD", "1s"),
    ];
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let start = unit_command(unit, "ExecStart")?;
    let mut gateway = Running(
        as_service(&start)
            .envs(secrets)
            .envs(moved)
            .stdout(Stdio::piped())
            .stderr(log.reopen().map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let tail = || {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    let (listen, admin) = gateway
        .addresses()
        .map_err(|e| format!("{e}\n{}", tail()))?;

    let status = std::fs::read_to_string(format!("/proc/{}/status", gateway.0.id()))
        .map_err(|e| e.to_string())?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next());
    assert_eq!(uid, Some(sh("id", &["-u", "tiergate"])?.trim()));
    eventually(
        Duration::from_secs(30),
        "the installed gateway is ready",
        || Ok(https_get(admin, "gateway.test", "/readyz").is_ok_and(|r| r.body == b"ready\n")),
    )
    .map_err(|e| format!("{e}\n{}", tail()))?;
    let unsigned = https_get(
        listen,
        "gateway.test",
        "/v2/promotions/benefits/partner-coupons",
    )?;
    assert_eq!(unsigned.status, 401, "{:?}", unsigned.json());
    let checkpoints = "/var/lib/tiergate/audit-checkpoints.jsonl";
    eventually(Duration::from_secs(10), "a checkpoint is logged", || {
        Ok(std::fs::metadata(checkpoints).is_ok_and(|m| m.len() > 0))
    })?;
    assert!(owner(checkpoints)?.starts_with("tiergate:tiergate "));

    // As systemctl stop: SIGTERM, a drain, exit 0.
    sh("kill", &["-TERM", &gateway.0.id().to_string()])?;
    let exit = gateway
        .wait(Duration::from_secs(20))
        .map_err(|e| format!("{e}\n{}", tail()))?;
    assert!(exit.success(), "{exit} after SIGTERM\n{}", tail());
    db.drop_db().await;
    Ok(())
}

/// The gateway process, killed if the test ends before it does.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// The partner and admin listeners' addresses, from its `listening` line.
    fn addresses(&mut self) -> Result<(SocketAddr, SocketAddr), String> {
        let stdout = self.0.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = loop {
            let Some(Ok(line)) = lines.next() else {
                return Err(format!("exited: {:?}", self.0.wait()));
            };
            if let Some((a, b)) = line
                .strip_prefix("tiergate listening on ")
                .and_then(|rest| rest.split_once(" admin "))
            {
                let parse = |s: &str| s.parse::<SocketAddr>().map_err(|e| format!("{s}: {e}"));
                break (parse(a)?, parse(b)?);
            }
        };
        // Keep draining stdout so the gateway never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(found)
    }

    fn wait(&mut self, within: Duration) -> Result<std::process::ExitStatus, String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("still running {within:?} after SIGTERM"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A unit command line as the unit runs it: as tiergate, with nothing of the test's
/// environment, in its working directory. setpriv execs in place, so the child is the gateway
/// itself, as the unit's main process is; runuser otherwise.
fn as_service(line: &[String]) -> Command {
    let has = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    let mut c = if has("setpriv") {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=tiergate",
            "--regid=tiergate",
            "--init-groups",
            "--",
        ]);
        c
    } else if has("runuser") {
        let mut c = Command::new("runuser");
        c.args(["-u", "tiergate", "--"]);
        c
    } else {
        eprintln!("package: neither setpriv nor runuser here: the gateway runs as root");
        Command::new("env")
    };
    c.args(line)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/var/lib/tiergate");
    c
}

fn unit_value<'a>(keys: &'a [(String, String)], key: &str) -> Option<&'a str> {
    keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn unit_command(keys: &[(String, String)], key: &str) -> Result<Vec<String>, String> {
    let line = unit_value(keys, key).ok_or_else(|| format!("{UNIT}: no {key}"))?;
    Ok(line.split_whitespace().map(str::to_owned).collect())
}

/// A top-level or section key's string value in the installed configuration.
fn config_value<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    config
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

fn owner(path: &str) -> Result<String, String> {
    sh("stat", &["-c", "%U:%G %a", path]).map(|s| s.trim().to_owned())
}

/// Runs a command to success and answers its stdout; a failure carries both outputs.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match out.status.success() {
        true => Ok(text(&out.stdout)),
        false => Err(format!(
            "{cmd:?}: {}\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        )),
    }
}

fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    run(Command::new(program).args(args))
}

/// Built where a container engine answers and the base images can be pulled; elsewhere it
/// says so on stderr (deploy/README.md documents the build either way).
#[test]
fn the_container_image_builds_and_runs_read_only() -> R {
    let docker = |args: &[&str]| sh("docker", args);
    if let Err(e) = docker(&["info", "--format", "{{.ServerVersion}}"]) {
        eprintln!(
            "container: not built, no container engine here: {}",
            e.trim()
        );
        return Ok(());
    }
    for image in ["rust:1-bookworm", "debian:bookworm-slim"] {
        if let Err(e) = docker(&["pull", "--quiet", image]) {
            eprintln!("container: not built, cannot pull {image}: {}", e.trim());
            return Ok(());
        }
    }
    let root = repo_root();
    run(Command::new("docker")
        .args(["build", "--tag", "tiergate:package-test", "--file"])
        .arg(root.join("deploy/container/Containerfile"))
        .arg(&root))?;
    let version = docker(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "tiergate:package-test",
        "--version",
    ])?;
    assert!(version.starts_with("tiergate "), "{version}");
    Ok(())
}
