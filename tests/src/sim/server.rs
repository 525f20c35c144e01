//! The simulator's HTTP/1.1 server (hyper) and its dispatch: authenticate, constrain,
//! rate-limit, inject faults, run the operation, log.

use super::auth::{acting, authenticate, check_constraint};
use super::errors::{ApiError, codes};
use super::faults::Faults;
use super::request::{Call, Caller, OpResult};
use super::routes::{self, Indirect, VendorRoute};
use super::world::{LoggedRequest, World};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::net::TcpListener;

/// Operations that lock their quota for their duration (the vendor refuses parallel ones).
fn locked_quota(operation: &str, body: &Value) -> Option<String> {
    match operation {
        "create_partner_coupons" | "update_coupon_quotas" => body
            .get("quota_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

struct Shared {
    world: Mutex<World>,
    faults: Mutex<Faults>,
    rate: Mutex<HashMap<(String, &'static str), VecDeque<Instant>>>,
    busy: Mutex<HashSet<String>>,
    api_requests: AtomicU64,
    /// The vendor's SAML SP (made on first use: it generates a key).
    vendor: tokio::sync::Mutex<Option<super::saml::Vendor>>,
    addr: SocketAddr,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a handler panicked mid-way; the state is still the best we have.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// A copy of the whole state.
    pub fn world(&self) -> World {
        lock(&self.shared.world).clone()
    }
    /// Requests received after the first `seen` (see [`Simulator::seen`]).
    pub fn requests_since(&self, seen: usize) -> Vec<LoggedRequest> {
        lock(&self.shared.world)
            .requests
            .iter()
            .skip(seen)
            .cloned()
            .collect()
    }

    /// How many requests it has received so far.
    pub fn seen(&self) -> usize {
        lock(&self.shared.world).requests.len()
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, f: Faults) {
        *lock(&self.shared.faults) = f;
    }

    /// Changes the world as the vendor's own console would (a customer associated or
    /// unbound outside the partner API).
    pub fn change<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut lock(&self.shared.world))
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the world on a bound listener, on the current tokio runtime.
pub fn serve(listener: TcpListener, world: World) -> std::io::Result<Simulator> {
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        world: Mutex::new(world),
        faults: Mutex::default(),
        rate: Mutex::default(),
        busy: Mutex::default(),
        api_requests: AtomicU64::new(0),
        vendor: tokio::sync::Mutex::new(None),
        addr,
    });
    let s = shared.clone();
    // Connections live in a JoinSet owned by the accept task, so stopping the simulator
    // also closes every open connection (an upstream that really went away).
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                Some(_) = connections.join_next() => continue,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let s = s.clone();
            connections.spawn(async move {
                let svc = hyper::service::service_fn(move |req| handle(s.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Simulator { addr, shared, task })
}

/// Dropping the connection without an answer (fault injection) is an `Err` to hyper.
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped after commit (fault injection)")
    }
}
impl std::error::Error for Dropped {}

async fn handle(s: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
                .unwrap_or(HeaderValue::from_static("sim"))
        });
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = ApiError::param("body", "unreadable or over 1 MiB");
            return Ok(respond(e.status, Some(e.body()), request_id));
        }
    };
    let path = parts.uri.path().to_owned();
    if path.starts_with("/authui/") || path.starts_with("/__sim/saml/") {
        let query = parts.uri.query().unwrap_or("");
        let method = parts.method.as_str();
        let (status, ct, headers, body) =
            super::saml::Vendor::handle(&s.vendor, s.addr, method, &path, query, &body).await;
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        r.headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(name, v);
            }
        }
        return Ok(r);
    }
    if let Some(ctl) = path.strip_prefix("/__sim/") {
        return Ok(control(&s, parts.method.as_str(), ctl, &body, request_id));
    }
    let (result, drop_conn) = api(&s, &parts, &path, &body).await;
    let (status, body_json, code) = match result {
        Ok(r) => (r.status, r.body, None),
        Err(e) => (e.status, Some(e.body()), Some(e.code.to_owned())),
    };
    let ak = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| tiergate_policy::aksk::parse_authorization(v).ok())
        .map(|a| a.access_key.to_owned());
    lock(&s.world).requests.push(LoggedRequest {
        method: parts.method.to_string(),
        path,
        access_key: ak,
        status: status.as_u16(),
        error_code: code,
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        traceparent: parts
            .headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    if drop_conn {
        return Err(Dropped);
    }
    Ok(respond(status, body_json, request_id))
}

async fn api(
    s: &Shared,
    parts: &http::request::Parts,
    path: &str,
    body: &Bytes,
) -> (OpResult, bool) {
    let method = parts.method.as_str();
    let query = parts.uri.query().unwrap_or("");
    let now = OffsetDateTime::now_utc();
    let Some(route) = routes::find(method, path) else {
        let e = ApiError::new(
            StatusCode::NOT_FOUND,
            codes::NO_SUCH_API,
            "The API does not exist.",
        );
        return (Err(e), false);
    };
    let caller = {
        let w = lock(&s.world);
        match authenticate(&w, method, path, query, &parts.headers, body, now)
            .and_then(|c| check_constraint(&c, route).map(|()| c))
        {
            Ok(c) => c,
            Err(e) => return (Err(e), false),
        }
    };
    if let Err(e) = rate_limit(s, &caller, route.operation) {
        return (Err(e), false);
    }
    let faults = lock(&s.faults).clone();
    let n = s.api_requests.fetch_add(1, Ordering::SeqCst);
    if faults.fails(n) {
        let e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::SYSTEM_ERROR,
            "System error.",
        );
        return (Err(e), false);
    }
    if faults.hang {
        std::future::pending::<()>().await;
    }
    let json: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return (Err(ApiError::param("body", "not valid JSON")), false),
        }
    };
    let quota = locked_quota(route.operation, &json);
    if let Some(q) = &quota
        && !lock(&s.busy).insert(q.clone())
    {
        let e = ApiError::bad(
            codes::QUOTA_BUSY,
            "Another operation on this quota is in progress.",
        );
        return (Err(e), false);
    }
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let result = run(s, caller, route, parts, json, now);
    if let Some(q) = &quota {
        lock(&s.busy).remove(q);
    }
    (result, faults.drop_after_commit)
}

