//! One tick rolled up: totals, per region, per content type and per title.
//!
//! Every quality figure is a mean weighted by viewers, so a title watched
//! by ten thousand people counts ten thousand times as much as one watched
//! by one: the figures answer "what did the average viewer get", which is
//! what an operator is asked at 3 a.m. Bandwidth and viewers are sums.

use std::collections::BTreeMap;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde::{Deserializer, Serializer};

use super::bands::Bands;
use crate::content::{ContentType, RenditionId};
use crate::id::{ContentId, RegionId};
use crate::sample::Sample;

/// Viewer-weighted quality figures over a set of streams.
///
/// ```
/// # use streammon_core::pipeline::Quality;
/// let q = Quality::default();
/// assert_eq!(q.viewers, 0);
/// ```
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Quality {
    /// Concurrent viewers.
    pub viewers: u64,
    /// Streams (title × region pairs) that reported.
    pub streams: u32,
    /// Mean segment delivery latency, milliseconds.
    pub latency_ms: f64,
    /// Mean startup time, milliseconds.
    pub startup_time_ms: f64,
    /// Mean share of watch time spent rebuffering, within [0, 1].
    pub buffering_ratio: f64,
    /// Mean delivered bitrate, kilobits per second.
    pub bitrate_kbps: f64,
    /// Mean share of failed segment requests, within [0, 1].
    pub error_rate: f64,
    /// Egress, megabits per second (a sum, not a mean).
    pub bandwidth_mbps: f64,
    /// Rebuffer events in the tick (a sum, not a mean): the original's
    /// `buffering` count.
    #[serde(default)]
    pub rebuffer_events: u64,
}

/// Accumulates [`Quality`] one sample at a time, in constant memory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QualitySum {
    viewers: u64,
    streams: u32,
    /// Weight of the means: viewers, or 1 per stream where nobody watches,
    /// so an empty stream still has figures.
    weight: f64,
    latency: f64,
    startup: f64,
    buffering: f64,
    bitrate: f64,
    errors: f64,
    bandwidth: f64,
    rebuffers: u64,
}

impl QualitySum {
    pub(crate) fn add(&mut self, s: &Sample) {
        let w = f64::from(s.viewers.max(1));
        self.viewers += u64::from(s.viewers);
        self.streams += 1;
        self.weight += w;
        self.latency += w * s.latency_ms;
        self.startup += w * s.startup_time_ms;
        self.buffering += w * s.buffering_ratio;
        self.bitrate += w * s.bitrate_kbps;
        self.errors += w * s.error_rate;
        self.bandwidth += s.bandwidth_mbps;
        self.rebuffers += u64::from(s.rebuffer_events);
    }

    pub(crate) fn finish(&self) -> Quality {
        let mean = |sum: f64| if self.weight > 0.0 { sum / self.weight } else { 0.0 };
        Quality {
            viewers: self.viewers,
            streams: self.streams,
            latency_ms: mean(self.latency),
            startup_time_ms: mean(self.startup),
            buffering_ratio: mean(self.buffering),
            bitrate_kbps: mean(self.bitrate),
            error_rate: mean(self.errors),
            bandwidth_mbps: self.bandwidth,
            rebuffer_events: self.rebuffers,
        }
    }
}

/// Share of viewers on each rendition, within [0, 1]: the resolution and
/// audio-quality mix. Video renditions sum to the share of viewers on
/// video, audio renditions to the share on audio; all of them to 1 when
/// every stream reported its mix.
///
/// Serialized as a map from rendition label to share, zero shares left
/// out:
///
/// ```
/// use streammon_core::pipeline::RenditionShares;
/// use streammon_core::RenditionId;
/// let mut mix = RenditionShares::default();
/// mix.set(RenditionId::P1080, 0.75);
/// mix.set(RenditionId::A128, 0.25);
/// assert_eq!(serde_json::to_string(&mix)?, r#"{"1080p":0.75,"128k":0.25}"#);
/// assert_eq!(serde_json::from_str::<RenditionShares>(r#"{"1080p":0.75,"128k":0.25}"#)?, mix);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RenditionShares([f64; RenditionId::COUNT]);

impl RenditionShares {
    /// The share of viewers on `id`.
    pub fn get(&self, id: RenditionId) -> f64 {
        self.0[id.index()]
    }

    /// Sets the share on `id`.
    pub fn set(&mut self, id: RenditionId, share: f64) {
        self.0[id.index()] = share;
    }

