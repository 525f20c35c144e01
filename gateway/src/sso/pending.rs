//! An AuthnRequest of ours waiting for its Response, and the browser it belongs to.
//!
//! A Response is a bearer token: whoever posts it to the ACS first would get the sign-in. So
//! the request's record keeps the hash of a random value set, as a cookie, in the browser that
//! started it, and the ACS spends the request only for a verified Response posted with that
//! cookie. A Response captured on its way, or an IdP's answer posted from another browser,
//! then neither signs anyone in nor spends the rightful browser's request.

use super::browser;
use pingora::http::RequestHeader;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an AuthnRequest of ours waits for its answer (the record and its cookie).
pub(super) const REQUEST_TTL: Duration = Duration::from_secs(600);

/// What an outstanding AuthnRequest of ours remembers.
#[derive(Serialize, Deserialize)]
pub(super) struct Outstanding {
    pub reseller: String,
    pub vendor_request: Option<String>,
    pub vendor_relay: Option<String>,
    /// SHA-256 (hex) of the value of the browser's request cookie; the value itself is never
    /// stored, so reading the store does not let anyone finish the sign-in.
    pub browser: String,
}

/// The browser-side half of a new outstanding request.
pub(super) struct Tie {
    /// For [`Outstanding::browser`].
    pub hash: String,
    /// The `Set-Cookie` value.
    pub cookie: String,
}

/// The cookie tying request `id` to its browser: one per request, named after it, so sign-ins
/// started in two tabs of one browser do not undo each other.
fn cookie_name(id: &str) -> String {
    format!("tg_rq{id}")
}

fn hash(value: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        value.as_bytes(),
    ))
}

/// A fresh random value for the browser starting request `id` (244 random bits, as sessions).
pub(super) fn tie(id: &str, secure: bool) -> Tie {
    let value = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    Tie {
        hash: hash(&value),
        cookie: browser::set_cross_site_cookie(
            &cookie_name(id),
            &value,
            REQUEST_TTL.as_secs(),
            secure,
        ),
    }
}

/// Whether `req` comes from the browser that started request `id`.
pub(super) fn same_browser(req: &RequestHeader, id: &str, o: &Outstanding) -> bool {
    browser::cookie(req, &cookie_name(id))
        .is_some_and(|v| openssl::memcmp::eq(hash(&v).as_bytes(), o.browser.as_bytes()))
}

/// The `Set-Cookie` value that removes request `id`'s cookie once the request is spent.
pub(super) fn spent(id: &str, secure: bool) -> String {
    browser::set_cross_site_cookie(&cookie_name(id), "", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outstanding(browser: String) -> Outstanding {
        Outstanding {
            reseller: "res-1".into(),
            vendor_request: None,
            vendor_relay: None,
            browser,
        }
    }

    fn post_with(cookie: Option<&str>) -> Result<RequestHeader, Box<dyn std::error::Error>> {
        let mut req = RequestHeader::build("POST", b"/saml/sp/acs", None)?;
        if let Some(c) = cookie {
            req.insert_header("cookie", c)?;
        }
        Ok(req)
    }

    /// `name=value` of a `Set-Cookie` value.
    fn pair(set_cookie: &str) -> &str {
        set_cookie.split(';').next().unwrap_or_default()
    }

    #[test]
    fn only_the_browser_holding_the_requests_cookie_matches()
    -> Result<(), Box<dyn std::error::Error>> {
        let t = tie("_abc", false);
        let o = outstanding(t.hash.clone());
        assert!(
            !t.cookie.contains(&t.hash),
            "the hash is not what the browser holds"
        );
        let own = format!("tg_idp=res-1; {}", pair(&t.cookie));
        assert!(same_browser(&post_with(Some(&own))?, "_abc", &o));
        assert!(!same_browser(&post_with(None)?, "_abc", &o));
        assert!(!same_browser(&post_with(Some("tg_session=x"))?, "_abc", &o));
        // Another request's cookie, or this one's value under another request's name.
        let other = tie("_def", false);
        assert!(!same_browser(
            &post_with(Some(pair(&other.cookie)))?,
            "_abc",
            &o
        ));
        let renamed = pair(&t.cookie).replacen("_abc", "_def", 1);
        assert!(!same_browser(
            &post_with(Some(&renamed))?,
            "_def",
            &outstanding(other.hash)
        ));
        Ok(())
    }

    #[test]
    fn the_cookie_survives_the_idps_cross_site_post_on_https_and_is_never_script_readable() {
        let https = tie("_abc", true).cookie;
        assert!(https.contains("; HttpOnly") && https.contains("; SameSite=None; Secure"));
        let http = tie("_abc", false).cookie;
        assert!(http.contains("; HttpOnly") && !http.contains("SameSite"));
        assert!(spent("_abc", true).contains("tg_rq_abc=; Path=/; Max-Age=0"));
    }
}
