//! Console sessions: a random id in an HttpOnly, SameSite=Strict cookie scoped to
//! `/console/` (Secure when the admin listener serves TLS), held here with the person it
//! speaks for, its CSRF token, and its idle and absolute deadlines. Kept in this process: a
//! console behind several gateways needs its requests to stay on one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tiergate_policy::Principal;

/// The session cookie.
pub const COOKIE: &str = "tg_console";
/// The sign-in form's token cookie (a double-submit check before any session exists).
pub const FORM_COOKIE: &str = "tg_console_form";
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(15 * 60);
/// A session ends this long after sign-in, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(8 * 60 * 60);
/// At most this many live sessions (the oldest go first).
const MOST: usize = 10_000;

/// A signed-in person.
#[derive(Clone)]
pub struct Session {
    /// Who.
    pub principal: Arc<Principal>,
    /// Their credential's access key.
    pub access_key: String,
    /// Their name (auditors and staff have one).
    pub name: String,
    /// Sent back with every change.
    pub csrf: String,
    started: Instant,
    seen: Instant,
}

/// The live sessions.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

/// A fresh random token.
pub fn token() -> Result<String, String> {
    let mut b = [0u8; 32];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "no randomness".to_owned())?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

impl Sessions {
    /// Starts a session; its id (for the cookie).
    pub fn start(
        &self,
        principal: Arc<Principal>,
        access_key: String,
        name: String,
    ) -> Result<String, String> {
        let (id, csrf) = (token()?, token()?);
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.len() >= MOST {
            live.retain(|_, s| fresh(s, now));
            if live.len() >= MOST
                && let Some(oldest) = live
                    .iter()
                    .min_by_key(|(_, s)| s.started)
                    .map(|(k, _)| k.clone())
            {
                live.remove(&oldest);
            }
        }
        live.insert(
            id.clone(),
            Session {
                principal,
                access_key,
                name,
                csrf,
                started: now,
                seen: now,
            },
        );
        Ok(id)
    }

    /// The live session of `id`, touched; an expired one ends here.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.get_mut(id) {
            Some(s) if fresh(s, now) => {
                s.seen = now;
                Some(s.clone())
            }
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Ends every session of a credential (it was revoked).
    pub fn end_all_of(&self, access_key: &str) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| s.access_key != access_key);
    }
}

fn fresh(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < IDLE && now.duration_since(s.started) < ABSOLUTE
}

/// A `Set-Cookie` value for the console path (`max_age` 0 clears it).
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Duration) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path=/console/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// A cookie's value in a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Whether two tokens are equal, in constant time.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiergate_policy::Tier;

    fn auditor() -> Arc<Principal> {
        Arc::new(Principal {
            partner_id: "dist-1".into(),
            tier: Tier::Auditor,
            distributor_id: Some("dist-1".into()),
            role: None,
        })
    }

    #[test]
    fn a_session_lives_until_it_is_ended() -> Result<(), String> {
        let s = Sessions::default();
        let id = s.start(auditor(), "AK".into(), "ann".into())?;
        assert!(s.get(&id).is_some());
        assert!(s.get("forged").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());
        Ok(())
    }

    #[test]
    fn cookies_are_read_and_written_with_their_flags() {
        let c = set_cookie(COOKIE, "abc", true, IDLE);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert_eq!(
            cookie(Some("a=1; tg_console=xyz; b=2"), COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie(Some("tg_console_form=q"), COOKIE), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
