//! What the rolled-up figures were expected to be: one detector per
//! figure of the whole service and of each region, so a chart can draw the
//! expected range behind every point and mark the points outside it.
//!
//! The per-series detectors of the [`Monitor`](crate::monitor::Monitor)
//! judge one title in one region; an operator's first chart is the
//! service's or a region's buffering, which no single series is. A
//! [`ScopeWatch`] follows those aggregates with the pipeline's own detector
//! configuration (the same gate, warm-up and calibration), and writes each
//! tick's verdicts into the [`TickSummary`] as [`Bands`]. It only
//! describes: the alert engine and the anomaly events keep judging the
//! series, where a cause can be named.
//!
//! A band on a chart has another job than a detector. The detectors flag
//! a *change* and then, by design, accept a level that stays shifted as
//! the new normal within a minute or two; a band drawn from them would
//! move up to meet an incident and hide it. The `Baseline` here learns
//! only from points inside its band, so through an incident it keeps
//! showing what normal was, and it gives up on the old level only after
//! [`RELEARN_MS`] outside it (a change that lasted that long is the new
//! normal, or an incident everyone already knows about).
//!
//! Holding a level suits the quality figures, which only an incident
//! moves. Viewers, bandwidth and bitrate also move with the catalogue: a
//! live event that ends takes its audience and its high bitrate with it,
//! a step of a few per cent that no detector should call an excursion and
//! the band would then have held for a quarter of an hour. So a band is
//! never narrower than its metric's practical-significance
//! [`Floor`](crate::significance::Floor) (viewers and bandwidth 10 %,
//! bitrate 5 %, buffering and errors half a point, ...), both for what it
//! flags and for what it learns from.

use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::summary::{Quality, TickSummary};
use crate::detect::score::{floor_scale, score};
use crate::detect::{Band, Verdict};
use crate::id::RegionId;
use crate::sample::Metric;
use crate::significance::{Floor, Floors, judge};

/// The rolled-up figures that get a band, in wire order.
pub const BAND_METRICS: [Metric; 7] = [
    Metric::LatencyMs,
    Metric::StartupTimeMs,
    Metric::BufferingRatio,
    Metric::BitrateKbps,
    Metric::ErrorRate,
    Metric::Viewers,
    Metric::BandwidthMbps,
];

/// One figure's expected range in a tick, and how far outside it the
/// figure was.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// Lowest value the detector considered normal.
    pub low: f64,
    /// Highest value the detector considered normal.
    pub high: f64,
    /// Anomaly score of the tick's value, within [0, 1]; 0.5 and above is
    /// outside what was expected.
    pub score: f64,
}

/// The expected range of each of the [`BAND_METRICS`] in one scope and
/// tick; a figure has none while its detector warms up.
///
/// Serialized as a map from metric name to [`Expected`], figures without
/// a band left out:
///
/// ```
/// use streammon_core::pipeline::{Bands, Expected};
/// use streammon_core::Metric;
/// let mut bands = Bands::default();
/// bands.set(Metric::BufferingRatio, Some(Expected { low: 0.01, high: 0.02, score: 0.1 }));
/// assert_eq!(
///     serde_json::to_string(&bands)?,
///     r#"{"buffering_ratio":{"low":0.01,"high":0.02,"score":0.1}}"#
/// );
/// assert_eq!(serde_json::from_str::<Bands>(&serde_json::to_string(&bands)?)?, bands);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bands([Option<Expected>; BAND_METRICS.len()]);

impl Bands {
    /// The band of `metric`, if it has one.
    pub fn get(&self, metric: Metric) -> Option<Expected> {
        slot(metric).and_then(|i| self.0[i])
    }

    /// Sets (or clears) the band of `metric`; metrics outside
    /// [`BAND_METRICS`] are ignored.
    pub fn set(&mut self, metric: Metric, expected: Option<Expected>) {
        if let Some(i) = slot(metric) {
            self.0[i] = expected;
        }
    }

