//! The metrics sample: what one title did in one CDN region during one tick.

use std::fmt;
use std::str::FromStr;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::content::{ContentType, RenditionId};
use crate::error::Error;
use crate::id::{ContentId, RegionId};

/// Longest content id or region id a sample from outside may carry, bytes.
pub const MAX_ID_LEN: usize = 128;

/// Checks an identifier from outside (a content id or region id in a
/// sample, a subscription): non-empty printable text of at most
/// [`MAX_ID_LEN`] bytes.
///
/// # Errors
/// [`Error::InvalidSample`] naming `field`.
pub fn check_id(field: &'static str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::sample(field, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::sample(field, format!("is {} bytes long, more than {MAX_ID_LEN}", id.len())));
    }
    if id.chars().any(|c| c.is_control()) {
        return Err(Error::sample(field, "contains a control character"));
    }
    Ok(())
}

/// The domain of each field of a [`Sample`] from outside: the largest value
/// [`Sample::validate`] accepts.
///
/// Each is far beyond any real stream (the largest live audiences so far
/// are tens of millions, the richest renditions tens of megabits), and
/// small enough that sums over every title and region a server admits stay
/// finite and exact in `f64`, so no infinity, and no JSON `null`, reaches
/// a client. `docs/SCHEMA.md` lists them.
pub mod maxima {
    /// `viewers`, `joins`, `exits`, `rebuffer_events` and each rendition's
    /// viewers: 100 million.
    pub const COUNT: u32 = 100_000_000;
    /// `interval_ms`: one day.
    pub const INTERVAL_MS: u32 = 86_400_000;
    /// `timestamp_ms`: 9999-12-31T23:59:59.999Z (and at least 0, 1970).
    pub const TIMESTAMP_MS: i64 = 253_402_300_799_999;
    /// `latency_ms`, `e2e_latency_ms`, `startup_time_ms`: one hour.
    pub const DURATION_MS: f64 = 3_600_000.0;
    /// `avg_watch_time_s`: 31 days.
    pub const WATCH_TIME_S: f64 = 2_678_400.0;
    /// `bitrate_kbps`: 1 Gbit/s.
    pub const BITRATE_KBPS: f64 = 1_000_000.0;
    /// `segment_duration_s`: one hour.
    pub const SEGMENT_DURATION_S: f64 = 3_600.0;
    /// `segment_size_kb`: 10 GB.
    pub const SEGMENT_SIZE_KB: f64 = 10_000_000.0;
    /// `bandwidth_mbps`: [`COUNT`] viewers at [`BITRATE_KBPS`].
    pub const BANDWIDTH_MBPS: f64 = COUNT as f64 * BITRATE_KBPS / 1_000.0;
}

/// Version of the [`Sample`] wire schema; carried in every record as
/// `schema`. Adding a field is compatible; renaming, removing or changing
/// the meaning of one bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// Concurrent viewers per rendition: the part of which a sample's bitrate,
/// bandwidth and segment size are the sums.
///
/// Serialised as an object of the non-zero counts, e.g.
/// `{"720p":120,"1080p":480}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenditionMix([u32; RenditionId::COUNT]);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RenditionMix {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some("Viewers per rendition, non-zero entries only, e.g. {\"720p\": 120}"))
            .additional_properties(Some(
                utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer),
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RenditionMix {}

impl RenditionMix {
    /// Viewers on `id`.
    pub fn get(&self, id: RenditionId) -> u32 {
        self.0[id.index()]
    }

    /// Sets the viewers on `id`.
    pub fn set(&mut self, id: RenditionId, viewers: u32) {
        self.0[id.index()] = viewers;
    }

    /// Total viewers over all renditions.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|&v| u64::from(v)).sum()
    }

    /// The non-zero entries, lowest rendition first.
    pub fn iter(&self) -> impl Iterator<Item = (RenditionId, u32)> + '_ {
        RenditionId::ALL.into_iter().map(|id| (id, self.0[id.index()])).filter(|&(_, v)| v > 0)
    }

    /// The rendition with the most viewers (the highest on a tie), if any.
    pub fn dominant(&self) -> Option<RenditionId> {
        self.iter()
            .fold(None, |best: Option<(RenditionId, u32)>, (id, v)| match best {
                Some((_, bv)) if bv > v => best,
                _ => Some((id, v)),
            })
            .map(|(id, _)| id)
    }
}

