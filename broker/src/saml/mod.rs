//! SAML: Tiergate as the SP every reseller IdP trusts ([`sp`]), with a strict structural
//! [`scan`] in front of samael's signature verification.

pub mod redirect;
pub mod replay;
pub mod scan;
pub mod sp;
