//! The TLS policy: a profile's allowlist, narrowed (or, with a loudly named override,
//! widened) by configuration, limited to the configured protocol versions, and intersected
//! with what the backend implements. The effective set becomes the process-wide rustls
//! `CryptoProvider`, so it governs the listener and every upstream connection alike.

use crate::suites::{self, Suite, Version};
use rustls::SupportedCipherSuite;
use rustls::crypto::CryptoProvider;
use serde::Serialize;

/// The built-in profile: the vendor's allowlist.
pub const VENDOR_DEFAULT: &str = "vendor-default";

/// The TLS section of the configuration, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    /// Profile name.
    pub profile: String,
    /// Protocol versions (`1.2`, `1.3`).
    pub versions: Vec<String>,
    /// Suites to keep (IANA names); empty keeps the whole profile.
    pub suites: Vec<String>,
    /// Suites allowed although outside the profile (the loud override).
    pub dangerously_allow_outside_profile: Vec<String>,
}

impl Default for TlsSpec {
    fn default() -> Self {
        Self {
            profile: VENDOR_DEFAULT.into(),
            versions: vec!["1.2".into(), "1.3".into()],
            suites: Vec::new(),
            dangerously_allow_outside_profile: Vec::new(),
        }
    }
}

/// A policy problem, at a path below `tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// e.g. `suites[2]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// An allowlisted suite the backend cannot serve, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unsupported {
    /// The suite.
    pub suite: &'static Suite,
    /// Why.
    pub reason: &'static str,
}

/// The compiled policy.
#[derive(Debug, Clone)]
pub struct TlsPolicy {
    /// Profile name.
    pub profile: String,
    /// Versions allowed.
    pub versions: Vec<Version>,
    /// The allowlist after configuration, in the profile's order.
    pub allowlist: Vec<&'static Suite>,
    /// Suites allowed from outside the profile by the override.
    pub outside_profile: Vec<&'static Suite>,
    /// What will be served, in the backend's preference order.
    pub effective: Vec<SupportedCipherSuite>,
    /// Allowlisted but not implemented by the backend.
    pub unsupported: Vec<Unsupported>,
}

fn lookup(name: &str) -> Result<&'static Suite, String> {
    if let Some(s) = suites::by_name(name) {
        return Ok(s);
    }
    if let Some(s) = suites::by_openssl_name(name) {
        return Err(format!(
            "`{name}` is OpenSSL's spelling; write the IANA name `{}`",
            s.name
        ));
    }
    Err(format!(
        "unknown cipher suite `{name}` (use IANA names, e.g. TLS_AES_128_GCM_SHA256)"
    ))
}

fn version(v: &str) -> Result<Version, String> {
    match v.trim_start_matches("TLSv") {
        "1.2" => Ok(Version::Tls12),
        "1.3" => Ok(Version::Tls13),
        "1.0" | "1.1" | "1" => Err(format!("`{v}`: TLS below 1.2 is never allowed")),
        _ => Err(format!("`{v}`: expected `1.2` or `1.3`")),
    }
}

impl TlsPolicy {
    /// Compiles a policy, reporting every problem with its path.
    pub fn compile(spec: &TlsSpec) -> Result<TlsPolicy, Vec<TlsError>> {
        let mut errors = Vec::new();
        let mut err = |path: String, message: String| errors.push(TlsError { path, message });
        if spec.profile != VENDOR_DEFAULT {
            err(
                "profile".into(),
                format!(
                    "unknown profile `{}` (profiles: {VENDOR_DEFAULT})",
                    spec.profile
                ),
            );
        }
        let mut versions = Vec::new();
        for (i, v) in spec.versions.iter().enumerate() {
            match version(v) {
                Ok(v) if !versions.contains(&v) => versions.push(v),
                Ok(_) => {}
                Err(m) => err(format!("versions[{i}]"), m),
            }
        }
        if spec.versions.is_empty() {
            err(
                "versions".into(),
                "at least one protocol version is needed".into(),
            );
        }
        let profile: Vec<&'static Suite> = suites::SUITES
            .iter()
            .filter(|s| s.vendor_allowlist)
            .collect();
        let mut chosen: Vec<&'static Suite> = Vec::new();
        for (i, name) in spec.suites.iter().enumerate() {
            match lookup(name) {
                Ok(s) if s.vendor_allowlist => chosen.push(s),
                Ok(s) => err(
                    format!("suites[{i}]"),
                    format!(
                        "`{}` is outside the `{VENDOR_DEFAULT}` allowlist; to allow it anyway \
                         list it in tls.dangerously_allow_outside_profile",
                        s.name
                    ),
                ),
                Err(m) => err(format!("suites[{i}]"), m),
            }
        }
        let mut outside = Vec::new();
        for (i, name) in spec.dangerously_allow_outside_profile.iter().enumerate() {
            let path = format!("dangerously_allow_outside_profile[{i}]");
            match lookup(name) {
                Ok(s) if s.vendor_allowlist => {
                    err(path, format!("`{}` is in the profile already", s.name))
                }
                Ok(s) => outside.push(s),
                Err(m) => err(path, m),
            }
        }
        let base = if spec.suites.is_empty() {
            profile
        } else {
            chosen
        };
        let allowlist: Vec<&'static Suite> = base
            .into_iter()
            .chain(outside.iter().copied())
            .filter(|s| versions.contains(&s.version))
            .collect();
        let effective: Vec<SupportedCipherSuite> = rustls::crypto::ring::ALL_CIPHER_SUITES
            .iter()
            .filter(|cs| allowlist.iter().any(|s| s.code == u16::from(cs.suite())))
            .copied()
            .collect();
        let unsupported = allowlist
            .iter()
            .filter(|s| !effective.iter().any(|cs| u16::from(cs.suite()) == s.code))
            .map(|s| Unsupported {
                suite: s,
                reason: suites::unsupported_reason(s).unwrap_or("not implemented by rustls"),
            })
            .collect();
        if errors.is_empty() && effective.is_empty() {
            errors.push(TlsError {
                path: "suites".into(),
                message: "no suite the TLS backend implements is left".into(),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(TlsPolicy {
            profile: spec.profile.clone(),
            versions,
            allowlist,
            outside_profile: outside,
            effective,
            unsupported,
        })
    }

    /// The crypto provider serving exactly the effective suites (ring for everything else).
    pub fn provider(&self) -> CryptoProvider {
        CryptoProvider {
            cipher_suites: self.effective.clone(),
            ..rustls::crypto::ring::default_provider()
        }
    }

    /// The effective suites of one version, by IANA name.
    pub fn effective_names(&self, v: Version) -> Vec<&'static str> {
        self.effective
            .iter()
            .filter_map(|cs| suites::by_code(u16::from(cs.suite())))
            .filter(|s| s.version == v)
            .map(|s| s.name)
            .collect()
    }
}

#[cfg(test)]
mod tests;
