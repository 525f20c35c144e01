//! Stage 1: the route catalogue; anything unknown is refused (deny by default).

use crate::rejection::Rejection;
use tiergate_policy::{Route, find_route};

/// The catalogued operation for a method and raw path.
pub fn route(method: &str, path: &str) -> Result<&'static Route, Rejection> {
    find_route(method, path).ok_or_else(|| Rejection::NoSuchRoute {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}
