//! Storage of history: the [`Store`] trait, its query and result types, and
//! [`MemoryStore`], the embedded default.
//!
//! # Why one trait
//!
//! The dashboard, the REST API and the detectors all need the same things
//! from history: the latest samples, a time range of a series or of a
//! filter, a chart-sized downsampling of it, the alerts and the status of
//! every title. [`Store`] is that vocabulary, and each backend implements all
//! of it: [`MemoryStore`] here (bounded ring buffers, no dependency), Redis
//! in the `streammon-redis` crate. One behavioural suite
//! (`store::conformance`, behind the `conformance` feature) runs against
//! both, so they cannot drift apart.
//!
//! # Async without a runtime
//!
//! The trait's methods are `async` (through [`async_trait`](mod@async_trait), a proc-macro
//! with no runtime) so a network backend can await I/O, and `dyn`-safe so a
//! server holds an `Arc<dyn Store>`. The core still owns no runtime:
//! [`MemoryStore`]'s futures are plain synchronous code that is ready at
//! the first poll.
//!
//! # Consistency
//!
//! [`Store::append`] returns once the batch is *accepted*. A backend may
//! buffer accepted writes (Redis does, so that nothing is lost while the
//! server is away); [`Store::flush`] waits until every accepted write is
//! stored, after which reads see it. [`MemoryStore`] stores at once.
//!
//! Timestamps are data: retention is measured back from the newest sample
//! timestamp the store has seen, never from a clock.

pub mod downsample;
mod error;
mod memory;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::alert::{Ack, Alert, AlertState, Silence};
use crate::content::ContentChange;
use crate::id::{ContentId, RegionId};
use crate::rollup::{Rollup, RollupQuery};
use crate::sample::{Metric, Sample};
use crate::series::SeriesKey;

pub use downsample::{Bucket, SeriesPoints};
pub use error::StoreError;
pub use memory::{MemoryConfig, MemoryStore};

/// Which series a query is about: every title and region by default,
/// narrowed by either or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesFilter {
    /// Only this title. Defaults to every title.
    #[serde(default)]
    pub content: Option<ContentId>,
    /// Only this CDN region. Defaults to every region.
    #[serde(default)]
    pub region: Option<RegionId>,
}

impl SeriesFilter {
    /// Every series.
    pub fn all() -> Self {
        Self::default()
    }

    /// The one `(content, region)` stream of `key` (its metric is ignored).
    pub fn series(key: &SeriesKey) -> Self {
        Self { content: Some(key.content.clone()), region: Some(key.region.clone()) }
    }

    /// Whether the stream of `content` in `region` passes.
    pub fn matches(&self, content: &ContentId, region: &RegionId) -> bool {
        self.content.as_ref().is_none_or(|c| c == content) && self.region.as_ref().is_none_or(|r| r == region)
    }
}

/// Samples in a half-open time range `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Which series.
    #[serde(default)]
    pub filter: SeriesFilter,
    /// Only samples that carry this metric (end-to-end latency exists for
    /// live titles only). Defaults to every sample.
    #[serde(default)]
    pub metric: Option<Metric>,
    /// Start, epoch ms, inclusive.
    pub from_ms: i64,
    /// End, epoch ms, exclusive.
    pub to_ms: i64,
    /// Keep only the newest this many samples. Defaults to all.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl RangeQuery {
    /// Every sample of `filter` in `[from_ms, to_ms)`.
    pub fn new(filter: SeriesFilter, from_ms: i64, to_ms: i64) -> Self {
        Self { filter, metric: None, from_ms, to_ms, limit: None }
    }

    /// Checks the bounds.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] naming `to_ms` when the range is reversed.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.to_ms < self.from_ms {
            return Err(StoreError::config("to_ms", format!("{} is before from_ms {}", self.to_ms, self.from_ms)));
        }
        Ok(())
    }

    /// Whether `sample` passes the filter, the metric and the time bounds.
    pub fn matches(&self, sample: &Sample) -> bool {
        (self.from_ms..self.to_ms).contains(&sample.timestamp_ms)
            && self.filter.matches(&sample.content_id, &sample.region)
            && self.metric.is_none_or(|m| sample.get(m).is_some())
    }
}

