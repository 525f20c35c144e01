//! A request body read whole, up to the listener's own cap.

use crate::rejection::Rejection;
use pingora::protocols::http::ServerSession;

/// The whole body, at most `cap` bytes (a longer one is refused, not cut).
pub async fn read(session: &mut ServerSession, cap: usize) -> Result<Vec<u8>, Rejection> {
    let mut body = Vec::new();
    while let Some(chunk) = session
        .read_request_body()
        .await
        .map_err(|_| Rejection::InvalidBody("the body could not be read".into()))?
    {
        if body.len() + chunk.len() > cap {
            return Err(Rejection::BodyTooLarge { limit: cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
