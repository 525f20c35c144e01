//! Identity brokering for customers of resellers' platforms (SAML, sessions, tokens).
//!
//! Built so far: short-lived EdDSA tokens with a JWKS and key rotation ([`tokens`]). SAML
//! (Tiergate as the vendor's IdP and as every reseller IdP's SP) and browser sessions follow.
#![forbid(unsafe_code)]

pub mod saml;
pub mod target;
pub mod tokens;