    /// The non-zero shares, lowest rendition first.
    pub fn iter(&self) -> impl Iterator<Item = (RenditionId, f64)> + '_ {
        RenditionId::ALL.into_iter().map(|id| (id, self.0[id.index()])).filter(|&(_, v)| v > 0.0)
    }

    /// Whether every share is zero.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&v| v <= 0.0)
    }

    /// The same shares passed through `f`, e.g. to round them for the wire.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        Self(self.0.map(f))
    }
}

impl Serialize for RenditionShares {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (id, v) in self.iter() {
            map.serialize_entry(id.as_str(), &v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RenditionShares {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SharesVisitor;
        impl<'de> Visitor<'de> for SharesVisitor {
            type Value = RenditionShares;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map from rendition label to a share of viewers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RenditionShares, A::Error> {
                let mut shares = RenditionShares::default();
                while let Some((label, share)) = map.next_entry::<String, f64>()? {
                    let id = RenditionId::from_label(&label)
                        .ok_or_else(|| serde::de::Error::custom(format!("{label:?} is not a rendition label")))?;
                    if !(0.0..=1.0).contains(&share) {
                        return Err(serde::de::Error::custom(format!("{label}: share {share} is not within [0, 1]")));
                    }
                    shares.set(id, share);
                }
                Ok(shares)
            }
        }
        deserializer.deserialize_map(SharesVisitor)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RenditionShares {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some("Share of viewers per rendition, non-zero entries only, e.g. {\"1080p\": 0.42}"))
            .additional_properties(Some(
                utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Number),
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RenditionShares {}

/// Viewers per rendition, summed over streams.
#[derive(Debug, Clone, Copy, Default)]
struct MixSum {
    viewers: [u64; RenditionId::COUNT],
    total: u64,
}

impl MixSum {
    /// The rendition with the most viewers (the highest on a tie).
    fn dominant(&self) -> Option<RenditionId> {
        RenditionId::ALL.into_iter().filter(|id| self.viewers[id.index()] > 0).fold(
            None,
            |best: Option<RenditionId>, id| match best {
                Some(b) if self.viewers[b.index()] > self.viewers[id.index()] => best,
                _ => Some(id),
            },
        )
    }

    fn add(&mut self, s: &Sample) {
        self.total += u64::from(s.viewers);
        for (id, v) in s.renditions.iter() {
            self.viewers[id.index()] += u64::from(v);
        }
    }

    fn finish(&self) -> RenditionShares {
        if self.total == 0 {
            return RenditionShares::default();
        }
        RenditionShares(self.viewers.map(|v| v as f64 / self.total as f64))
    }
}

/// One CDN region in a tick.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionSummary {
    /// The region.
    pub region: RegionId,
    /// Its figures.
    #[serde(flatten)]
    pub quality: Quality,
    /// Egress over capacity, when the source knows the capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// Share of its viewers on each rendition.
    #[serde(default, skip_serializing_if = "RenditionShares::is_empty")]
    pub renditions: RenditionShares,
    /// Expected range of its figures, once a
    /// [`ScopeWatch`](super::ScopeWatch) has judged them.
    #[serde(default, skip_serializing_if = "Bands::is_empty")]
    pub bands: Bands,
}

/// One content type in a tick.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeSummary {
    /// `video`, `audio` or `live`.
    pub content_type: ContentType,
    /// Its figures.
    #[serde(flatten)]
    pub quality: Quality,
}

/// One title over every region in a tick.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentSummary {
    /// The title.
    pub content_id: ContentId,
    /// Its content type.
    pub content_type: ContentType,
    /// Its figures over all regions.
    #[serde(flatten)]
    pub quality: Quality,
    /// The rendition most of its viewers are on, e.g. `1080p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendition: Option<RenditionId>,
}

/// Everything one tick says, rolled up: the body of `metrics_update`.
///
/// ```
/// use streammon_core::pipeline::TickSummary;
/// use streammon_core::{SimConfig, Simulator};
/// let frame = Simulator::new(SimConfig::default())?.next_frame();
/// let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
/// let viewers: u64 = frame.samples.iter().map(|s| u64::from(s.viewers)).sum();
/// assert_eq!(tick.total.viewers, viewers);
/// let share: f64 = tick.cdn_shares().values().sum();
/// assert!((share - 1.0).abs() < 1e-9);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickSummary {
    /// End of the tick, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Length of the tick, milliseconds.
    pub interval_ms: u32,
    /// Every stream together.
    pub total: Quality,
    /// Titles with at least one stream this tick.
    pub active_titles: u32,
    /// Per CDN region, in first-seen order.
    pub regions: Vec<RegionSummary>,
    /// Per content type, in `video`, `audio`, `live` order, types with
    /// streams only.
    pub types: Vec<TypeSummary>,
    /// Per title, in first-seen order.
    pub contents: Vec<ContentSummary>,
    /// Share of viewers on each rendition.
    pub renditions: RenditionShares,
    /// Expected range of the service's figures, once a
    /// [`ScopeWatch`](super::ScopeWatch) has judged them.
    pub bands: Bands,
}

impl TickSummary {
    /// Rolls up the samples of one tick (any subset of them: a region's, a
    /// title's). `capacity_mbps` gives a region's capacity, when known, for
    /// its utilization.
    pub fn build<'a>(
        timestamp_ms: i64,
        interval_ms: u32,
        samples: impl IntoIterator<Item = &'a Sample>,
        capacity_mbps: impl Fn(&RegionId) -> Option<f64>,
    ) -> Self {
        let mut total = QualitySum::default();
        let mut mix = MixSum::default();
        let mut regions: Vec<(RegionId, QualitySum, MixSum)> = Vec::new();
        let mut types = [QualitySum::default(); 3];
        let mut contents: Vec<(ContentId, ContentType, QualitySum, MixSum)> = Vec::new();
        let mut content_index: BTreeMap<&ContentId, usize> = BTreeMap::new();
        for s in samples {
            total.add(s);
            mix.add(s);
            match regions.iter_mut().find(|(r, _, _)| *r == s.region) {
                Some((_, sum, m)) => {
                    sum.add(s);
                    m.add(s);
                }
                None => {
                    let (mut sum, mut m) = (QualitySum::default(), MixSum::default());
                    sum.add(s);
                    m.add(s);
                    regions.push((s.region.clone(), sum, m));
                }
            }
            types[type_index(s.content_type)].add(s);
            match content_index.get(&s.content_id) {
                Some(&i) => {
                    contents[i].2.add(s);
                    contents[i].3.add(s);
                }
                None => {
                    let mut sum = QualitySum::default();
                    sum.add(s);
                    let mut mix = MixSum::default();
                    mix.add(s);
                    content_index.insert(&s.content_id, contents.len());
                    contents.push((s.content_id.clone(), s.content_type, sum, mix));
                }
            }
        }
        Self {
            timestamp_ms,
            interval_ms,
            total: total.finish(),
            active_titles: contents.len() as u32,
            regions: regions
                .into_iter()
                .map(|(region, sum, mix)| {
                    let quality = sum.finish();
                    let utilization = capacity_mbps(&region).filter(|c| *c > 0.0).map(|c| quality.bandwidth_mbps / c);
                    RegionSummary { region, quality, utilization, renditions: mix.finish(), bands: Bands::default() }
                })
                .collect(),
            types: ContentType::ALL
                .iter()
                .zip(types)
                .filter(|(_, sum)| sum.streams > 0)
                .map(|(&content_type, sum)| TypeSummary { content_type, quality: sum.finish() })
                .collect(),
            contents: contents
                .into_iter()
                .map(|(content_id, content_type, sum, mix)| ContentSummary {
                    content_id,
                    content_type,
                    quality: sum.finish(),
                    rendition: mix.dominant(),
                })
                .collect(),
            renditions: mix.finish(),
            bands: Bands::default(),
        }
    }

