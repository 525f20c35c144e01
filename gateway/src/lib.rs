//! Tiergate's gateway: the Pingora service that verifies resellers' vendor-SDK calls,
//! decides what they may do, re-signs them with the distributor's credentials and forwards
//! them (the pipeline: [`proxy`] and [`filters`]); the admin and sign-in listeners
//! ([`admin`], [`sso`]); the state they share (credentials, graph, ledger, audit log,
//! limiter, [`store`]); and the `tiergate` command line. `ARCHITECTURE.md` maps it.
//!
//! Invariants: nothing is forwarded without a [`tiergate_policy::Permit`]; every refusal is
//! answered by [`rejection::Rejection`]; no secret key reaches a log.
#![forbid(unsafe_code)]

/// The version and the git revision built from (`tiergate --version`, `tiergate_build_info`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("TIERGATE_GIT_REVISION"),
    ")"
);

pub mod admin;
pub mod answer;
pub mod audit;
pub mod chain;
pub mod cli;
pub mod console;
pub mod credentials;
pub mod ctx;
pub mod filters;
pub mod graph;
pub mod guard;
pub mod ledger;
pub mod limiter;
pub mod metrics;
pub mod otlp;
pub mod proxy;
pub mod reads;
pub mod rejection;
pub mod serve;
pub mod sso;
pub mod store;
pub mod tls;
pub mod trace;
pub mod upstream;
pub mod web;
