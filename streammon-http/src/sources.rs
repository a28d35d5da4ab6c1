//! The transport's [`Source`]s: the queue of samples clients push
//! (`POST /metrics`, Socket.IO `metric_update`) and the CMCD collector.
//! The serve loop asks them once per tick, beside the simulator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use streammon_core::source::{Phase, Pulled, Source, Tick};
use streammon_core::{ContentChange, Sample};
use tokio::sync::mpsc;

use crate::cmcd::CmcdIngest;

/// The pipeline's end of the [`Ingest`](crate::Ingest) queue: client
/// batches join the next tick, in the order they were accepted.
#[derive(Debug)]
pub struct ClientQueue {
    rx: mpsc::Receiver<Vec<Sample>>,
}

impl ClientQueue {
    /// The source reading `rx` (from [`Ingest::channel`](crate::Ingest::channel)).
    pub fn new(rx: mpsc::Receiver<Vec<Sample>>) -> Self {
        Self { rx }
    }

    /// Closes the queue of a pipeline that died and counts the accepted
    /// batches it leaves behind: they are lost. Returns (batches, samples).
    pub fn abandon(&mut self) -> (u64, u64) {
        self.rx.close();
        let (mut batches, mut samples) = (0u64, 0u64);
        while let Ok(batch) = self.rx.try_recv() {
            batches += 1;
            samples += batch.len() as u64;
        }
        (batches, samples)
    }
}

impl Source for ClientQueue {
    fn name(&self) -> &'static str {
        "client"
    }

    /// The batches queued now; at [`Phase::Final`], every batch ever
    /// accepted. Closing refuses new batches (senders see the queue closed
    /// and answer 503), then waits out any send that took its slot before
    /// the close: after it, nothing accepted is left in the queue.
    fn pull(&mut self, tick: &Tick, samples: &mut Vec<Sample>, _: &mut Vec<ContentChange>) -> Pulled {
        let closing = tick.phase == Phase::Final;
        if closing {
            self.rx.close();
        }
        let mut pulled = Pulled::default();
        // A send in flight holds its slot for a few instructions; a second
        // is far more than it needs, and bounds the wait should one never
        // come.
        let give_up = Instant::now() + Duration::from_secs(1);
        loop {
            while let Ok(batch) = self.rx.try_recv() {
                pulled.batches += 1;
                pulled.samples += batch.len() as u64;
                samples.extend(batch);
            }
            // A slot is free again only once its batch is received.
            if !closing || self.rx.capacity() == self.rx.max_capacity() || Instant::now() > give_up {
                return pulled;
            }
            std::thread::yield_now();
        }
    }
}

/// The CMCD collector as a source: each live tick rolls its sessions up;
/// the final one also closes it to further reports. It gives nothing
/// while history is backfilled (its sessions are live).
#[derive(Debug, Clone)]
pub struct CmcdSource(Arc<CmcdIngest>);

impl CmcdSource {
    /// The source over `ingest`, which the routes keep feeding.
    pub fn new(ingest: Arc<CmcdIngest>) -> Self {
        Self(ingest)
    }
}

impl Source for CmcdSource {
    fn name(&self) -> &'static str {
        "cmcd"
    }

    fn pull(&mut self, tick: &Tick, samples: &mut Vec<Sample>, changes: &mut Vec<ContentChange>) -> Pulled {
        let before = samples.len();
        match tick.phase {
            Phase::Backfill => {}
            Phase::Live => self.0.tick(tick.end_ms, tick.interval_ms, samples, changes),
            Phase::Final => self.0.close_and_tick(tick.end_ms, tick.interval_ms, samples, changes),
        }
        Pulled { samples: (samples.len() - before) as u64, batches: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        streammon_core::Simulator::new(streammon_core::SimConfig::default()).unwrap().next_frame().samples[0].clone()
    }

    #[test]
    fn the_queue_hands_over_batches_in_order_and_closes_at_the_end() {
        let (ingest, rx) = crate::Ingest::channel(4);
        let mut queue = ClientQueue::new(rx);
        let s = sample();
        assert!(ingest.offer(vec![s.clone(), s.clone()]));
        assert!(ingest.offer(vec![s.clone()]));
        let (mut samples, mut changes) = (Vec::new(), Vec::new());
        let live = Tick { end_ms: 1_000, interval_ms: 1_000, phase: Phase::Live };
        assert_eq!(queue.pull(&live, &mut samples, &mut changes), Pulled { samples: 3, batches: 2 });
        assert!(ingest.offer(vec![s.clone()]));
        let last = Tick { phase: Phase::Final, ..live };
        assert_eq!(queue.pull(&last, &mut samples, &mut changes), Pulled { samples: 1, batches: 1 });
        assert_eq!(samples.len(), 4);
        assert!(!ingest.offer(vec![s]), "closed after the final tick");
        assert_eq!(queue.abandon(), (0, 0));
    }
}
