//! Test support for Tiergate: the partner API simulator and end-to-end harness helpers.
//!
//! The simulator is a stateful, deterministic model of the vendor's partner API: it verifies
//! SDK-HMAC-SHA256 signatures as the vendor does, applies the vendor's caller constraints,
//! scoping and money rules, answers in the vendor's envelope, and exposes its state and a
//! request log under `/__sim/` so tests can assert what reached it.
#![forbid(unsafe_code)]

pub mod browser;
pub mod forward;
pub mod harness;
pub mod ledger;
pub mod sim;
pub mod sso;
