//! Where a browser may be sent after sign-in (RelayState, the vendor's `service`): only to an
//! allowlisted origin, so Tiergate is never an open redirect.
//!
//! A relative target must be a plain path (`/x`), never `//host` or `/\host`, which browsers
//! read as another host; backslashes, control characters and whitespace are refused anywhere,
//! since browsers and URL parsers disagree about them. An absolute target must have exactly an
//! allowlisted scheme, host and port, and no user information.

use url::Url;

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("redirect target not allowed: {0}")]
pub struct Refused(pub String);

/// Allowed destinations.
#[derive(Debug, Clone)]
pub struct Allowlist {
    origins: Vec<Url>,
}

impl Allowlist {
    /// Origins such as `https://console.vendor.example`; the first is where relative targets
    /// resolve. Each must be an absolute http(s) URL without path beyond `/`.
    pub fn new(origins: &[String]) -> Result<Self, Refused> {
        let mut out = Vec::new();
        for o in origins {
            let u = Url::parse(o).map_err(|_| Refused(o.clone()))?;
            let plain = matches!(u.scheme(), "https" | "http")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none();
            if !plain {
                return Err(Refused(o.clone()));
            }
            out.push(u);
        }
        Ok(Self { origins: out })
    }

    /// The URL to send the browser to, or why not.
    pub fn check(&self, target: &str) -> Result<Url, Refused> {
        let refused = || Refused(target.chars().take(200).collect());
        if target.is_empty()
            || target.len() > 2048
            || target
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        {
            return Err(refused());
        }
        let url = if target.starts_with('/') {
            if target.starts_with("//") {
                return Err(refused());
            }
            let base = self.origins.first().ok_or_else(refused)?;
            base.join(target).map_err(|_| refused())?
        } else {
            Url::parse(target).map_err(|_| refused())?
        };
        let allowed = self.origins.iter().any(|o| {
            o.scheme() == url.scheme()
                && o.host_str() == url.host_str()
                && o.port_or_known_default() == url.port_or_known_default()
        });
        if !allowed || !url.username().is_empty() || url.password().is_some() {
            return Err(refused());
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Allowlist {
        let l = Allowlist::new(&[
            "https://console.vendor.example".into(),
            "https://portal.res-1.example:8443".into(),
        ]);
        assert!(l.is_ok());
        l.unwrap_or(Allowlist {
            origins: Vec::new(),
        })
    }

    #[test]
    fn allowlisted_origins_and_plain_paths_pass() {
        let l = list();
        let ok = |t: &str| l.check(t).map(|u| u.to_string());
        assert_eq!(
            ok("https://console.vendor.example/billing?x=1"),
            Ok("https://console.vendor.example/billing?x=1".into())
        );
        assert_eq!(
            ok("/home#top"),
            Ok("https://console.vendor.example/home#top".into())
        );
        assert!(ok("https://portal.res-1.example:8443/").is_ok());
        assert!(ok("HTTPS://CONSOLE.VENDOR.EXAMPLE/x").is_ok());
    }

    #[test]
    fn open_redirect_tricks_are_refused() {
        let l = list();
        for t in [
            "//evil.example/x",
            "/\\evil.example/x",
            "\\\\evil.example",
            "https://evil.example/",
            "https://console.vendor.example.evil.example/",
            "https://console.vendor.example@evil.example/",
            "https://user:pw@console.vendor.example/",
            "http://console.vendor.example/",
            "https://console.vendor.example:444/",
            "https://portal.res-1.example/",
            "javascript:alert(1)",
            "data:text/html,x",
            " https://console.vendor.example/",
            "https://console.vendor.example/\r\nSet-Cookie:x",
            "/\t/evil.example",
            "",
            "evil.example",
        ] {
            assert!(l.check(t).is_err(), "{t:?} must be refused");
        }
        // Percent-encoded, a tab stays part of a path on the allowlisted origin.
        let host = l
            .check("/%09/evil.example")
            .map(|u| u.host_str().map(str::to_owned));
        assert_eq!(host, Ok(Some("console.vendor.example".to_owned())));
    }

    #[test]
    fn origins_must_be_plain() {
        for o in [
            "https://x.example/path",
            "ftp://x.example",
            "https://u@x.example",
            "nope",
        ] {
            assert!(Allowlist::new(&[o.into()]).is_err(), "{o}");
        }
    }
}
