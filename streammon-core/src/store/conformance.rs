//! The behavioural suite every [`Store`] runs: one suite, every backend.
//!
//! Each case is an `async fn(&dyn Store)` given a *fresh, empty* store built
//! with the bounds below ([`HISTORY_LEN`], [`MAX_PER_SERIES`],
//! [`RETENTION`]). A backend's test file generates one test per case with
//! [`store_conformance_tests!`](crate::store_conformance_tests), passing an
//! async function that returns the store and a guard kept alive for the
//! test (a Redis server, say):
//!
//! ```ignore
//! async fn fresh() -> (MemoryStore, ()) { (conformance::memory_store(), ()) }
//! streammon_core::store_conformance_tests!(blocking: fresh);   // or `tokio: fresh`
//! ```
//!
//! Compiled only with the `conformance` feature: it is test code, shipped
//! so that adapter crates can run it.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::{DownsampleQuery, MemoryConfig, MemoryStore, RangeQuery, SeriesFilter, Store, StoreError};
use crate::alert::{Alert, AlertState, GroupKey, Severity};
use crate::content::{ContentChange, ContentStatus, ContentType, Genre};
use crate::sample::{Metric, Sample};
use crate::simulator::{SimConfig, Simulator};
use crate::time::Span;

/// Samples the store under test keeps for [`Store::latest`].
pub const HISTORY_LEN: usize = 1000;
/// Samples the store under test keeps per `(content, region)` stream.
pub const MAX_PER_SERIES: usize = 100;
/// The retention window of the store under test.
pub const RETENTION: Span = Span::from_mins(10);

/// A [`MemoryStore`] with the suite's bounds.
pub fn memory_store() -> MemoryStore {
    MemoryConfig {
        history_len: HISTORY_LEN,
        max_per_series: MAX_PER_SERIES,
        retention: RETENTION,
        ..Default::default()
    }
    .build()
    .expect("the suite's bounds are valid")
}

/// Runs a future that is ready at its first poll, as every
/// [`MemoryStore`] future is.
///
/// # Panics
/// If the future is not ready: it needs a real executor.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("block_on: the future is not ready; run it on an async runtime"),
    }
}

/// `n` consecutive simulator frames of 6 titles in 10 regions at 1 s
/// steps: 60 samples a frame, the same on every call.
pub fn frames(n: usize) -> Vec<Vec<Sample>> {
    let mut sim = Simulator::new(SimConfig { seed: 7, titles: 6, ..SimConfig::default() }).expect("valid config");
    (0..n).map(|_| sim.next_frame().samples).collect()
}

/// A stream of one series: `n` samples one second apart from `start_ms`,
/// with `latency_ms` = 0, 1, 2, …
pub fn one_series(n: usize, start_ms: i64) -> Vec<Sample> {
    let base = frames(1).remove(0).remove(0);
    (0..n).map(|i| Sample { timestamp_ms: start_ms + i as i64 * 1000, latency_ms: i as f64, ..base.clone() }).collect()
}

/// An alert with `id` in `state`.
pub fn alert(id: &str, state: AlertState) -> Alert {
    Alert {
        id: id.into(),
        rule: "buffering".into(),
        severity: Severity::Warning,
        state,
        started_ms: 1_000,
        fired_ms: (state != AlertState::Pending).then_some(2_000),
        resolved_ms: (state == AlertState::Resolved).then_some(3_000),
        group: GroupKey::default(),
        series_count: 0,
        series: Vec::new(),
        value: Some(0.25),
        baseline: Some(0.01),
        cause: None,
        impact: None,
        metrics: Vec::new(),
        summary: format!("{id} is {state}"),
    }
}

/// A status change of `id` to `to` at `timestamp_ms`.
pub fn change(id: &str, to: ContentStatus, timestamp_ms: i64) -> ContentChange {
    ContentChange {
        timestamp_ms,
        content_id: id.into(),
        title: format!("Title {id}"),
        content_type: ContentType::Live,
        genre: Some(Genre::Sports),
        from: None,
        to,
    }
}

