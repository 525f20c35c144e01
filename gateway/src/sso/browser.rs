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

/// A `Set-Cookie` value for a cookie that must come back on a cross-site POST (a reseller
/// IdP posting its Response to our ACS), where SameSite=Lax would keep it back: SameSite=None,
/// which browsers take only with Secure, so on https. On plain http (a local rig) the
/// attribute is left out and the browser's default applies. HttpOnly either way.
pub fn set_cross_site_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let same_site = if secure {
        "; SameSite=None; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly{same_site}")
}

/// A redirect that also sets cookies.
pub fn found(location: String, cookies: &[String]) -> Response<Vec<u8>> {
    let mut headers = vec![("location", location)];
    headers.extend(cookies.iter().map(|c| ("set-cookie", c.clone())));
    answer::reply(
        Listener::SignIn,
        StatusCode::FOUND,
        "text/plain; charset=utf-8",
        Vec::new(),
        &headers,
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
