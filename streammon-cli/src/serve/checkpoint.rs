//! The simulator's checkpoints: the loop keeps a copy of its state, a task
//! saves it to the store every `--checkpoint-interval` and the shutdown
//! once more after the last tick, and a restart (or a cluster's new lead)
//! goes on from it with the same simulated world: the same titles, live
//! events in the same phase, the same audiences. A new simulator from the
//! same seed would draw another world, and the detectors, warmed on the
//! last run's samples, would see every live title change at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streammon_core::source::{Pulled, Tick};
use streammon_core::{ContentChange, Sample, SimCheckpoint, SimConfig, Simulator, Source};
use streammon_http::AppState;

use crate::error::CliError;

/// The store's name for the simulator's checkpoint.
pub(super) const NAME: &str = "simulator";

/// The latest checkpoint not yet saved, shared by the source and the saver.
pub(super) type Slot = Arc<Mutex<Option<SimCheckpoint>>>;

/// The simulator as the loop's source: it keeps a copy of its state in
/// `slot` at most every `every` of wall time, and always at the last tick.
pub(super) struct Checkpointed {
    sim: Simulator,
    every: Duration,
    kept: Option<Instant>,
    slot: Slot,
}

impl Checkpointed {
    pub(super) fn new(sim: Simulator, every: Duration, slot: Slot) -> Self {
        Self { sim, every, kept: None, slot }
    }
}

impl Source for Checkpointed {
    fn name(&self) -> &'static str {
        self.sim.name()
    }

    fn clock_ms(&self) -> Option<i64> {
        self.sim.clock_ms()
    }

    fn pull(&mut self, tick: &Tick, samples: &mut Vec<Sample>, changes: &mut Vec<ContentChange>) -> Pulled {
        let pulled = self.sim.pull(tick, samples, changes);
        let last = tick.phase == streammon_core::source::Phase::Final;
        if last || self.kept.is_none_or(|t| t.elapsed() >= self.every) {
            *self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(self.sim.checkpoint());
            self.kept = Some(Instant::now());
        }
        pulled
    }
}

/// Saves what `slot` holds, if anything new. Returns the bytes written.
pub(super) async fn save(state: &AppState, slot: &Slot) -> Result<Option<usize>, String> {
    let Some(checkpoint) = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else {
        return Ok(None);
    };
    let json = serde_json::to_string(&checkpoint).map_err(|e| format!("cannot encode the checkpoint: {e}"))?;
    state.store().put_checkpoint(NAME, &json).await.map_err(|e| e.to_string())?;
    Ok(Some(json.len()))
}

/// Saves the slot every `every` until aborted; a failure is logged (the
/// next restart then draws a new world) and tried again next time.
pub(super) async fn keep_saving(state: AppState, slot: Slot, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticker.tick().await;
        match tokio::time::timeout(Duration::from_secs(10), save(&state, &slot)).await {
            Ok(Ok(_)) => failing = false,
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(target: "streammon", error = %e, "cannot save the simulator's checkpoint");
            }
            Err(_) if !failing => {
                failing = true;
                tracing::warn!(target: "streammon", "saving the simulator's checkpoint took over 10 s");
            }
            _ => {}
        }
    }
}

/// The simulator a restart goes on with after its replay ended at
/// `last_ms`: the stored checkpoint's, caught up to `last_ms`
/// ([`Simulator::resume_at`]); else a new world from `last_ms`, which the
/// log says with why.
pub(super) async fn restore(state: &AppState, config: &SimConfig, last_ms: i64) -> Result<Simulator, CliError> {
    let resumed = match tokio::time::timeout(Duration::from_secs(10), state.store().checkpoint(NAME)).await {
        Ok(Ok(Some(stored))) => serde_json::from_str::<SimCheckpoint>(&stored)
            .map_err(|e| e.to_string())
            .and_then(|c| Simulator::resume_at(config.clone(), c, last_ms).map_err(|e| e.to_string())),
        Ok(Ok(None)) => Err("none is stored".to_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("reading it took over 10 s".to_owned()),
    };
    match resumed {
        Ok(sim) => {
            tracing::info!(target: "streammon", checkpoint_ms = sim.now_ms(), "the simulator goes on from its checkpoint");
            Ok(sim)
        }
        Err(reason) => {
            tracing::warn!(target: "streammon", reason = %reason, "no simulator checkpoint to go on from: a new simulated world goes on from the last tick");
            Ok(Simulator::new(SimConfig { start_ms: last_ms, ..config.clone() })?)
        }
    }
}
