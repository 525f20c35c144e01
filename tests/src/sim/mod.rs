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
mod saml;
mod server;
mod world;

pub use errors::{ApiError, codes};
pub use faults::Faults;
pub use server::{Simulator, serve};
pub use world::{Fixture, World};

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
