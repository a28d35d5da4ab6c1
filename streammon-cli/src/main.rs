//! `streammon`: the streaming-QoE monitor's command line.

mod alloc;
mod config_file;
mod detect;
mod error;
mod eval;
mod output;
mod series_csv;
mod serve;
mod sim_flags;
mod simulate;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// Watch video, audio and live streams as they are delivered.
#[derive(Debug, Parser)]
#[command(name = "streammon", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the deterministic simulator offline and write samples, content
    /// changes and incident labels
    Simulate(simulate::SimulateArgs),
    /// Score a `timestamp,value` CSV for anomalies
    Detect(detect::DetectArgs),
    /// Score every detector against simulated incidents
    Eval(eval::EvalArgs),
    /// Run the dashboard server: simulator, storage, detectors and alerts
    /// behind REST, Socket.IO and Prometheus
    ///
    /// The simulator (paced to real time, with incidents, after a fast
    /// backfill of history) feeds storage, then the detectors, alert rules
    /// and forecasts, then the REST API, Socket.IO clients and Prometheus.
    /// Clients may push samples of their own (POST /metrics, or the
    /// Socket.IO event metric_update).
    ///
    /// Storage is in memory unless Redis is configured (`--store redis`,
    /// REDIS_URL or REDIS_HOST; REDIS_PORT, REDIS_PASSWORD, REDIS_DB and
    /// REDIS_PREFIX are read too). Logs go to standard error; set RUST_LOG
    /// (e.g. `streammon=debug`) for more or less. SIGINT or SIGTERM stops it
    /// gracefully, flushing storage.
    Serve(serve::ServeArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Serve(args) => serve::run(args),
    };
    if let Err(err) = result {
        match err {
            // Already `file:line: reason`.
            CliError::Input { .. } => eprintln!("{err}"),
            _ => eprintln!("streammon: error: {err}"),
        }
        std::process::exit(err.exit_code());
    }
}
