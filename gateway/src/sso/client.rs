//! The broker's own outgoing HTTP calls (reseller IdP metadata, forwarded bind notifications):
//! one request per connection, bounded in time and size.

use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::time::Duration;

/// Sends one request; answers the status and body (at most `max` bytes).
pub async fn request(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    max: usize,
) -> Result<(u16, Vec<u8>), String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u.host_str().ok_or("no host")?.to_owned();
    let port = u.port_or_known_default().ok_or("no port")?;
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("host does not resolve")?;
    let sni = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let mut peer = HttpPeer::new(addr, u.scheme() == "https", sni);
    let t = Some(Duration::from_secs(10));
    peer.options.connection_timeout = t;
    peer.options.read_timeout = t;
    peer.options.write_timeout = t;
    let e = |x: Box<pingora::Error>| x.to_string();
    let connector = Connector::new(None);
    let (mut s, _) = connector.get_http_session(&peer).await.map_err(e)?;
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    let mut h = RequestHeader::build(method, path.as_bytes(), None).map_err(e)?;
    h.insert_header("host", host).map_err(e)?;
    if let Some(ct) = content_type {
        h.insert_header("content-type", ct).map_err(e)?;
    }
    h.insert_header("content-length", body.len().to_string())
        .map_err(e)?;
    s.write_request_header(Box::new(h)).await.map_err(e)?;
    if !body.is_empty() {
        s.write_request_body(Bytes::from(body), true)
            .await
            .map_err(e)?;
    }
    s.finish_request_body().await.map_err(e)?;
    s.read_response_header().await.map_err(e)?;
    let status = s.response_header().map_or(0, |h| h.status.as_u16());
    let mut out = BytesMut::new();
    while let Some(chunk) = s.read_response_body().await.map_err(e)? {
        if out.len() + chunk.len() > max {
            return Err(format!("answer over {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((status, out.to_vec()))
}
