//! `streammon simulate`: run the simulator offline and write its samples,
//! content changes and incident labels to files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use streammon_core::{Frame, SimConfig, Simulator, Span};

use crate::config_file;
use crate::error::CliError;
use crate::output::{Format, SampleWriter};
use crate::sim_flags::SimFlags;

/// Run the simulator and write what it produces.
///
/// The same seed and options always give byte-identical output.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  streammon simulate --seed 7 --duration 6h --step 1s --out samples.jsonl --labels labels.jsonl
  streammon simulate --duration 2h --step 10s --incidents random=4 --format csv --out samples.csv
  streammon simulate --incidents cdn_degradation:eu-west@1h+15m,origin_outage@3h+5m*0.9 --out s.jsonl")]
pub(crate) struct SimulateArgs {
    #[command(flatten)]
    sim: SimFlags,
    /// Simulated time to cover, e.g. 30m, 6h, 2d
    #[arg(long, default_value = "1h")]
    duration: Span,
    /// Simulated start, RFC 3339 [default: 2026-01-01T00:00:00Z; with --realtime, now]
    #[arg(long)]
    start: Option<String>,
    /// TOML file with the full simulator configuration (regions, mix,
    /// incidents, …); flags override it
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format [default: csv if --out ends in .csv, else jsonl]
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Samples file; `-` or absent for standard output
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Incident ground truth, one JSON object per incident as it starts
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Content changes (`content_change` events), one JSON object per line
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Pace ticks to the wall clock, as the server does
    #[arg(long)]
    realtime: bool,
    /// No progress bar or summary on standard error
    #[arg(long, short)]
    quiet: bool,
}

impl SimulateArgs {
    /// The simulator configuration: defaults, then the config file, then flags.
    fn sim_config(&self) -> Result<SimConfig, CliError> {
        let (mut config, file) = match &self.config {
            Some(path) => {
                let (config, text) = config_file::load::<SimConfig>(path)?;
                (config, Some((path.as_path(), text)))
            }
            None => (SimConfig::default(), None),
        };
        if let Some((path, text)) = &file {
            config.validate().map_err(|e| config_file::locate(path, text, e))?;
        }
        self.sim.apply(&mut config)?;
        match &self.start {
            Some(start) => config.start_ms = streammon_core::time::parse_rfc3339(start)?,
            None if self.realtime => {
                let now = crate::serve::wall_ms();
                let step = config.step.as_millis().max(1) as i64;
                config.start_ms = now / step * step;
            }
            None => {}
        }
        config.validate()?;
        Ok(config)
    }

    fn format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            let csv = self.out.as_ref().and_then(|p| p.extension()).is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if csv { Format::Csv } else { Format::Jsonl }
        })
    }
}

/// Runs `streammon simulate`.
pub(crate) fn run(args: &SimulateArgs) -> Result<(), CliError> {
    let config = args.sim_config()?;
    let step_ms = config.step.as_millis();
    if args.duration.as_millis() < step_ms {
        return Err(CliError::Usage {
            flag: "--duration",
            reason: format!("{} is shorter than one step ({})", args.duration, config.step),
        });
    }
    let ticks = args.duration.as_millis() / step_ms;
    let mut sim = Simulator::new(config)?;

    let out_path = args.out.clone().filter(|p| p.as_os_str() != "-");
    let sink: Box<dyn Write> = match &out_path {
        Some(path) => Box::new(create(path)?),
        None => Box::new(io::stdout().lock()),
    };
    let out_name = out_path.clone().unwrap_or_else(|| PathBuf::from("<stdout>"));
    let mut samples = SampleWriter::new(BufWriter::with_capacity(1 << 20, sink), args.format())
        .map_err(|e| CliError::io(&out_name, e))?;
    let mut labels = args.labels.as_deref().map(create).transpose()?;
    let mut events = args.events.as_deref().map(create).transpose()?;

    let progress = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(ticks) };
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} ticks ({per_sec}, eta {eta})")
            .expect("constant template")
            .progress_chars("=> "),
    );
    let began = Instant::now();
    let mut frame = Frame::default();
    let mut written: u64 = 0;
    for tick in 0..ticks {
        if args.realtime {
            // A tick is written once its interval has passed.
            let due = began + Duration::from_millis((tick + 1) * step_ms);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        sim.step(&mut frame);
        let result = (|| -> Result<(), CliError> {
            for sample in &frame.samples {
                samples.write(sample).map_err(|e| CliError::io(&out_name, e))?;
            }
            if let (Some(file), Some(path)) = (&mut labels, &args.labels) {
                write_lines(file, &frame.incidents_started).map_err(|e| CliError::io(path, e))?;
            }
            if let (Some(file), Some(path)) = (&mut events, &args.events) {
                write_lines(file, &frame.changes).map_err(|e| CliError::io(path, e))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {}
            // A reader that went away (`| head`) is not an error.
            Err(CliError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e),
        }
        written += frame.samples.len() as u64;
        if tick % 64 == 0 || args.realtime {
            progress.set_position(tick + 1);
        }
    }
    progress.finish_and_clear();
    match samples.finish() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(CliError::io(&out_name, e)),
        Ok(_) => {}
    }
    for (file, path) in [(labels, &args.labels), (events, &args.events)] {
        if let (Some(mut file), Some(path)) = (file, path) {
            file.flush().map_err(|e| CliError::io(path, e))?;
        }
    }
    if !args.quiet {
        let secs = began.elapsed().as_secs_f64();
        eprintln!(
            "streammon: {written} samples over {ticks} ticks in {secs:.2} s ({:.0} samples/s)",
            written as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}

fn create(path: &Path) -> Result<BufWriter<File>, CliError> {
    File::create(path).map(|f| BufWriter::with_capacity(1 << 16, f)).map_err(|e| CliError::io(path, e))
}

fn write_lines<T: serde::Serialize>(out: &mut impl Write, items: &[T]) -> io::Result<()> {
    for item in items {
        serde_json::to_writer(&mut *out, item)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
