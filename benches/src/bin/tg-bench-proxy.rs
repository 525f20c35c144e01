//! The bare Pingora proxy the load bench compares Tiergate with: a `ProxyHttp` that only
//! names the upstream, on the same Pingora version, one worker thread, upstream connections
//! kept alive. `tg-bench-proxy LISTEN UPSTREAM`.
#![allow(missing_docs)]

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;

struct Bare(SocketAddr);

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.0, false, String::new())))
    }
}

fn main() -> std::result::Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        return Err("usage: tg-bench-proxy LISTEN UPSTREAM".into());
    };
    let upstream: SocketAddr = upstream.parse().map_err(|_| "bad upstream address")?;
    let conf = ServerConf {
        threads: 1,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Bare(upstream));
    proxy.add_tcp(listen);
    server.add_service(proxy);
    println!("listening on {listen}");
    server.run_forever()
}
