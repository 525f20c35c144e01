//! Reading a request body on the admin listener, capped like the proxy's.

use crate::filters::body::MAX_BODY;
use crate::rejection::Rejection;
use pingora::protocols::http::ServerSession;

/// The whole body, at most [`MAX_BODY`] bytes.
pub async fn read(session: &mut ServerSession) -> Result<Vec<u8>, Rejection> {
    let mut body = Vec::new();
    while let Some(chunk) = session
        .read_request_body()
        .await
        .map_err(|_| Rejection::InvalidBody("the body could not be read".into()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Rejection::BodyTooLarge { limit: MAX_BODY });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