async fn append_all(store: &dyn Store, batches: &[Vec<Sample>]) {
    for batch in batches {
        store.append(batch).await.expect("append");
    }
    store.flush().await.expect("flush");
}

fn sorted(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.sort_by(|a, b| (a.timestamp_ms, &a.content_id, &a.region).cmp(&(b.timestamp_ms, &b.content_id, &b.region)));
    samples
}

/// What goes in comes out, exactly, in time order.
pub async fn round_trip(store: &dyn Store) {
    let batches = frames(5);
    append_all(store, &batches).await;
    let all: Vec<Sample> = batches.concat();
    let got = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.expect("range");
    assert_eq!(got.len(), all.len());
    assert_eq!(got, sorted(all));
}

/// Tick records come back as given, newest first, never more than the
/// history length.
pub async fn ticks_are_newest_first_and_capped(store: &dyn Store) {
    assert!(store.ticks(10).await.expect("ticks").is_empty());
    let records: Vec<String> = (0..HISTORY_LEN + 5).map(|i| format!(r#"{{"seq":{i},"users":{}}}"#, i * 7)).collect();
    for r in &records {
        store.append_tick(r).await.expect("append_tick");
    }
    store.flush().await.expect("flush");
    let newest = store.ticks(3).await.expect("ticks");
    assert_eq!(newest, records.iter().rev().take(3).cloned().collect::<Vec<_>>());
    let everything = store.ticks(usize::MAX).await.expect("ticks");
    assert_eq!(everything.len(), HISTORY_LEN);
    assert_eq!(everything.last(), records.get(records.len() - HISTORY_LEN));
    assert!(store.ticks(0).await.expect("ticks").is_empty());
}

/// Roll-ups come back by scope, resolution and range, oldest first; one
/// of the same start replaces the earlier; rows past their resolution's
/// retention (the defaults: 7 days of minutes, 90 of hours) go.
pub async fn rollups_round_trip_replace_and_expire(store: &dyn Store) {
    use crate::rollup::{Figure, Resolution, Rollup, RollupQuery};
    const MINUTE: i64 = 60_000;
    let row = |scope: &str, resolution, start_ms: i64, v: f64| Rollup {
        scope: scope.parse().expect("scope"),
        resolution,
        start_ms,
        ticks: 60,
        figures: [Figure([v, v - 1.0, v + 1.0]); 8],
    };
    let query = |scope: &str, resolution, from_ms, to_ms| RollupQuery {
        scope: scope.parse().expect("scope"),
        resolution,
        from_ms,
        to_ms,
    };
    let service: Vec<Rollup> = (0..10).map(|i| row("service", Resolution::Minute, i * MINUTE, i as f64)).collect();
    let region: Vec<Rollup> =
        (0..10).map(|i| row("region:eu-west", Resolution::Minute, i * MINUTE, 100.0 + i as f64)).collect();
    let hours = vec![row("service", Resolution::Hour, 0, 7.0)];
    store.append_rollups(&service).await.expect("append");
    store.append_rollups(&region).await.expect("append");
    store.append_rollups(&hours).await.expect("append");
    store.flush().await.expect("flush");
    let got = store.rollups(&query("service", Resolution::Minute, 2 * MINUTE, 5 * MINUTE)).await.expect("rollups");
    assert_eq!(got, service[2..5]);
    let got = store.rollups(&query("region:eu-west", Resolution::Minute, 0, i64::MAX)).await.expect("rollups");
    assert_eq!(got, region);
    assert!(
        store.rollups(&query("region:us-east", Resolution::Minute, 0, i64::MAX)).await.expect("rollups").is_empty()
    );
    assert_eq!(store.rollups(&query("service", Resolution::Hour, 0, i64::MAX)).await.expect("rollups"), hours);

    // The same bucket written again (a restart's partial minute) replaces.
    let again = row("service", Resolution::Minute, 3 * MINUTE, 99.0);
    store.append_rollups(std::slice::from_ref(&again)).await.expect("append");
    store.flush().await.expect("flush");
    let got = store.rollups(&query("service", Resolution::Minute, 0, i64::MAX)).await.expect("rollups");
    assert_eq!(got.len(), 10);
    assert_eq!(got[3], again);

    // Eight days on, the first week's minutes are gone; the hour stays.
    let later = row("service", Resolution::Minute, 8 * 24 * 60 * MINUTE, 1.0);
    store.append_rollups(std::slice::from_ref(&later)).await.expect("append");
    store.flush().await.expect("flush");
    let got = store.rollups(&query("service", Resolution::Minute, 0, i64::MAX)).await.expect("rollups");
    assert_eq!(got, [later]);
    assert_eq!(store.rollups(&query("service", Resolution::Hour, 0, i64::MAX)).await.expect("rollups"), hours);
}

/// Filters by content, region and metric; half-open bounds; limits keep
/// the newest; a reversed range is refused.
pub async fn range_filters_and_limits(store: &dyn Store) {
    let batches = frames(6);
    append_all(store, &batches).await;
    let all: Vec<Sample> = batches.concat();
    let (t2, t4) = (batches[2][0].timestamp_ms, batches[4][0].timestamp_ms);
    let pick = |f: &dyn Fn(&Sample) -> bool| sorted(all.iter().filter(|s| f(s)).cloned().collect());
    let probe = &all[7];

    let mut q = RangeQuery::new(SeriesFilter { content: Some(probe.content_id.clone()), region: None }, t2, t4);
    assert_eq!(
        store.range(&q).await.expect("by content"),
        pick(&|s| s.content_id == probe.content_id && (t2..t4).contains(&s.timestamp_ms))
    );
    q.filter = SeriesFilter { content: None, region: Some(probe.region.clone()) };
    assert_eq!(
        store.range(&q).await.expect("by region"),
        pick(&|s| s.region == probe.region && (t2..t4).contains(&s.timestamp_ms))
    );
    q.filter = SeriesFilter::series(&crate::SeriesKey::of(probe, Metric::Viewers));
    let one = store.range(&q).await.expect("one series");
    assert_eq!(one.len(), 2);
    q.limit = Some(1);
    assert_eq!(store.range(&q).await.expect("limit"), one[1..].to_vec());

    let newest = RangeQuery { limit: Some(5), ..RangeQuery::new(SeriesFilter::all(), t2, t4) };
    let all_in_range = pick(&|s| (t2..t4).contains(&s.timestamp_ms));
    assert_eq!(store.range(&newest).await.expect("limit"), all_in_range[all_in_range.len() - 5..].to_vec());

    let e2e = RangeQuery { metric: Some(Metric::E2eLatencyMs), ..RangeQuery::new(SeriesFilter::all(), t2, t4) };
    let live = store.range(&e2e).await.expect("by metric");
    assert_eq!(live, pick(&|s| s.e2e_latency_ms.is_some() && (t2..t4).contains(&s.timestamp_ms)));
    assert!(!live.is_empty(), "the suite's frames hold live titles");
    let few = RangeQuery { limit: Some(3), ..e2e.clone() };
    assert_eq!(store.range(&few).await.expect("metric and limit"), live[live.len() - 3..].to_vec());

    let reversed = RangeQuery::new(SeriesFilter::all(), t4, t2);
    assert!(matches!(store.range(&reversed).await, Err(StoreError::InvalidConfig { field: "to_ms", .. })));
}

/// A stream keeps its newest [`MAX_PER_SERIES`] samples.
pub async fn retention_by_count(store: &dyn Store) {
    let stream = one_series(MAX_PER_SERIES + 50, 1_000_000);
    for chunk in stream.chunks(7) {
        store.append(chunk).await.expect("append");
    }
    store.flush().await.expect("flush");
    let got = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.expect("range");
    assert_eq!(got, stream[50..].to_vec());
}

/// Samples older than [`RETENTION`] behind the newest are dropped.
pub async fn retention_by_age(store: &dyn Store) {
    let window = RETENTION.as_millis() as i64;
    let mut stream = one_series(3, 1_000_000);
    stream[2].timestamp_ms = 1_000_000 + 1_000 + window;
    for s in &stream {
        store.append(std::slice::from_ref(s)).await.expect("append");
    }
    store.flush().await.expect("flush");
    let got = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.expect("range");
    assert_eq!(got, stream[1..].to_vec(), "the sample just inside the window stays");
}

/// A stream silent for longer than [`RETENTION`] behind the newest sample
/// anywhere is gone, while the live one stays.
pub async fn silent_streams_expire(store: &dyn Store) {
    let first = frames(1).remove(0);
    let (silent, live) = (first[0].clone(), first[1].clone());
    store.append(std::slice::from_ref(&silent)).await.expect("append");
    let mut later = live.clone();
    later.timestamp_ms = silent.timestamp_ms + RETENTION.as_millis() as i64 + 1_000;
    store.append(&[live, later.clone()]).await.expect("append");
    store.flush().await.expect("flush");
    let got = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.expect("range");
    assert_eq!(got, vec![later]);
}

/// A late sample takes its place in time order.
pub async fn late_samples_are_ordered(store: &dyn Store) {
    let stream = one_series(4, 5_000_000);
    for i in [3, 0, 2, 1] {
        store.append(std::slice::from_ref(&stream[i])).await.expect("append");
    }
    store.flush().await.expect("flush");
    let got = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.expect("range");
    assert_eq!(got, stream);
}

/// A sample written twice (a replay after a fault) is stored once.
pub async fn duplicates_are_stored_once(store: &dyn Store) {
    let stream = one_series(3, 7_000_000);
    store.append(&stream).await.expect("append");
    store.append(&stream[1..]).await.expect("append again");
    store.flush().await.expect("flush");
    let got = store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX)).await.expect("range");
    assert_eq!(got, stream);
}

