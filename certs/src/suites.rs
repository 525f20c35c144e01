//! Cipher suites as data: IANA name, code point, protocol version, authentication, and
//! whether the vendor's allowlist (`vendor-default`) holds it.
//!
//! The vendor's rule (HIGH): forward secrecy and an AEAD (AES-GCM, AES-CCM, ChaCha20-Poly1305),
//! TLS 1.2 or 1.3. Suites outside it are listed too, so a configuration naming one is told
//! it is outside the allowlist rather than unknown.

use serde::Serialize;

/// A protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Version {
    /// TLS 1.2
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl Version {
    /// `TLSv1.2` / `TLSv1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Tls12 => "TLSv1.2",
            Version::Tls13 => "TLSv1.3",
        }
    }
}

/// What a suite's server authenticates with (TLS 1.3 suites are independent of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// Any certificate (TLS 1.3).
    Any,
    /// An RSA certificate.
    Rsa,
    /// An ECDSA certificate.
    Ecdsa,
    /// A pre-shared key.
    Psk,
}

/// One cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Suite {
    /// IANA name.
    pub name: &'static str,
    /// IANA code point.
    pub code: u16,
    /// OpenSSL's name for it, where OpenSSL has one.
    pub openssl: Option<&'static str>,
    /// Protocol version.
    pub version: Version,
    /// Server authentication.
    pub auth: Auth,
    /// In the vendor's allowlist.
    pub vendor_allowlist: bool,
}

const fn s(
    name: &'static str,
    code: u16,
    openssl: Option<&'static str>,
    version: Version,
    auth: Auth,
    vendor_allowlist: bool,
) -> Suite {
    Suite {
        name,
        code,
        openssl,
        version,
        auth,
        vendor_allowlist,
    }
}

use Auth::{Any, Ecdsa, Psk, Rsa};
use Version::{Tls12, Tls13};

/// Every suite Tiergate knows by name.
pub static SUITES: &[Suite] = &[
    // TLS 1.3: all AEAD, key exchange always ephemeral.
    s("TLS_AES_128_GCM_SHA256", 0x1301, None, Tls13, Any, true),
    s("TLS_AES_256_GCM_SHA384", 0x1302, None, Tls13, Any, true),
    s(
        "TLS_CHACHA20_POLY1305_SHA256",
        0x1303,
        None,
        Tls13,
        Any,
        true,
    ),
    s("TLS_AES_128_CCM_SHA256", 0x1304, None, Tls13, Any, true),
    s("TLS_AES_128_CCM_8_SHA256", 0x1305, None, Tls13, Any, false),
    // TLS 1.2, the vendor's allowlist: ECDHE/DHE (+PSK) with GCM, CCM or ChaCha20-Poly1305.
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02B,
        Some("ECDHE-ECDSA-AES128-GCM-SHA256"),
        Tls12,
        Ecdsa,
        true,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02C,
        Some("ECDHE-ECDSA-AES256-GCM-SHA384"),
        Tls12,
        Ecdsa,
        true,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC02F,
        Some("ECDHE-RSA-AES128-GCM-SHA256"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xC030,
        Some("ECDHE-RSA-AES256-GCM-SHA384"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9,
        Some("ECDHE-ECDSA-CHACHA20-POLY1305"),
        Tls12,
        Ecdsa,
        true,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA8,
        Some("ECDHE-RSA-CHACHA20-POLY1305"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        0xC0AC,
        Some("ECDHE-ECDSA-AES128-CCM"),
        Tls12,
        Ecdsa,
        true,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
        0xC0AD,
        Some("ECDHE-ECDSA-AES256-CCM"),
        Tls12,
        Ecdsa,
        true,
    ),
    s(
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009E,
        Some("DHE-RSA-AES128-GCM-SHA256"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x009F,
        Some("DHE-RSA-AES256-GCM-SHA384"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAA,
        Some("DHE-RSA-CHACHA20-POLY1305"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_DHE_RSA_WITH_AES_128_CCM",
        0xC09E,
        Some("DHE-RSA-AES128-CCM"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_DHE_RSA_WITH_AES_256_CCM",
        0xC09F,
        Some("DHE-RSA-AES256-CCM"),
        Tls12,
        Rsa,
        true,
    ),
    s(
        "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
        0x00AA,
        Some("DHE-PSK-AES128-GCM-SHA256"),
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
        0x00AB,
        Some("DHE-PSK-AES256-GCM-SHA384"),
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAD,
        Some("DHE-PSK-CHACHA20-POLY1305"),
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAC,
        Some("ECDHE-PSK-CHACHA20-POLY1305"),
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
        0xD001,
        None,
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
        0xD002,
        None,
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_DHE_PSK_WITH_AES_128_CCM",
        0xC0A6,
        Some("DHE-PSK-AES128-CCM"),
        Tls12,
        Psk,
        true,
    ),
    s(
        "TLS_DHE_PSK_WITH_AES_256_CCM",
        0xC0A7,
        Some("DHE-PSK-AES256-CCM"),
        Tls12,
        Psk,
        true,
    ),
    // Outside the allowlist: RSA key exchange (no forward secrecy), CBC, 3DES, short tags.
    s(
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009C,
        Some("AES128-GCM-SHA256"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009D,
        Some("AES256-GCM-SHA384"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x002F,
        Some("AES128-SHA"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0035,
        Some("AES256-SHA"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x000A,
        Some("DES-CBC3-SHA"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC013,
        Some("ECDHE-RSA-AES128-SHA"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC014,
        Some("ECDHE-RSA-AES256-SHA"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC027,
        Some("ECDHE-RSA-AES128-SHA256"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xC028,
        Some("ECDHE-RSA-AES256-SHA384"),
        Tls12,
        Rsa,
        false,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC009,
        Some("ECDHE-ECDSA-AES128-SHA"),
        Tls12,
        Ecdsa,
        false,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xC00A,
        Some("ECDHE-ECDSA-AES256-SHA"),
        Tls12,
        Ecdsa,
        false,
    ),
    s(
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        0xC0AE,
        Some("ECDHE-ECDSA-AES128-CCM8"),
        Tls12,
        Ecdsa,
        false,
    ),
];

/// The suite with this IANA name.
pub fn by_name(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.name == name)
}

/// The suite with this code point.
pub fn by_code(code: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.code == code)
}

/// The suite OpenSSL calls `name`.
pub fn by_openssl_name(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.openssl == Some(name))
}

/// Why the TLS backend (rustls with ring) cannot serve an allowlisted suite, if it cannot.
pub fn unsupported_reason(s: &Suite) -> Option<&'static str> {
    if s.name.contains("_PSK_") {
        Some("rustls implements no TLS 1.2 pre-shared-key cipher suites")
    } else if s.name.starts_with("TLS_DHE_") {
        Some("rustls implements no finite-field (DHE) key exchange")
    } else if s.name.contains("_CCM") {
        Some("rustls' ring backend implements no AES-CCM")
    } else {
        None
    }
}
