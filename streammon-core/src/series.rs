//! Series: one metric of one title in one CDN region, the unit that
//! detectors, forecasters and alert rules follow.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::{ContentId, RegionId};
use crate::sample::{Metric, Sample};

/// Identifies one time series: a metric of a title in a region.
///
/// ```
/// # use streammon_core::{Metric, SeriesKey};
/// let key = SeriesKey::new("vod-000001", "eu-west", Metric::BufferingRatio);
/// assert_eq!(key.to_string(), "buffering_ratio{content=vod-000001,region=eu-west}");
/// ```
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The title.
    pub content: ContentId,
    /// The CDN region.
    pub region: RegionId,
    /// The metric.
    pub metric: Metric,
}

impl SeriesKey {
    /// A key from its parts.
    pub fn new(content: impl Into<ContentId>, region: impl Into<RegionId>, metric: Metric) -> Self {
        Self { content: content.into(), region: region.into(), metric }
    }

    /// The key of `metric` in the series `sample` belongs to.
    pub fn of(sample: &Sample, metric: Metric) -> Self {
        Self { content: sample.content_id.clone(), region: sample.region.clone(), metric }
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{content={},region={}}}", self.metric, self.content, self.region)
    }
}
