//! `streammon eval`: score every detector against simulated incidents.

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use streammon_core::detect::DetectorConfig;
use streammon_core::eval::{EvalConfig, evaluate};

use super::EvalArgs;
use crate::error::CliError;

/// Runs `streammon eval` on the simulator.
pub(super) fn run(args: &EvalArgs) -> Result<(), CliError> {
    let mut config = EvalConfig { threshold: args.threshold, persistence: args.persistence, ..EvalConfig::default() };
    config.duration = args.duration.unwrap_or(config.duration);
    config.sim.seed = args.seed;
    config.sim.step = args.step;
    config.sim.titles = args.titles.unwrap_or(config.sim.titles);
    config.sim.incidents.rate_per_hour = args.incident_rate.unwrap_or(config.sim.incidents.rate_per_hour);
    let detectors =
        args.detector_names().iter().map(|n| DetectorConfig::from_name(n)).collect::<Result<Vec<_>, _>>()?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} ticks (eta {eta})")
            .expect("constant template")
            .progress_chars("=> "),
    );
    let scores = evaluate(&config, &detectors, |tick, total| {
        if tick == 1 {
            bar.set_length(total);
        }
        if tick % 32 == 0 || tick == total {
            bar.set_position(tick);
        }
    })?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    let io = |e| CliError::io("<stdout>", e);
    if args.json {
        serde_json::to_writer_pretty(&mut out, &scores).map_err(|e| CliError::io("<stdout>", e.into()))?;
        writeln!(out).map_err(io)?;
        return Ok(());
    }
    let hours = config.duration.as_millis() as f64 / 3_600_000.0;
    writeln!(
        out,
        "seed {}, {} simulated ({hours:.1} h) at {} steps, {} titles, {} incidents, threshold {}, persistence {}",
        args.seed,
        config.duration,
        args.step,
        config.sim.titles,
        scores.first().map_or(0, |s| s.incidents),
        args.threshold,
        args.persistence
    )
    .map_err(io)?;
    writeln!(
        out,
        "{:<17} {:>9} {:>9} {:>7} {:>9} {:>10} {:>10} {:>12}",
        "detector", "precision", "recall", "F1", "detected", "events", "MTTD (s)", "false/hour"
    )
    .map_err(io)?;
    for s in &scores {
        writeln!(
            out,
            "{:<17} {:>9.3} {:>9.3} {:>7.3} {:>9} {:>10} {:>10} {:>12.1}",
            s.detector,
            s.precision,
            s.recall,
            s.f1,
            format!("{}/{}", s.detected, s.incidents),
            s.events,
            s.mean_time_to_detect_s.map_or("-".to_owned(), |t| format!("{t:.0}")),
            s.false_events_per_hour
        )
        .map_err(io)?;
    }
    writeln!(out, "\nfalse events by metric (true events in parentheses):").map_err(io)?;
    write!(out, "{:<17}", "detector").map_err(io)?;
    for m in scores.first().map(|s| s.by_metric.as_slice()).unwrap_or_default() {
        write!(out, " {:>16}", m.metric.as_str()).map_err(io)?;
    }
    writeln!(out).map_err(io)?;
    for s in &scores {
        write!(out, "{:<17}", s.detector).map_err(io)?;
        for m in &s.by_metric {
            write!(out, " {:>16}", format!("{} ({})", m.events - m.true_events, m.true_events)).map_err(io)?;
        }
        writeln!(out).map_err(io)?;
    }
    Ok(())
}
