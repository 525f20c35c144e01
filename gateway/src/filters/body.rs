//! Stage 2: the whole request body, read before anything is forwarded, declared as JSON
//! or not declared at all (the vendor receives `application/json` whatever was sent).
//!
//! Pingora's retry buffer keeps what we read here and replays it upstream through
//! `request_body_filter`, where the final (possibly rewritten) body is substituted.

use crate::rejection::Rejection;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use tiergate_policy::reading;

/// The most Tiergate inspects; also the size of Pingora's retry buffer.
pub const MAX_BODY: usize = 64 * 1024;

/// Reads the complete body (empty for none).
pub async fn read(session: &mut Session) -> Result<Bytes, Rejection> {
    session.as_downstream_mut().enable_retry_buffering();
    let mut body = BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(Rejection::BodyTooLarge { limit: MAX_BODY });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => return Err(Rejection::InvalidBody("the body could not be read".into())),
        }
    }
    if session.as_downstream().retry_buffer_truncated() {
        return Err(Rejection::BodyTooLarge { limit: MAX_BODY });
    }
    if !body.is_empty() {
        let declared = session.req_header().headers.get(http::header::CONTENT_TYPE);
        reading::content_type(declared.map(|v| v.as_bytes()))?;
    }
    Ok(body.freeze())
}
