//! `streammon detect`: score a `timestamp,value` CSV with a detector.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use streammon_core::detect::{DETECTOR_NAMES, DetectorConfig};
use streammon_core::{Detector, Point};

use crate::error::CliError;
use crate::series_csv::{BadLine, Line, parse_line, parse_value};

/// Score a time series for anomalies.
///
/// Reads `timestamp,value` lines (ISO-8601/RFC 3339 or epoch seconds or
/// milliseconds; a header line is tolerated; further columns are ignored)
/// and writes `timestamp,value,anomaly_score` with the score in [0, 1],
/// 0.5 meaning "at the edge of what was expected". Streams the file in
/// constant memory.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  streammon detect --input cpu.csv --output scores.csv
  streammon detect --input latency.csv --detector mad --output -")]
pub(crate) struct DetectArgs {
    /// CSV file to read; `-` for standard input
    #[arg(long, short, value_name = "FILE")]
    input: PathBuf,
    /// Where to write the scored CSV; `-` or absent for standard output
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Detector: auto (the self-calibrating default), zscore, ewma, mad,
    /// seasonal, cusum
    #[arg(long, short, default_value = "auto", value_parser = clap::builder::PossibleValuesParser::new(DETECTOR_NAMES))]
    detector: String,
    /// Stop at the first bad line instead of reporting and skipping it
    #[arg(long)]
    strict: bool,
    /// No progress bar or summary on standard error
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `streammon detect`.
pub(crate) fn run(args: &DetectArgs) -> Result<(), CliError> {
    let config = DetectorConfig::from_name(&args.detector)?;
    let mut detector = config.build()?;
    let name = args.input.clone();
    let (reader, size): (Box<dyn BufRead>, Option<u64>) = if args.input.as_os_str() == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = File::open(&args.input).map_err(|e| CliError::io(&args.input, e))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 16, file)), size)
    };
    let out_path = args.output.clone().filter(|p| p.as_os_str() != "-");
    let out_name = out_path.clone().unwrap_or_else(|| PathBuf::from("<stdout>"));
    let sink: Box<dyn Write> = match &out_path {
        Some(p) => Box::new(File::create(p).map_err(|e| CliError::io(p, e))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    // A progress bar on files of 10 MB and more.
    let progress = match size {
        Some(size) if !args.quiet && size >= 10_000_000 => {
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
                )
                .expect("constant template")
                .progress_chars("=> "),
            );
            bar
        }
        _ => ProgressBar::hidden(),
    };

    let write_err = |e: io::Error| CliError::io(&out_name, e);
    writeln!(out, "timestamp,value,anomaly_score").map_err(write_err)?;
    let (mut read, mut scored, mut bad) = (0u64, 0u64, 0u64);
    let mut line = String::new();
    let mut reader = reader;
    for number in 1.. {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| CliError::io(&name, e))?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if number % 4096 == 0 {
            progress.set_position(read);
        }
        let Line { ts_text, ts, value_text } = match parse_line(line.trim_end_matches(['\n', '\r'])) {
            None => continue,
            Some(Ok(ok)) => ok,
            // A first line that is not data is a header.
            Some(Err(_)) if number == 1 => continue,
            Some(Err(BadLine(reason))) => {
                bad += 1;
                let err = CliError::Input { path: name.clone(), line: Some(number), reason };
                if args.strict {
                    return Err(err);
                }
                progress.suspend(|| eprintln!("{err}"));
                continue;
            }
        };
        // An unreadable value is a missing point: kept in the output with
        // score 0, reported, and skipped by the detector.
        let value = match parse_value(value_text) {
            Ok(v) => v,
            Err(BadLine(reason)) => {
                bad += 1;
                let err = CliError::Input {
                    path: name.clone(),
                    line: Some(number),
                    reason: format!("{reason}; scored as missing"),
                };
                if args.strict {
                    return Err(err);
                }
                progress.suspend(|| eprintln!("{err}"));
                f64::NAN
            }
        };
        let verdict = detector.update(Point::new(ts, value));
        // The shortest text that reads back as the same number: a fixed
        // number of decimals would tie the highest scores at 1.000000 and
        // lose their ranking.
        writeln!(out, "{ts_text},{value_text},{}", verdict.score).map_err(write_err)?;
        scored += 1;
    }
    progress.finish_and_clear();
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.map_err(write_err)?,
    }
    if !args.quiet {
        eprintln!("streammon: scored {scored} points with {}; {bad} bad lines", detector.name());
    }
    Ok(())
}
