//! Which region, title, content type or rendition is hurting viewers.
//!
//! During an incident the first question is "where". A [`Breakdown`]
//! splits a metric by one dimension over a window of samples and ranks the
//! values by **impact**: how much the viewer-weighted mean of the metric
//! would improve if that value's streams behaved like everything else.
//! For a value `i` with weight share `wᵢ` (its viewers over all viewers),
//! mean `mᵢ`, and `m₋ᵢ` the mean of the rest,
//!
//! ```text
//! impactᵢ = wᵢ · (mᵢ − m₋ᵢ)        (sign flipped where lower is worse)
//! ```
//!
//! in the metric's unit. A small region with terrible latency and a huge
//! region with slightly raised latency both rank by what they cost the
//! average viewer, which is what to fix first. Impacts of the values that
//! make things worse are also given as a share of their total.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sample::{Metric, Sample};

/// What to break a metric down by.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// CDN region (`cdn` is accepted as a synonym: regions are CDN regions).
    #[serde(alias = "cdn")]
    Region,
    /// `video`, `audio` or `live`.
    ContentType,
    /// Title (content id).
    #[serde(alias = "content", alias = "content_id")]
    Title,
    /// Rendition of the ladder. A stream's figure counts toward each
    /// rendition with the viewers on that rendition.
    Rendition,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 4] = [Self::Region, Self::ContentType, Self::Title, Self::Rendition];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Region => "region",
            Self::ContentType => "content_type",
            Self::Title => "title",
            Self::Rendition => "rendition",
        }
    }

    /// Parses a wire name or synonym (`cdn`, `content`, `content_id`).
    ///
    /// # Errors
    /// [`Error::Parse`] listing the accepted names.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "region" | "cdn" => Ok(Self::Region),
            "content_type" | "type" => Ok(Self::ContentType),
            "title" | "content" | "content_id" => Ok(Self::Title),
            "rendition" => Ok(Self::Rendition),
            _ => Err(Error::parse("a dimension", text, "expected region, cdn, content_type, title or rendition")),
        }
    }
}

/// One value of the dimension.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// The value: a region id, content type, content id or rendition.
    pub value: String,
    /// Its share of the viewer weight over the window, within [0, 1].
    pub viewer_share: f64,
    /// Samples (streams × ticks) that contributed.
    pub samples: u64,
    /// Viewer-weighted mean of the metric for this value.
    pub mean: f64,
    /// Viewer-weighted mean of every other value.
    pub rest_mean: f64,
    /// What this value costs the average viewer, in the metric's unit;
    /// positive means it makes things worse. See the module docs.
    pub impact: f64,
    /// `impact` over the sum of positive impacts; 0 when this value does
    /// not make things worse.
    pub impact_share: f64,
}

/// A metric broken down by a dimension, worst first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The metric.
    pub metric: Metric,
    /// The dimension.
    pub dimension: Dimension,
    /// Viewer-weighted mean over everything.
    pub overall: f64,
    /// Whether higher values are worse for this metric.
    pub higher_is_worse: bool,
    /// The values, by impact, highest first.
    pub rows: Vec<BreakdownRow>,
}

#[derive(Default, Clone, Copy)]
struct Acc {
    weight: f64,
    sum: f64,
    samples: u64,
}

