//! `[ratelimit]`: limits per principal and tier, per route class, and the upstream budget per
//! vendor API that every caller shares.
//!
//! ```toml
//! [ratelimit]
//! redis = "redis://127.0.0.1:6379"   # absent: in-process limits (one gateway)
//! mode = "leased"                    # or "strict": one Redis call per request
//! max_error = 0.01                   # leased: how far all gateways together may overshoot
//! fallback = "share"                 # Redis unreachable: "share", "open" or "closed"
//! [ratelimit.tiers.cloud_reseller]
//! money = { rate = "5/s", burst = 10 }
//! all = { rate = "50/s", burst = 100 }
//! [[ratelimit.principals]]
//! partner = "res-1"
//! class = "all"
//! rate = "100/s"
//! burst = 200
//! [ratelimit.upstream]               # default: the vendor's 10/s per API
//! rate = "10/s"
//! burst = 10
//! routes = { create_partner_coupons = { rate = "5/s", burst = 5 } }
//! [ratelimit.unauthenticated]        # failed authentications per source address
//! rate = "10/s"
//! burst = 100
//! ```

use crate::url::{Url, UrlSource, redacted, url};
use crate::{ConfigError, parse_duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tiergate_policy::Tier;
use tiergate_policy::limit::Quota;

/// What kind of call a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteClass {
    /// Every call.
    All,
    /// Money-moving calls.
    Money,
    /// Lists and queries.
    List,
    /// Everything else (customer management, orders).
    Customer,
}

impl RouteClass {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::All => "all",
            RouteClass::Money => "money",
            RouteClass::List => "list",
            RouteClass::Customer => "customer",
        }
    }
}

impl FromStr for RouteClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(RouteClass::All),
            "money" => Ok(RouteClass::Money),
            "list" => Ok(RouteClass::List),
            "customer" => Ok(RouteClass::Customer),
            _ => Err(format!("`{s}` is not one of all, money, list, customer")),
        }
    }
}

/// How limits shared by several gateways are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tokens leased from Redis in small batches and spent locally.
    Leased,
    /// One Redis call per request.
    Strict,
}

/// What a gateway does while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Enforce its share: the limit divided by the number of live gateways.
    Share,
    /// Admit everything.
    Open,
    /// Refuse everything.
    Closed,
}

/// One configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Rate and burst.
    pub quota: Quota,
    /// Count without refusing.
    pub shadow: bool,
    /// What to do while Redis is unreachable (default: the section's).
    pub fallback: Fallback,
    /// Strict or leased (default: the section's).
    pub mode: Mode,
}