/// Buckets hold min, max, mean and count of their samples; empty ones
/// are left out; bad point counts are refused.
pub async fn downsampled_buckets(store: &dyn Store) {
    // latency 0..=59 at 1 s steps, six buckets of 10 s.
    let stream = one_series(60, 0);
    store.append(&stream).await.expect("append");
    store.flush().await.expect("flush");
    let key = crate::SeriesKey::of(&stream[0], Metric::LatencyMs);
    let q = DownsampleQuery {
        filter: SeriesFilter::series(&key),
        metric: Metric::LatencyMs,
        from_ms: 0,
        to_ms: 60_000,
        points: 6,
    };
    let got = store.downsampled(&q).await.expect("downsampled");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].key, key);
    let b = &got[0].buckets;
    assert_eq!(b.len(), 6);
    assert_eq!((b[0].start_ms, b[0].min, b[0].max, b[0].mean, b[0].count), (0, 0.0, 9.0, 4.5, 10));
    assert_eq!((b[5].start_ms, b[5].min, b[5].max, b[5].mean, b[5].count), (50_000, 50.0, 59.0, 54.5, 10));

    let sparse = DownsampleQuery { to_ms: 120_000, points: 12, ..q.clone() };
    assert_eq!(store.downsampled(&sparse).await.expect("sparse")[0].buckets.len(), 6, "empty buckets are left out");

    let zero = DownsampleQuery { points: 0, ..q };
    assert!(matches!(store.downsampled(&zero).await, Err(StoreError::InvalidConfig { field: "points", .. })));
}