/// One metric of the series of a filter, downsampled to at most `points`
/// buckets per series over `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownsampleQuery {
    /// Which series.
    #[serde(default)]
    pub filter: SeriesFilter,
    /// Which metric.
    pub metric: Metric,
    /// Start, epoch ms, inclusive.
    pub from_ms: i64,
    /// End, epoch ms, exclusive.
    pub to_ms: i64,
    /// Buckets per series, 1 to 100 000.
    pub points: usize,
}

impl DownsampleQuery {
    /// The most buckets one query may ask for per series.
    pub const MAX_POINTS: usize = 100_000;

    /// Checks the bounds and the number of points.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] naming `points` or `to_ms`.
    pub fn check(&self) -> Result<(), StoreError> {
        if !(1..=Self::MAX_POINTS).contains(&self.points) {
            return Err(StoreError::config(
                "points",
                format!("{} is not within 1..={}", self.points, Self::MAX_POINTS),
            ));
        }
        self.range().check()
    }

    /// The range query whose samples this downsamples.
    pub fn range(&self) -> RangeQuery {
        RangeQuery {
            filter: self.filter.clone(),
            metric: Some(self.metric),
            from_ms: self.from_ms,
            to_ms: self.to_ms,
            limit: None,
        }
    }
}

/// How a store is doing: the payload of a health endpoint.
///
/// `dropped` is the loss counter: samples that were offered to
/// [`Store::append`] and refused because the write buffer was full. It
/// only ever grows; anything non-zero means history has gaps.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// Which backend, e.g. `memory` or `redis`.
    pub backend: String,
    /// Whether the backend answered its last check.
    pub ok: bool,
    /// One line for humans: the address, or the last error.
    pub detail: String,
    /// Writes accepted but not yet stored (samples, alerts and statuses).
    pub buffered: u64,
    /// Samples refused because the write buffer was full, since start.
    pub dropped: u64,
    /// Samples accepted since start.
    pub accepted: u64,
    /// Accepted writes the backend refused for good (e.g. foreign data of
    /// another type under one of our keys; `detail` names the key), since
    /// start. Like `dropped`, a loss counter.
    pub failed: u64,
}

/// A store's counters as they stand, read without asking the backend:
/// what an exporter reads on its own schedule, even while the backend
/// does not answer. The same figures as in [`StoreHealth`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounters {
    /// Writes accepted but not yet stored.
    pub buffered: u64,
    /// Samples refused because the write buffer was full, since start.
    pub dropped: u64,
    /// Samples accepted since start.
    pub accepted: u64,
    /// Accepted writes the backend refused for good, since start.
    pub failed: u64,
}

/// Sorts samples oldest first, ties by content then region, and keeps the
/// newest `limit`: the order every backend returns ranges in.
pub fn sort_range(mut samples: Vec<Sample>, limit: Option<usize>) -> Vec<Sample> {
    samples.sort_by(range_order);
    if let Some(limit) = limit {
        let excess = samples.len().saturating_sub(limit);
        samples.drain(..excess);
    }
    samples
}

fn range_order(a: &Sample, b: &Sample) -> std::cmp::Ordering {
    (a.timestamp_ms, &a.content_id, &a.region).cmp(&(b.timestamp_ms, &b.content_id, &b.region))
}

/// Collects the newest `limit` samples of a range as a backend reads them,
/// holding no more than `limit` at any time: what [`sort_range`] returns,
/// without first gathering every match.
///
/// ```
/// # use streammon_core::{SimConfig, Simulator};
/// # use streammon_core::store::{Newest, sort_range};
/// let samples = Simulator::new(SimConfig::default())?.take(3).flat_map(|f| f.samples).collect::<Vec<_>>();
/// let mut newest = Newest::new(Some(5));
/// for s in &samples {
///     newest.offer(s);
/// }
/// assert_eq!(newest.into_sorted(), sort_range(samples, Some(5)));
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Newest {
    limit: Option<usize>,
    // A min-heap on range order: its top is the oldest kept.
    kept: std::collections::BinaryHeap<std::cmp::Reverse<InRangeOrder>>,
}

