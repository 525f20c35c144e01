//! Secrets: where the file says one comes from, reading it, and a value whose `Debug` never
//! shows it. A leaf of the crate: the sections that hold secrets all read them here.

use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// A secret value. `Debug` prints `Secret(***)`; use [`Secret::expose`] deliberately.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(v: T) -> Self {
        Self(v)
    }
    /// The value. Never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret comes from: exactly one of `env`, `file`, `value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretSource {
    Env(String),
    File(String),
    Value(String),
}

/// Reads a secret from where the file says it is (a file relative to `base`).
pub(crate) fn secret(
    src: &SecretSource,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match src {
        SecretSource::Value(v) => Ok(v.clone()),
        SecretSource::Env(name) => {
            env(name).ok_or_else(|| format!("environment variable `{name}` is not set"))
        }
        SecretSource::File(p) => {
            let path = base.join(p);
            std::fs::read_to_string(&path)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
    }
}