/// Downsampling a filter gives one series per stream, sorted by key.
pub async fn downsampled_per_series(store: &dyn Store) {
    let batches = frames(10);
    append_all(store, &batches).await;
    let (from, to) = (batches[0][0].timestamp_ms, batches[9][0].timestamp_ms + 1);
    let region = batches[0][0].region.clone();
    let q = DownsampleQuery {
        filter: SeriesFilter { content: None, region: Some(region.clone()) },
        metric: Metric::Viewers,
        from_ms: from,
        to_ms: to,
        points: 5,
    };
    let got = store.downsampled(&q).await.expect("downsampled");
    let expected_streams = batches[0].iter().filter(|s| s.region == region).count();
    assert_eq!(got.len(), expected_streams);
    assert!(got.windows(2).all(|w| w[0].key < w[1].key));
    for series in &got {
        let count: u32 = series.buckets.iter().map(|b| b.count).sum();
        assert_eq!(count, 10, "{}", series.key);
        assert!(series.buckets.iter().all(|b| b.min <= b.mean && b.mean <= b.max));
    }
}

/// Alerts replace by id and list by state, sorted by id.
pub async fn alerts_round_trip(store: &dyn Store) {
    store.put_alert(&alert("alrt-000002", AlertState::Firing)).await.expect("put");
    store.put_alert(&alert("alrt-000001", AlertState::Pending)).await.expect("put");
    store.put_alert(&alert("alrt-000003", AlertState::Resolved)).await.expect("put");
    store.put_alert(&alert("alrt-000001", AlertState::Firing)).await.expect("put");
    store.flush().await.expect("flush");
    let all = store.alerts(None).await.expect("alerts");
    assert_eq!(
        all,
        vec![
            alert("alrt-000001", AlertState::Firing),
            alert("alrt-000002", AlertState::Firing),
            alert("alrt-000003", AlertState::Resolved)
        ]
    );
    assert_eq!(store.alerts(Some(AlertState::Firing)).await.expect("firing").len(), 2);
    assert!(store.alerts(Some(AlertState::Pending)).await.expect("pending").is_empty());
}

