//! The bounded write buffer between [`Store::append`] and Redis.
//!
//! Callers never wait for Redis: a write is encoded to JSON in the
//! caller's task and queued here, and one background task (the flusher)
//! drains the queue in order. While Redis is away the queue grows, up to
//! its capacity; past it a batch is refused whole, and its samples are
//! counted as dropped, so loss is never silent. The flusher takes a chunk
//! off the front, and only when Redis has taken all of it does it take the
//! next: writes reach Redis in the order they were accepted, whatever
//! happens in between.
//!
//! [`Store::append`]: streammon_core::Store::append

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use streammon_core::StoreError;
use tokio::sync::Notify;

/// One sample, encoded for Redis.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// Its stream's name (see [`Keys::stream_name`](crate::Keys::stream_name)).
    pub(crate) stream: String,
    /// Its timestamp, the score in the stream.
    pub(crate) ts: i64,
    /// The sample as JSON.
    pub(crate) json: String,
}

/// One accepted write.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// A batch of samples, in order.
    Samples(Vec<Encoded>),
    /// One tick's record, for the head of the history list.
    Tick(String),
    /// A roll-up: its sorted set, bucket start, JSON, and how far behind
    /// it older rows are kept.
    Rollup { key: String, start_ms: i64, json: String, retention_ms: i64 },
    /// An alert, replacing any of the same id.
    Alert { id: String, json: String, resolved_ms: Option<i64> },
    /// A title's latest status change.
    Content { id: String, json: String },
    /// An entry of a hash (`acks`, `silences`): set to `json`, or deleted
    /// when `json` is `None`.
    Entry { hash: Hash, id: String, json: Option<String> },
}

/// Which hash an [`Write::Entry`] goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    /// Acknowledgements by alert id.
    Acks,
    /// Silences by id.
    Silences,
}

impl Write {
    /// Its size in buffer units: one per sample, tick, alert or status.
    pub(crate) fn units(&self) -> usize {
        match self {
            Self::Samples(s) => s.len(),
            Self::Tick(_) | Self::Rollup { .. } | Self::Alert { .. } | Self::Content { .. } | Self::Entry { .. } => 1,
        }
    }
}

/// The queue and the counters the health report reads.
#[derive(Debug)]
pub(crate) struct Buffer {
    queue: Mutex<VecDeque<Write>>,
    capacity: usize,
    /// Units queued or being written.
    pending: AtomicUsize,
    pub(crate) accepted: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Wakes the flusher when a write is queued.
    pub(crate) wake: Notify,
    /// Wakes `flush` callers when a chunk has been written.
    pub(crate) drained: Notify,
}

impl Buffer {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            pending: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            wake: Notify::new(),
            drained: Notify::new(),
        }
    }

    /// Units queued or being written.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Whether nothing is queued (writes being written do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// Queues `writes` (the pieces of one caller's batch) whole, or none
    /// of them.
    ///
    /// # Errors
    /// [`StoreError::BufferFull`] when they do not fit; their samples are
    /// counted as dropped.
    pub(crate) fn push(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let units: usize = writes.iter().map(Write::units).sum();
        let samples: usize = writes.iter().filter(|w| matches!(w, Write::Samples(_))).map(Write::units).sum();
        {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if self.pending() + units > self.capacity {
                drop(queue);
                self.dropped.fetch_add(samples as u64, Ordering::Relaxed);
                return Err(StoreError::BufferFull { dropped: samples, capacity: self.capacity });
            }
            queue.extend(writes);
            self.pending.fetch_add(units, Ordering::AcqRel);
        }
        self.accepted.fetch_add(samples as u64, Ordering::Relaxed);
        self.wake.notify_one();
        Ok(())
    }

    /// Takes writes off the front, up to `max_units` (at least one write
    /// when any is queued). They stay counted as pending until
    /// [`done`](Self::done).
    pub(crate) fn take(&self, max_units: usize) -> Vec<Write> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        let mut units = 0;
        while let Some(front) = queue.front() {
            if !out.is_empty() && units + front.units() > max_units {
                break;
            }
            units += front.units();
            out.extend(queue.pop_front());
        }
        out
    }

    /// Marks `units` taken by [`take`](Self::take) as written.
    pub(crate) fn done(&self, units: usize) {
        self.pending.fetch_sub(units, Ordering::AcqRel);
        self.drained.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Write {
        Write::Samples(vec![Encoded { stream: "a:b".into(), ts: 0, json: "{}".into() }; n])
    }

    #[test]
    fn refuses_whole_batches_past_capacity_and_counts_them() {
        let b = Buffer::new(10);
        b.push(vec![samples(6)]).unwrap();
        let err = b.push(vec![samples(3), samples(2)]).unwrap_err();
        assert_eq!(err, StoreError::BufferFull { dropped: 5, capacity: 10 });
        assert_eq!((b.pending(), b.dropped.load(Ordering::Relaxed), b.accepted.load(Ordering::Relaxed)), (6, 5, 6));
        b.push(vec![samples(4)]).unwrap();
        assert_eq!(b.pending(), 10);
    }

    #[test]
    fn takes_in_order_and_keeps_pending_until_done() {
        let b = Buffer::new(100);
        b.push(vec![samples(3), samples(3), samples(3)]).unwrap();
        let first = b.take(5);
        assert_eq!(first.len(), 1, "a second write would pass the chunk size");
        assert_eq!(b.pending(), 9);
        b.done(3);
        assert_eq!(b.take(100).len(), 2);
        b.done(6);
        assert_eq!(b.pending(), 0);
        assert!(b.take(100).is_empty());
    }
}
