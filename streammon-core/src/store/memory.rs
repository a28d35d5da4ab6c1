//! The embedded store: bounded ring buffers in memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::downsample::Downsampler;
use super::{DownsampleQuery, Newest, RangeQuery, SeriesPoints, Store, StoreCounters, StoreError, StoreHealth};
use crate::alert::{Ack, Acks, Alert, AlertState, MAX_SILENCES, Silence};
use crate::content::ContentChange;
use crate::id::{ContentId, RegionId};
use crate::rollup::{Resolution, Rollup, RollupQuery, RollupRetention, RollupScope};
use crate::sample::Sample;
use crate::series::SeriesKey;
use crate::time::Span;

/// Bounds of a [`MemoryStore`]. Every collection it keeps has one, so its
/// memory is bounded by configuration, not by how long it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Tick records kept for [`Store::ticks`], like the original's
    /// `metrics_history`. Defaults to 1000.
    pub history_len: usize,
    /// Samples kept per `(content, region)` stream; the oldest go first.
    /// Defaults to 3600 (an hour at 1 s ticks).
    pub max_per_series: usize,
    /// Samples older than this behind the newest sample seen are dropped,
    /// and so are streams that stopped that long ago. Defaults to `1h`.
    pub retention: Span,
    /// Streams kept at most; past it the one silent longest goes.
    /// Defaults to 10 000.
    pub max_series: usize,
    /// Alerts kept at most; past it the oldest resolved ones go, then the
    /// oldest of any state. Defaults to 10 000.
    pub max_alerts: usize,
    /// Titles whose status is kept at most; past it the one that changed
    /// longest ago goes. Defaults to 100 000.
    pub max_content: usize,
    /// How long minute and hour roll-ups are kept. Defaults to 7 and 90
    /// days: about 20 MB per day of minutes and 0.8 MB per day of hours at
    /// the default catalogue (48 titles, 10 regions; 62 scopes of 300
    /// bytes a row).
    pub rollup_retention: RollupRetention,
    /// Scopes whose roll-ups are kept at most (the service, regions,
    /// content types, titles); past it the one written longest ago goes.
    /// Defaults to 10 000.
    pub max_rollup_scopes: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            history_len: 1000,
            max_per_series: 3600,
            retention: Span::from_hours(1),
            max_series: 10_000,
            max_alerts: 10_000,
            max_content: 100_000,
            rollup_retention: RollupRetention::default(),
            max_rollup_scopes: 10_000,
        }
    }
}

impl MemoryConfig {
    /// Validates the bounds into a store.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] naming a bound that is zero.
    pub fn build(self) -> Result<MemoryStore, StoreError> {
        for (field, value) in [
            ("history_len", self.history_len),
            ("max_per_series", self.max_per_series),
            ("max_series", self.max_series),
            ("max_alerts", self.max_alerts),
            ("max_content", self.max_content),
            ("max_rollup_scopes", self.max_rollup_scopes),
        ] {
            if value == 0 {
                return Err(StoreError::config(field, "must be at least 1"));
            }
        }
        if self.retention.as_millis() == 0 || self.retention.as_millis() > i64::MAX as u64 / 2 {
            return Err(StoreError::config("retention", format!("{} is out of range", self.retention)));
        }
        for (field, span) in [
            ("rollup_retention.minute", self.rollup_retention.minute),
            ("rollup_retention.hour", self.rollup_retention.hour),
        ] {
            if span.as_millis() == 0 || span.as_millis() > i64::MAX as u64 / 2 {
                return Err(StoreError::config(field, format!("{span} is out of range")));
            }
        }
        Ok(MemoryStore { config: self, inner: Mutex::new(Inner::default()) })
    }
}

