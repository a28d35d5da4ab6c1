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
