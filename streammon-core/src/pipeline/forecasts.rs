//! Forecasts made while the pipeline runs: each region's egress against
//! its capacity, and the audience.
//!
//! Ticks are seconds apart, but capacity trouble builds over minutes, so
//! the figures are averaged over [`ForecastSettings::every`] and each
//! average is one step of the forecaster: with the defaults, a 30-minute
//! look-ahead in one-minute steps.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::summary::TickSummary;
use crate::detect::Point;
use crate::error::{Error, Result};
use crate::forecast::{CapacityWarning, CapacityWatch, CapacityWatchConfig, Forecast};
use crate::id::RegionId;
use crate::time::Span;

/// How the pipeline forecasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForecastSettings {
    /// Whether to forecast at all. Defaults to true.
    pub enabled: bool,
    /// Length of one forecast step: figures are averaged over it. At least
    /// one second. Defaults to `1m`.
    pub every: Span,
    /// The watch of each region's egress; its `limit` is ignored (each
    /// region's capacity is used). Defaults to a 30-step horizon, 95 %
    /// intervals and Holt-Winters.
    pub capacity: CapacityWatchConfig,
}

impl Default for ForecastSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every: Span::from_mins(1),
            capacity: CapacityWatchConfig { horizon: 30, ..CapacityWatchConfig::default() },
        }
    }
}

impl ForecastSettings {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.every.as_millis() < 1_000 {
            return Err(Error::config("forecast.every", format!("{} is shorter than 1s", self.every)));
        }
        self.capacity.validate().map_err(|e| match e {
            Error::InvalidConfig { field, reason } => Error::config(format!("forecast.{field}"), reason),
            other => other,
        })
    }
}

/// A region's egress forecast.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionForecast {
    /// The region.
    pub region: RegionId,
    /// When it was made: the end of the last averaged step, epoch ms.
    pub timestamp_ms: i64,
    /// The averaged egress of the last step, Mbps.
    pub bandwidth_mbps: f64,
    /// The region's capacity, Mbps, when known.
    pub capacity_mbps: Option<f64>,
    /// The forecast steps; empty until the forecaster has enough data.
    pub forecast: Vec<Forecast>,
    /// The capacity warning in force, if any.
    pub warning: Option<CapacityWarning>,
}

/// The audience forecast.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalForecast {
    /// When it was made, epoch ms.
    pub timestamp_ms: i64,
    /// The averaged concurrent viewers of the last step.
    pub viewers: f64,
    /// The forecast steps; empty until the forecaster has enough data.
    pub forecast: Vec<Forecast>,
}

#[derive(Debug)]
struct Watch {
    watch: CapacityWatch,
    sum: f64,
    n: u32,
    /// When its region last reported.
    seen_ms: i64,
}

impl Watch {
    fn new(config: &CapacityWatchConfig, limit: f64) -> Result<Self> {
        Ok(Self {
            watch: CapacityWatch::new(CapacityWatchConfig { limit, ..config.clone() })?,
            sum: 0.0,
            n: 0,
            seen_ms: 0,
        })
    }

    /// Closes the step: the mean goes into the forecaster.
    fn close(&mut self, timestamp_ms: i64) -> Option<(f64, Option<CapacityWarning>)> {
        if self.n == 0 {
            return None;
        }
        let mean = self.sum / f64::from(self.n);
        (self.sum, self.n) = (0.0, 0);
        Some((mean, self.watch.update(Point::new(timestamp_ms, mean))))
    }
}

#[derive(Debug)]
pub(crate) struct Forecasts {
    settings: ForecastSettings,
    step: Option<i64>,
    regions: HashMap<RegionId, Watch>,
    audience: Option<Watch>,
    latest: Vec<RegionForecast>,
    latest_audience: Option<TotalForecast>,
}

impl Forecasts {
    pub(crate) fn new(settings: &ForecastSettings) -> Result<Self> {
        settings.validate()?;
        Ok(Self {
            settings: settings.clone(),
            step: None,
            regions: HashMap::new(),
            audience: None,
            latest: Vec::new(),
            latest_audience: None,
        })
    }

    pub(crate) fn latest(&self) -> (&[RegionForecast], Option<&TotalForecast>) {
        (&self.latest, self.latest_audience.as_ref())
    }