/// The typed `[ratelimit]` section.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Redis URL (none: in-process).
    pub redis: Option<Url>,
    /// Prefix of every Redis key (gateways of one distributor share it).
    pub prefix: String,
    /// Leased overshoot bound, as a fraction of each limit.
    pub max_error: f64,
    /// Per tier and route class.
    pub tiers: BTreeMap<(Tier, RouteClass), Limit>,
    /// Per partner (and class), overriding its tier's.
    pub principals: BTreeMap<(String, RouteClass), Limit>,
    /// The vendor budget per API, shared by all callers (the distributor's account upstream).
    pub upstream: Limit,
    /// Per operation, overriding `upstream`.
    pub upstream_routes: BTreeMap<String, Limit>,
    /// How long a call that finds the vendor budget spent waits for its turn before it is
    /// refused (`upstream.wait`, default 2 s; never past the upstream timeout).
    pub upstream_wait: Duration,
    /// How many of one partner's calls may wait for one vendor API on each gateway
    /// (`upstream.queue`; default: what the API's whole budget serves within the wait).
    pub upstream_queue: Option<usize>,
    /// Failed authentications (and sign-in refusals) per source address, in process: past
    /// it, the address's requests cost no store lookup and no sign-in work.
    pub unauthenticated: Quota,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    #[serde(default)]
    redis: Option<UrlSource>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    max_error: Option<f64>,
    #[serde(default)]
    fallback: Option<String>,
    #[serde(default)]
    shadow: bool,
    #[serde(default)]
    tiers: BTreeMap<String, BTreeMap<String, LimitSection>>,
    #[serde(default)]
    principals: Vec<PrincipalSection>,
    #[serde(default)]
    upstream: Option<UpstreamSection>,
    #[serde(default)]
    unauthenticated: Option<AddressSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressSection {
    #[serde(default)]
    rate: Option<String>,
    #[serde(default)]
    burst: Option<u32>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct LimitSection {
    rate: String,
    #[serde(default)]
    burst: Option<u32>,
    #[serde(default)]
    shadow: Option<bool>,
    #[serde(default)]
    fallback: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalSection {
    partner: String,
    #[serde(default)]
    class: Option<String>,
    rate: String,
    #[serde(default)]
    burst: Option<u32>,
    #[serde(default)]
    shadow: Option<bool>,
    #[serde(default)]
    fallback: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamSection {
    #[serde(default)]
    rate: Option<String>,
    #[serde(default)]
    burst: Option<u32>,
    #[serde(default)]
    shadow: Option<bool>,
    #[serde(default)]
    fallback: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    routes: BTreeMap<String, LimitSection>,
    #[serde(default)]
    wait: Option<String>,
    #[serde(default)]
    queue: Option<usize>,
}

/// `10/s`, `600/m`, `36000/h`, or `N/DURATION` (`5/100ms`).
pub fn parse_rate(s: &str) -> Result<(NonZeroU32, Duration), String> {
    let bad = || format!("`{s}` is not a rate like 10/s, 600/m or 5/100ms");
    let (n, per) = s.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let n = NonZeroU32::new(n).ok_or_else(|| format!("`{s}`: the rate must be at least 1"))?;
    let per = per.trim();
    let period = match per {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        p => parse_duration(p).map_err(|_| bad())?,
    };
    if period.is_zero() {
        return Err(bad());
    }
    Ok((n, period))
}

fn word<T>(
    v: &Option<String>,
    path: &str,
    errors: &mut Vec<ConfigError>,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
    default: T,
) -> T {
    match v {
        None => default,
        Some(s) => parse(s).unwrap_or_else(|| {
            errors.push(ConfigError {
                path: path.into(),
                message: format!("`{s}` is not one of {expected}"),
            });
            default
        }),
    }
}

fn mode(s: &str) -> Option<Mode> {
    match s {
        "leased" => Some(Mode::Leased),
        "strict" => Some(Mode::Strict),
        _ => None,
    }
}

fn fallback(s: &str) -> Option<Fallback> {
    match s {
        "share" => Some(Fallback::Share),
        "open" => Some(Fallback::Open),
        "closed" => Some(Fallback::Closed),
        _ => None,
    }
}

struct Defaults {
    mode: Mode,
    fallback: Fallback,
    shadow: bool,
}

fn limit(
    l: &LimitSection,
    path: &str,
    d: &Defaults,
    errors: &mut Vec<ConfigError>,
) -> Option<Limit> {
    let parsed = parse_rate(&l.rate).map_err(|m| {
        errors.push(ConfigError {
            path: format!("{path}.rate"),
            message: m,
        })
    });
    let burst = match l.burst {
        None => parsed.as_ref().ok().map(|(n, _)| *n),
        Some(b) => NonZeroU32::new(b).or_else(|| {
            errors.push(ConfigError {
                path: format!("{path}.burst"),
                message: "must be at least 1".into(),
            });
            None
        }),
    };
    let mode = word(
        &l.mode,
        &format!("{path}.mode"),
        errors,
        mode,
        "leased, strict",
        d.mode,
    );
    let fallback = word(
        &l.fallback,
        &format!("{path}.fallback"),
        errors,
        fallback,
        "share, open, closed",
        d.fallback,
    );
    let (rate, period) = parsed.ok()?;
    Some(Limit {
        quota: Quota {
            rate,
            period,
            burst: burst?,
        },
        shadow: l.shadow.unwrap_or(d.shadow),
        fallback,
        mode,
    })
}

/// The failure budget per source address: 10/s, 100 at once unless configured.
fn address_budget(s: Option<&AddressSection>, errors: &mut Vec<ConfigError>) -> Quota {
    let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
    let mut quota = Quota {
        rate: n(10),
        period: Duration::from_secs(1),
        burst: n(100),
    };
    let Some(s) = s else {
        return quota;
    };
    if let Some(rate) = &s.rate {
        match parse_rate(rate) {
            Ok((rate, period)) => (quota.rate, quota.period) = (rate, period),
            Err(message) => errors.push(ConfigError {
                path: "ratelimit.unauthenticated.rate".into(),
                message,
            }),
        }
    }
    match s.burst.map(NonZeroU32::new) {
        None => {}
        Some(Some(b)) => quota.burst = b,
        Some(None) => errors.push(ConfigError {
            path: "ratelimit.unauthenticated.burst".into(),
            message: "must be at least 1".into(),
        }),
    }
    quota
}

/// The vendor's own limit: 10 requests per second per API and account.
fn vendor_default(d: &Defaults) -> Limit {
    let ten = NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN);
    Limit {
        quota: Quota {
            rate: ten,
            period: Duration::from_secs(1),
            burst: ten,
        },
        shadow: d.shadow,
        fallback: d.fallback,
        mode: d.mode,
    }
}

pub(crate) fn convert(
    s: Section,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> RateLimits {
    let d = Defaults {
        mode: word(
            &s.mode,
            "ratelimit.mode",
            errors,
            mode,
            "leased, strict",
            Mode::Leased,
        ),
        fallback: word(
            &s.fallback,
            "ratelimit.fallback",
            errors,
            fallback,
            "share, open, closed",
            Fallback::Share,
        ),
        shadow: s.shadow,
    };
    let max_error = s.max_error.unwrap_or(0.01);
    if !(max_error > 0.0 && max_error <= 0.5) {
        errors.push(ConfigError {
            path: "ratelimit.max_error".into(),
            message: "must be greater than 0 and at most 0.5".into(),
        });
    }
    let redis = s.redis.as_ref().and_then(|src| {
        let read = url(src, base, env).and_then(|u| {
            match u.starts_with("redis://") || u.starts_with("rediss://") {
                true => Ok(Url::new(u)),
                false => Err(format!(
                    "`{}` must start with redis:// or rediss://",
                    redacted(&u)
                )),
            }
        });
        read.map_err(|message| {
            errors.push(ConfigError {
                path: "ratelimit.redis".into(),
                message,
            })
        })
        .ok()
    });
    let mut tiers = BTreeMap::new();
    for (tier, classes) in &s.tiers {
        let path = format!("ratelimit.tiers.{tier}");
        let Ok(t) = Tier::from_str(tier) else {
            errors.push(ConfigError {
                path,
                message: format!("`{tier}` is not a tier"),
            });
            continue;
        };
        for (class, l) in classes {
            let p = format!("{path}.{class}");
            match RouteClass::from_str(class) {
                Ok(c) => {
                    if let Some(l) = limit(l, &p, &d, errors) {
                        tiers.insert((t, c), l);
                    }
                }
                Err(m) => errors.push(ConfigError {
                    path: p,
                    message: m,
                }),
            }
        }
    }
    let mut principals = BTreeMap::new();
    for (i, p) in s.principals.iter().enumerate() {
        let path = format!("ratelimit.principals[{i}]");
        let class = match p.class.as_deref().map(RouteClass::from_str).transpose() {
            Ok(c) => c.unwrap_or(RouteClass::All),
            Err(m) => {
                errors.push(ConfigError {
                    path: format!("{path}.class"),
                    message: m,
                });
                continue;
            }
        };
        let ls = LimitSection {
            rate: p.rate.clone(),
            burst: p.burst,
            shadow: p.shadow,
            fallback: p.fallback.clone(),
            mode: p.mode.clone(),
        };
        if let Some(l) = limit(&ls, &path, &d, errors)
            && principals.insert((p.partner.clone(), class), l).is_some()
        {
            errors.push(ConfigError {
                path,
                message: format!("a second limit for `{}` ({})", p.partner, class.as_str()),
            });
        }
    }
    let (upstream, upstream_routes) = match &s.upstream {
        None => (vendor_default(&d), BTreeMap::new()),
        Some(u) => {
            let base = match &u.rate {
                Some(rate) => {
                    let ls = LimitSection {
                        rate: rate.clone(),
                        burst: u.burst,
                        shadow: u.shadow,
                        fallback: u.fallback.clone(),
                        mode: u.mode.clone(),
                    };
                    limit(&ls, "ratelimit.upstream", &d, errors)
                }
                None => None,
            }
            .unwrap_or_else(|| vendor_default(&d));
            let mut routes = BTreeMap::new();
            for (op, l) in &u.routes {
                let path = format!("ratelimit.upstream.routes.{op}");
                if tiergate_policy::routes::route_by_operation(op).is_none() {
                    errors.push(ConfigError {
                        path,
                        message: format!("`{op}` is not a partner API operation"),
                    });
                    continue;
                }
                if let Some(l) = limit(l, &path, &d, errors) {
                    routes.insert(op.clone(), l);
                }
            }
            (base, routes)
        }
    };
    let upstream_wait = match s.upstream.as_ref().and_then(|u| u.wait.as_deref()) {
        None => Duration::from_secs(2),
        Some(w) => parse_duration(w).unwrap_or_else(|m| {
            errors.push(ConfigError {
                path: "ratelimit.upstream.wait".into(),
                message: m,
            });
            Duration::from_secs(2)
        }),
    };
    let upstream_queue = s.upstream.as_ref().and_then(|u| u.queue);
    if upstream_queue == Some(0) {
        errors.push(ConfigError {
            path: "ratelimit.upstream.queue".into(),
            message: "at least 1 call must be able to wait for its turn".into(),
        });
    }
    let unauthenticated = address_budget(s.unauthenticated.as_ref(), errors);
    RateLimits {
        upstream_wait,
        upstream_queue,
        unauthenticated,
        redis,
        prefix: s.prefix.unwrap_or_else(|| "tiergate".into()),
        max_error,
        tiers,
        principals,
        upstream,
        upstream_routes,
    }
}
