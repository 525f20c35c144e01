//! Benchmarks, and the small programs the load benchmark runs beside Tiergate: a static
//! upstream, a bare Pingora proxy and an open- or closed-loop load driver.

pub mod canned;
pub mod http1;
pub mod stats;
