//! How the server knows whether its storage is well without waiting on it.
//!
//! Asking the store ([`Store::health`], a `PING` to Redis) can take as long
//! as the backend's response timeout, five seconds by default, when Redis
//! is stalled. So the check is single-flight and cached: at most one is in
//! flight at a time, on a task of its own; its result answers for
//! [`CHECK_TTL`]; a request that starts a check waits for it at most
//! [`CHECK_WAIT`], then answers from what is known; and a check still
//! pending after [`CHECK_STALLED`] is itself the problem reported. The
//! loss counters come from [`Store::counters`], which never waits. So
//! `/health` answers within a few milliseconds whatever Redis does, and
//! reads that can do without the store skip it while it is known down.
//!
//! [`watch`] keeps both fresh on its own schedule: the Prometheus store
//! counters move whether or not anybody asks for `/health`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use streammon_core::{StoreError, StoreHealth};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::state::AppState;

/// How long one check's result answers for.
pub(crate) const CHECK_TTL: Duration = Duration::from_secs(1);
/// Longest a request waits for a check it started.
pub(crate) const CHECK_WAIT: Duration = Duration::from_millis(50);
/// A check pending this long is reported as a problem: the backend does
/// not answer.
pub(crate) const CHECK_STALLED: Duration = Duration::from_millis(250);
/// How often [`watch`] refreshes the storage counters and checks the
/// store.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The last check and the one in flight.
#[derive(Debug, Default)]
struct Checks {
    /// When the last check finished, and what it said.
    last: Option<(Instant, StoreHealth)>,
    /// When the check in flight started.
    pending_since: Option<Instant>,
    /// Checks started, numbering the one in flight.
    started: u64,
}

/// The single-flight, cached storage check. Lives in the [`AppState`].
#[derive(Debug)]
pub(crate) struct Probe {
    checks: Mutex<Checks>,
    /// Bumped when a check finishes.
    finished: watch::Sender<u64>,
}

impl Default for Probe {
    fn default() -> Self {
        Self { checks: Mutex::new(Checks::default()), finished: watch::Sender::new(0) }
    }
}

impl Probe {
    fn lock(&self) -> std::sync::MutexGuard<'_, Checks> {
        self.checks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks check `.1` as no longer in flight when dropped, should its task
/// be cancelled (its runtime shut down) before it finishes: otherwise no
/// check would ever start again.
struct InFlight(AppState, u64);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut checks = self.0.0.probe.lock();
        if checks.started == self.1 {
            checks.pending_since = None;
        }
    }
}

/// Starts a check unless one is in flight or the last is fresh.
fn kick(state: &AppState) {
    let id = {
        let mut checks = state.0.probe.lock();
        let fresh = checks.last.as_ref().is_some_and(|(at, _)| at.elapsed() < CHECK_TTL);
        if fresh || checks.pending_since.is_some() {
            return;
        }
        checks.pending_since = Some(Instant::now());
        checks.started += 1;
        checks.started
    };
    let state = state.clone();
    // Made out here so that it drops with the task even if never polled.
    let in_flight = InFlight(state.clone(), id);
    tokio::spawn(async move {
        let _in_flight = in_flight;
        let health = state.store().health().await;
        state.telemetry().observe_store(&health);
        {
            let mut checks = state.0.probe.lock();
            checks.last = Some((Instant::now(), health));
            checks.pending_since = None;
        }
        state.0.probe.finished.send_modify(|n| *n += 1);
    });
}

/// The storage part of a health report: the last check's verdict (or a
/// problem when a check has been pending for over [`CHECK_STALLED`]), with
/// the counters as they stand now. Waits at most [`CHECK_WAIT`].
pub(crate) async fn report(state: &AppState) -> StoreHealth {
    let mut finished = state.0.probe.finished.subscribe();
    kick(state);
    if state.0.probe.lock().pending_since.is_some() {
        let _ = tokio::time::timeout(CHECK_WAIT, finished.changed()).await;
    }
    current(state)
}

