//! Tiergate as a load target: a gateway on PostgreSQL and Redis in front of the static
//! upstream (whose world it syncs), a reseller credential, voucher slices, and the signed
//! request files the driver replays.

use super::drive;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tiergate_benches::canned::{
    COUPONS, CUSTOMERS, DISTRIBUTOR_QUOTA, ISSUED, RESELLER, RESELLER_QUOTA,
};
use tiergate_benches::high_limits;
use tiergate_tests::harness::{Cred, Db, Gateway, Result, Signer, TempDb, http};
use tiergate_tests::ledger::{dec, grant, settled};

/// What the race to exhaustion found.
pub struct Race {
    /// The slice's size, in vouchers of 1.00.
    pub slice: u64,
    /// Vouchers Tiergate let through (200s).
    pub admitted: u64,
    /// Refusals by the ledger (TG.3002).
    pub refused: u64,
    /// Vouchers the upstream issued during the race.
    pub vendor_issued: u64,
    /// What the ledger says the slice used, once settled.
    pub ledger_used: String,
    /// `tiergate audit verify` afterwards.
    pub audit_verified: bool,
}

/// A running gateway and what it needs.
pub struct Tiergate {
    pub gw: Gateway,
    db: TempDb,
    cred: Cred,
    upstream: SocketAddr,
    mode: String,
}