impl Serialize for RenditionMix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (id, v) in self.iter() {
            map.serialize_entry(id.as_str(), &v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RenditionMix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MixVisitor;
        impl<'de> Visitor<'de> for MixVisitor {
            type Value = RenditionMix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of rendition label to viewer count, e.g. {\"720p\": 12}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RenditionMix, A::Error> {
                let mut mix = RenditionMix::default();
                while let Some((label, viewers)) = map.next_entry::<std::borrow::Cow<'de, str>, u32>()? {
                    let id = RenditionId::from_label(&label)
                        .ok_or_else(|| serde::de::Error::custom(format!("unknown rendition {label:?}")))?;
                    mix.set(id, viewers);
                }
                Ok(mix)
            }
        }
        deserializer.deserialize_map(MixVisitor)
    }
}

/// What one title did in one CDN region during one tick.
///
/// Units are in the field names. Ratios are within [0, 1]. Totals are sums
/// of their parts: `viewers` is the sum of `renditions`, and
/// `bandwidth_mbps` is the sum over renditions of viewers × encoded
/// bitrate, so `bitrate_kbps × viewers = bandwidth_mbps × 1000`.
///
/// JSON schema version [`SCHEMA_VERSION`]; the field order below is the
/// order on the wire and in CSV. `docs/SCHEMA.md` documents each field.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Schema version of this record, [`SCHEMA_VERSION`].
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1, example = 1))]
    pub schema: u32,
    /// End of the tick, epoch milliseconds (UTC).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 253_402_300_799_999_i64))]
    pub timestamp_ms: i64,
    /// Length of the tick in milliseconds; counts (`joins`, `exits`,
    /// `rebuffer_events`) are per this interval.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86_400_000))]
    pub interval_ms: u32,
    /// Which title.
    pub content_id: ContentId,
    /// The title's content type.
    pub content_type: ContentType,
    /// Which CDN region.
    pub region: RegionId,
    /// Concurrent viewers at the end of the tick.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000))]
    pub viewers: u32,
    /// Sessions started during the tick.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000))]
    pub joins: u32,
    /// Sessions ended during the tick.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000))]
    pub exits: u32,
    /// Mean session length in seconds at current quality.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 2_678_400))]
    pub avg_watch_time_s: f64,
    /// Mean time to first byte of a media segment, milliseconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3_600_000))]
    pub latency_ms: f64,
    /// Live only: mean glass-to-glass latency, milliseconds; `null` for
    /// on-demand titles.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3_600_000))]
    pub e2e_latency_ms: Option<f64>,
    /// Mean time from play request to first frame, milliseconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3_600_000))]
    pub startup_time_ms: f64,
    /// Share of watch time spent stalled, within [0, 1].
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub buffering_ratio: f64,
    /// Stalls that began during the tick.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000))]
    pub rebuffer_events: u32,
    /// Viewer-weighted mean delivered bitrate, kilobits per second.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1_000_000))]
    pub bitrate_kbps: f64,
    /// The rendition most viewers are on: a resolution such as `1080p`
    /// for video, a bitrate such as `128k` for audio.
    pub rendition: RenditionId,
    /// Concurrent viewers per rendition.
    pub renditions: RenditionMix,
    /// Media segment duration, seconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3_600))]
    pub segment_duration_s: f64,
    /// Viewer-weighted mean media segment size, kilobytes (1000 bytes).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000_000))]
    pub segment_size_kb: f64,
    /// Egress bandwidth, megabits per second.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100_000_000_000_i64))]
    pub bandwidth_mbps: f64,
    /// Share of segment requests that failed, within [0, 1].
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub error_rate: f64,
}

