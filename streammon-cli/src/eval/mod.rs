//! `streammon eval`: score the server's own judgment, its alerts, against
//! the simulator's incidents ([`judgment`], the default); score detectors
//! one by one against them ([`simulated`], with `--detectors`); or score
//! detectors on a labelled corpus of real series ([`labelled`]).

mod corpus;
mod judgment;
mod labelled;
mod parallel;
mod simulated;

use std::path::PathBuf;

use streammon_core::Span;
use streammon_core::detect::DETECTOR_NAMES;

use crate::error::CliError;

/// The flags of `streammon eval`; what it does is told on the
/// subcommand in `main.rs`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  streammon eval                                   # the server's alerts: 24 h quiet, 24 h with incidents
  streammon eval --config streammon.toml --json    # with your own [pipeline] (and [simulator])
  streammon eval --detectors all                   # every detector's point alarms, 6 h
  streammon eval --duration 12h --detectors auto,mad
  streammon eval --labelled testdata/detection/cloud-monitoring
  streammon eval --labelled testdata/detection/cloud-monitoring --detectors zscore,mad --json
  streammon eval --labelled testdata/detection/cloud-monitoring --results my-scores/

See docs/DETECTION.md, \"Scoring on labelled data\", for the scheme and the layout.")]
pub(crate) struct EvalArgs {
    /// Seed of the simulated world
    #[arg(long, default_value_t = 1, conflicts_with = "labelled", help_heading = "Simulator")]
    seed: u64,
    /// Simulated time to run [default: 24h for the server's judgment (each
    /// of its two runs), 6h with --detectors]
    #[arg(long, conflicts_with = "labelled", help_heading = "Simulator")]
    duration: Option<Span>,
    /// Simulated time per tick
    #[arg(long, default_value = "10s", conflicts_with = "labelled", help_heading = "Simulator")]
    step: Span,
    /// Titles in the catalogue [default: 48, the server's; 24 with
    /// --detectors]
    #[arg(long, conflicts_with = "labelled", help_heading = "Simulator")]
    titles: Option<usize>,
    /// Random incidents per simulated hour [default: 2; 3 with --detectors]
    #[arg(long, conflicts_with = "labelled", help_heading = "Simulator")]
    incident_rate: Option<f64>,
    /// A `streammon serve` TOML file: its `[pipeline]` (detectors, floors,
    /// alert rules) and `[simulator]` are the ones judged
    #[arg(long, value_name = "FILE", conflicts_with_all = ["labelled", "detectors"], help_heading = "Simulator")]
    config: Option<PathBuf>,
    /// Score at or above which a point is an alarm (with --labelled, the
    /// best threshold is found for each detector)
    #[arg(long, default_value_t = 0.5, conflicts_with = "labelled", help_heading = "Simulator")]
    threshold: f64,
    /// Consecutive alarm points a series needs before they count, as an
    /// alert rule's for-duration would
    #[arg(long, default_value_t = 2, conflicts_with = "labelled", help_heading = "Simulator")]
    persistence: u32,
    /// Score on the labelled corpus in DIR (`data/<group>/<name>.csv` and
    /// `labels/windows.json`) instead of the simulator
    #[arg(long, value_name = "DIR", help_heading = "Labelled data")]
    labelled: Option<PathBuf>,
    /// Score another tool's output instead of the built-in detectors:
    /// `DIR/<group>/<name>.csv` with an `anomaly_score` column, one row
    /// per row of the corpus's file
    #[arg(
        long,
        value_name = "DIR",
        requires = "labelled",
        conflicts_with = "detectors",
        help_heading = "Labelled data"
    )]
    results: Option<PathBuf>,
    /// Score these detectors one by one, comma-separated, or `all`
    /// [default with --labelled: all]. On the simulator, their point
    /// alarms instead of the server's alerts
    #[arg(long, value_delimiter = ',', value_parser = detector_name)]
    detectors: Vec<String>,
    /// Write JSON instead of a table
    #[arg(long)]
    json: bool,
    /// No progress bar on standard error
    #[arg(long, short)]
    quiet: bool,
}

/// A detector's name, or `all`.
fn detector_name(name: &str) -> Result<String, String> {
    if name == "all" || DETECTOR_NAMES.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(format!("expected `all` or one of {}", DETECTOR_NAMES.join(", ")))
    }
}

impl EvalArgs {
    /// The detectors asked for, or all of them.
    fn detector_names(&self) -> Vec<&str> {
        if self.detectors.is_empty() || self.detectors.iter().any(|d| d == "all") {
            DETECTOR_NAMES.to_vec()
        } else {
            self.detectors.iter().map(String::as_str).collect()
        }
    }
}

/// Runs `streammon eval`.
pub(crate) fn run(args: &EvalArgs) -> Result<(), CliError> {
    match &args.labelled {
        Some(dir) => labelled::run(args, dir),
        None if args.detectors.is_empty() => judgment::run(args),
        None => simulated::run(args),
    }
}
