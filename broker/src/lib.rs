//! Identity brokering for customers of resellers' platforms (SAML, sessions, tokens).
//!
//! Not built yet: this crate exists so the dependency direction
//! (`gateway -> broker -> config, policy`) holds from the start.
#![forbid(unsafe_code)]
