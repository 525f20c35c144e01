//! TLS policy: the cipher-suite allowlist as data, the rustls provider built from it, and
//! certificate loading.
//!
//! Not built yet: the listener and upstream are plain TCP until the TLS policy lands.
#![forbid(unsafe_code)]
