//! The honest peer a distributor would otherwise hand-build in front of the vendor: nginx +
//! njs (Debian's `libnginx-mod-http-js`, njs 0.7.9) with a key table, `limit_req` per access
//! key, the caller's SDK-HMAC-SHA256 signature verified and the request re-signed with the
//! distributor's key before `proxy_pass` (the script and its design: `benches/njs/peer.js`).
//! [`check`] proves an instance verifies, refuses and re-signs before the bench measures one.

mod check;

pub use check::check;

use super::targets::{Proc, free_addr, start_nginx};
use std::net::SocketAddr;
use std::path::Path;
use tiergate_benches::canned::COUPONS;
use tiergate_tests::harness::{Cred, Result, Signer};

/// The row's name in the tables.
pub const NAME: &str = "nginx + njs (verify, limit_req, re-sign)";

/// The script, compiled in and written beside each instance's config (the config names it by
/// its path there).
const SCRIPT: &str = include_str!("../../njs/peer.js");
/// Debian's njs module (the bench's own config does not read /etc/nginx/modules-enabled).
const NJS_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_js_module.so";

/// The distributor's vendor key in the harness's gateway config (`tests/src/harness.rs`,
/// `[distributor]`): the peer signs upstream with the key Tiergate signs with.
pub const DIST_AK: &str = "DISTAK0000000000001";
/// Its secret.
pub const DIST_SK: &str = "dist-1-secret-key-0000000000000000000001";
/// Its account, sent as `X-Domain-Id`.
pub const DIST_DOMAIN: &str = "dist-1";

/// Per access key, as high as Tiergate's limits in the bench (`high_limits`): the cost of
/// counting, never a refusal.
const RATE: &str = "1000000r/s";
const BURST: u32 = 1_000_000;

/// A value for nginx.conf, double-quoted; anything that could end the string, start a
/// variable or a directive is refused rather than escaped.
fn quoted(s: &str) -> Result<String> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'\\$;{}#".contains(&b))
    {
        return Err(format!("`{s}` cannot go into nginx.conf as a plain value"));
    }
    Ok(format!("\"{s}\""))
}

/// The `http` block: the key table, the limit, the verifying location and `@upstream`.
fn http(addr: SocketAddr, upstream: SocketAddr, cred: &Cred, dir: &Path) -> Result<String> {
    let d = dir.display();
    let (ak, sk, partner) = (quoted(&cred.ak)?, quoted(&cred.sk)?, quoted(&cred.partner)?);
    let host = quoted(&upstream.to_string())?;
    let (dist_ak, dist_sk, dist_domain) =
        (quoted(DIST_AK)?, quoted(DIST_SK)?, quoted(DIST_DOMAIN)?);
    Ok(format!(
        r#"    js_import peer from {d}/peer.js;
    upstream partner {{ server {upstream}; keepalive 64; }}

    # The access key, for limit_req and the key table (peer.js checks it is the key it verifies).
    map $http_authorization $peer_ak {{
        default "";
        "~\bAccess=([^,\s]+)" $1;
    }}
    # The key table: AK -> SK and the partner it belongs to.
    map $peer_ak $peer_sk {{
        default "";
        {ak} {sk};
    }}
    map $peer_ak $peer_partner {{
        default "";
        {ak} {partner};
    }}
    limit_req_zone $peer_ak zone=per_ak:1m rate={RATE};

    # What peer.js re-signs with, and what it hands to @upstream.
    js_var $peer_upstream_host {host};
    js_var $peer_dist_ak {dist_ak};
    js_var $peer_dist_sk {dist_sk};
    js_var $peer_dist_domain {dist_domain};
    js_var $peer_auth;
    js_var $peer_date;

    server {{
        listen {addr};
        # The whole body in one memory buffer, for r.requestBuffer (never a temp file).
        client_max_body_size 1m;
        client_body_buffer_size 1m;
        client_body_in_single_buffer on;

        location / {{
            limit_req zone=per_ak burst={BURST} nodelay;
            limit_req_status 429;
            error_page 429 @throttled;
            js_content peer.verify;
        }}

        location @upstream {{
            # The target exactly as received and verified (nginx would send a normalised
            # URI otherwise, which the re-signed signature would not cover).
            proxy_pass http://partner$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Nothing of the caller's credentials goes on: only the headers peer.js signed
            # and a few harmless ones.
            proxy_pass_request_headers off;
            proxy_set_header Host $peer_upstream_host;
            proxy_set_header X-Domain-Id $peer_dist_domain;
            proxy_set_header X-Sdk-Date $peer_date;
            proxy_set_header Authorization $peer_auth;
            proxy_set_header Content-Type $content_type;
            proxy_set_header Accept $http_accept;
            proxy_set_header Accept-Language $http_accept_language;
            proxy_set_header User-Agent $http_user_agent;
            proxy_buffering on;
        }}

        location @throttled {{
            default_type "application/json;charset=UTF-8";
            return 429 '{{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}}';
        }}
    }}
"#
    ))
}

/// Starts the peer with one worker on `cpus` in front of `upstream`, the reseller's `cred`
/// its only key; its files in `dir` (created).
pub fn start(cpus: &str, upstream: SocketAddr, cred: &Cred, dir: &Path) -> Result<Proc> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("peer.js"), SCRIPT).map_err(|e| e.to_string())?;
    if !Path::new(NJS_MODULE).is_file() {
        return Err(format!(
            "{NJS_MODULE} is missing: run benches/load.sh (it installs libnginx-mod-http-js)"
        ));
    }
    let addr = free_addr()?;
    let main = format!("load_module {NJS_MODULE};\n");
    start_nginx(cpus, dir, addr, &main, &http(addr, upstream, cred, dir)?)
}

/// One signed read through a started peer must come back 200 (the measured instance has
/// another upstream than the checked one).
pub fn answers(addr: SocketAddr, cred: &Cred) -> Result<()> {
    let signer = Signer {
        addr,
        ak: &cred.ak,
        sk: &cred.sk,
    };
    let r = signer.send("GET", COUPONS, "limit=10&offset=0", b"")?;
    if r.status != 200 {
        return Err(format!(
            "{NAME}: a signed read got {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(())
}