    /// Viewers per region: the original's `cdn_distribution` (a count).
    pub fn cdn_viewers(&self) -> BTreeMap<RegionId, u64> {
        self.regions.iter().map(|r| (r.region.clone(), r.quality.viewers)).collect()
    }

    /// Viewers per content type: the original's `content_types` (a count).
    pub fn content_type_viewers(&self) -> BTreeMap<ContentType, u64> {
        self.types.iter().map(|t| (t.content_type, t.quality.viewers)).collect()
    }

    /// Share of viewers per region, summing to 1 (empty without viewers).
    pub fn cdn_shares(&self) -> BTreeMap<RegionId, f64> {
        let total = self.total.viewers as f64;
        self.regions
            .iter()
            .filter(|_| total > 0.0)
            .map(|r| (r.region.clone(), r.quality.viewers as f64 / total))
            .collect()
    }

    /// Share of viewers per content type, summing to 1 (empty without
    /// viewers).
    pub fn content_type_shares(&self) -> BTreeMap<ContentType, f64> {
        let total = self.total.viewers as f64;
        self.types.iter().filter(|_| total > 0.0).map(|t| (t.content_type, t.quality.viewers as f64 / total)).collect()
    }

    /// The same tick seen from one region: its streams only. `None` when
    /// the region did not report.
    pub fn region(&self, region: &RegionId) -> Option<&RegionSummary> {
        self.regions.iter().find(|r| &r.region == region)
    }

