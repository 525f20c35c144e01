//! Just enough HTTP/1.1 framing for the bench's upstream and driver: where a message with a
//! `Content-Length` body ends. Both sides only ever see such messages (no chunking).

/// Headers read per message; the bench's messages carry fewer than 16.
const MAX_HEADERS: usize = 32;

/// A complete request at the front of a buffer.
pub struct Request<'a> {
    /// Method.
    pub method: &'a str,
    /// Path and query as sent.
    pub target: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// Bytes the whole request takes in the buffer.
    pub len: usize,
    /// Whether the client asked to close the connection after the answer.
    pub close: bool,
}

/// A complete response at the front of a buffer.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Bytes the whole response takes in the buffer.
    pub len: usize,
    /// Whether the server closes the connection after it.
    pub close: bool,
}

/// What a partial buffer holds.
pub enum Parsed<T> {
    /// A whole message.
    Done(T),
    /// Not yet a whole message.
    Partial,
}

fn content_length(headers: &[httparse::Header<'_>]) -> Result<usize, String> {
    let Some(h) = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
    else {
        return Ok(0);
    };
    std::str::from_utf8(h.value)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "bad content-length".to_owned())
}

fn chunked(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked")
    })
}

fn asks_close(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
    })
}

/// The request at the front of `buf`.
pub fn request(buf: &[u8]) -> Result<Parsed<Request<'_>>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf).map_err(|e| e.to_string())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(Parsed::Partial),
    };
    if chunked(req.headers) {
        return Err("chunked requests are not supported".into());
    }
    let body = content_length(req.headers)?;
    if buf.len() < head + body {
        return Ok(Parsed::Partial);
    }
    Ok(Parsed::Done(Request {
        method: req.method.unwrap_or(""),
        target: req.path.unwrap_or(""),
        body: &buf[head..head + body],
        len: head + body,
        close: asks_close(req.headers),
    }))
}

/// The response at the front of `buf`.
pub fn response(buf: &[u8]) -> Result<Parsed<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(buf).map_err(|e| e.to_string())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(Parsed::Partial),
    };
    if chunked(resp.headers) {
        return Err("chunked responses are not supported".into());
    }
    let body = content_length(resp.headers)?;
    if buf.len() < head + body {
        return Ok(Parsed::Partial);
    }
    Ok(Parsed::Done(Response {
        status: resp.code.unwrap_or(0),
        len: head + body,
        close: asks_close(resp.headers),
    }))
}

/// A request as bytes on the wire, `Content-Length` added.
pub fn encode_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A 200 JSON response as bytes on the wire.
pub fn encode_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=UTF-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_requests_and_responses() -> Result<(), String> {
        let raw = encode_request("POST", "/a?b=1", &[("host".into(), "x".into())], b"{}");
        let mut two = raw.clone();
        two.extend_from_slice(&raw[..5]);
        let Parsed::Done(r) = request(&two)? else {
            return Err("request not parsed".into());
        };
        assert_eq!((r.method, r.target, r.body), ("POST", "/a?b=1", &b"{}"[..]));
        assert_eq!(r.len, raw.len());
        assert!(matches!(
            request(&raw[..raw.len() - 1]),
            Ok(Parsed::Partial)
        ));
        let resp = encode_json("{\"a\":1}");
        let Parsed::Done(p) = response(&resp)? else {
            return Err("response not parsed".into());
        };
        assert_eq!((p.status, p.len, p.close), (200, resp.len(), false));
        assert!(matches!(
            response(&resp[..resp.len() - 2]),
            Ok(Parsed::Partial)
        ));
        Ok(())
    }
}