/// What is known now, without waiting.
fn current(state: &AppState) -> StoreHealth {
    let counters = state.store().counters();
    state.telemetry().observe_counters(&counters);
    let checks = state.0.probe.lock();
    let mut health = match &checks.last {
        Some((_, h)) => h.clone(),
        None => StoreHealth {
            backend: "storage".into(),
            ok: true,
            detail: "first check pending".into(),
            buffered: 0,
            dropped: 0,
            accepted: 0,
            failed: 0,
        },
    };
    if let Some(waited) = checks.pending_since.map(|t| t.elapsed()).filter(|w| *w >= CHECK_STALLED) {
        health.ok = false;
        health.detail = format!("no answer to a health check for {} ms", waited.as_millis());
    }
    health.buffered = counters.buffered;
    health.dropped = counters.dropped;
    health.accepted = counters.accepted;
    health.failed = counters.failed;
    health
}

/// Whether the store is known to be failing, or not to answer: reads that
/// can do without it then skip it rather than wait.
pub(crate) fn known_down(state: &AppState) -> bool {
    let checks = state.0.probe.lock();
    let stalled = checks.pending_since.is_some_and(|t| t.elapsed() >= CHECK_STALLED);
    stalled || checks.last.as_ref().is_some_and(|(_, h)| !h.ok)
}

/// For a read that needs the store: a 503 at once (with `Retry-After`)
/// when the store is known down, rather than a wait for its timeout.
///
/// # Errors
/// [`ApiError::Unavailable`] when the store is known down.
pub(crate) fn ensure_up(state: &AppState) -> Result<(), ApiError> {
    if known_down(state) {
        return Err(ApiError::Unavailable(
            "the store is known down: its last health check failed or is pending".into(),
        ));
    }
    Ok(())
}

/// Longest a read that can do without storage waits for it.
pub(crate) const OPTIONAL_READ_BUDGET: Duration = Duration::from_millis(500);

/// A storage read a route can answer without: `None` when the store is
/// known down (not even tried), fails, or takes over
/// [`OPTIONAL_READ_BUDGET`]; the route then answers from memory and says
/// its answer is partial.
///
/// # Errors
/// A query the store refuses as invalid, as a 400.
pub(crate) async fn optional<T>(
    state: &AppState,
    what: &str,
    read: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<Option<T>, ApiError> {
    if known_down(state) {
        return Ok(None);
    }
    match tokio::time::timeout(OPTIONAL_READ_BUDGET, read).await {
        Ok(Ok(value)) => Ok(Some(value)),
        Ok(Err(e @ StoreError::InvalidConfig { .. })) => Err(e.into()),
        Ok(Err(e)) => {
            tracing::warn!(target: "streammon::http", what, error = %e, "storage unreadable: answering from memory");
            Ok(None)
        }
        Err(_) => {
            tracing::warn!(target: "streammon::http", what, budget = ?OPTIONAL_READ_BUDGET, "storage slow: answering from memory");
            Ok(None)
        }
    }
}

/// Keeps the storage figures fresh on their own schedule, every two
/// seconds: exports the store's counters to Prometheus (whether or
/// not anybody asks for `/health`) and starts a check when the last is
/// stale, so that a failing store is known before a request needs it.
/// Runs until the task is dropped or aborted; `streammon serve` spawns it.
pub async fn watch(state: AppState) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        state.telemetry().observe_counters(&state.store().counters());
        if let Some(sink) = state.alert_sink() {
            state.telemetry().observe_delivery(&sink.health());
        }
        kick(&state);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use streammon_core::MemoryStore;

    use super::*;
    use crate::{HttpSettings, Ingest, Telemetry};

    #[tokio::test]
    async fn one_check_answers_for_a_second_however_often_asked() {
        let (ingest, _rx) = Ingest::channel(1);
        let store = Arc::new(MemoryStore::new());
        let state = AppState::new(store, Arc::new(Telemetry::new()), ingest, HttpSettings::default(), "test");
        let first = report(&state).await;
        assert!(first.ok, "{first:?}");
        assert_eq!(first.backend, "memory");
        for _ in 0..20 {
            assert_eq!(report(&state).await, first);
        }
        assert_eq!(state.0.probe.lock().started, 1, "one check, cached");
        assert!(!known_down(&state));
    }
}