/// Acknowledgements replace by alert id, delete, and list sorted by id.
pub async fn acks_round_trip(store: &dyn Store) {
    let ack = |id: &str, by: &str, at: i64| crate::alert::Ack::new(id, by, at, "on it").expect("valid ack");
    store.put_ack(&ack("alrt-000002", "alice", 1)).await.expect("put");
    store.put_ack(&ack("alrt-000001", "bob", 2)).await.expect("put");
    store.put_ack(&ack("alrt-000002", "carol", 3)).await.expect("put");
    store.put_ack(&ack("alrt-000003", "dave", 4)).await.expect("put");
    store.delete_ack("alrt-000003").await.expect("delete");
    store.delete_ack("alrt-000404").await.expect("deleting what is not there is no error");
    store.flush().await.expect("flush");
    assert_eq!(store.acks().await.expect("acks"), vec![ack("alrt-000001", "bob", 2), ack("alrt-000002", "carol", 3)]);
}

/// Silences replace by id (an expired one comes back with its new end),
/// delete, and list sorted by id.
pub async fn silences_round_trip(store: &dyn Store) {
    use crate::alert::{Matchers, SilenceRequest};
    let silence = |id: &str, region: &str| {
        SilenceRequest {
            matchers: Matchers { region: Some(region.into()), ..Matchers::default() },
            duration_ms: Some(3_600_000),
            author: "alice".into(),
            comment: "maintenance".into(),
            ..SilenceRequest::default()
        }
        .into_silence(id.into(), 1_000)
        .expect("valid silence")
    };
    store.put_silence(&silence("sil-b", "eu-west")).await.expect("put");
    store.put_silence(&silence("sil-a", "us-east")).await.expect("put");
    store.put_silence(&silence("sil-c", "ap-south")).await.expect("put");
    let mut expired = silence("sil-b", "eu-west");
    expired.ends_ms = 2_000;
    store.put_silence(&expired).await.expect("put");
    store.delete_silence("sil-c").await.expect("delete");
    store.flush().await.expect("flush");
    assert_eq!(store.silences().await.expect("silences"), vec![silence("sil-a", "us-east"), expired]);
}

