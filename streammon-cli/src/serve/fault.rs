//! Fault injection for tests: makes the pipeline thread panic, as a bug in
//! a detector would, so that `tests/faults.rs` can pin what the server does
//! then (`/health` 503 at once, exit code 70).
//!
//! Compiled into debug builds only (`cfg(debug_assertions)`), which is what
//! `cargo test` builds and runs; release builds, what operators run, do not
//! contain it, so no environment variable can make a production server
//! panic. A cargo feature would do the same but for one thing: the tests
//! of a binary run the binary as built for them, and a feature only they
//! enable would make `cargo test` without it skip them.
//!
//! `STREAMMON_DEBUG_PANIC_AFTER_TICKS=N` panics in the `N`th live tick
//! (counted from 1), between the tick's summary and its detection.

/// The variable that arms it.
const VAR: &str = "STREAMMON_DEBUG_PANIC_AFTER_TICKS";

/// Counts live ticks and panics in the one the variable names.
#[derive(Debug)]
pub(super) struct PanicAfter {
    at: Option<u64>,
    ticks: u64,
}

impl PanicAfter {
    /// Armed when the variable holds a whole number; else a no-op.
    pub(super) fn from_env() -> Self {
        let at = std::env::var(VAR).ok().and_then(|v| v.trim().parse().ok());
        if let Some(n) = at {
            tracing::warn!(target: "streammon", "fault injection armed: the pipeline panics in live tick {n} ({VAR})");
        }
        Self { at, ticks: 0 }
    }

    /// Counts a live tick; panics in the armed one.
    pub(super) fn tick(&mut self) {
        self.ticks += 1;
        if self.at == Some(self.ticks) {
            panic!("fault injected by {VAR}={}", self.ticks);
        }
    }
}
