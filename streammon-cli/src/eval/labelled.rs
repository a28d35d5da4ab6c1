//! `streammon eval --labelled`: score detectors on a labelled corpus of
//! real series, by the windowed scheme of
//! [`streammon_core::eval::windowed`].
//!
//! Each built-in detector runs over every file as `streammon detect`
//! runs it (a fresh detector per file, every row fed in order, a missing
//! value as NaN), so the figures are those the reference scorer gives on
//! `streammon detect`'s output. With `--results`, another tool's scores
//! are read instead. Files are independent: they are read and scored on
//! one thread per core.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use streammon_core::Point;
use streammon_core::detect::DetectorConfig;
use streammon_core::eval::windowed::{self, LabelledFile, NEVER_THRESHOLD, Report};

use super::EvalArgs;
use super::corpus::{Corpus, read_scores};
use super::parallel;
use crate::error::CliError;

/// One line of the output: who was scored, and how they did.
#[derive(Debug, Serialize)]
struct Scored {
    /// A detector's name, or the results directory as given.
    detector: String,
    #[serde(flatten)]
    report: Report,
}

/// Runs `streammon eval --labelled DIR`.
pub(super) fn run(args: &EvalArgs, dir: &Path) -> Result<(), CliError> {
    let threads = parallel::threads();
    let corpus = Corpus::read(dir, threads)?;
    let scored = match &args.results {
        Some(results) => {
            let files = parallel::map(&corpus.files, threads, |file| {
                let path = results.join(&file.name);
                corpus.labelled(file, &read_scores(&path, file)?, "results")
            });
            vec![Scored { detector: results.display().to_string(), report: score(files)? }]
        }
        None => {
            let names = args.detector_names();
            let bar = progress(args.quiet, (names.len() * corpus.files.len()) as u64);
            let scored = names
                .iter()
                .map(|name| {
                    let config = DetectorConfig::from_name(name)?;
                    let files = parallel::map(&corpus.files, threads, |file| {
                        let mut detector = config.build()?;
                        let series = &file.series;
                        let scores: Vec<f64> = (series.timestamps.iter().zip(&series.values))
                            .map(|(&t, &v)| detector.update(Point::new(t, v)).score)
                            .collect();
                        bar.inc(1);
                        corpus.labelled(file, &scores, &format!("detector {name}"))
                    });
                    Ok(Scored { detector: (*name).to_owned(), report: score(files)? })
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            bar.finish_and_clear();
            scored
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &scored).map_err(|e| CliError::io("<stdout>", e.into()))?;
        writeln!(out).map_err(|e| CliError::io("<stdout>", e))?;
    } else {
        table(&mut out, dir, &scored).map_err(|e| CliError::io("<stdout>", e))?;
    }
    Ok(())
}

/// Scores the files in order, or returns the first file's error.
fn score(files: Vec<Result<LabelledFile, CliError>>) -> Result<Report, CliError> {
    let files = files.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(windowed::score(&files)?)
}

fn progress(quiet: bool, files: u64) -> ProgressBar {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(files) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} files scored (eta {eta})")
            .expect("constant template")
            .progress_chars("=> "),
    );
    bar
}

/// One row per detector: the three normalised scores, then per profile
/// the best threshold and the detections inside and outside windows.
fn table(out: &mut impl Write, dir: &Path, scored: &[Scored]) -> std::io::Result<()> {
    if let Some(first) = scored.first() {
        let r = &first.report;
        writeln!(
            out,
            "{}: {} files, {} windows, {} rows scored (0 = never firing, 100 = on every window's first row)",
            dir.display(),
            r.files,
            r.windows,
            r.rows
        )?;
    }
    let width = scored.iter().map(|s| s.detector.len()).max().unwrap_or(0).max(8);
    let groups =
        format!("{:<width$} {:>8} {:>7} {:>7}  {:^24}  {:^24}  {:^24}", "", "", "", "", "standard", "low FP", "low FN");
    writeln!(out, "{}", groups.trim_end())?;
    write!(out, "{:<width$} {:>8} {:>7} {:>7}", "detector", "standard", "low FP", "low FN")?;
    for _ in 0..3 {
        write!(out, "  {:>10} {:>6} {:>6}", "threshold", "in", "out")?;
    }
    writeln!(out)?;
    for s in scored {
        let r = &s.report;
        write!(
            out,
            "{:<width$} {:>8.2} {:>7.2} {:>7.2}",
            s.detector, r.standard.score, r.low_fp.score, r.low_fn.score
        )?;
        for (_, p) in r.by_profile() {
            let threshold = match p.threshold {
                NEVER_THRESHOLD => "never".to_owned(),
                // Not "1.000000" for a threshold just below 1 (the JSON has it exactly).
                t if t < 1.0 && t > 0.999_999 => ">0.999999".to_owned(),
                t => format!("{t:.6}"),
            };
            write!(out, "  {threshold:>10} {:>6} {:>6}", p.rows_in_windows, p.rows_outside)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "in, out: detections inside and outside the labelled windows at the best threshold")
}