    /// The bands present, in [`BAND_METRICS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, Expected)> + '_ {
        BAND_METRICS.iter().zip(self.0).filter_map(|(&m, e)| e.map(|e| (m, e)))
    }

    /// Whether no figure has a band.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The same bands with every number passed through `f` (scores are
    /// kept), e.g. to round them for the wire.
    pub fn map_values(&self, f: impl Fn(Metric, f64) -> f64) -> Self {
        let mut out = *self;
        for (m, e) in BAND_METRICS.iter().zip(out.0.iter_mut()) {
            if let Some(e) = e {
                e.low = f(*m, e.low);
                e.high = f(*m, e.high);
            }
        }
        out
    }

    /// The same bands with every score passed through `f`.
    pub fn map_scores(&self, f: impl Fn(f64) -> f64) -> Self {
        let mut out = *self;
        for e in out.0.iter_mut().flatten() {
            e.score = f(e.score);
        }
        out
    }
}

fn slot(metric: Metric) -> Option<usize> {
    BAND_METRICS.iter().position(|&m| m == metric)
}

impl Serialize for Bands {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (m, e) in self.iter() {
            map.serialize_entry(m.as_str(), &e)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Bands {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct BandsVisitor;
        impl<'de> Visitor<'de> for BandsVisitor {
            type Value = Bands;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from metric name to {low, high, score}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Bands, A::Error> {
                let mut bands = Bands::default();
                while let Some((metric, expected)) = map.next_entry::<Metric, Expected>()? {
                    if slot(metric).is_none() {
                        return Err(serde::de::Error::custom(format!("no band is kept for {}", metric.as_str())));
                    }
                    bands.set(metric, Some(expected));
                }
                Ok(bands)
            }
        }
        deserializer.deserialize_map(BandsVisitor)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Bands {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some(
                "Expected range per figure (latency_ms, startup_time_ms, buffering_ratio, bitrate_kbps, error_rate, \
                 viewers, bandwidth_mbps), absent while its detector warms up",
            ))
            .additional_properties(Some(<Expected as utoipa::PartialSchema>::schema()))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Bands {}

/// The value of a band metric in a rolled-up [`Quality`].
fn value(q: &Quality, metric: Metric) -> f64 {
    match metric {
        Metric::LatencyMs => q.latency_ms,
        Metric::StartupTimeMs => q.startup_time_ms,
        Metric::BufferingRatio => q.buffering_ratio,
        Metric::BitrateKbps => q.bitrate_kbps,
        Metric::ErrorRate => q.error_rate,
        Metric::Viewers => q.viewers as f64,
        Metric::BandwidthMbps => q.bandwidth_mbps,
        _ => f64::NAN,
    }
}

/// Weight of each learned point in the baseline's level and spread: a
/// time constant of 50 ticks.
const ALPHA: f64 = 0.02;
/// Points learned before a band is drawn.
const WARMUP: u32 = 30;
/// Half-width of the band in mean absolute deviations (about 3.2 standard
/// deviations of a normal series).
const K: f64 = 4.0;
/// How long a figure may stay outside its band before the baseline starts
/// again from the figure's new level: 15 minutes.
pub const RELEARN_MS: i64 = 15 * 60 * 1_000;

/// A level and a spread learned only from points inside the band. O(1),
/// 40 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Baseline {
    level: f64,
    /// Mean absolute deviation from the level.
    spread: f64,
    learned: u32,
    /// When the current run of points outside the band began.
    outside_since: Option<i64>,
}

impl Baseline {
    /// Judges `x` against the baseline (and `floor`, within `domain`), then
    /// learns from it if it was inside the statistical band.
    fn observe(&mut self, timestamp_ms: i64, x: f64, floor: Floor, domain: (f64, f64)) -> Option<Expected> {
        if !x.is_finite() {
            return None;
        }
        if self.learned < WARMUP {
            // Running mean and mean absolute deviation while warming up.
            self.learned += 1;
            let n = f64::from(self.learned);
            self.level += (x - self.level) / n;
            self.spread += ((x - self.level).abs() - self.spread) / n;
            return None;
        }
        // Never narrower than the floor: a step smaller than what matters
        // is learned from, not held outside for a quarter of an hour.
        let scale = floor_scale(self.spread, self.level).max(floor.half_width(self.level) / K);
        let z = (x - self.level) / scale;
        let band = Band::new(self.level - K * scale, self.level + K * scale);
        // Outside the band only when materially so: the figure's floor
        // widens the band and caps the score, as for every anomaly.
        let (verdict, _) = judge(Verdict::new(score(z, K), Some(band), None), x, floor, domain);
        let range = verdict.expected.unwrap_or(band);
        let expected = Expected { low: range.low, high: range.high, score: verdict.score };
        if z.abs() <= K {
            self.outside_since = None;
            self.level += ALPHA * (x - self.level);
            self.spread += ALPHA * ((x - self.level).abs() - self.spread);
        } else {
            let since = *self.outside_since.get_or_insert(timestamp_ms);
            if timestamp_ms - since >= RELEARN_MS {
                *self = Self::default();
            }
        }
        Some(expected)
    }
}

type ScopeBaselines = [Baseline; BAND_METRICS.len()];

/// Follows the rolled-up figures of the whole service and of every region
/// with one `Baseline` each, and fills the [`Bands`] of a
/// [`TickSummary`].
///
/// ```
/// use streammon_core::pipeline::{ScopeWatch, TickSummary};
/// use streammon_core::{Metric, SimConfig, Simulator};
/// let mut watch = ScopeWatch::default();
/// let mut tick = None;
/// for frame in Simulator::new(SimConfig::default())?.take(60) {
///     let mut t = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
///     watch.observe(&mut t);
///     tick = Some(t);
/// }
/// let tick = tick.unwrap();
/// let band = tick.bands.get(Metric::BufferingRatio).expect("warm after 60 ticks");
/// assert!(band.low <= tick.total.buffering_ratio && tick.total.buffering_ratio <= band.high);
/// assert!(tick.regions.iter().all(|r| r.bands.get(Metric::LatencyMs).is_some()));
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ScopeWatch {
    total: ScopeBaselines,
    /// Each region's baselines, and when it last reported.
    regions: HashMap<RegionId, (ScopeBaselines, i64)>,
    floors: Floors,
    last_sweep_ms: i64,
}

/// How long a region may go without reporting before its bands and its
/// forecast are forgotten (as the detectors forget an idle series): a
/// flood of regions that went quiet ages out. A region that comes back
/// warms up again.
pub const REGION_IDLE_MS: i64 = 15 * 60 * 1_000;

impl ScopeWatch {
    /// A watch whose bands are at least as wide as `floors` (the default
    /// uses [`Floors::default`]): a figure is outside its band only when
    /// it is both unusual and materially different.
    pub fn new(floors: Floors) -> Self {
        Self { floors, ..Self::default() }
    }

