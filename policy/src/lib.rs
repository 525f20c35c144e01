//! Pure decisions of Tiergate: who is calling, what the partner API route is, whether the
//! caller may call it, on whose behalf and on which identifiers, and the SDK-HMAC-SHA256
//! signature scheme.
//!
//! Invariants: no I/O, no async, no clock reads (time is always an argument), so every
//! decision here is a plain function with unit tests. Every other crate depends on this one;
//! this one depends on none of them.
#![forbid(unsafe_code)]

pub mod admin;
pub mod aksk;
pub mod decide;
pub mod graph;
pub mod ids;
pub mod ledger;
pub mod limit;
pub mod opset;
pub mod principal;
pub mod reading;
pub mod routes;
pub mod rules;

pub use decide::{Denied, Injection, Permit, decide};
pub use graph::{Edge, Graph, Layered, Relationships};
pub use ids::{BadId, RequestIds};
pub use opset::OpSet;
pub use principal::{Principal, Tier};
pub use routes::{
    CATALOGUE, CallerConstraint, IdKind, IdLocation, Method, Route, Typed, find_route,
};
pub use rules::{GrantSpec, RuleError, Rules, RulesSpec};