impl Sample {
    /// Checks a sample that came from outside (a client's `metric_update`,
    /// a telemetry collector): the schema version, identifiers that are
    /// non-empty printable text of at most [`MAX_ID_LEN`] bytes, and every
    /// figure within its domain: at least 0 and at most its [`maxima`]
    /// (ratios at most 1), a positive interval, a time from 1970 to 9999.
    ///
    /// ```
    /// # use streammon_core::{SimConfig, Simulator};
    /// let mut sample = Simulator::new(SimConfig::default())?.next_frame().samples.remove(0);
    /// assert!(sample.validate().is_ok());
    /// sample.buffering_ratio = 1.5;
    /// assert_eq!(sample.validate().unwrap_err().to_string(), "invalid sample field `buffering_ratio`: 1.5 is not within [0, 1]");
    /// # Ok::<(), streammon_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidSample`] naming the first offending field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.schema != SCHEMA_VERSION {
            return Err(Error::sample("schema", format!("version {} is not {SCHEMA_VERSION}", self.schema)));
        }
        check_id("content_id", self.content_id.as_ref())?;
        check_id("region", self.region.as_ref())?;
        if !(0..=maxima::TIMESTAMP_MS).contains(&self.timestamp_ms) {
            return Err(Error::sample(
                "timestamp_ms",
                format!("{} is outside 0 (1970) to {} (9999)", self.timestamp_ms, maxima::TIMESTAMP_MS),
            ));
        }
        if !(1..=maxima::INTERVAL_MS).contains(&self.interval_ms) {
            return Err(Error::sample(
                "interval_ms",
                format!("{} is not within 1..={}", self.interval_ms, maxima::INTERVAL_MS),
            ));
        }
        let counts = [
            ("viewers", self.viewers),
            ("joins", self.joins),
            ("exits", self.exits),
            ("rebuffer_events", self.rebuffer_events),
        ];
        for (field, value) in counts {
            if value > maxima::COUNT {
                return Err(Error::sample(field, format!("{value} is more than {}", maxima::COUNT)));
            }
        }
        if let Some((id, v)) = self.renditions.iter().find(|&(_, v)| v > maxima::COUNT) {
            return Err(Error::sample("renditions", format!("{v} viewers on {id} is more than {}", maxima::COUNT)));
        }
        let figures = [
            ("avg_watch_time_s", self.avg_watch_time_s, maxima::WATCH_TIME_S),
            ("latency_ms", self.latency_ms, maxima::DURATION_MS),
            ("startup_time_ms", self.startup_time_ms, maxima::DURATION_MS),
            ("bitrate_kbps", self.bitrate_kbps, maxima::BITRATE_KBPS),
            ("segment_duration_s", self.segment_duration_s, maxima::SEGMENT_DURATION_S),
            ("segment_size_kb", self.segment_size_kb, maxima::SEGMENT_SIZE_KB),
            ("bandwidth_mbps", self.bandwidth_mbps, maxima::BANDWIDTH_MBPS),
            ("buffering_ratio", self.buffering_ratio, 1.0),
            ("error_rate", self.error_rate, 1.0),
        ];
        let e2e = self.e2e_latency_ms.map(|v| ("e2e_latency_ms", v, maxima::DURATION_MS));
        for (field, value, max) in figures.into_iter().chain(e2e) {
            // NaN fails the range test too.
            if !(0.0..=max).contains(&value) {
                return Err(Error::sample(field, format!("{value} is not within [0, {max}]")));
            }
        }
        Ok(())
    }

    /// The value of a numeric metric; `None` where the sample has none
    /// (end-to-end latency of an on-demand title).
    ///
    /// ```
    /// # use streammon_core::{Metric, Simulator, SimConfig};
    /// let mut sim = Simulator::new(SimConfig::default())?;
    /// let frame = sim.next_frame();
    /// let s = &frame.samples[0];
    /// assert_eq!(s.get(Metric::Viewers), Some(f64::from(s.viewers)));
    /// # Ok::<(), streammon_core::Error>(())
    /// ```
    pub fn get(&self, metric: Metric) -> Option<f64> {
        Some(match metric {
            Metric::Viewers => f64::from(self.viewers),
            Metric::Joins => f64::from(self.joins),
            Metric::Exits => f64::from(self.exits),
            Metric::AvgWatchTimeS => self.avg_watch_time_s,
            Metric::LatencyMs => self.latency_ms,
            Metric::E2eLatencyMs => return self.e2e_latency_ms,
            Metric::StartupTimeMs => self.startup_time_ms,
            Metric::BufferingRatio => self.buffering_ratio,
            Metric::RebufferEvents => f64::from(self.rebuffer_events),
            Metric::BitrateKbps => self.bitrate_kbps,
            Metric::SegmentSizeKb => self.segment_size_kb,
            Metric::BandwidthMbps => self.bandwidth_mbps,
            Metric::ErrorRate => self.error_rate,
        })
    }
}