#[derive(Debug)]
struct InRangeOrder(Sample);

impl PartialEq for InRangeOrder {
    fn eq(&self, other: &Self) -> bool {
        range_order(&self.0, &other.0).is_eq()
    }
}
impl Eq for InRangeOrder {}
impl PartialOrd for InRangeOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InRangeOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        range_order(&self.0, &other.0)
    }
}

impl Newest {
    /// Keeps the newest `limit` samples offered; all of them with `None`.
    pub fn new(limit: Option<usize>) -> Self {
        Self { limit, kept: std::collections::BinaryHeap::new() }
    }

    /// Offers one sample, cloned only if it is kept. Returns `false` when
    /// it is older than every sample kept and there is no room: a reader
    /// going newest first through one stream can stop there.
    pub fn offer(&mut self, sample: &Sample) -> bool {
        self.offer_with(sample, Sample::clone)
    }

    /// [`offer`](Self::offer) for a sample the reader owns (decoded from
    /// storage): moved in, never cloned.
    pub fn offer_owned(&mut self, sample: Sample) -> bool {
        self.offer_with(sample, |s| s)
    }

    fn offer_with<S: std::borrow::Borrow<Sample>>(&mut self, sample: S, own: impl FnOnce(S) -> Sample) -> bool {
        match self.limit {
            Some(0) => false,
            Some(limit) if self.kept.len() >= limit => {
                let oldest = &self.kept.peek().expect("limit > 0 samples kept").0.0;
                if range_order(sample.borrow(), oldest).is_le() {
                    return false;
                }
                self.kept.pop();
                self.kept.push(std::cmp::Reverse(InRangeOrder(own(sample))));
                true
            }
            _ => {
                self.kept.push(std::cmp::Reverse(InRangeOrder(own(sample))));
                true
            }
        }
    }

    /// The samples kept, oldest first, ties by content then region.
    pub fn into_sorted(self) -> Vec<Sample> {
        // `Reverse` sorts newest first; turn it around.
        let mut out: Vec<Sample> = self.kept.into_sorted_vec().into_iter().map(|r| r.0.0).collect();
        out.reverse();
        out
    }
}