    /// One title's row. `None` when the title did not report.
    pub fn content(&self, content: &ContentId) -> Option<&ContentSummary> {
        self.contents.iter().find(|c| &c.content_id == content)
    }
}

fn type_index(t: ContentType) -> usize {
    match t {
        ContentType::Video => 0,
        ContentType::Audio => 1,
        ContentType::Live => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{SimConfig, Simulator};

    #[test]
    fn means_are_weighted_by_viewers() {
        let frame = Simulator::new(SimConfig { seed: 3, ..SimConfig::default() }).unwrap().next_frame();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| Some(1e6));
        let (mut w, mut lat) = (0.0, 0.0);
        for s in &frame.samples {
            let v = f64::from(s.viewers.max(1));
            w += v;
            lat += v * s.latency_ms;
        }
        assert!((tick.total.latency_ms - lat / w).abs() < 1e-6);
        assert_eq!(tick.total.streams as usize, frame.samples.len());
        let region_viewers: u64 = tick.regions.iter().map(|r| r.quality.viewers).sum();
        assert_eq!(region_viewers, tick.total.viewers);
        assert_eq!(tick.cdn_viewers().values().sum::<u64>(), tick.total.viewers);
        assert_eq!(tick.content_type_viewers().values().sum::<u64>(), tick.total.viewers);
        let rebuffers: u64 = frame.samples.iter().map(|s| u64::from(s.rebuffer_events)).sum();
        assert_eq!(tick.total.rebuffer_events, rebuffers);
        let region_rebuffers: u64 = tick.regions.iter().map(|r| r.quality.rebuffer_events).sum();
        assert_eq!(region_rebuffers, rebuffers);
        let type_viewers: u64 = tick.types.iter().map(|t| t.quality.viewers).sum();
        assert_eq!(type_viewers, tick.total.viewers);
        let title_streams: u32 = tick.contents.iter().map(|c| c.quality.streams).sum();
        assert_eq!(title_streams, tick.total.streams);
        assert!(tick.regions.iter().all(|r| r.utilization.is_some()));
        let bw: f64 = tick.regions.iter().map(|r| r.quality.bandwidth_mbps).sum();
        assert!((bw - tick.total.bandwidth_mbps).abs() < 1e-6 * bw.max(1.0));
    }

    #[test]
    fn rendition_shares_sum_to_one_over_viewers() {
        let frame = Simulator::new(SimConfig { seed: 4, ..SimConfig::default() }).unwrap().next_frame();
        let tick = TickSummary::build(frame.timestamp_ms, 1_000, &frame.samples, |_| None);
        let sum: f64 = tick.renditions.iter().map(|(_, v)| v).sum();
        assert!((sum - 1.0).abs() < 1e-9, "shares sum to {sum}");
        let audio: f64 = tick.renditions.iter().filter(|(id, _)| id.as_str().ends_with('k')).map(|(_, v)| v).sum();
        let audio_type = tick.content_type_shares().get(&ContentType::Audio).copied().unwrap_or(0.0);
        assert!((audio - audio_type).abs() < 1e-9, "audio renditions {audio}, audio titles {audio_type}");
        for r in &tick.regions {
            let sum: f64 = r.renditions.iter().map(|(_, v)| v).sum();
            assert!((sum - 1.0).abs() < 1e-9, "{}: shares sum to {sum}", r.region);
        }
        for c in &tick.contents {
            let mut mix = crate::sample::RenditionMix::default();
            for s in frame.samples.iter().filter(|s| s.content_id == c.content_id) {
                for (id, v) in s.renditions.iter() {
                    mix.set(id, mix.get(id) + v);
                }
            }
            assert_eq!(c.rendition, mix.dominant(), "{}", c.content_id);
        }
        let p1080 = frame.samples.iter().map(|s| u64::from(s.renditions.get(RenditionId::P1080))).sum::<u64>();
        assert!((tick.renditions.get(RenditionId::P1080) - p1080 as f64 / tick.total.viewers as f64).abs() < 1e-12);
    }

    #[test]
    fn an_empty_tick_has_zero_figures_and_no_shares() {
        let tick = TickSummary::build(0, 1_000, &[], |_| None);
        assert_eq!(tick.total, Quality::default());
        assert!(tick.cdn_shares().is_empty());
        assert!(tick.content_type_shares().is_empty());
        assert!(tick.renditions.is_empty());
    }
}
