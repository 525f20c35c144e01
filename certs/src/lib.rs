//! TLS policy: the cipher-suite allowlist as data, the rustls provider built from it, and
//! certificate loading, checking and selection by SNI.
//!
//! Invariants: only suites of the configured allowlist that the backend implements are ever
//! served or offered (one process-wide provider for the listener and upstream); a suite
//! configured outside the allowlist, unknown, or spelled in OpenSSL style is an error naming
//! it; certificates are checked at load (key matches leaf, in date, chain order, key type) and
//! an unreadable file is an error, never a panic.
#![forbid(unsafe_code)]

pub mod load;
pub mod policy;
pub mod resolver;
pub mod suites;

pub use load::{CertError, CertSpec, KeyType, LoadedCert, load};
pub use policy::{TlsError, TlsPolicy, TlsSpec, VENDOR_DEFAULT};
pub use resolver::CertStore;
pub use suites::{Suite, Version};
