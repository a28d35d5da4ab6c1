//! `limit` is applied while reading: a range asking for one sample out of
//! tens of thousands allocates for one, not for all of them and then drops
//! the rest (as the memory store did at commit 4fb28e1).
//!
//! A binary of its own, with one test, so that the counting allocator sees
//! nothing but this test's allocations. Counting needs a `GlobalAlloc`
//! impl, which is unsafe to write: this test file is the second place the
//! workspace lets unsafe code in (`.ci/run` names both).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use streammon_core::store::conformance::{block_on, frames};
use streammon_core::store::{MemoryConfig, RangeQuery, SeriesFilter, Store};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only
// adds the sizes it is asked for.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, that is from System.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn a_small_limit_reads_without_copying_the_whole_range() {
    let store = MemoryConfig { max_per_series: 10_000, ..Default::default() }.build().unwrap();
    let batches = frames(500);
    for b in &batches {
        block_on(store.append(b)).unwrap();
    }
    let held: usize = batches.iter().map(Vec::len).sum();
    assert!(held >= 20_000, "{held}");
    let query = RangeQuery { limit: Some(1), ..RangeQuery::new(SeriesFilter::all(), i64::MIN, i64::MAX) };

    let before = ALLOCATED.load(Ordering::Relaxed);
    let one = block_on(store.range(&query)).unwrap();
    let allocated = ALLOCATED.load(Ordering::Relaxed) - before;

    assert_eq!(one.len(), 1);
    assert_eq!(one[0].timestamp_ms, batches.last().unwrap()[0].timestamp_ms, "the newest sample");
    // One sample is a few hundred bytes; every match would be megabytes.
    let sample = std::mem::size_of::<streammon_core::Sample>();
    assert!(allocated < 64 * sample, "{allocated} bytes allocated to return one {sample}-byte sample out of {held}");
}