/// The embedded [`Store`]: the default when no Redis is configured.
///
/// Samples are kept whole, one ring per `(content, region)` stream, sorted
/// by timestamp; a metric's series is read out of its stream's ring, which
/// takes a thirteenth of the memory of a ring per metric. A range query
/// binary-searches each matching ring, so it costs the samples it returns
/// plus a logarithm per stream. Appending in timestamp order is a push at
/// the back; a late sample is inserted in place; a sample identical to one
/// already held (a replayed write) is held once.
///
/// All state is behind one [`Mutex`]: appends are short (a push and a
/// trim per sample), and queries copy out what they return.
///
/// ```
/// # use streammon_core::store::{MemoryConfig, RangeQuery, SeriesFilter, Store};
/// # use streammon_core::{SimConfig, Simulator};
/// let store = MemoryConfig::default().build()?;
/// let mut sim = Simulator::new(SimConfig::default())?;
/// let frame = sim.next_frame();
/// # fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     match std::pin::pin!(f).poll(&mut cx) { std::task::Poll::Ready(v) => v, _ => unreachable!() }
/// # }
/// // Its futures are ready at once; in a server, `.await` them.
/// ready(store.append(&frame.samples))?;
/// let query = RangeQuery { limit: Some(3), ..RangeQuery::new(SeriesFilter::all(), 0, i64::MAX) };
/// let newest = ready(store.range(&query))?;
/// assert_eq!(newest.len(), 3);
/// ready(store.append_tick(r#"{"users":12}"#))?;
/// assert_eq!(ready(store.ticks(10))?, [r#"{"users":12}"#]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    config: MemoryConfig,
    inner: Mutex<Inner>,
}

/// One scope's roll-ups at one resolution, oldest first.
#[derive(Debug, Default)]
struct RollupRing {
    rows: VecDeque<Rollup>,
    /// The store's write count when it was last written.
    written: u64,
}

#[derive(Debug, Default)]
struct Inner {
    series: BTreeMap<(ContentId, RegionId), Ring>,
    ticks: VecDeque<String>,
    rollups: BTreeMap<(RollupScope, Resolution), RollupRing>,
    rollup_writes: u64,
    newest_ms: Option<i64>,
    alerts: BTreeMap<String, Alert>,
    acks: Acks,
    silences: BTreeMap<String, Silence>,
    content: BTreeMap<ContentId, ContentChange>,
    checkpoints: BTreeMap<String, String>,
    accepted: u64,
    appends: u64,
}

/// One stream's samples, oldest first.
#[derive(Debug, Default)]
struct Ring {
    samples: VecDeque<Sample>,
    /// The append that last wrote to it: which streams went silent first
    /// is told by arrival, never by the samples' own (client-given) stamps,
    /// so a stream stamped ahead of the clock does not outlive live ones.
    written: u64,
}

impl std::ops::Deref for Ring {
    type Target = VecDeque<Sample>;
    fn deref(&self) -> &VecDeque<Sample> {
        &self.samples
    }
}

impl std::ops::DerefMut for Ring {
    fn deref_mut(&mut self) -> &mut VecDeque<Sample> {
        &mut self.samples
    }
}

impl MemoryStore {
    /// A store with the default bounds.
    pub fn new() -> Self {
        MemoryConfig::default().build().expect("the default bounds are valid")
    }

    /// The bounds it was built with.
    pub fn config(&self) -> &MemoryConfig {
        &self.config
    }

    /// Samples held in the per-stream rings (not counting the history).
    pub fn len(&self) -> usize {
        self.lock().series.values().map(|r| r.len()).sum()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a ring half-updated
        // in a way that breaks reads, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cutoff(&self, inner: &Inner) -> i64 {
        inner.newest_ms.map_or(i64::MIN, |n| n - self.config.retention.as_millis() as i64)
    }

