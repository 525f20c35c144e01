//! Stage 1: the route catalogue; anything unknown is refused (deny by default). Before the
//! catalogue is asked, the path and the headers Tiergate reads must be readable one way: a
//! path a server could normalise into another route, or two values of a header Tiergate and
//! the vendor could each take differently, is refused here, before anything else runs.

use crate::rejection::Rejection;
use pingora::http::RequestHeader;
use tiergate_policy::reading::{self, Ambiguous};
use tiergate_policy::{Route, find_route};

/// Headers Tiergate reads or decides on: each may be given at most once.
const ONCE: &[&str] = &[
    "host",
    "authorization",
    "x-sdk-date",
    "x-sdk-content-sha256",
    "x-domain-id",
    "content-type",
    "x-idempotency-key",
    "x-request-id",
    "content-length",
];

/// The catalogued operation a request calls.
pub fn route(req: &RequestHeader) -> Result<&'static Route, Rejection> {
    let (method, path) = (req.method.as_str(), req.uri.path());
    reading::path(path)?;
    for name in ONCE {
        if req.headers.get_all(*name).iter().nth(1).is_some() {
            return Err(Rejection::Ambiguous(Ambiguous {
                field: (*name).to_owned(),
                why: "is given more than once".to_owned(),
            }));
        }
    }
    find_route(method, path).ok_or_else(|| Rejection::NoSuchRoute {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}