/// A title's latest status change replaces the previous one.
pub async fn content_status_latest_wins(store: &dyn Store) {
    store.put_content_status(&change("live-000002", ContentStatus::Scheduled, 1)).await.expect("put");
    store.put_content_status(&change("live-000001", ContentStatus::PreShow, 2)).await.expect("put");
    store.put_content_status(&change("live-000001", ContentStatus::Live, 3)).await.expect("put");
    store.flush().await.expect("flush");
    let got = store.content_statuses().await.expect("statuses");
    assert_eq!(
        got,
        vec![change("live-000001", ContentStatus::Live, 3), change("live-000002", ContentStatus::Scheduled, 1)]
    );
}

/// A checkpoint reads back as written, the last one under a name wins,
/// and names are kept apart.
pub async fn checkpoints_round_trip(store: &dyn Store) {
    assert_eq!(store.checkpoint("simulator").await.expect("read"), None);
    store.put_checkpoint("simulator", "{\"version\":1}").await.expect("put");
    store.put_checkpoint("simulator", "{\"version\":2,\"é\":\"☃\"}").await.expect("put");
    store.put_checkpoint("other:one", "x").await.expect("put");
    assert_eq!(store.checkpoint("simulator").await.expect("read").as_deref(), Some("{\"version\":2,\"é\":\"☃\"}"));
    assert_eq!(store.checkpoint("other:one").await.expect("read").as_deref(), Some("x"));
    assert_eq!(store.checkpoint("other").await.expect("read"), None);
}

/// Health is ok, counts what was accepted, and nothing is lost or pending.
pub async fn health_counts(store: &dyn Store) {
    let batches = frames(3);
    append_all(store, &batches).await;
    let health = store.health().await;
    assert!(health.ok, "{health:?}");
    assert!(!health.backend.is_empty());
    assert_eq!(health.accepted, 180);
    assert_eq!((health.buffered, health.dropped), (0, 0));
    let counters = store.counters();
    assert_eq!(
        (counters.accepted, counters.buffered, counters.dropped, counters.failed),
        (health.accepted, health.buffered, health.dropped, health.failed),
        "counters agree with the health report"
    );
}

/// Generates one test per case of the suite for a backend.
///
/// `blocking: make` runs each case with [`block_on`] (for stores whose
/// futures are always ready); `tokio: make` makes `#[tokio::test]`s (the
/// calling crate needs tokio with `macros` and `rt-multi-thread`). `make`
/// is an async function returning `(store, guard)`: a fresh empty store
/// with the suite's bounds, and anything to keep alive until the test
/// ends.
#[macro_export]
macro_rules! store_conformance_tests {
    ($mode:ident: $make:expr) => {
        $crate::store_conformance_tests!(@each $mode $make;
            round_trip, ticks_are_newest_first_and_capped, rollups_round_trip_replace_and_expire, range_filters_and_limits, retention_by_count,
            retention_by_age, silent_streams_expire, late_samples_are_ordered, duplicates_are_stored_once,
            downsampled_buckets, downsampled_per_series,
            alerts_round_trip, acks_round_trip, silences_round_trip, content_status_latest_wins, checkpoints_round_trip,
            health_counts);
    };
    (@each $mode:ident $make:expr; $($case:ident),+) => {
        $( $crate::store_conformance_tests!(@one $mode $make; $case); )+
    };
    (@one blocking $make:expr; $case:ident) => {
        #[test]
        fn $case() {
            $crate::store::conformance::block_on(async {
                let (store, _guard) = ($make)().await;
                $crate::store::conformance::$case(&store).await;
            })
        }
    };
    (@one tokio $make:expr; $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (store, _guard) = ($make)().await;
            $crate::store::conformance::$case(&store).await;
        }
    };
}
