//! `streammon eval`: score detectors, against the simulator's incidents
//! ([`simulated`]) or on a labelled corpus of real series ([`labelled`]).

mod corpus;
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
  streammon eval --duration 12h --detectors auto,mad
  streammon eval --labelled testdata/detection/cloud-monitoring
  streammon eval --labelled testdata/detection/cloud-monitoring --detectors zscore,mad --json
  streammon eval --labelled testdata/detection/cloud-monitoring --results my-scores/

See docs/DETECTION.md, \"Scoring on labelled data\", for the scheme and the layout.")]
pub(crate) struct EvalArgs {
    /// Seed of the simulated world
    #[arg(long, default_value_t = 1, conflicts_with = "labelled", help_heading = "Simulator")]
    seed: u64,
    /// Simulated time to run
    #[arg(long, default_value = "6h", conflicts_with = "labelled", help_heading = "Simulator")]
    duration: Span,
    /// Simulated time per tick
    #[arg(long, default_value = "10s", conflicts_with = "labelled", help_heading = "Simulator")]
    step: Span,
    /// Titles in the catalogue
    #[arg(long, default_value_t = 24, conflicts_with = "labelled", help_heading = "Simulator")]
    titles: usize,
    /// Random incidents per simulated hour
    #[arg(long, default_value_t = 3.0, conflicts_with = "labelled", help_heading = "Simulator")]
    incident_rate: f64,
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
    /// Detectors to score, comma-separated [default: all]
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(DETECTOR_NAMES))]
    detectors: Vec<String>,
    /// Write JSON instead of a table
    #[arg(long)]
    json: bool,
    /// No progress bar on standard error
    #[arg(long, short)]
    quiet: bool,
}

impl EvalArgs {
    /// The detectors asked for, or all of them.
    fn detector_names(&self) -> Vec<&str> {
        if self.detectors.is_empty() {
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
        None => simulated::run(args),
    }
}
