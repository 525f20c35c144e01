//! `tiergate-sim`: the partner API simulator as a process.
//!
//! `tiergate-sim --fixture FILE [--listen 127.0.0.1:0]` prints `listening on ADDR` once bound.
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;
use tiergate_tests::sim::{Fixture, World, serve};

#[derive(Parser)]
#[command(about = "Partner API simulator for Tiergate tests and demos")]
struct Args {
    /// The world to load (JSON).
    #[arg(long)]
    fixture: std::path::PathBuf,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let fixture: Fixture = match std::fs::read(&args.fixture)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tiergate-sim: {}: {e}", args.fixture.display());
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tiergate-sim: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let sim = match serve(listener, World::from_fixture(fixture)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tiergate-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", sim.addr());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
