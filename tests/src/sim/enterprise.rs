//! Enterprise multi-account management. Only an enterprise master account may call these;
//! no account of the simulated world is one, so the caller constraint refuses every call
//! before this handler could run.

use super::errors::ApiError;
use super::request::{Call, OpResult};
use super::world::World;

/// Refuses: the caller is not an enterprise master account.
pub fn refused(_: &mut World, _: &Call) -> OpResult {
    Err(ApiError::denied(
        "Access denied: this API accepts only an enterprise master account's credentials.",
    ))
}