/// A request file for the driver: each request signed now by `cred` (valid within the
/// gateway's clock skew, longer than a run).
fn write_requests(
    path: PathBuf,
    gw: SocketAddr,
    cred: &Cred,
    requests: &[(&str, &str, &str, String)],
) -> Result<PathBuf> {
    let signer = Signer {
        addr: gw,
        ak: &cred.ak,
        sk: &cred.sk,
    };
    let now = time::OffsetDateTime::now_utc();
    let specs: Vec<Value> = requests
        .iter()
        .map(|(method, path, query, body)| {
            let headers = signer.headers(method, path, query, body.as_bytes(), now);
            let target = if query.is_empty() {
                (*path).to_owned()
            } else {
                format!("{path}?{query}")
            };
            json!({"method": method, "target": target, "headers": headers, "body": body})
        })
        .collect();
    std::fs::write(&path, Value::Array(specs).to_string()).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Distinct voucher requests per write mix: more than a run sends (a repeated signed
/// request is carried out once, so a cycled mix would measure replays).
const WRITES: usize = 40_000;

/// The `n`th voucher issue of 1.00, to one of the reseller's customers; `memo` makes each
/// request (and its signature) its own.
fn voucher(n: usize) -> String {
    json!({"quota_id": RESELLER_QUOTA, "customer_ids": [format!("bc-{}", n % CUSTOMERS)],
        "face_value": 1, "memo": format!("bench-{n}")})
    .to_string()
}

impl Tiergate {
    /// Starts a gateway with the limiter in `mode`, one worker thread on `cpus`.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        upstream: SocketAddr,
        mode: &str,
        cpus: &str,
    ) -> Result<Tiergate> {
        let db = rt.block_on(TempDb::create())?;
        let wrapper = ["taskset", "-c", cpus];
        let gw = Gateway::start_tuned(
            upstream,
            Db::Postgres(db.url.clone()),
            &high_limits(mode, &format!("tgload{}{mode}", std::process::id())),
            1,
            &wrapper,
        )?;
        let cred = gw.issue(RESELLER)?;
        let dist = [
            "--id",
            "dist",
            "--grantee",
            "dist-1",
            "--total",
            "100000000",
        ];
        grant(&gw, DISTRIBUTOR_QUOTA, &dist)?;
        let res = [
            "--id",
            "res",
            "--parent",
            "dist",
            "--grantee",
            RESELLER,
            "--total",
            "50000000",
            "--upstream-quota",
            RESELLER_QUOTA,
        ];
        grant(&gw, DISTRIBUTOR_QUOTA, &res)?;
        Ok(Tiergate {
            gw,
            db,
            cred,
            upstream,
            mode: mode.to_owned(),
        })
    }

    /// The read mix: a customer list scoped by one customer id, the reseller's vouchers and
    /// its balances (each scoped to the reseller by Tiergate).
    pub fn reads(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(format!("reads-{}.json", self.mode));
        self.reads_for(self.gw.addr, path)
    }

    /// The same read mix with the same credential, signed now for `host`: another target
    /// that verifies the signature (the nginx + njs peer).
    pub fn reads_for(&self, host: SocketAddr, path: PathBuf) -> Result<PathBuf> {
        let list = json!({"customer_id": "bc-3", "offset": 0, "limit": 10}).to_string();
        let requests = [
            ("POST", "/v2/partners/sub-customers/query", "", list),
            ("GET", COUPONS, "limit=10&offset=0", String::new()),
            (
                "GET",
                "/v2/accounts/partner-accounts/balances",
                "",
                String::new(),
            ),
        ];
        write_requests(path, host, &self.cred, &requests)
    }

    /// The reseller's credential the request files are signed with.
    pub fn cred(&self) -> &Cred {
        &self.cred
    }

    /// Junk an attacker sends: well-formed access keys nobody was issued, signed with a
    /// made-up secret, each one different (no negative cache helps).
    pub fn junk(&self, dir: &Path) -> Result<PathBuf> {
        let now = time::OffsetDateTime::now_utc();
        let specs: Vec<Value> = (0..20_000u64)
            .map(|i| {
                let ak = format!(
                    "TG{:018}",
                    i.wrapping_mul(2_654_435_761) % 1_000_000_000_000_000_000
                );
                let signer = Signer {
                    addr: self.gw.addr,
                    ak: &ak,
                    sk: "junk",
                };
                let path = "/v2/accounts/partner-accounts/balances";
                let headers = signer.headers("GET", path, "", b"", now);
                json!({"method": "GET", "target": path, "headers": headers, "body": ""})
            })
            .collect();
        let path = dir.join("junk.json");
        std::fs::write(&path, Value::Array(specs).to_string()).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Voucher issues of 1.00, one customer each, over the reseller's ten customers.
    pub fn writes(&self, dir: &Path) -> Result<PathBuf> {
        let requests: Vec<_> = (0..WRITES)
            .map(|n| ("POST", COUPONS, "", voucher(n)))
            .collect();
        let path = dir.join(format!("writes-{}.json", self.mode));
        write_requests(path, self.gw.addr, &self.cred, &requests)
    }

    fn vendor_issued(&self) -> Result<u64> {
        let r = http(self.upstream, "GET", ISSUED, &[], b"")?;
        r.json()["issued"]
            .as_u64()
            .ok_or_else(|| "the upstream did not say what it issued".into())
    }

    /// A staff slice of 2,000 vouchers raced to exhaustion by every connection of the
    /// driver: the ledger must let exactly the slice through.
    pub fn race_to_exhaustion(&self, dir: &Path) -> Result<Race> {
        const SLICE: u64 = 1000;
        let slice = SLICE.to_string();
        let args = [
            "--id",
            "racer",
            "--parent",
            "res",
            "--grantee",
            "racer",
            "--total",
            &slice,
        ];
        grant(&self.gw, DISTRIBUTOR_QUOTA, &args)?;
        let staff = [
            "--staff",
            "racer",
            "--reseller",
            RESELLER,
            "--role",
            "operator",
        ];
        let racer = self.gw.issue_with(RESELLER, &staff, &[])?;
        let requests: Vec<_> = (0..WRITES)
            .map(|n| ("POST", COUPONS, "", voucher(n)))
            .collect();
        let path = write_requests(dir.join("race.json"), self.gw.addr, &racer, &requests)?;
        let before = self.vendor_issued()?;
        let report = drive::race(self.gw.addr, &path, 6.0)?;
        let vendor_issued = self.vendor_issued()? - before;
        let t = settled(&self.gw, DISTRIBUTOR_QUOTA)?;
        let audit_verified = self.gw.audit("verify", &[]).is_ok();
        Ok(Race {
            slice: SLICE,
            admitted: report["statuses"]["200"].as_u64().unwrap_or(0),
            refused: report["statuses"]["403"].as_u64().unwrap_or(0),
            vendor_issued,
            ledger_used: dec(&t["racer"]["used"]).to_string(),
            audit_verified,
        })
    }

    /// Transactions committed in the gateway's database so far.
    pub fn commits(&self, rt: &tokio::runtime::Runtime) -> Result<i64> {
        rt.block_on(async {
            let pool = sqlx::PgPool::connect(&self.db.url)
                .await
                .map_err(|e| e.to_string())?;
            let n: i64 = sqlx::query_scalar(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            )
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
            pool.close().await;
            Ok(n)
        })
    }

    /// Stops the gateway and drops its database.
    pub fn stop(self, rt: &tokio::runtime::Runtime) {
        drop(self.gw);
        rt.block_on(self.db.drop_db());
    }
}
