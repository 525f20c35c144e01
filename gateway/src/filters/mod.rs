//! The request stages, in order. Each takes what the previous one proved and returns the
//! next proof or a [`crate::rejection::Rejection`]:
//!
//! `route -> body -> authn (Credential) -> authz (Permit + Forward) -> audit intent (with the
//! delegation reservation for vouchers) -> resign`, and after the answer, the audit outcome
//! (with the reservation's settlement).

pub mod audit;
pub mod authn;
pub mod authz;
pub mod body;
pub mod idempotency;
pub mod ledger;
pub mod resign;
pub mod route;
