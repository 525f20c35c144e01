//! The partner API simulator.

mod accounts;
mod auth;
mod bills;
mod books;
mod coupons;
mod customer;
mod enterprise;
mod errors;
mod faults;
mod funds;
mod identity;
mod lists;
mod orders;
mod payment;
mod pricing;
mod quotas;
mod reference;
mod request;
mod resources;
mod routes;
mod saml;
mod scope;
mod server;
mod trade;
mod world;

pub use books::{AccountChange, FeeRecord, VerificationCode};
pub use errors::{ApiError, codes};
pub use faults::Faults;
pub use request::fmt_time;
pub use routes::{Callers, Indirect, ROUTES, VendorRoute, by_operation, find};
pub use server::{Simulator, serve};
pub use trade::{Charging, Order, OrderLine, Product, Resource};
pub use world::{Customer, Fixture, Partner, World};

/// A field of a query or form body, decoded.
fn saml_field(encoded: &str, name: &str) -> Option<String> {
    encoded.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}