    fn append_now(&self, samples: &[Sample]) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(max) = samples.iter().map(|s| s.timestamp_ms).max() {
            inner.newest_ms = Some(inner.newest_ms.map_or(max, |n| n.max(max)));
        }
        let cutoff = self.cutoff(inner);
        let this_append = inner.appends + 1;
        for s in samples {
            if s.timestamp_ms < cutoff {
                continue;
            }
            let ring = inner.series.entry((s.content_id.clone(), s.region.clone())).or_default();
            ring.written = this_append;
            let at = if ring.back().is_none_or(|b| b.timestamp_ms < s.timestamp_ms) {
                ring.len()
            } else {
                ring.partition_point(|x| x.timestamp_ms <= s.timestamp_ms)
            };
            // Samples of equal timestamp sit just before `at`; an identical
            // one is a replayed write, stored once (as Redis' sorted sets do).
            let same_time = ring.range(..at).rev().take_while(|x| x.timestamp_ms == s.timestamp_ms);
            if !same_time.clone().any(|x| x == s) {
                ring.insert(at, s.clone());
            }
            while ring.len() > self.config.max_per_series || ring.front().is_some_and(|f| f.timestamp_ms < cutoff) {
                ring.pop_front();
            }
        }
        inner.accepted += samples.len() as u64;
        inner.appends = this_append;
        if inner.appends.is_multiple_of(64) || inner.series.len() > self.config.max_series {
            self.sweep(inner, cutoff);
        }
    }

    /// Drops expired samples of streams that are not being appended to,
    /// streams left empty, and the longest-silent streams (the longest
    /// since written to) past `max_series`.
    fn sweep(&self, inner: &mut Inner, cutoff: i64) {
        inner.series.retain(|_, ring| {
            while ring.front().is_some_and(|f| f.timestamp_ms < cutoff) {
                ring.pop_front();
            }
            !ring.is_empty()
        });
        let excess = inner.series.len().saturating_sub(self.config.max_series);
        if excess > 0 {
            let mut by_last: Vec<_> = inner.series.iter().map(|(k, ring)| (ring.written, k.clone())).collect();
            by_last.sort_unstable();
            for (_, key) in by_last.into_iter().take(excess) {
                inner.series.remove(&key);
            }
        }
    }

    /// The newest `query.limit` matches, each cloned only if kept.
    fn newest_matches(&self, query: &RangeQuery) -> Vec<Sample> {
        let inner = self.lock();
        let cutoff = self.cutoff(&inner);
        let mut newest = Newest::new(query.limit);
        for ((content, region), ring) in &inner.series {
            if !query.filter.matches(content, region) {
                continue;
            }
            let start = ring.partition_point(|s| s.timestamp_ms < query.from_ms.max(cutoff));
            let end = ring.partition_point(|s| s.timestamp_ms < query.to_ms);
            // Newest first: once one is too old to keep, so are the rest.
            for s in ring.range(start..end.max(start)).rev() {
                if query.metric.is_none_or(|m| s.get(m).is_some()) && !newest.offer(s) {
                    break;
                }
            }
        }
        newest.into_sorted()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn append(&self, samples: &[Sample]) -> Result<(), StoreError> {
        self.append_now(samples);
        Ok(())
    }

    async fn append_rollups(&self, rollups: &[Rollup]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        for r in rollups {
            inner.rollup_writes += 1;
            let written = inner.rollup_writes;
            let ring = inner.rollups.entry(r.series()).or_default();
            ring.written = written;
            let at = ring.rows.partition_point(|x| x.start_ms < r.start_ms);
            match ring.rows.get_mut(at) {
                Some(x) if x.start_ms == r.start_ms => *x = r.clone(),
                _ => ring.rows.insert(at, r.clone()),
            }
            let newest = ring.rows.back().map_or(r.start_ms, |x| x.start_ms);
            let cutoff = newest.saturating_sub(self.config.rollup_retention.of(r.resolution));
            while ring.rows.front().is_some_and(|x| x.start_ms < cutoff) {
                ring.rows.pop_front();
            }
        }
        // Scopes no longer written (a retired title) go once their newest
        // row is past the retention behind the newest row of any scope.
        for res in Resolution::ALL {
            let newest = inner
                .rollups
                .iter()
                .filter(|((_, r), _)| *r == res)
                .filter_map(|(_, ring)| ring.rows.back().map(|x| x.start_ms))
                .max();
            if let Some(newest) = newest {
                let cutoff = newest.saturating_sub(self.config.rollup_retention.of(res));
                inner
                    .rollups
                    .retain(|(_, r), ring| *r != res || ring.rows.back().is_some_and(|x| x.start_ms >= cutoff));
            }
        }
        // Past the bound on scopes, the one written longest ago goes, at
        // each resolution.
        for res in Resolution::ALL {
            while inner.rollups.keys().filter(|(_, r)| *r == res).count() > self.config.max_rollup_scopes {
                let oldest = inner
                    .rollups
                    .iter()
                    .filter(|((_, r), _)| *r == res)
                    .min_by_key(|(_, ring)| ring.written)
                    .map(|(k, _)| k.clone());
                let Some(oldest) = oldest else { break };
                inner.rollups.remove(&oldest);
            }
        }
        Ok(())
    }

    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<Rollup>, StoreError> {
        let inner = self.lock();
        let Some(ring) = inner.rollups.get(&(query.scope.clone(), query.resolution)) else { return Ok(Vec::new()) };
        let from = ring.rows.partition_point(|x| x.start_ms < query.from_ms);
        Ok(ring.rows.iter().skip(from).take_while(|x| x.start_ms < query.to_ms).cloned().collect())
    }

    async fn append_tick(&self, record: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.ticks.push_front(record.to_owned());
        inner.ticks.truncate(self.config.history_len);
        Ok(())
    }

    async fn ticks(&self, n: usize) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().ticks.iter().take(n).cloned().collect())
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<Sample>, StoreError> {
        query.check()?;
        Ok(self.newest_matches(query))
    }

    async fn downsampled(&self, query: &DownsampleQuery) -> Result<Vec<SeriesPoints>, StoreError> {
        query.check()?;
        let inner = self.lock();
        let cutoff = self.cutoff(&inner);
        let mut d = Downsampler::new(query.metric, query.from_ms, query.to_ms, query.points);
        let mut out = Vec::new();
        // The rings are in key order, and a ring is one series.
        for ((content, region), ring) in &inner.series {
            if !query.filter.matches(content, region) {
                continue;
            }
            let start = ring.partition_point(|s| s.timestamp_ms < query.from_ms.max(cutoff));
            let end = ring.partition_point(|s| s.timestamp_ms < query.to_ms).max(start);
            for s in ring.range(start..end) {
                d.push(s);
            }
            let buckets = d.finish();
            if !buckets.is_empty() {
                out.push(SeriesPoints { key: SeriesKey::new(content.clone(), region.clone(), query.metric), buckets });
            }
        }
        Ok(out)
    }

    async fn put_alert(&self, alert: &Alert) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.alerts.insert(alert.id.clone(), alert.clone());
        if inner.alerts.len() > self.config.max_alerts {
            // Ids are in creation order, so the first resolved one is the
            // oldest resolved; failing that, the oldest of any state.
            let victim = inner
                .alerts
                .iter()
                .find(|(_, a)| a.state == AlertState::Resolved)
                .or_else(|| inner.alerts.iter().next())
                .map(|(id, _)| id.clone());
            if let Some(id) = victim {
                inner.alerts.remove(&id);
            }
        }
        Ok(())
    }

    async fn alerts(&self, state: Option<AlertState>) -> Result<Vec<Alert>, StoreError> {
        let inner = self.lock();
        Ok(inner.alerts.values().filter(|a| state.is_none_or(|s| a.state == s)).cloned().collect())
    }

    async fn put_ack(&self, ack: &Ack) -> Result<(), StoreError> {
        self.lock().acks.insert(ack.clone());
        Ok(())
    }

    async fn delete_ack(&self, alert_id: &str) -> Result<(), StoreError> {
        self.lock().acks.remove(alert_id);
        Ok(())
    }

    async fn acks(&self) -> Result<Vec<Ack>, StoreError> {
        let mut acks = self.lock().acks.sorted();
        acks.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
        Ok(acks)
    }

    async fn put_silence(&self, silence: &Silence) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.silences.insert(silence.id.clone(), silence.clone());
        // Twice what a server keeps unexpired, so expired ones have room;
        // past it the one that ended first goes.
        if inner.silences.len() > 2 * MAX_SILENCES {
            let victim = inner.silences.values().min_by_key(|s| (s.ends_ms, s.id.clone())).map(|s| s.id.clone());
            if let Some(id) = victim {
                inner.silences.remove(&id);
            }
        }
        Ok(())
    }

    async fn delete_silence(&self, id: &str) -> Result<(), StoreError> {
        self.lock().silences.remove(id);
        Ok(())
    }

    async fn silences(&self) -> Result<Vec<Silence>, StoreError> {
        Ok(self.lock().silences.values().cloned().collect())
    }

    async fn put_content_status(&self, change: &ContentChange) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.content.insert(change.content_id.clone(), change.clone());
        if inner.content.len() > self.config.max_content {
            let victim = inner.content.values().min_by_key(|c| c.timestamp_ms).map(|c| c.content_id.clone());
            if let Some(id) = victim {
                inner.content.remove(&id);
            }
        }
        Ok(())
    }

    async fn content_statuses(&self) -> Result<Vec<ContentChange>, StoreError> {
        Ok(self.lock().content.values().cloned().collect())
    }

    async fn put_checkpoint(&self, name: &str, state: &str) -> Result<(), StoreError> {
        self.lock().checkpoints.insert(name.to_owned(), state.to_owned());
        Ok(())
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().checkpoints.get(name).cloned())
    }

    async fn health(&self) -> StoreHealth {
        let inner = self.lock();
        let held: usize = inner.series.values().map(|r| r.len()).sum();
        StoreHealth {
            backend: "memory".into(),
            ok: true,
            detail: format!("{held} samples in {} streams", inner.series.len()),
            buffered: 0,
            dropped: 0,
            accepted: inner.accepted,
            failed: 0,
        }
    }

    fn counters(&self) -> StoreCounters {
        StoreCounters { accepted: self.lock().accepted, ..StoreCounters::default() }
    }
}
