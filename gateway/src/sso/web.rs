//! Small HTTP pieces of the browser-facing listener: answers, cookies, form fields.

use http::{Response, StatusCode};
use percent_encoding::percent_decode_str;

/// An answer with a content type and optional extra headers.
pub fn answer(
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (name, value) in std::iter::once(&("content-type", content_type.to_owned())).chain(headers)
    {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    // Sign-in pages must never be cached or framed.
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    h.insert("x-frame-options", http::HeaderValue::from_static("DENY"));
    let len = r.body().len();
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    r
}

/// A plain-text refusal.
pub fn refused(status: StatusCode, why: &str) -> Response<Vec<u8>> {
    answer(
        status,
        "text/plain; charset=utf-8",
        format!("{why}\n").into_bytes(),
        &[],
    )
}

/// A field of an `application/x-www-form-urlencoded` body or a query, decoded.
pub fn field(encoded: &str, name: &str) -> Option<String> {
    encoded.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| {
            percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

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
    answer(
        StatusCode::FOUND,
        "text/plain; charset=utf-8",
        Vec::new(),
        &[("location", location), ("set-cookie", cookie)],
    )
}

/// `url` with `query` appended (`?` or `&`, whichever it needs).
pub fn with_query(url: &str, query: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}