    /// Judges the tick's figures of the whole service and of each region,
    /// writing their bands into `tick`.
    pub fn observe(&mut self, tick: &mut TickSummary) {
        let ts = tick.timestamp_ms;
        tick.bands = observe(&mut self.total, &tick.total, ts, &self.floors);
        for r in &mut tick.regions {
            let (baselines, seen) = match self.regions.get_mut(&r.region) {
                Some(b) => b,
                None => self.regions.entry(r.region.clone()).or_default(),
            };
            *seen = (*seen).max(ts);
            r.bands = observe(baselines, &r.quality, ts, &self.floors);
        }
        // Forget the regions idle for REGION_IDLE_MS; the scan runs at most
        // four times per REGION_IDLE_MS.
        if ts.saturating_sub(self.last_sweep_ms) >= REGION_IDLE_MS / 4 {
            self.last_sweep_ms = ts;
            self.regions.retain(|_, (_, seen)| ts.saturating_sub(*seen) <= REGION_IDLE_MS);
        }
    }

    /// Regions whose bands are followed.
    pub fn regions(&self) -> usize {
        self.regions.len()
    }

    /// Bytes of state held.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.regions.capacity() * (std::mem::size_of::<RegionId>() + std::mem::size_of::<(ScopeBaselines, i64)>())
    }
}

fn observe(baselines: &mut ScopeBaselines, q: &Quality, timestamp_ms: i64, floors: &Floors) -> Bands {
    let mut bands = Bands::default();
    for (b, &metric) in baselines.iter_mut().zip(BAND_METRICS.iter()) {
        bands.set(metric, b.observe(timestamp_ms, value(q, metric), floors.get(metric), metric.domain()));
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{IncidentScript, SimConfig, Simulator};

    fn run(config: SimConfig, ticks: usize) -> Vec<TickSummary> {
        let mut watch = ScopeWatch::default();
        Simulator::new(config)
            .unwrap()
            .take(ticks)
            .map(|frame| {
                let mut t = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
                watch.observe(&mut t);
                t
            })
            .collect()
    }

    #[test]
    fn bands_appear_after_warm_up_and_hold_normal_traffic() {
        let ticks = run(SimConfig { seed: 5, ..SimConfig::default() }, 600);
        assert!(ticks[0].bands.is_empty(), "no band before the detector has seen anything");
        let last = ticks.last().unwrap();
        for metric in BAND_METRICS {
            let e = last.bands.get(metric).unwrap_or_else(|| panic!("{} has no band", metric.as_str()));
            assert!(e.low <= e.high && (0.0..=1.0).contains(&e.score), "{metric:?}: {e:?}");
        }
        // Quiet traffic: the service's buffering stays inside its band on
        // almost every tick once warm.
        let warm = &ticks[300..];
        let outside =
            warm.iter().filter(|t| t.bands.get(Metric::BufferingRatio).is_some_and(|e| e.score >= 0.5)).count();
        assert!(outside * 20 <= warm.len(), "{outside} of {} quiet ticks flagged", warm.len());
    }

    #[test]
    fn a_regional_incident_is_held_outside_the_band_while_it_lasts() {
        let mut config = SimConfig { seed: 9, ..SimConfig::default() };
        config.incidents.scripted.push("cdn_degradation:eu-west@10m+10m*1".parse::<IncidentScript>().unwrap());
        let ticks = run(config, 25 * 60);
        let during = &ticks[10 * 60 + 5..20 * 60];
        let flagged = |region: &str, ticks: &[TickSummary]| {
            ticks
                .iter()
                .filter(|t| {
                    t.regions.iter().any(|r| {
                        r.region.as_str() == region
                            && r.bands.get(Metric::BufferingRatio).is_some_and(|e| e.score >= 0.5)
                    })
                })
                .count()
        };
        // The band keeps showing what normal was for the whole incident.
        assert!(
            flagged("eu-west", during) * 10 >= during.len() * 9,
            "eu-west flagged on {} of {}",
            flagged("eu-west", during),
            during.len()
        );
        assert!(
            flagged("us-east", during) * 20 <= during.len(),
            "us-east flagged on {} of {}",
            flagged("us-east", during),
            during.len()
        );
        let eu = |t: &TickSummary| t.regions.iter().find(|r| r.region.as_str() == "eu-west").unwrap().bands;
        let before = eu(&ticks[10 * 60 - 1]).get(Metric::BufferingRatio).unwrap();
        let late = eu(&ticks[20 * 60 - 1]).get(Metric::BufferingRatio).unwrap();
        assert!(late.high <= before.high * 1.01, "the band followed the incident: {before:?} then {late:?}");
        // Once it is over, the figures come back inside.
        let after = &ticks[21 * 60..];
        assert!(
            flagged("eu-west", after) * 20 <= after.len(),
            "eu-west flagged on {} of {} after",
            flagged("eu-west", after),
            after.len()
        );
    }

    #[test]
    fn a_level_that_stays_shifted_becomes_the_new_normal() {
        let mut b = Baseline::default();
        let observe = |b: &mut Baseline, t, x| b.observe(t, x, Floor::NONE, (0.0, f64::INFINITY));
        for i in 0..200 {
            observe(&mut b, i * 1_000, 10.0 + (i % 7) as f64 * 0.1);
        }
        let shifted = |i: i64| 20.0 + (i % 7) as f64 * 0.1;
        let first = observe(&mut b, 200_000, shifted(200)).unwrap();
        assert!(first.score > 0.9, "{first:?}");
        let mut last = None;
        for i in 201..(200 + RELEARN_MS / 1_000 + 2 * i64::from(WARMUP)) {
            last = observe(&mut b, i * 1_000, shifted(i));
        }
        let last = last.expect("warm again");
        assert!(last.score < 0.5 && last.low < 20.0 && 20.0 < last.high, "{last:?}");
    }

    /// The dashboard drew the service's viewers and bandwidth red from end
    /// to end of its live window after `serve --backfill 30m`: with seed 0
    /// a live event (`live-000009`, 17 000 viewers) ends 29 min 33 s in,
    /// just before the backfill joins live data, and another 12 min 9 s in.
    /// Each step took the sums (and the viewer-weighted bitrate) out of a
    /// ±0.5 % band, which then held the old level for 15 minutes.
    #[test]
    fn a_live_event_ending_does_not_hold_the_audience_figures_outside_their_bands() {
        let ticks = run(SimConfig::default(), 40 * 60);
        let steps: Vec<usize> =
            (121..ticks.len()).filter(|&i| ticks[i].total.streams < ticks[i - 1].total.streams).collect();
        assert!(steps.len() >= 2, "the scenario has titles that stop streaming: {steps:?}");
        let warm = &ticks[120..];
        for metric in [Metric::Viewers, Metric::BandwidthMbps, Metric::BitrateKbps] {
            let outside = warm.iter().filter(|t| t.bands.get(metric).is_some_and(|e| e.score >= 0.5)).count();
            assert!(outside * 100 <= warm.len(), "{metric:?}: {outside} of {} quiet ticks flagged", warm.len());
            for &i in &steps {
                let e = ticks[i].bands.get(metric).unwrap();
                assert!(e.score < 0.5, "{metric:?} flagged when a title stopped streaming at tick {i}: {e:?}");
            }
        }
    }

    #[test]
    fn the_floor_keeps_small_steps_inside_and_flags_large_ones() {
        let smooth = |i: i64| 100_000.0 + (i % 7) as f64 * 10.0;
        let viewers = Floors::default().get(Metric::Viewers);
        let domain = Metric::Viewers.domain();
        let mut b = Baseline::default();
        for i in 0..200 {
            b.observe(i * 1_000, smooth(i), viewers, domain);
        }
        let e = b.observe(200_000, smooth(200) * 0.97, viewers, domain).unwrap();
        assert!(e.score < 0.5 && e.low <= 90_100.0 && e.high >= 109_900.0, "a 3 % step is outside: {e:?}");
        let x = smooth(201) * 0.8;
        let e = b.observe(201_000, x, viewers, domain).unwrap();
        assert!(e.score >= 0.5 && !(e.low..=e.high).contains(&x), "a 20 % drop is inside: {e:?}");
        // Without a floor the same series gets a band of a few deviations.
        let mut b = Baseline::default();
        for i in 0..200 {
            b.observe(i * 1_000, smooth(i), Floor::NONE, domain);
        }
        let e = b.observe(200_000, smooth(200) * 0.97, Floor::NONE, domain).unwrap();
        assert!(e.score > 0.9, "{e:?}");
    }

    #[test]
    fn unknown_metrics_are_refused_when_read() {
        let err = serde_json::from_str::<Bands>(r#"{"joins":{"low":0,"high":1,"score":0}}"#).unwrap_err();
        assert!(err.to_string().contains("joins"), "{err}");
    }

    /// Issue 16: the bands of every region ever seen were kept for good,
    /// so a flood of regions that went quiet never aged out.
    #[test]
    fn regions_that_go_quiet_are_forgotten() {
        let mut watch = ScopeWatch::default();
        let frames: Vec<_> = Simulator::new(SimConfig::default()).unwrap().take(2).collect();
        let mut first = TickSummary::build(frames[0].timestamp_ms, 1_000, &frames[0].samples, |_| None);
        watch.observe(&mut first);
        let all = watch.regions();
        assert!(all > 1);
        // Later, only one region reports.
        let one = &frames[1].samples[0].region;
        let own: Vec<_> = frames[1].samples.iter().filter(|s| &s.region == one).cloned().collect();
        let t = frames[0].timestamp_ms + REGION_IDLE_MS / 2;
        watch.observe(&mut TickSummary::build(t, 1_000, &own, |_| None));
        assert_eq!(watch.regions(), all, "not idle long enough yet");
        let t = frames[0].timestamp_ms + REGION_IDLE_MS + 1_000;
        watch.observe(&mut TickSummary::build(t, 1_000, &own, |_| None));
        assert_eq!(watch.regions(), 1, "only the region still reporting is kept");
    }
}
