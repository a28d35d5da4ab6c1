//! The store behavioural suite against [`MemoryStore`], plus what only the
//! memory store promises (its bounds and concurrent use from threads).

use std::sync::Arc;

use streammon_core::store::conformance::{self, block_on, frames, one_series};
use streammon_core::store::{MemoryConfig, MemoryStore, RangeQuery, SeriesFilter, Store};

async fn fresh() -> (MemoryStore, ()) {
    (conformance::memory_store(), ())
}

streammon_core::store_conformance_tests!(blocking: fresh);

#[test]
fn concurrent_writers_lose_nothing() {
    let store = Arc::new(MemoryConfig { history_len: 10, ..Default::default() }.build().unwrap());
    let batches = frames(40);
    std::thread::scope(|scope| {
        for part in batches.chunks(10) {
            let store = Arc::clone(&store);
            scope.spawn(move || {
                for b in part {
                    block_on(store.append(b)).unwrap();
                }
            });
        }
    });
    let all = block_on(store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX))).unwrap();
    assert_eq!(all.len(), 40 * 60);
    assert_eq!(block_on(store.health()).accepted, 2400);
}

#[test]
fn streams_are_bounded_in_number_and_silent_ones_expire() {
    let store = MemoryConfig { max_series: 5, ..Default::default() }.build().unwrap();
    let frames = frames(2);
    block_on(store.append(&frames[0])).unwrap();
    // 60 streams offered, at most 5 kept.
    let held = block_on(store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX))).unwrap();
    assert!(held.len() <= 5, "{}", held.len());

    let store = conformance::memory_store();
    block_on(store.append(&frames[0])).unwrap();
    // One stream goes on for longer than the retention window; every
    // other one falls silent and must be swept out.
    let late = one_series(64, frames[0][0].timestamp_ms + conformance::RETENTION.as_millis() as i64 + 1_000);
    for s in late.chunks(1) {
        block_on(store.append(s)).unwrap();
    }
    assert_eq!(store.len(), 64, "only the late stream is left");
}

#[test]
fn zero_bounds_are_refused_by_name() {
    let err = MemoryConfig { max_per_series: 0, ..Default::default() }.build().unwrap_err();
    assert!(err.to_string().contains("max_per_series"), "{err}");
}

#[test]
fn a_stream_stamped_ahead_of_the_clock_does_not_outlive_live_ones() {
    let store = MemoryConfig { max_series: 2, ..Default::default() }.build().unwrap();
    let frame = &frames(1)[0];
    let (ahead, live) = (&frame[0], &frame[1..3]);
    // Written first but stamped a minute ahead: the longest silent by arrival.
    let ahead = streammon_core::Sample { timestamp_ms: ahead.timestamp_ms + 60_000, ..ahead.clone() };
    block_on(store.append(std::slice::from_ref(&ahead))).unwrap();
    for s in live {
        block_on(store.append(std::slice::from_ref(s))).unwrap();
    }
    let held = block_on(store.range(&RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX))).unwrap();
    let kept: Vec<_> = held.iter().map(|s| (s.content_id.as_str(), s.region.as_str())).collect();
    let wanted: Vec<_> = live.iter().map(|s| (s.content_id.as_str(), s.region.as_str())).collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(wanted.iter().all(|w| kept.contains(w)), "evicted a live stream, kept {kept:?}");
}

/// Issue 18: the roll-ups of a scope no longer written (a retired title)
/// go once their newest row is past the retention behind the newest row
/// of any scope; the bound on scopes holds whatever is written.
#[test]
fn rollups_of_a_retired_scope_expire_and_scopes_are_bounded() {
    use streammon_core::rollup::{Figure, Resolution, Rollup, RollupQuery};
    const MINUTE: i64 = 60_000;
    let row = |scope: &str, start_ms: i64| Rollup {
        scope: scope.parse().unwrap(),
        resolution: Resolution::Minute,
        start_ms,
        ticks: 60,
        figures: [Figure([1.0, 1.0, 1.0]); 8],
    };
    let all = |scope: &str| RollupQuery {
        scope: scope.parse().unwrap(),
        resolution: Resolution::Minute,
        from_ms: i64::MIN,
        to_ms: i64::MAX,
    };
    let store = MemoryConfig { max_rollup_scopes: 3, ..Default::default() }.build().unwrap();
    block_on(store.append_rollups(&[row("content:live-000001", 0), row("service", 0)])).unwrap();
    block_on(store.append_rollups(&[row("service", 6 * 24 * 60 * MINUTE)])).unwrap();
    assert_eq!(block_on(store.rollups(&all("content:live-000001"))).unwrap().len(), 1, "within the week");
    block_on(store.append_rollups(&[row("service", 8 * 24 * 60 * MINUTE)])).unwrap();
    assert!(block_on(store.rollups(&all("content:live-000001"))).unwrap().is_empty(), "retired and past the week");

    let t = 8 * 24 * 60 * MINUTE;
    let titles: Vec<Rollup> = (0..10).map(|i| row(&format!("content:vod-{i:06}"), t)).collect();
    block_on(store.append_rollups(&titles)).unwrap();
    let kept =
        (0..10).filter(|i| !block_on(store.rollups(&all(&format!("content:vod-{i:06}")))).unwrap().is_empty()).count();
    // Three scopes at most: the last three written (the service was
    // written before them, and went).
    assert_eq!(kept, 3);
    assert!(block_on(store.rollups(&all("content:vod-000009"))).unwrap().len() == 1);
    assert!(block_on(store.rollups(&all("service"))).unwrap().is_empty());
}
