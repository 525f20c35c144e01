//! The request stages, in order. Each takes what the previous one proved and returns the
//! next proof or a [`crate::rejection::Rejection`]:
//!
//! `route -> body -> authn (Credential) -> authz (Permit + Forward) -> resign`

pub mod authn;
pub mod authz;
pub mod body;
pub mod resign;
pub mod route;
