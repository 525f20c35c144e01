//! What the sign-in listener keeps in the browser and where it sends it: cookies and
//! redirects.

use crate::answer::{self, Listener};
use http::{Response, StatusCode};

/// A cookie's value from the request.
pub fn cookie(req: &pingora::http::RequestHeader, name: &str) -> Option<String> {
    req.headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the ACS is reached by a cross-site POST, and
/// the cookie must come back on the top-level navigations that follow), Secure on https.
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// A redirect that also sets a cookie.
pub fn found(location: String, cookie: String) -> Response<Vec<u8>> {
    answer::reply(
        Listener::SignIn,
        StatusCode::FOUND,
        "text/plain; charset=utf-8",
        Vec::new(),
        &[("location", location), ("set-cookie", cookie)],
    )
}

/// A page or document of the sign-in listener (200), with extra headers.
pub fn page(content_type: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Response<Vec<u8>> {
    answer::reply(
        Listener::SignIn,
        StatusCode::OK,
        content_type,
        body,
        headers,
    )
}

/// `url` with `query` appended (`?` or `&`, whichever it needs).
pub fn with_query(url: &str, query: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}