impl Breakdown {
    /// Breaks `metric` down by `dimension` over `samples`. Samples without
    /// the metric (end-to-end latency of on-demand titles) are left out.
    ///
    /// ```
    /// use streammon_core::pipeline::{Breakdown, Dimension};
    /// use streammon_core::{Metric, SimConfig, Simulator};
    /// let frame = Simulator::new(SimConfig::default())?.next_frame();
    /// let b = Breakdown::compute(&frame.samples, Metric::LatencyMs, Dimension::Region);
    /// assert_eq!(b.rows.len(), 10);
    /// assert!(b.rows.windows(2).all(|w| w[0].impact >= w[1].impact));
    /// # Ok::<(), streammon_core::Error>(())
    /// ```
    pub fn compute(samples: &[Sample], metric: Metric, dimension: Dimension) -> Self {
        let mut groups: HashMap<String, Acc> = HashMap::new();
        let mut all = Acc::default();
        let mut add = |key: &str, weight: f64, value: f64| {
            let acc = match groups.get_mut(key) {
                Some(acc) => acc,
                None => groups.entry(key.to_owned()).or_default(),
            };
            acc.weight += weight;
            acc.sum += weight * value;
            acc.samples += 1;
        };
        for s in samples {
            let Some(value) = s.get(metric).filter(|v| v.is_finite()) else { continue };
            let weight = f64::from(s.viewers.max(1));
            all.weight += weight;
            all.sum += weight * value;
            all.samples += 1;
            match dimension {
                Dimension::Region => add(s.region.as_ref(), weight, value),
                Dimension::ContentType => add(s.content_type.as_str(), weight, value),
                Dimension::Title => add(s.content_id.as_ref(), weight, value),
                Dimension::Rendition => {
                    for (rendition, viewers) in s.renditions.iter().filter(|(_, v)| *v > 0) {
                        add(rendition.as_str(), f64::from(viewers), value);
                    }
                }
            }
        }
        let higher_is_worse = metric.higher_is_worse();
        let sign = if higher_is_worse { 1.0 } else { -1.0 };
        // Rendition weights are viewers on the rendition, not the sample's
        // weight: normalise by their own total.
        let total_weight: f64 = groups.values().map(|a| a.weight).sum();
        let total_sum: f64 = groups.values().map(|a| a.sum).sum();
        let mut rows: Vec<BreakdownRow> = groups
            .into_iter()
            .map(|(value, acc)| {
                let mean = acc.sum / acc.weight.max(f64::MIN_POSITIVE);
                let rest_weight = total_weight - acc.weight;
                let rest_mean = if rest_weight > 0.0 { (total_sum - acc.sum) / rest_weight } else { mean };
                let share = if total_weight > 0.0 { acc.weight / total_weight } else { 0.0 };
                BreakdownRow {
                    value,
                    viewer_share: share,
                    samples: acc.samples,
                    mean,
                    rest_mean,
                    impact: sign * share * (mean - rest_mean),
                    impact_share: 0.0,
                }
            })
            .collect();
        let positive: f64 = rows.iter().map(|r| r.impact.max(0.0)).sum();
        for row in &mut rows {
            row.impact_share = if positive > 0.0 { row.impact.max(0.0) / positive } else { 0.0 };
        }
        rows.sort_by(|a, b| b.impact.total_cmp(&a.impact).then_with(|| a.value.cmp(&b.value)));
        Self {
            metric,
            dimension,
            overall: if all.weight > 0.0 { all.sum / all.weight } else { 0.0 },
            higher_is_worse,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{SimConfig, Simulator};

    fn frame_with(region_latency: &[(&str, u32, f64)]) -> Vec<Sample> {
        let mut base = Simulator::new(SimConfig::default()).unwrap().next_frame().samples.remove(0);
        region_latency
            .iter()
            .map(|&(region, viewers, latency)| {
                base.region = region.into();
                base.viewers = viewers;
                base.latency_ms = latency;
                base.clone()
            })
            .collect()
    }

    #[test]
    fn ranks_by_cost_to_the_average_viewer() {
        // A tiny region with awful latency costs less than a big one with
        // somewhat raised latency.
        let samples = frame_with(&[("small", 10, 5_000.0), ("big", 1_000, 900.0), ("ok", 1_000, 500.0)]);
        let b = Breakdown::compute(&samples, Metric::LatencyMs, Dimension::Region);
        let order: Vec<&str> = b.rows.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(order, ["big", "small", "ok"]);
        let big = &b.rows[0];
        assert!((big.mean - 900.0).abs() < 1e-9);
        let rest = (10.0 * 5_000.0 + 1_000.0 * 500.0) / 1_010.0;
        assert!((big.rest_mean - rest).abs() < 1e-9);
        assert!((big.impact - 1_000.0 / 2_010.0 * (900.0 - rest)).abs() < 1e-9);
        assert!(b.rows[2].impact < 0.0 && b.rows[2].impact_share == 0.0);
        let shares: f64 = b.rows.iter().map(|r| r.impact_share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
    }

    #[test]
    fn lower_is_worse_for_bitrate() {
        let mut samples = frame_with(&[("a", 100, 0.0), ("b", 100, 0.0)]);
        samples[0].bitrate_kbps = 1_000.0;
        samples[1].bitrate_kbps = 5_000.0;
        let b = Breakdown::compute(&samples, Metric::BitrateKbps, Dimension::Region);
        assert!(!b.higher_is_worse);
        assert_eq!(b.rows[0].value, "a");
        assert!(b.rows[0].impact > 0.0);
    }

    #[test]
    fn renditions_split_by_their_viewers() {
        let samples = Simulator::new(SimConfig::default()).unwrap().next_frame().samples;
        let b = Breakdown::compute(&samples, Metric::BufferingRatio, Dimension::Rendition);
        let share: f64 = b.rows.iter().map(|r| r.viewer_share).sum();
        assert!((share - 1.0).abs() < 1e-9);
        assert!(Dimension::parse("cdn").unwrap() == Dimension::Region);
        assert!(Dimension::parse("colour").is_err());
    }
}
