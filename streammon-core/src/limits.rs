//! Bounds on what clients can make a server remember.
//!
//! Every sample a client pushes may name a region, a title and so a series
//! (title × region) the server has never seen, and each new one costs
//! detector state, alert tables, bands, forecasts and stored series. An
//! [`Admission`] stands at the door: it knows the regions, titles and
//! series admitted so far and refuses a batch that would take any of them
//! past its [`Limits`], so a flood of new names costs nothing while
//! samples for known ones keep flowing. A batch is admitted or refused
//! whole, so nothing of a refused batch is half-taken.
//!
//! The admission owns no clock: the caller passes the time with each call.
//!
//! ```
//! use streammon_core::limits::{Admission, Limit, Limits};
//! use streammon_core::{ContentId, RegionId};
//!
//! let limits = Limits { max_regions: 2, ..Limits::default() };
//! let mut door = Admission::new(limits)?;
//! let title = ContentId::from("vod-1");
//! for region in ["eu-west", "us-east"] {
//!     door.admit([(&title, &RegionId::from(region))], 0)?;
//! }
//! let refused = door.admit([(&title, &RegionId::from("ap-south"))], 0).unwrap_err();
//! assert_eq!(refused.limit, Limit::Regions);
//! assert_eq!(refused.to_string(), "at most 2 regions (limits.max_regions)");
//! assert!(door.admit([(&title, &RegionId::from("eu-west"))], 0).is_ok()); // known: still flows
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::sample::Sample;
use crate::time::Span;

/// How many regions, titles and series clients may make a server follow
/// (the `[limits]` table of `streammon serve`'s TOML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most CDN regions. Defaults to 256.
    pub max_regions: usize,
    /// Most titles. Defaults to 20000.
    pub max_titles: usize,
    /// Most series, one per (title, region) stream. Defaults to 200000:
    /// the simulator's 5,000 titles in 10 regions four times over.
    pub max_series: usize,
    /// A series no client has pushed for this long is forgotten, and with
    /// it a region or title left with no series, making room for new ones.
    /// At least twice the pipeline's own idle time (15 minutes, after which
    /// the detectors, alert rules, bands and forecasts forget a quiet
    /// series or region), so that what the door forgets is already gone
    /// downstream. Defaults to `30m`.
    pub idle: Span,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_regions: 256, max_titles: 20_000, max_series: 200_000, idle: Span::from_mins(30) }
    }
}

impl Limits {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field that is 0.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in
            [("max_regions", self.max_regions), ("max_titles", self.max_titles), ("max_series", self.max_series)]
        {
            if value == 0 {
                return Err(Error::config(field, "must be at least 1"));
            }
        }
        let min = 2 * crate::pipeline::REGION_IDLE_MS;
        if (self.idle.as_millis() as i64) < min {
            return Err(Error::config(
                "idle",
                format!("{} is under {}, twice the pipeline's idle time", self.idle, Span::from_millis(min as u64)),
            ));
        }
        Ok(())
    }
}

/// Which limit refused a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_regions`].
    Regions,
    /// [`Limits::max_titles`].
    Titles,
    /// [`Limits::max_series`].
    Series,
}

impl Limit {
    /// Every limit, for label sets.
    pub const ALL: [Limit; 3] = [Limit::Regions, Limit::Titles, Limit::Series];

    /// Its name, as a Prometheus label value: `regions`, `titles`, `series`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regions => "regions",
            Self::Titles => "titles",
            Self::Series => "series",
        }
    }

    /// The sample field that named something new: `region` or
    /// `content_id`.
    pub fn field(self) -> &'static str {
        match self {
            Self::Regions => "region",
            Self::Titles | Self::Series => "content_id",
        }
    }

    /// Its setting in the `[limits]` table.
    pub fn setting(self) -> &'static str {
        match self {
            Self::Regions => "max_regions",
            Self::Titles => "max_titles",
            Self::Series => "max_series",
        }
    }
}

/// A batch refused at a limit: `at most 64 regions (limits.max_regions)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at most {max} {} (limits.{})", limit.as_str(), limit.setting())]
pub struct Refusal {
    /// The limit reached.
    pub limit: Limit,
    /// Its value.
    pub max: usize,
}