fn run(
    s: &Shared,
    caller: Caller,
    route: &'static VendorRoute,
    parts: &http::request::Parts,
    body: Value,
    now: OffsetDateTime,
) -> OpResult {
    let query: Vec<(String, String)> = parts.uri.query().map(url_pairs).unwrap_or_default();
    let mut w = lock(&s.world);
    let mut call = Call {
        caller,
        acting: String::new(),
        route,
        path: parts.uri.path().to_owned(),
        query,
        body,
        now,
        unscoped: lock(&s.faults).unscoped,
    };
    // On distributor-only APIs `indirect_partner_id` names the reseller acted upon;
    // elsewhere it says on whose behalf a distributor acts.
    let indirect = match route.indirect() {
        Indirect::NamesReseller => None,
        Indirect::ActsFor => call.opt_str("indirect_partner_id")?,
    };
    call.acting = acting(&w, &call.caller, indirect.as_deref())?;
    (route.handler)(&mut w, &call)
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |x: &str| {
                percent_encoding::percent_decode_str(x)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn rate_limit(s: &Shared, caller: &Caller, operation: &'static str) -> Result<(), ApiError> {
    let too_many = || {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_REQUESTS,
            "Too many requests: the limit is 10 per second per API.",
        )
    };
    {
        let mut f = lock(&s.faults);
        if f.throttle_next > 0 {
            f.throttle_next -= 1;
            return Err(too_many());
        }
    }
    let per_second = lock(&s.world).rate_limit_per_second as usize;
    if per_second == 0 {
        return Ok(());
    }
    let id = match caller {
        Caller::Partner { id, .. } | Caller::Customer { id } => id.clone(),
    };
    let now = Instant::now();
    let mut rate = lock(&s.rate);
    let window = rate.entry((id, operation)).or_default();
    while window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        window.pop_front();
    }
    if window.len() >= per_second {
        return Err(too_many());
    }
    window.push_back(now);
    Ok(())
}

fn control(
    s: &Shared,
    method: &str,
    path: &str,
    body: &[u8],
    rid: HeaderValue,
) -> Response<Full<Bytes>> {
    match (method, path) {
        ("GET", "state") => {
            let v = serde_json::to_value(&*lock(&s.world)).unwrap_or(Value::Null);
            respond(StatusCode::OK, Some(v), rid)
        }
        ("GET", "faults") => {
            let v = serde_json::to_value(&*lock(&s.faults)).unwrap_or(Value::Null);
            respond(StatusCode::OK, Some(v), rid)
        }
        ("PUT", "faults") => match serde_json::from_slice::<Faults>(body) {
            Ok(f) => {
                *lock(&s.faults) = f;
                respond(StatusCode::NO_CONTENT, None, rid)
            }
            Err(e) => {
                let e = ApiError::param("faults", &e.to_string());
                respond(e.status, Some(e.body()), rid)
            }
        },
        _ => respond(
            StatusCode::NOT_FOUND,
            Some(json!({"error_code": codes::NO_SUCH_API, "error_msg": "unknown control path"})),
            rid,
        ),
    }
}

fn respond(status: StatusCode, body: Option<Value>, rid: HeaderValue) -> Response<Full<Bytes>> {
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let mut r = Response::new(Full::new(bytes));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("x-request-id", rid);
    if status != StatusCode::NO_CONTENT {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
    }
    r
}
