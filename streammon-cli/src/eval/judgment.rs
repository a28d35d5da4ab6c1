//! `streammon eval` (the default): the server's own judgment, its alerts,
//! against simulated incidents.

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use streammon_core::eval::judgment::{JudgmentConfig, JudgmentReport, judge};

use super::EvalArgs;
use crate::config_file;
use crate::error::CliError;
use crate::serve_file::ServeFile;

/// Runs the pipeline as `serve` would over a quiet day and a day with
/// incidents, and prints what its alerts got right.
pub(super) fn run(args: &EvalArgs) -> Result<(), CliError> {
    let mut config = JudgmentConfig::default();
    if let Some(path) = &args.config {
        let (file, text) = config_file::load::<ServeFile>(path)?;
        let locate = |e| config_file::locate(path, &text, e);
        file.pipeline.validate().map_err(locate)?;
        config.pipeline = file.pipeline;
        if let Some(sim) = file.simulator {
            sim.validate().map_err(locate)?;
            config.sim = sim;
        }
    }
    config.sim.seed = args.seed;
    config.sim.step = args.step;
    if let Some(titles) = args.titles {
        config.sim.titles = titles;
    }
    if let Some(rate) = args.incident_rate {
        config.incident_rate = rate;
    }
    if let Some(duration) = args.duration {
        config.duration = duration;
    }
    config.sim.validate()?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} ticks (eta {eta})")
            .expect("constant template")
            .progress_chars("=> "),
    );
    let report = judge(&config, |tick, total| {
        if tick == 1 {
            bar.set_length(total);
        }
        if tick % 64 == 0 || tick == total {
            bar.set_position(tick);
        }
    })?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(|e| CliError::io("<stdout>", e.into()))?;
        writeln!(out).map_err(|e| CliError::io("<stdout>", e))?;
        return Ok(());
    }
    write_table(&mut out, &report, config.incident_rate).map_err(|e| CliError::io("<stdout>", e))
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn secs(x: Option<f64>) -> String {
    x.map_or("-".to_owned(), |t| format!("{t:.0} s"))
}

fn write_table(out: &mut impl Write, r: &JudgmentReport, rate: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "The server's judgment: the pipeline, floors and alert rules of `streammon serve` \
         (seed {}, {} titles, {} s steps)",
        r.seed, r.titles, r.step_s
    )?;
    let q = &r.quiet;
    writeln!(
        out,
        "\n{:.1} h without incidents: {} alerts fired, {} anomaly events in the feed",
        q.hours, q.alerts_fired, q.anomaly_events
    )?;
    for s in &q.examples {
        writeln!(out, "  fired: {s}")?;
    }
    let i = &r.incidents;
    writeln!(out, "\n{:.1} h with {rate} random incidents per hour: {} incidents", i.hours, i.incidents)?;
    writeln!(
        out,
        "  alerted          {}/{} ({}), time to alert: median {}, p95 {}",
        i.alerted,
        i.incidents,
        pct(i.alerted_share),
        secs(i.median_time_to_alert_s),
        secs(i.p95_time_to_alert_s)
    )?;
    writeln!(
        out,
        "  alerts fired     {}, on an incident {} ({}), cause names the incident's region or title in {} ({})",
        i.alerts_fired,
        i.alerts_on_incidents,
        pct(i.precision),
        i.cause_named,
        pct(i.cause_share)
    )?;
    writeln!(out, "  anomaly events   {}", i.anomaly_events)?;
    writeln!(out, "\n  {:<18} {:>9} {:>8} {:>22}", "kind", "incidents", "alerted", "median time to alert")?;
    for k in &i.by_kind {
        writeln!(
            out,
            "  {:<18} {:>9} {:>8} {:>22}",
            k.kind.as_str(),
            k.incidents,
            k.alerted,
            secs(k.median_time_to_alert_s)
        )?;
    }
    for m in &i.missed {
        writeln!(out, "  missed: {m}")?;
    }
    for s in &i.false_alerts {
        writeln!(out, "  on no incident: {s}")?;
    }
    Ok(())
}
