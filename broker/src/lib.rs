//! Identity brokering for customers of resellers' platforms (SAML, sessions, tokens).
//!
//! Built so far: short-lived EdDSA tokens with a JWKS and key rotation ([`tokens`]); SAML with
//! Tiergate as the vendor's IdP and as every reseller IdP's SP ([`saml`]); the binding of
//! platform users to customers and the tier check on sign-in ([`binding`]); redirect targets
//! ([`target`]). The gateway mounts it on its `[sso]` listener (no Pingora types here).
#![forbid(unsafe_code)]

pub mod binding;
pub mod saml;
pub mod target;
pub mod tokens;