/// The regions, titles and series admitted so far, and the limits they
/// must stay within. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Admission {
    limits: Limits,
    /// Series per region.
    regions: HashMap<RegionId, u32>,
    /// Series per title.
    titles: HashMap<ContentId, u32>,
    /// When each series was last admitted, epoch ms.
    series: HashMap<(ContentId, RegionId), i64>,
}

impl Admission {
    /// An admission that knows nothing yet.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when a limit is 0.
    pub fn new(limits: Limits) -> Result<Self> {
        limits.validate()?;
        Ok(Self { limits, regions: HashMap::new(), titles: HashMap::new(), series: HashMap::new() })
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Regions, titles and series admitted and not retired.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.regions.len(), self.titles.len(), self.series.len())
    }

    /// Admits the series of a batch (each sample's title and region), all
    /// or none, at `now_ms`: each series' last-seen time becomes `now_ms`
    /// (the server's clock, not the samples' stamps, which a client
    /// chooses). [`admit_samples`](Self::admit_samples) takes the samples.
    ///
    /// # Errors
    /// A [`Refusal`] naming the first limit the batch would pass (regions,
    /// then titles, then series); nothing of the batch is admitted.
    pub fn admit<'a, I>(&mut self, batch: I, now_ms: i64) -> std::result::Result<(), Refusal>
    where
        I: IntoIterator<Item = (&'a ContentId, &'a RegionId)> + Clone,
    {
        let mut new_series: HashSet<(&ContentId, &RegionId)> = HashSet::new();
        let mut new_regions: HashSet<&RegionId> = HashSet::new();
        let mut new_titles: HashSet<&ContentId> = HashSet::new();
        for (content, region) in batch.clone() {
            if self.series.contains_key(&(content.clone(), region.clone())) {
                continue;
            }
            new_series.insert((content, region));
            if !self.regions.contains_key(region) {
                new_regions.insert(region);
            }
            if !self.titles.contains_key(content) {
                new_titles.insert(content);
            }
        }
        let l = self.limits;
        for (limit, known, new, max) in [
            (Limit::Regions, self.regions.len(), new_regions.len(), l.max_regions),
            (Limit::Titles, self.titles.len(), new_titles.len(), l.max_titles),
            (Limit::Series, self.series.len(), new_series.len(), l.max_series),
        ] {
            if known + new > max {
                return Err(Refusal { limit, max });
            }
        }
        for (content, region) in batch {
            let seen = self.series.entry((content.clone(), region.clone())).or_insert(i64::MIN);
            if *seen == i64::MIN {
                *self.regions.entry(region.clone()).or_default() += 1;
                *self.titles.entry(content.clone()).or_default() += 1;
            }
            *seen = (*seen).max(now_ms);
        }
        Ok(())
    }

    /// [`admit`](Self::admit) for a batch of samples.
    ///
    /// # Errors
    /// As [`admit`](Self::admit).
    pub fn admit_samples(&mut self, samples: &[Sample], now_ms: i64) -> std::result::Result<(), Refusal> {
        self.admit(samples.iter().map(|s| (&s.content_id, &s.region)), now_ms)
    }

    /// Forgets every series no batch has named for [`Limits::idle`] before
    /// `now_ms`, as [`retire`](Self::retire) does. Returns how many.
    pub fn retire_idle(&mut self, now_ms: i64) -> usize {
        self.retire(now_ms.saturating_sub(self.limits.idle.as_millis() as i64))
    }

    /// Forgets every series not admitted since `before_ms`, and the
    /// regions and titles left with no series, so that room is made for
    /// new ones. Returns how many series were forgotten.
    pub fn retire(&mut self, before_ms: i64) -> usize {
        let (regions, titles) = (&mut self.regions, &mut self.titles);
        let before = self.series.len();
        self.series.retain(|(content, region), seen| {
            if *seen >= before_ms {
                return true;
            }
            drop_one(regions, region);
            drop_one(titles, content);
            false
        });
        before - self.series.len()
    }
}

