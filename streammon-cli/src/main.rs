//! `streammon`: the streaming-QoE monitor's command line.

mod alloc;
mod detect;
mod eval;
mod output;
mod serve;
mod sim_flags;
mod simulate;

// The readers of the input files and the error type live in the library
// (`src/lib.rs`), so that the fuzz targets run the same code.
use streammon_cli::{config_file, error, series_csv, serve_file};

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
    /// Score detectors against simulated incidents, or on labelled data
    /// (`--labelled DIR`)
    ///
    /// By default, run the simulator with incidents and score every detector
    /// against the ground-truth labels: precision, recall and F1 at the
    /// incident level, mean time to detect, and false alert events per hour.
    ///
    /// With `--labelled DIR`, score them on real series instead: DIR holds
    /// `data/<group>/<name>.csv` (`timestamp,value`, a blank value a missing
    /// sample) and `labels/windows.json` (`{"<group>/<name>.csv": [["<start>",
    /// "<end>"], ...]}`, each window starting and ending on a row). Each
    /// detector runs over every file as `streammon detect` would, and is
    /// scored by the windowed scheme of real-time benchmarks: an early
    /// detection in a window earns up to 1, a missed window costs, a detection
    /// outside the windows costs more the farther it is past the last one, at
    /// the threshold that does best over the whole corpus; 0 is no better than
    /// never firing, 100 is a detection on every window's first row. Three
    /// profiles weigh the outcomes: standard, low FP (false alarms cost
    /// double), low FN (missed windows cost double). `--results DIR` scores
    /// another tool's output instead, `DIR/<group>/<name>.csv` with an
    /// `anomaly_score` column in [0, 1] and one row per data row.
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
    /// gracefully: every sample already accepted goes through a last tick
    /// into storage. Exit codes: 0 after a clean stop, 1 when writes could
    /// not be stored, 70 when the pipeline failed (panicked).
    Serve(Box<serve::ServeArgs>),
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