/// A numeric field of [`Sample`], named as on the wire.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Metric {
    Viewers,
    Joins,
    Exits,
    AvgWatchTimeS,
    LatencyMs,
    E2eLatencyMs,
    StartupTimeMs,
    BufferingRatio,
    RebufferEvents,
    BitrateKbps,
    SegmentSizeKb,
    BandwidthMbps,
    ErrorRate,
}

impl Metric {
    /// Every metric, in wire order.
    pub const ALL: [Metric; 13] = [
        Self::Viewers,
        Self::Joins,
        Self::Exits,
        Self::AvgWatchTimeS,
        Self::LatencyMs,
        Self::E2eLatencyMs,
        Self::StartupTimeMs,
        Self::BufferingRatio,
        Self::RebufferEvents,
        Self::BitrateKbps,
        Self::SegmentSizeKb,
        Self::BandwidthMbps,
        Self::ErrorRate,
    ];

    /// The field name, e.g. `buffering_ratio`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewers => "viewers",
            Self::Joins => "joins",
            Self::Exits => "exits",
            Self::AvgWatchTimeS => "avg_watch_time_s",
            Self::LatencyMs => "latency_ms",
            Self::E2eLatencyMs => "e2e_latency_ms",
            Self::StartupTimeMs => "startup_time_ms",
            Self::BufferingRatio => "buffering_ratio",
            Self::RebufferEvents => "rebuffer_events",
            Self::BitrateKbps => "bitrate_kbps",
            Self::SegmentSizeKb => "segment_size_kb",
            Self::BandwidthMbps => "bandwidth_mbps",
            Self::ErrorRate => "error_rate",
        }
    }
}

impl Metric {
    /// Whether a higher value means viewers are worse off. True for
    /// latencies, startup time, buffering, rebuffer events, errors and
    /// exits; false for viewers, joins, watch time and bitrate; true for
    /// bandwidth and segment size, which matter as load on the CDN.
    pub const fn higher_is_worse(self) -> bool {
        !matches!(self, Self::Viewers | Self::Joins | Self::AvgWatchTimeS | Self::BitrateKbps)
    }

    /// The values the metric can take, `(low, high)`: ratios within
    /// [0, 1], counts, durations, rates and sizes at least 0. An expected
    /// range never leaves it.
    ///
    /// ```
    /// use streammon_core::Metric;
    /// assert_eq!(Metric::ErrorRate.domain(), (0.0, 1.0));
    /// assert_eq!(Metric::LatencyMs.domain(), (0.0, f64::INFINITY));
    /// ```
    pub const fn domain(self) -> (f64, f64) {
        match self {
            Self::BufferingRatio | Self::ErrorRate => (0.0, 1.0),
            _ => (0.0, f64::INFINITY),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|m| m.as_str()).collect();
            Error::parse("metric", s, format!("expected one of {}", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_serialises_non_zero_entries_in_ladder_order() {
        let mut mix = RenditionMix::default();
        mix.set(RenditionId::P1080, 480);
        mix.set(RenditionId::P720, 120);
        let json = serde_json::to_string(&mix).unwrap();
        assert_eq!(json, r#"{"720p":120,"1080p":480}"#);
        assert_eq!(serde_json::from_str::<RenditionMix>(&json).unwrap(), mix);
        assert_eq!(mix.total(), 600);
        assert_eq!(mix.dominant(), Some(RenditionId::P1080));
        let err = serde_json::from_str::<RenditionMix>(r#"{"9000p":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown rendition \"9000p\""), "{err}");
    }

    #[test]
    fn metric_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(m.as_str().parse::<Metric>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        }
        assert!("latency".parse::<Metric>().unwrap_err().to_string().contains("latency_ms"));
    }
}
