//! The simulator flags `streammon simulate` and `streammon serve` share,
//! applied over a configuration file's values.

use streammon_core::{IncidentScript, SimConfig, Span};

use crate::error::CliError;

/// Incidents per simulated hour with `--incidents random`.
pub(crate) const DEFAULT_RANDOM_RATE: f64 = 2.0;

/// Simulator flags; each overrides the configuration file.
#[derive(Debug, clap::Args)]
pub(crate) struct SimFlags {
    /// Seed of every random draw [default: 0, or the config file's]
    #[arg(long)]
    seed: Option<u64>,
    /// Simulated time per tick, from 100ms to 1h [default: 1s]
    #[arg(long)]
    step: Option<Span>,
    /// Titles in the catalogue: on-demand titles plus live-event slots [default: 48]
    #[arg(long)]
    titles: Option<usize>,
    /// Audience scale: viewers if every region were at its evening peak and
    /// every live event on air [default: 1000000]
    #[arg(long)]
    peak_viewers: Option<u64>,
    /// Incidents: `none`, `random` (2 per simulated hour), `random=RATE`, or
    /// a scripted incident `KIND[:TARGET]@START+DURATION[*SEVERITY]` with KIND
    /// one of cdn_degradation, latency_spike (TARGET a region), origin_outage,
    /// encoder_collapse, flash_crowd (TARGET a content id) and START counted
    /// from the simulation's start (for `serve`, the start of its backfill).
    /// Comma-separate or repeat to combine.
    #[arg(long, value_delimiter = ',', value_name = "SPEC")]
    incidents: Vec<String>,
}

impl SimFlags {
    /// Applies the flags given to `config`.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a bad `--incidents` rate, [`CliError::Core`]
    /// for a scripted incident that does not parse.
    pub(crate) fn apply(&self, config: &mut SimConfig) -> Result<(), CliError> {
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(step) = self.step {
            config.step = step;
        }
        if let Some(titles) = self.titles {
            config.titles = titles;
        }
        if let Some(peak) = self.peak_viewers {
            config.peak_viewers = peak;
        }
        for spec in &self.incidents {
            let spec = spec.trim();
            match spec {
                "" => {}
                "none" => {
                    config.incidents.rate_per_hour = 0.0;
                    config.incidents.scripted.clear();
                }
                "random" => config.incidents.rate_per_hour = DEFAULT_RANDOM_RATE,
                _ => match spec.strip_prefix("random=") {
                    Some(rate) => {
                        config.incidents.rate_per_hour = rate.parse().map_err(|_| CliError::Usage {
                            flag: "--incidents",
                            reason: format!("{spec:?}: the rate must be a number of incidents per hour"),
                        })?;
                    }
                    None => config.incidents.scripted.push(spec.parse::<IncidentScript>()?),
                },
            }
        }
        Ok(())
    }
}