fn drop_one<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(content: &str, region: &str) -> (ContentId, RegionId) {
        (content.into(), region.into())
    }

    trait Door {
        fn take(&mut self, batch: &[(ContentId, RegionId)], now_ms: i64) -> std::result::Result<(), Refusal>;
    }

    impl Door for Admission {
        fn take(&mut self, batch: &[(ContentId, RegionId)], now_ms: i64) -> std::result::Result<(), Refusal> {
            self.admit(batch.iter().map(|(c, r)| (c, r)), now_ms)
        }
    }

    fn door(max_regions: usize, max_titles: usize, max_series: usize) -> Admission {
        Admission::new(Limits { max_regions, max_titles, max_series, ..Limits::default() }).unwrap()
    }

    #[test]
    fn a_batch_over_the_region_limit_is_refused_whole() {
        let mut door = door(3, 100, 100);
        door.take(&[sample("a", "r1"), sample("a", "r2")], 0).unwrap();
        let batch = [sample("a", "r1"), sample("a", "r3"), sample("a", "r4")];
        assert_eq!(door.take(&batch, 1), Err(Refusal { limit: Limit::Regions, max: 3 }));
        // Nothing of the refused batch was taken: r3 alone still fits.
        assert_eq!(door.counts(), (2, 1, 2));
        door.take(&[sample("a", "r3")], 2).unwrap();
        assert_eq!(door.counts(), (3, 1, 3));
    }

    #[test]
    fn known_regions_titles_and_series_keep_flowing_at_the_limit() {
        let mut door = door(1, 1, 1);
        door.take(&[sample("a", "r1")], 0).unwrap();
        for t in 1..100 {
            door.take(&[sample("a", "r1"), sample("a", "r1")], t).unwrap();
        }
        assert_eq!(door.take(&[sample("b", "r1")], 100).unwrap_err().limit, Limit::Titles);
        assert_eq!(door.take(&[sample("a", "r2")], 100).unwrap_err().limit, Limit::Regions);
    }

    #[test]
    fn the_series_limit_counts_title_region_pairs() {
        let mut door = door(10, 10, 3);
        door.take(&[sample("a", "r1"), sample("a", "r2"), sample("b", "r1")], 0).unwrap();
        let refused = door.take(&[sample("b", "r2")], 0).unwrap_err();
        assert_eq!((refused.limit, refused.limit.field()), (Limit::Series, "content_id"));
        assert_eq!(refused.to_string(), "at most 3 series (limits.max_series)");
    }

    #[test]
    fn retiring_idle_series_makes_room_and_forgets_empty_regions_and_titles() {
        let mut door = door(2, 10, 10);
        door.take(&[sample("a", "r1"), sample("b", "r2")], 1_000).unwrap();
        door.take(&[sample("a", "r1")], 5_000).unwrap();
        assert!(door.take(&[sample("a", "r3")], 5_000).is_err());
        assert_eq!(door.retire(2_000), 1); // b@r2 went quiet
        assert_eq!(door.counts(), (1, 1, 1));
        door.take(&[sample("a", "r3")], 6_000).unwrap();
        assert_eq!(door.counts(), (2, 1, 2));
    }

    #[test]
    fn a_flood_ages_out_after_the_idle_time() {
        let mut door = door(2, 10, 10);
        let min = 60_000;
        door.take(&[sample("a", "r1"), sample("a", "r2")], 0).unwrap();
        door.take(&[sample("a", "r1")], 20 * min).unwrap();
        assert_eq!(door.retire_idle(29 * min), 0);
        assert!(door.take(&[sample("a", "r3")], 29 * min).is_err());
        assert_eq!(door.retire_idle(31 * min), 1, "r2 quiet for 31 minutes");
        door.take(&[sample("a", "r3")], 31 * min).unwrap();
        let short = Limits { idle: Span::from_mins(10), ..Limits::default() };
        assert!(short.validate().unwrap_err().to_string().contains("idle"));
    }

    #[test]
    fn a_zero_limit_is_invalid() {
        let err = Admission::new(Limits { max_titles: 0, ..Limits::default() }).unwrap_err();
        assert!(err.to_string().contains("max_titles"), "{err}");
    }
}
