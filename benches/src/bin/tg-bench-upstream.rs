//! The load bench's upstream: fixed answers (see `tiergate_benches::canned`) on one thread,
//! keep-alive, so it is never what a proxy in front of it waits for. Prints
//! `listening on ADDR` once bound (`--listen`, default 127.0.0.1:0).
#![allow(missing_docs)]

use bytes::BytesMut;
use std::rc::Rc;
use tiergate_benches::canned::Answers;
use tiergate_benches::http1::{self, Parsed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve(mut conn: TcpStream, answers: Rc<Answers>) -> Result<(), String> {
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = Vec::with_capacity(16 * 1024);
    loop {
        // Answer every whole request in the buffer, then write once.
        let mut close = false;
        while !close {
            let used = match http1::request(&buf)? {
                Parsed::Done(r) => {
                    out.extend_from_slice(&answers.answer(r.method, r.target, r.body));
                    close = r.close;
                    r.len
                }
                Parsed::Partial => break,
            };
            let _ = buf.split_to(used);
        }
        if !out.is_empty() {
            conn.write_all(&out).await.map_err(|e| e.to_string())?;
            out.clear();
        }
        if close {
            return Ok(());
        }
        buf.reserve(16 * 1024);
        if conn.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Ok(());
        }
    }
}

fn main() -> Result<(), String> {
    let listen = std::env::args()
        .skip_while(|a| a != "--listen")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("{listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on {addr}");
        let answers = Rc::new(Answers::new());
        loop {
            let (conn, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let answers = answers.clone();
            tokio::task::spawn_local(async move {
                if let Err(e) = serve(conn, answers).await {
                    eprintln!("connection: {e}");
                }
            });
        }
    })
}
