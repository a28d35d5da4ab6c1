//! Simulator configuration: plain serde data with defaults, validated once
//! when a [`Simulator`](super::Simulator) is built.

use serde::{Deserialize, Serialize};

use super::incident::{IncidentKind, IncidentScript};
use crate::error::{Error, Result};
use crate::region::Region;
use crate::time::Span;

/// 2026-01-01T00:00:00Z in epoch milliseconds: the default simulated start.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// Everything that shapes a simulation. The same configuration and seed
/// always produce the same output, byte for byte.
///
/// ```
/// use streammon_core::{SimConfig, Span};
/// let config = SimConfig { seed: 7, titles: 200, step: Span::from_secs(10), ..SimConfig::default() };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random draw. Defaults to 0.
    pub seed: u64,
    /// Simulated start, epoch milliseconds (UTC). Defaults to
    /// 2026-01-01T00:00:00Z.
    pub start_ms: i64,
    /// Simulated time per tick, 100 ms to 1 h. Defaults to `1s`.
    pub step: Span,
    /// Titles in the catalogue (on-demand titles plus live-event slots),
    /// 1 to 100 000. Defaults to 48.
    pub titles: usize,
    /// How the catalogue and the audience divide between content types.
    /// Defaults to 55 % video, 25 % audio, 20 % live.
    pub mix: ContentMix,
    /// Scale of the audience, at most 1 000 000 000: the concurrent
    /// viewers there would be if every region were at its evening peak
    /// and every live slot on air at once. Regions peak at different UTC
    /// hours and live slots idle between events, so the actual total stays
    /// well below it (about 55 % with the defaults). Defaults to 1 000 000.
    pub peak_viewers: u64,
    /// CDN regions, 1 to 64 with unique ids. Defaults to
    /// [`Region::defaults`].
    pub regions: Vec<Region>,
    /// Mean time an on-demand title stays in the catalogue before it is
    /// retired and replaced by a new release. Defaults to `2d`.
    pub vod_lifetime: Span,
    /// Mean idle time of a live slot between one event's end and the next
    /// event's pre-show, beyond a minimum of five minutes. Defaults to `40m`.
    pub live_gap: Span,
    /// Incident injection. Defaults to none.
    pub incidents: IncidentConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            start_ms: DEFAULT_START_MS,
            step: Span::from_secs(1),
            titles: 48,
            mix: ContentMix::default(),
            peak_viewers: 1_000_000,
            regions: Region::defaults(),
            vod_lifetime: Span::from_hours(48),
            live_gap: Span::from_mins(40),
            incidents: IncidentConfig::default(),
        }
    }
}

/// Shares of the catalogue and audience per content type. Shares are
/// normalised, so they need not sum to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentMix {
    /// Video on demand. Defaults to 0.55.
    pub video: f64,
    /// Audio. Defaults to 0.25.
    pub audio: f64,
    /// Live events. Defaults to 0.20.
    pub live: f64,
}

impl Default for ContentMix {
    fn default() -> Self {
        Self { video: 0.55, audio: 0.25, live: 0.20 }
    }
}

/// Incidents: random ones by rate, scripted ones at fixed times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentConfig {
    /// Random incidents started per simulated hour over the whole
    /// service, 0 to 1000. Defaults to 0.
    pub rate_per_hour: f64,
    /// Median duration of random incidents. Defaults to `8m`.
    pub median_duration: Span,
    /// Kinds random incidents are drawn from. Defaults to all five.
    pub kinds: Vec<IncidentKind>,
    /// Incidents at fixed offsets from the start. Defaults to none.
    pub scripted: Vec<IncidentScript>,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        Self {
            rate_per_hour: 0.0,
            median_duration: Span::from_mins(8),
            kinds: IncidentKind::ALL.to_vec(),
            scripted: Vec::new(),
        }
    }
}

impl SimConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<()> {
        let step = self.step.as_millis();
        if !(100..=3_600_000).contains(&step) {
            return Err(Error::config("step", format!("{} must be between 100ms and 1h", self.step)));
        }
        if !(1..=100_000).contains(&self.titles) {
            return Err(Error::config("titles", format!("{} must be between 1 and 100000", self.titles)));
        }
        if !(1..=1_000_000_000).contains(&self.peak_viewers) {
            return Err(Error::config(
                "peak_viewers",
                format!("{} must be between 1 and 1000000000", self.peak_viewers),
            ));
        }
        for (name, share) in [("mix.video", self.mix.video), ("mix.audio", self.mix.audio), ("mix.live", self.mix.live)]
        {
            if !(share.is_finite() && share >= 0.0) {
                return Err(Error::config(name, format!("{share} must be a finite number of at least 0")));
            }
        }
        if self.mix.video + self.mix.audio + self.mix.live <= 0.0 {
            return Err(Error::config("mix", "at least one share must be above 0"));
        }
        if self.regions.is_empty() || self.regions.len() > 64 {
            return Err(Error::config("regions", format!("{} regions given; 1 to 64 are allowed", self.regions.len())));
        }
        for (i, region) in self.regions.iter().enumerate() {
            region.validate(i)?;
            if self.regions[..i].iter().any(|r| r.id == region.id) {
                return Err(Error::config(
                    format!("regions[{i}].id"),
                    format!("{:?} appears twice", region.id.as_str()),
                ));
            }
        }
        if self.vod_lifetime.as_millis() < 60_000 {
            return Err(Error::config("vod_lifetime", format!("{} must be at least 1m", self.vod_lifetime)));
        }
        let incidents = &self.incidents;
        if !(incidents.rate_per_hour.is_finite() && (0.0..=1_000.0).contains(&incidents.rate_per_hour)) {
            return Err(Error::config(
                "incidents.rate_per_hour",
                format!("{} must be between 0 and 1000", incidents.rate_per_hour),
            ));
        }
        if incidents.rate_per_hour > 0.0 && incidents.kinds.is_empty() {
            return Err(Error::config("incidents.kinds", "random incidents need at least one kind"));
        }
        if incidents.median_duration.as_millis() < 1_000 {
            return Err(Error::config(
                "incidents.median_duration",
                format!("{} must be at least 1s", incidents.median_duration),
            ));
        }
        for (i, script) in incidents.scripted.iter().enumerate() {
            script.validate(&format!("incidents.scripted[{i}]"), &self.regions)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        SimConfig::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        type Case = (fn(&mut SimConfig), &'static str);
        let cases: [Case; 6] = [
            (|c| c.step = Span::from_millis(10), "step"),
            (|c| c.titles = 0, "titles"),
            (|c| c.mix.audio = f64::NAN, "mix.audio"),
            (|c| c.regions[1].id = c.regions[0].id.clone(), "regions[1].id"),
            (|c| c.incidents.rate_per_hour = -1.0, "incidents.rate_per_hour"),
            (|c| c.regions.clear(), "regions"),
        ];
        for (mutate, field) in cases {
            let mut config = SimConfig::default();
            mutate(&mut config);
            match config.validate() {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<SimConfig>(r#"{"seed": 1, "titels": 5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `titels`"), "{err}");
        let config: SimConfig = serde_json::from_str(r#"{"seed": 1, "step": "10s"}"#).unwrap();
        assert_eq!(config.step, Span::from_secs(10));
        assert_eq!(config.titles, 48);
    }
}
