//! Stage 1: the route catalogue; anything unknown is refused (deny by default).

use crate::rejection::Rejection;
use pingora::http::RequestHeader;
use tiergate_policy::{Route, find_route};

/// The catalogued operation a request calls.
pub fn route(req: &RequestHeader) -> Result<&'static Route, Rejection> {
    let (method, path) = (req.method.as_str(), req.uri.path());
    find_route(method, path).ok_or_else(|| Rejection::NoSuchRoute {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}