/// Storage of samples, alerts and content status. See the [module docs](self).
///
/// Every method takes `&self`: stores synchronise inside, so one store is
/// shared as `Arc<dyn Store>` by any number of tasks.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Accepts a batch of samples, in order.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] when the batch cannot be accepted; it is
    /// then counted in [`StoreHealth::dropped`].
    async fn append(&self, samples: &[Sample]) -> Result<(), StoreError>;

    /// Waits until every accepted write is stored. A no-op where writes
    /// are not buffered.
    ///
    /// # Errors
    /// [`StoreError::Timeout`] or [`StoreError::Unavailable`] when the
    /// backend does not take the writes in time; they stay buffered.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Records one tick of the whole service, as the transport encodes it
    /// (JSON: the `metrics_update` payload, the original's per-tick
    /// record), at the head of the tick history, the original's
    /// `metrics_history`; the oldest past the store's history length (1000
    /// by default) go. The store keeps the record as it is given.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn append_tick(&self, record: &str) -> Result<(), StoreError>;

    /// The newest `n` tick records, newest first: at most the store's
    /// history length, whatever `n`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Corrupt`] from a backend.
    async fn ticks(&self, n: usize) -> Result<Vec<String>, StoreError>;

    /// Stores roll-ups, each replacing any of the same scope, resolution
    /// and start; rows older than their resolution's retention behind the
    /// newest go.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn append_rollups(&self, rollups: &[Rollup]) -> Result<(), StoreError>;

    /// The roll-ups `query` selects, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Corrupt`] from a backend.
    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<Rollup>, StoreError>;

    /// The samples `query` selects, oldest first (ties by content, then
    /// region); with a limit, the newest that many.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] for a reversed range; backend errors.
    async fn range(&self, query: &RangeQuery) -> Result<Vec<Sample>, StoreError>;

    /// One metric of every series `query` selects, downsampled: one
    /// [`SeriesPoints`] per series with data, sorted by key.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] for bad points or range; backend errors.
    async fn downsampled(&self, query: &DownsampleQuery) -> Result<Vec<SeriesPoints>, StoreError> {
        query.check()?;
        let samples = self.range(&query.range()).await?;
        Ok(downsample::by_series(&samples, query.metric, query.from_ms, query.to_ms, query.points))
    }

    /// Stores an alert, replacing any with the same id.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn put_alert(&self, alert: &Alert) -> Result<(), StoreError>;

    /// The stored alerts, in a `state` or all, sorted by id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Corrupt`] from a backend.
    async fn alerts(&self, state: Option<AlertState>) -> Result<Vec<Alert>, StoreError>;

    /// Records an acknowledgement, replacing the alert's earlier one.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn put_ack(&self, ack: &Ack) -> Result<(), StoreError>;

    /// Forgets the acknowledgement of `alert_id`, if any.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn delete_ack(&self, alert_id: &str) -> Result<(), StoreError>;

    /// Every stored acknowledgement, sorted by alert id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Corrupt`] from a backend.
    async fn acks(&self) -> Result<Vec<Ack>, StoreError>;

    /// Stores a silence, replacing one with the same id (an expired one
    /// is stored again with its new end).
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn put_silence(&self, silence: &Silence) -> Result<(), StoreError>;

    /// Forgets the silence `id`, if stored.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn delete_silence(&self, id: &str) -> Result<(), StoreError>;

    /// Every stored silence, sorted by id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Corrupt`] from a backend.
    async fn silences(&self) -> Result<Vec<Silence>, StoreError>;

    /// Records a title's latest status change, replacing its previous one.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] or backend errors.
    async fn put_content_status(&self, change: &ContentChange) -> Result<(), StoreError>;

    /// The latest status change of every known title, sorted by id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Corrupt`] from a backend.
    async fn content_statuses(&self) -> Result<Vec<ContentChange>, StoreError>;

    /// Keeps a source's state under `name` (the simulator's is
    /// `simulator`), replacing what was there, so that a restarted server
    /// goes on from it. Written at once, not queued behind samples: a
    /// checkpoint newer than the stored samples only leaves a gap.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] from a backend.
    async fn put_checkpoint(&self, name: &str, state: &str) -> Result<(), StoreError>;

    /// The state last kept under `name`, if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] from a backend.
    async fn checkpoint(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Checks the backend and reports counters. May wait on the backend
    /// (a Redis `PING`) for as long as its timeouts allow.
    async fn health(&self) -> StoreHealth;

    /// The counters of [`health`](Self::health), read at once from memory:
    /// never waits on the backend.
    fn counters(&self) -> StoreCounters;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{SimConfig, Simulator};

    proptest! {
        #[test]
        fn newest_keeps_what_sort_range_keeps(
            limit in proptest::option::of(0usize..40),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..120),
        ) {
            let pool: Vec<Sample> =
                Simulator::new(SimConfig { titles: 4, ..SimConfig::default() }).unwrap().take(3).flat_map(|f| f.samples).collect();
            let samples: Vec<Sample> = order.iter().map(|i| i.get(&pool).clone()).collect();
            let mut newest = Newest::new(limit);
            for s in &samples {
                newest.offer(s);
            }
            let kept = newest.into_sorted();
            prop_assert!(limit.is_none_or(|l| kept.len() <= l));
            // Duplicates of one (time, title, region) may differ in which
            // copy is kept, never in which keys are.
            let keys = |v: &[Sample]| v.iter().map(|s| (s.timestamp_ms, s.content_id.clone(), s.region.clone())).collect::<Vec<_>>();
            prop_assert_eq!(keys(&kept), keys(&sort_range(samples, limit)));
        }
    }
}