    /// Adds a tick; when it starts a new step, closes the last one and
    /// writes the new forecasts into `out` and `audience`.
    pub(crate) fn observe(
        &mut self,
        tick: &TickSummary,
        capacity: &HashMap<RegionId, f64>,
        out: &mut Vec<RegionForecast>,
        audience: &mut Option<TotalForecast>,
    ) {
        out.clear();
        *audience = None;
        if !self.settings.enabled {
            return;
        }
        let every = self.settings.every.as_millis() as i64;
        let step = tick.timestamp_ms.div_euclid(every);
        if self.step.is_some_and(|s| s != step) {
            let end = step * every;
            for (region, watch) in &mut self.regions {
                if let Some((mean, warning)) = watch.close(end) {
                    out.push(RegionForecast {
                        region: region.clone(),
                        timestamp_ms: end,
                        bandwidth_mbps: mean,
                        capacity_mbps: capacity.get(region).copied(),
                        forecast: watch.watch.last_forecast().to_vec(),
                        warning,
                    });
                }
            }
            out.sort_by(|a, b| a.region.cmp(&b.region));
            // A region that stopped reporting for REGION_IDLE_MS is
            // forgotten, as its bands are.
            let now = tick.timestamp_ms;
            self.regions.retain(|_, w| now.saturating_sub(w.seen_ms) <= super::bands::REGION_IDLE_MS);
            if let Some((mean, _)) = self.audience.as_mut().and_then(|w| w.close(end)) {
                let forecast = self.audience.as_ref().map(|w| w.watch.last_forecast().to_vec()).unwrap_or_default();
                *audience = Some(TotalForecast { timestamp_ms: end, viewers: mean, forecast });
            }
            if !out.is_empty() {
                self.latest.clone_from(out);
            }
            if audience.is_some() {
                self.latest_audience.clone_from(audience);
            }
        }
        self.step = Some(step);
        for r in &tick.regions {
            let watch = match self.regions.get_mut(&r.region) {
                Some(w) => w,
                None => {
                    let limit = capacity.get(&r.region).copied().unwrap_or(f64::INFINITY);
                    let Ok(w) = Watch::new(&self.settings.capacity, limit) else { continue };
                    self.regions.entry(r.region.clone()).or_insert(w)
                }
            };
            watch.sum += r.quality.bandwidth_mbps;
            watch.n += 1;
            watch.seen_ms = watch.seen_ms.max(tick.timestamp_ms);
        }
        if self.audience.is_none() {
            self.audience = Watch::new(&self.settings.capacity, f64::INFINITY).ok();
        }
        if let Some(w) = &mut self.audience {
            w.sum += tick.total.viewers as f64;
            w.n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{SimConfig, Simulator};

    #[test]
    fn one_forecast_per_step_once_warm() {
        let config = SimConfig { step: Span::from_secs(10), ..SimConfig::default() };
        let mut sim = Simulator::new(config).unwrap();
        let capacity: HashMap<RegionId, f64> =
            sim.regions().iter().map(|r| (r.id.clone(), r.capacity_gbps * 1_000.0)).collect();
        let mut f = Forecasts::new(&ForecastSettings::default()).unwrap();
        let (mut out, mut audience, mut made) = (Vec::new(), None, 0);
        // Two hours of 10 s ticks: 120 one-minute steps.
        for _ in 0..720 {
            let frame = sim.next_frame();
            let tick = TickSummary::build(frame.timestamp_ms, 10_000, &frame.samples, |_| None);
            f.observe(&tick, &capacity, &mut out, &mut audience);
            if !out.is_empty() {
                made += 1;
                assert_eq!(out.len(), capacity.len());
                assert!(out.iter().all(|r| r.timestamp_ms % 60_000 == 0 && r.capacity_mbps.is_some()));
            }
        }
        assert!((118..=120).contains(&made), "{made}");
        let (latest, total) = f.latest();
        assert!(latest.iter().all(|r| r.forecast.len() == 30), "warm after two hours");
        let total = total.unwrap();
        assert_eq!(total.forecast.len(), 30);
        assert!(total.forecast.iter().all(|p| p.low <= p.value && p.value <= p.high));
    }

    /// Issue 16: every region ever seen kept its forecaster for good.
    #[test]
    fn regions_that_go_quiet_are_forgotten() {
        let frame = Simulator::new(SimConfig::default()).unwrap().next_frame();
        let capacity = HashMap::new();
        let mut f = Forecasts::new(&ForecastSettings::default()).unwrap();
        let (mut out, mut audience) = (Vec::new(), None);
        let t0 = frame.timestamp_ms;
        f.observe(&TickSummary::build(t0, 1_000, &frame.samples, |_| None), &capacity, &mut out, &mut audience);
        let all = f.regions.len();
        assert!(all > 1);
        let one = &frame.samples[0].region;
        let own: Vec<_> = frame.samples.iter().filter(|s| &s.region == one).cloned().collect();
        for t in (1..=20).map(|m| t0 + m * 60_000) {
            f.observe(&TickSummary::build(t, 1_000, &own, |_| None), &capacity, &mut out, &mut audience);
            let expected = if t - t0 <= super::super::bands::REGION_IDLE_MS { all } else { 1 };
            assert_eq!(f.regions.len(), expected, "{} min in", (t - t0) / 60_000);
        }
    }

    #[test]
    fn settings_are_checked() {
        let bad = ForecastSettings { every: Span::from_millis(10), ..ForecastSettings::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("forecast.every"));
    }
}
