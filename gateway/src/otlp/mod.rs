//! Optional trace export: with `telemetry.otlp_endpoint` set, every request's spans (the
//! request, the gateway's own stage and the vendor's call) are posted in batches to an
//! OpenTelemetry collector's OTLP/HTTP endpoint (`/v1/traces`, JSON). Off the request path:
//! a request hands its spans to a bounded queue and never waits; when the queue is full or
//! the collector is away, spans are dropped and counted, never the request.

pub mod span;
pub mod spans;

use crate::upstream::{Trip, round_trip};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use pingora::upstreams::peer::HttpPeer;
use prometheus::{IntCounterVec, Opts, Registry};
use span::Span;
use std::time::Duration;
use tiergate_config::Otlp;
use tokio::sync::{Mutex, mpsc};

/// Spans waiting at most: a few seconds of a busy gateway's requests.
const QUEUE: usize = 8192;
/// Spans per export request.
const BATCH: usize = 512;
/// The longest a span waits for its batch.
const EVERY: Duration = Duration::from_secs(1);
/// An export that takes longer is given up (its spans dropped and counted).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where a request's spans go.
#[derive(Clone)]
pub struct Exporter {
    tx: mpsc::Sender<Span>,
    counts: IntCounterVec,
}

impl Exporter {
    /// Queues spans for export; drops (and counts) what does not fit.
    pub fn export(&self, spans: Vec<Span>) {
        for s in spans {
            if self.tx.try_send(s).is_err() {
                self.counts.with_label_values(&["dropped"]).inc();
            }
        }
    }
}

/// The background service posting queued spans.
pub struct Service {
    rx: Mutex<mpsc::Receiver<Span>>,
    endpoint: Otlp,
    connector: Connector,
    counts: IntCounterVec,
}

/// The exporter and its service for `endpoint`, counting in `registry`.
pub fn start(endpoint: &Otlp, registry: &Registry) -> Result<(Exporter, Service), String> {
    let counts = IntCounterVec::new(
        Opts::new(
            "tiergate_otlp_spans_total",
            "Spans for the OTLP endpoint, by outcome: exported, dropped (the queue was full) or \
             failed (the collector refused or did not answer).",
        ),
        &["outcome"],
    )
    .map_err(|e| format!("metrics: {e}"))?;
    registry
        .register(Box::new(counts.clone()))
        .map_err(|e| format!("metrics: {e}"))?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let exporter = Exporter {
        tx,
        counts: counts.clone(),
    };
    let service = Service {
        rx: Mutex::new(rx),
        endpoint: endpoint.clone(),
        connector: Connector::new(None),
        counts,
    };
    Ok((exporter, service))
}

impl Service {
    async fn post(&self, body: Bytes) -> Result<u16, String> {
        let e = &self.endpoint;
        // Resolved at each export (a collector's address may move); HttpPeer::new would
        // resolve it itself and panic on failure.
        let addr = tokio::net::lookup_host((e.host.as_str(), e.port))
            .await
            .map_err(|x| format!("{}: {x}", e.host))?
            .next()
            .ok_or_else(|| format!("{}: no address", e.host))?;
        let mut peer = HttpPeer::new(addr, e.tls, e.host.clone());
        peer.options.connection_timeout = Some(TIMEOUT);
        peer.options.read_timeout = Some(TIMEOUT);
        peer.options.write_timeout = Some(TIMEOUT);
        let err = |e: Box<pingora::Error>| e.to_string();
        let mut req = RequestHeader::build("POST", b"/v1/traces", None).map_err(err)?;
        let host = if [80, 443].contains(&e.port) {
            e.host.clone()
        } else {
            format!("{}:{}", e.host, e.port)
        };
        req.insert_header("host", host).map_err(err)?;
        req.insert_header("content-type", "application/json")
            .map_err(err)?;
        req.insert_header("content-length", body.len().to_string())
            .map_err(err)?;
        let (status, _) = round_trip(&self.connector, &peer, req, body)
            .await
            .map_err(|t| match t {
                Trip::NotSent(e) | Trip::Transport(e) => e.to_string(),
            })?;
        Ok(status)
    }

    async fn send(&self, batch: Vec<Span>) {
        let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let body = span::request(&self.endpoint.service_name, &batch).to_string();
        let sent = tokio::time::timeout(TIMEOUT, self.post(Bytes::from(body))).await;
        let outcome = match sent {
            Ok(Ok(status)) if (200..300).contains(&status) => "exported",
            Ok(Ok(status)) => {
                tracing::warn!(status, spans = n, "the OTLP endpoint refused spans");
                "failed"
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, spans = n, "could not export spans");
                "failed"
            }
            Err(_) => {
                tracing::warn!(spans = n, "span export timed out");
                "failed"
            }
        };
        self.counts.with_label_values(&[outcome]).inc_by(n);
    }
}

#[async_trait]
impl BackgroundService for Service {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut rx = self.rx.lock().await;
        let mut batch = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Some(s) => {
                        batch.push(s);
                        if batch.len() >= BATCH {
                            self.send(std::mem::take(&mut batch)).await;
                        }
                    }
                    None => return,
                },
                _ = tick.tick() => {
                    if !batch.is_empty() {
                        self.send(std::mem::take(&mut batch)).await;
                    }
                }
                _ = shutdown.changed() => {
                    // What is queued goes out before the stop, once.
                    while let Ok(s) = rx.try_recv() {
                        batch.push(s);
                    }
                    if !batch.is_empty() {
                        self.send(batch).await;
                    }
                    return;
                }
            }
        }
    }
}
