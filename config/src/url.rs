//! URLs that may carry a password (the database's, Redis'): written in the file or read from
//! a secret source like any key (`{ env = "..." }`, `{ file = "..." }`), and never shown whole
//! (`Debug` hides the password, so configuration fingerprints and logs cannot leak it).

use crate::secret::{SecretSource, secret};
use serde::Deserialize;
use std::fmt;
use std::ops::Deref;
use std::path::Path;

/// Where a URL comes from in the file: written out, or a secret source.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum UrlSource {
    /// Written in the file.
    Plain(String),
    /// From the environment or a file (or `{ value = "..." }`).
    Secret(SecretSource),
}

/// Reads a URL from where the file says it is.
pub(crate) fn url(
    src: &UrlSource,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match src {
        UrlSource::Plain(u) => Ok(u.clone()),
        UrlSource::Secret(s) => secret(s, base, env),
    }
}

/// A URL whose password `Debug` never shows.
#[derive(Clone, PartialEq, Eq)]
pub struct Url(String);

impl Url {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The whole URL. Never log it; log [`redacted`] instead.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Url {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({:?})", redacted(&self.0))
    }
}

/// The URL with the password of its user information replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let (name, hidden) = match user.split_once(':') {
                Some((name, _)) => (name, ":***"),
                None => (user, ""),
            };
            format!("{scheme}://{name}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(
            redacted("postgres://app:s3cr%40t@db.example:5432/tiergate?sslmode=require"),
            "postgres://app:***@db.example:5432/tiergate?sslmode=require"
        );
        assert_eq!(
            redacted("rediss://:pw@cache:6380/0"),
            "rediss://:***@cache:6380/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redacted("postgres://app@db/x"), "postgres://app@db/x");
        let u = Url::new("postgres://a:b@c/d");
        assert!(!format!("{u:?}").contains(":b@"));
    }
}
