//! The partner API simulator.

mod auth;
mod coupons;
mod customer;
mod errors;
mod faults;
mod funds;
mod lists;
mod quotas;
mod request;
mod server;
mod world;

pub use errors::{ApiError, codes};
pub use faults::Faults;
pub use server::{Simulator, serve};
pub use world::{Fixture, World};
