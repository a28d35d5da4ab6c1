//! Where a tick's samples come from: the [`Source`] seam.
//!
//! A server's loop runs one tick per step. Each tick it asks every source
//! for what it holds for that tick, in order, then rolls the samples up
//! and judges them. The simulator is a source ([`Simulator`] implements
//! the trait here); so are the adapters' collectors: the CMCD collector,
//! the queue of samples clients push, and a consumer of Redis Streams.
//! Adding a source is implementing [`Source`] and handing it to the loop.
//!
//! ```
//! use streammon_core::source::{Phase, Source, Tick};
//! use streammon_core::{SimConfig, Simulator};
//!
//! let mut sim = Simulator::new(SimConfig { titles: 4, ..SimConfig::default() })?;
//! let tick = Tick { end_ms: sim.now_ms() + 1_000, interval_ms: 1_000, phase: Phase::Live };
//! let (mut samples, mut changes) = (Vec::new(), Vec::new());
//! let pulled = sim.pull(&tick, &mut samples, &mut changes);
//! assert_eq!(pulled.samples as usize, samples.len());
//! assert!(samples.iter().all(|s| s.timestamp_ms == tick.end_ms));
//! # Ok::<(), streammon_core::Error>(())
//! ```

use crate::content::ContentChange;
use crate::sample::Sample;
use crate::simulator::{Frame, Simulator};

/// Why a tick runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// History made at full speed before the loop goes live (a backfill):
    /// only sources that can make history (the simulator) give samples.
    Backfill,
    /// A live tick, paced to the wall clock.
    Live,
    /// The last tick, at shutdown: every source hands over all it accepted
    /// and accepts nothing more.
    Final,
}

/// The tick a [`Source`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// End of the tick, epoch milliseconds.
    pub end_ms: i64,
    /// Its length, milliseconds.
    pub interval_ms: u32,
    /// Why it runs.
    pub phase: Phase,
}

impl Tick {
    /// Whether this is a live or the final tick (not a backfill).
    pub fn is_live(&self) -> bool {
        self.phase != Phase::Backfill
    }
}

/// What one [`Source::pull`] gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Samples added.
    pub samples: u64,
    /// Batches they came in, for sources that take batches (the client
    /// queue); 0 for others.
    pub batches: u64,
}

/// A source of samples and title changes, asked once per tick.
///
/// `pull` runs on the tick's thread between two ticks: it must not wait
/// on I/O, only hand over what it already holds. A source that keeps its
/// own clock (the simulator) says so with [`clock_ms`](Self::clock_ms),
/// and the loop starts its ticks there.
pub trait Source: Send {
    /// A short name: the `source` label of the ingest counters
    /// (`simulator`, `cmcd`, `client`, `stream`).
    fn name(&self) -> &'static str;

    /// Where this source's clock stands (the end of its last tick, epoch
    /// ms), when it keeps one; the loop starts from the first source that
    /// does, else from the wall clock.
    fn clock_ms(&self) -> Option<i64> {
        None
    }

    /// Appends the samples and title changes it holds for `tick`.
    fn pull(&mut self, tick: &Tick, samples: &mut Vec<Sample>, changes: &mut Vec<ContentChange>) -> Pulled;
}

impl Source for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn clock_ms(&self) -> Option<i64> {
        Some(self.now_ms())
    }

    /// One simulated step, whatever the phase: the simulator makes
    /// history as well as live data. Its samples are stamped with its own
    /// clock, which advances by its step (the loop's tick length).
    fn pull(&mut self, _tick: &Tick, samples: &mut Vec<Sample>, changes: &mut Vec<ContentChange>) -> Pulled {
        let mut frame = Frame::default();
        self.step(&mut frame);
        let added = frame.samples.len();
        samples.append(&mut frame.samples);
        changes.append(&mut frame.changes);
        Pulled { samples: added as u64, batches: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::SimConfig;

    #[test]
    fn the_simulator_keeps_what_earlier_sources_gave_and_steps_its_clock() {
        let mut sim = Simulator::new(SimConfig { titles: 3, ..SimConfig::default() }).unwrap();
        let mut twin = Simulator::new(SimConfig { titles: 3, ..SimConfig::default() }).unwrap();
        let start = sim.clock_ms().unwrap();
        let tick = Tick { end_ms: start + 1_000, interval_ms: 1_000, phase: Phase::Backfill };
        let earlier = twin.next_frame().samples[0].clone();
        let (mut samples, mut changes) = (vec![earlier.clone()], Vec::new());
        let pulled = sim.pull(&tick, &mut samples, &mut changes);
        assert_eq!(samples[0], earlier, "what was there stays first");
        assert_eq!(pulled.samples as usize, samples.len() - 1);
        assert_eq!(
            &samples[1..],
            &Simulator::new(SimConfig { titles: 3, ..SimConfig::default() }).unwrap().next_frame().samples[..]
        );
        assert_eq!(sim.clock_ms(), Some(start + 1_000));
        assert!(!tick.is_live());
    }
}
