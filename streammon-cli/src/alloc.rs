//! The global allocator, and handing its free pages back to the OS.
//!
//! The server holds per-client buffers that come and go by the thousand.
//! mimalloc gives freed pages back to the OS where glibc's malloc keeps
//! them, and its 2.x line (the `v2` feature) sooner than 3.x. But it does
//! so only as the thread that owns a page goes on allocating: once
//! clients have left, the runtime's workers allocate little, and what the
//! clients used stayed with them (docs/PERFORMANCE.md). So each thread
//! asks mimalloc, now and then, to collect its free pages:
//! [`collect_now_and_then`], when a worker runs out of work and after each
//! tick; and [`wake_idle_workers`] makes sure a worker that has nothing to
//! do still gets to.
//!
//! This is the workspace's one `unsafe` block: mimalloc has no safe
//! binding for it. `.ci/run` fails if unsafe code is allowed anywhere
//! else.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_collect`: frees the calling thread's empty pages,
    /// with `force` also the blocks other threads freed into them, and
    /// hands what is free back to the OS. It is in the mimalloc library
    /// that `libmimalloc-sys` builds and links (declared here rather than
    /// through that crate's `extended` feature, which pulls in one more
    /// crate for its C types).
    fn mi_collect(force: bool);
}

/// How often a thread collects at most.
const EVERY: Duration = Duration::from_secs(1);

/// Has mimalloc collect the calling thread's free pages if it has not in
/// the last second. Cheap to call often: the runtime calls it each time
/// a worker runs out of work (`on_thread_park`), the pipeline after each
/// tick. A collection took 0.2 to 0.5 ms with 10 000 clients connected.
pub(crate) fn collect_now_and_then() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    if LAST.get().is_some_and(|t| now.duration_since(t) < EVERY) {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: `mi_collect` has no preconditions: it may be called at any
    // time from any thread, and it releases only memory the allocator
    // holds free, never a block the program owns.
    unsafe { mi_collect(true) }
}

/// Once a second, has every worker of the runtime run
/// [`collect_now_and_then`]: a worker left idle once the clients have gone
/// would otherwise keep their memory until something woke it (a single
/// request to the server after 10 000 clients had left took its RSS from
/// 339 to 170 MiB). Spawns `workers` tasks at a time from a worker: the
/// runtime wakes a parked worker for a task queued behind another one, so
/// the tasks spread over the workers.
pub(crate) async fn wake_idle_workers(workers: usize) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        for _ in 0..workers {
            tokio::spawn(async { collect_now_and_then() });
        }
    }
}
