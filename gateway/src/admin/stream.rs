//! The admin listener's connections: every answer is written whole, except audit exports,
//! which are written a page at a time as they are read (chunked), so a year of records is
//! never held in memory. Pingora's `ServeHttp` needs the whole answer first; this is its
//! connection handling with that one difference.
//!
//! An export that fails part-way (the database goes away) ends the connection without the
//! last chunk: the client sees a truncated transfer, never a short file that looks whole.

use super::Admin;
use crate::answer::{self, Listener};
use crate::audit::export::{Emit, Export, download_headers, stream};
use crate::console::Answer;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use std::sync::Arc;

async fn write_whole(http: &mut ServerSession, r: Response<Vec<u8>>) -> bool {
    let (parts, body) = r.into_parts();
    if let Err(e) = http.write_response_header(Box::new(parts.into())).await {
        tracing::debug!(error = %e, "admin: the answer's header could not be written");
        return false;
    }
    if !body.is_empty()
        && let Err(e) = http.write_response_body(body.into(), true).await
    {
        tracing::debug!(error = %e, "admin: the answer could not be written");
        return false;
    }
    true
}

/// Streams an export; false if it could not be finished.
async fn write_export(admin: &Admin, http: &mut ServerSession, e: Export) -> bool {
    let (content_type, headers) = download_headers(e.format);
    let whole = answer::reply(
        Listener::Admin,
        StatusCode::OK,
        content_type,
        Vec::new(),
        &headers,
    );
    let (parts, _) = whole.into_parts();
    let mut header: ResponseHeader = parts.into();
    header.remove_header(&http::header::CONTENT_LENGTH);
    if header
        .insert_header(http::header::TRANSFER_ENCODING, "chunked")
        .is_err()
    {
        return false;
    }
    if http.write_response_header(Box::new(header)).await.is_err() {
        return false;
    }
    let sent = stream(&admin.console.audit, e, &mut Chunks(&mut *http)).await;
    match sent {
        Ok(_) => http
            .write_response_body(bytes::Bytes::new(), true)
            .await
            .is_ok(),
        Err(why) => {
            tracing::warn!(error = %why, "an audit export stopped part-way; its connection is closed");
            false
        }
    }
}

/// Pages sent on as chunks of the answer.
struct Chunks<'a>(&'a mut ServerSession);

#[async_trait]
impl Emit for Chunks<'_> {
    async fn emit(&mut self, chunk: Vec<u8>) -> Result<(), String> {
        self.0
            .write_response_body(chunk.into(), false)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl HttpServerApp for Admin {
    async fn process_new_http(
        self: &Arc<Self>,
        mut http: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match http.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::debug!(error = %e, "admin: no request could be read");
                return None;
            }
        }
        http.set_keepalive(if *shutdown.borrow() { None } else { Some(60) });
        let done = match self.answer(&mut http).await {
            Answer::Whole(r) => write_whole(&mut http, r).await,
            Answer::Export(e) => write_export(self, &mut http, *e).await,
        };
        if !done {
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&http);
        match http.finish().await {
            Ok(c) => c.map(|s| ReusedHttpStream::from_reusable_stream(s, settings)),
            Err(e) => {
                tracing::debug!(error = %e, "admin: the exchange could not be finished");
                None
            }
        }
    }
}
