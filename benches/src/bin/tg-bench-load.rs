//! The load driver: keep-alive HTTP/1.1 connections sending a fixed mix of requests, either
//! closed-loop (each connection sends as soon as its answer is in: saturation) or open-loop at
//! a constant rate (wrk2's model: each request has an intended send time and its latency counts
//! from then, so a stalled server is charged for every request it held up). One thread does
//! the I/O, one paces; both stay on the cores the driver is started on.
#![allow(missing_docs)]

use bytes::BytesMut;
use clap::Parser;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tiergate_benches::http1::{self, Parsed};
use tiergate_benches::stats::percentile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// Where to send.
    #[arg(long)]
    target: SocketAddr,
    /// A JSON array of requests: {method, target, headers: [[name, value]], body}.
    #[arg(long)]
    requests: PathBuf,
    /// Connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds, not measured.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Requests per second in all (open loop); 0 sends closed-loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

#[derive(Deserialize)]
struct Spec {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// One connection's findings.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    io_errors: u64,
    /// Answers received, warm-up included.
    all: u64,
    /// The first answer other than 2xx, for the report.
    first_failure: Option<String>,
}

struct Plan {
    /// Sent in turn across all connections, so each is sent once before any repeats (a
    /// gateway carries out a repeated state-changing request once: a write mix needs as many
    /// distinct requests as a run sends).
    requests: Vec<Vec<u8>>,
    next: std::cell::Cell<usize>,
    target: SocketAddr,
    measure_from: Instant,
    end: Instant,
}

async fn connect(target: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(target).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Sends one request and reads its answer: (status, whether the connection stays open).
async fn exchange(
    conn: &mut TcpStream,
    buf: &mut BytesMut,
    request: &[u8],
    failure: &mut Option<String>,
) -> Result<(u16, bool), String> {
    conn.write_all(request).await.map_err(|e| e.to_string())?;
    loop {
        if let Parsed::Done(r) = http1::response(buf)? {
            let answer = buf.split_to(r.len);
            if failure.is_none() && !(200..300).contains(&r.status) {
                let text = String::from_utf8_lossy(&answer);
                *failure = Some(text.chars().take(600).collect());
            }
            return Ok((r.status, !r.close));
        }
        buf.reserve(16 * 1024);
        if conn.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
    }
}

/// One connection: sends whenever `next` says (closed loop: at once), until the plan ends.
async fn connection(
    plan: Rc<Plan>,
    mut tickets: Option<mpsc::UnboundedReceiver<Instant>>,
) -> Tally {
    let mut tally = Tally::default();
    let mut conn = None;
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let due = match tickets.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(t) => t,
                None => break,
            },
            None => Instant::now(),
        };
        if due >= plan.end {
            break;
        }
        let stream = match conn.take() {
            Some(c) => c,
            None => match connect(plan.target).await {
                Ok(c) => c,
                Err(_) => {
                    tally.io_errors += 1;
                    continue;
                }
            },
        };
        let mut stream = stream;
        buf.clear();
        let n = plan.next.get();
        plan.next.set(n.wrapping_add(1));
        let request = &plan.requests[n % plan.requests.len()];
        let result = exchange(&mut stream, &mut buf, request, &mut tally.first_failure).await;
        let done = Instant::now();
        match result {
            Ok((status, keep)) => {
                tally.all += 1;
                if due >= plan.measure_from {
                    let us = done.duration_since(due).as_micros();
                    tally
                        .latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                    *tally.statuses.entry(status).or_default() += 1;
                }
                if keep {
                    conn = Some(stream);
                }
            }
            Err(_) => tally.io_errors += 1,
        }
    }
    tally
}

/// Hands out intended send times at `rate`, round robin over the connections, sleeping in
/// between (the OS timer, tens of microseconds, not the runtime's millisecond wheel).
fn pace(senders: Vec<mpsc::UnboundedSender<Instant>>, start: Instant, end: Instant, rate: f64) {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut i: u64 = 0;
    loop {
        let due = start + interval.mul_f64(i as f64);
        if due >= end {
            return;
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let Some(tx) = senders.get((i % senders.len() as u64) as usize) else {
            return;
        };
        if tx.send(due).is_err() {
            return;
        }
        i += 1;
    }
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.requests).map_err(|e| e.to_string())?;
    let specs: Vec<Spec> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if specs.is_empty() || args.connections == 0 {
        return Err("no requests or no connections".into());
    }
    let requests = specs
        .iter()
        .map(|s| http1::encode_request(&s.method, &s.target, &s.headers, s.body.as_bytes()))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.seconds);
    let plan = Rc::new(Plan {
        requests,
        next: std::cell::Cell::new(0),
        target: args.target,
        measure_from,
        end,
    });
    let (senders, receivers): (Vec<_>, Vec<_>) = if args.rate > 0.0 {
        (0..args.connections)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            })
            .unzip()
    } else {
        (0..args.connections).map(|_| (None, None)).unzip()
    };
    let senders: Vec<_> = senders.into_iter().flatten().collect();
    let pacer = (!senders.is_empty())
        .then(|| std::thread::spawn(move || pace(senders, start, end, args.rate)));
    let local = tokio::task::LocalSet::new();
    let tallies = local.block_on(&rt, async {
        if args.rate <= 0.0 {
            tokio::time::sleep_until(start.into()).await;
        }
        let tasks: Vec<_> = receivers
            .into_iter()
            .map(|rx| tokio::task::spawn_local(connection(plan.clone(), rx)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            if let Ok(tally) = t.await {
                all.push(tally);
            }
        }
        all
    });
    if let Some(p) = pacer {
        let _ = p.join();
    }
    let mut latencies: Vec<u32> = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut io_errors = 0;
    let mut all = 0;
    let mut first_failure = None;
    for t in tallies {
        all += t.all;
        first_failure = first_failure.or(t.first_failure);
        latencies.extend(t.latencies_us);
        for (s, n) in t.statuses {
            *statuses.entry(s).or_default() += n;
        }
        io_errors += t.io_errors;
    }
    latencies.sort_unstable();
    let completed = latencies.len() as u64;
    let ok: u64 = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let report = serde_json::json!({
        "completed": completed,
        "ok": ok,
        "rps": completed as f64 / args.seconds,
        "ok_rps": ok as f64 / args.seconds,
        "statuses": statuses,
        "io_errors": io_errors,
        "all": all,
        "first_failure": first_failure,
        "p50_us": percentile(&latencies, 0.5),
        "p99_us": percentile(&latencies, 0.99),
        "p999_us": percentile(&latencies, 0.999),
        "max_us": latencies.last().copied().unwrap_or(0),
    });
    println!("{report}");
    Ok(())
}
