//! Before authentication: what a caller who has proved nothing may cost.
//!
//! Every refusal of an unauthenticated request (no or malformed signature, an unknown access
//! key, a bad signature, a sign-in post that does not verify) is a failure charged to its
//! source address (IPv6 by /64: one host holds a whole /64). While an address has failure
//! budget left, its requests are handled as usual; once it has none, a request from it that
//! would cost a store lookup (an access key not already cached) or, on the sign-in listener,
//! any work at all, is refused at once with `TG.1011` and `Retry-After`, before the store, the
//! audit log or a signature check. A legitimate caller behind the same address whose
//! credential is cached keeps working. Addresses are kept in a bounded LRU: memory stays
//! fixed whatever the number of addresses, and an evicted address only starts afresh.

use crate::answer::Listener;
use crate::limiter::Verdict;
use crate::rejection::Rejection;
use lru::LruCache;
use prometheus::{IntCounterVec, Opts, Registry};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tiergate_policy::limit::Quota;

/// Addresses tracked at once.
const ADDRESSES: usize = 65_536;

/// The failure budget of every source address.
pub struct Guard {
    quota: Quota,
    epoch: Instant,
    addresses: Mutex<LruCache<IpAddr, u64>>,
    refused: IntCounterVec,
    limited: IntCounterVec,
}

impl Guard {
    /// A guard allowing each address `quota` failures, counted in `registry`.
    pub fn new(quota: Quota, registry: &Registry) -> Result<Self, prometheus::Error> {
        let refused = IntCounterVec::new(
            Opts::new(
                "tiergate_unauthenticated_refusals_total",
                "Requests refused before their caller was authenticated, by listener and reason.",
            ),
            &["listener", "reason"],
        )?;
        let limited = IntCounterVec::new(
            Opts::new(
                "tiergate_address_limited_total",
                "Requests refused because their source address spent its failure budget.",
            ),
            &["listener"],
        )?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(limited.clone()))?;
        let cap = NonZeroUsize::new(ADDRESSES).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            quota,
            epoch: Instant::now(),
            addresses: Mutex::new(LruCache::new(cap)),
            refused,
            limited,
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Refuses a request from an address with no failure budget left (nothing is charged).
    pub fn open(&self, addr: Option<IpAddr>, on: Listener) -> Result<(), Rejection> {
        let Some(key) = addr.map(key) else {
            return Ok(());
        };
        let tat = match self.addresses.lock() {
            Ok(mut a) => a.get(&key).copied().unwrap_or(0),
            Err(_) => 0,
        };
        let d = self.quota.decide(tat, self.now(), 1);
        if d.allowed {
            return Ok(());
        }
        self.limited.with_label_values(&[label(on)]).inc();
        Err(Rejection::AddressLimited(Verdict {
            allowed: false,
            name: "address".into(),
            upstream: false,
            limit: self.quota.rate.get(),
            remaining: 0,
            reset: Duration::from_nanos(d.reset_after),
            retry_after: Duration::from_nanos(d.retry_after),
            mode: "local",
        }))
    }

    /// Charges a refusal of an unauthenticated request to its address.
    pub fn failed(&self, addr: Option<IpAddr>, on: Listener, reason: &str) {
        self.refused.with_label_values(&[label(on), reason]).inc();
        let Some(key) = addr.map(key) else {
            return;
        };
        let now = self.now();
        if let Ok(mut a) = self.addresses.lock() {
            let tat = a.get(&key).copied().unwrap_or(0);
            let d = self.quota.decide(tat, now, 1);
            // Over budget, the address stays at its limit (never beyond: it recovers).
            a.put(key, if d.allowed { d.tat } else { tat });
        }
    }
}

/// One request's way in: the guard, where the request came from and on which listener.
#[derive(Clone, Copy)]
pub struct Door<'a> {
    /// The guard.
    pub guard: &'a Guard,
    /// The source address (none: not a network connection).
    pub addr: Option<IpAddr>,
    /// The listener.
    pub on: Listener,
}

impl Door<'_> {
    /// See [`Guard::open`].
    pub fn open(&self) -> Result<(), Rejection> {
        self.guard.open(self.addr, self.on)
    }

    /// See [`Guard::failed`].
    pub fn failed(&self, reason: &str) {
        self.guard.failed(self.addr, self.on, reason);
    }
}

/// Puts the answer to a request refused before its caller was authenticated behind the work
/// already waiting. Under a flood of junk the worker is never idle: the runtime then polls for
/// I/O only every few dozen tasks, and the process's other threads (the storage runtime that
/// carries an authenticated request's database round trips) wait for the end of the worker's
/// time slice when they share its core. A refusal first gives the core to any other thread
/// ready to run (returning at once when there is none), then lets the worker's queue drain and
/// the I/O driver run before it is written.
pub async fn behind_the_rest() {
    std::thread::yield_now();
    tokio::task::yield_now().await;
}

/// The door of an app listener's request (admin, sign-in).
pub fn door<'a>(
    guard: &'a Guard,
    session: &pingora::protocols::http::ServerSession,
    on: Listener,
) -> Door<'a> {
    Door {
        guard,
        addr: ip(session.client_addr()),
        on,
    }
}

/// The IP address of a connection's peer (none: a Unix socket).
pub fn ip(addr: Option<&pingora::protocols::l4::socket::SocketAddr>) -> Option<IpAddr> {
    addr.and_then(|a| a.as_inet()).map(|a| a.ip())
}

/// The address a budget belongs to: IPv4 as is, IPv6 by its /64.
fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn label(on: Listener) -> &'static str {
    match on {
        Listener::Partner => "partner",
        Listener::Admin => "admin",
        Listener::SignIn => "sign_in",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn guard(burst: u32) -> Result<Guard, String> {
        let quota = Quota {
            rate: NonZeroU32::MIN,
            period: Duration::from_secs(3600),
            burst: NonZeroU32::new(burst).ok_or("burst")?,
        };
        Guard::new(quota, &Registry::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn an_address_is_closed_after_its_budget_of_failures_and_others_stay_open() -> Result<(), String>
    {
        let g = guard(3)?;
        let (a, b): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().map_err(|_| "ip")?,
            "10.0.0.2".parse().map_err(|_| "ip")?,
        );
        for _ in 0..3 {
            assert!(g.open(Some(a), Listener::Partner).is_ok());
            g.failed(Some(a), Listener::Partner, "unknown_key");
        }
        assert!(matches!(
            g.open(Some(a), Listener::Partner),
            Err(Rejection::AddressLimited(_))
        ));
        assert!(g.open(Some(b), Listener::Partner).is_ok());
        Ok(())
    }

    #[test]
    fn ipv6_hosts_share_their_64_and_mapped_ipv4_is_ipv4() -> Result<(), String> {
        let g = guard(1)?;
        let one: IpAddr = "2001:db8:1:2::1".parse().map_err(|_| "ip")?;
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().map_err(|_| "ip")?;
        let other: IpAddr = "2001:db8:1:3::1".parse().map_err(|_| "ip")?;
        g.failed(Some(one), Listener::SignIn, "x");
        assert!(g.open(Some(same), Listener::SignIn).is_err());
        assert!(g.open(Some(other), Listener::SignIn).is_ok());
        let v4: IpAddr = "10.1.1.1".parse().map_err(|_| "ip")?;
        let mapped: IpAddr = "::ffff:10.1.1.1".parse().map_err(|_| "ip")?;
        g.failed(Some(mapped), Listener::Admin, "x");
        assert!(g.open(Some(v4), Listener::Admin).is_err());
        Ok(())
    }
}
