//! The flusher: the one task that writes the buffer to Redis.
//!
//! It takes chunks of up to `batch_size` writes off the front of the
//! [`Buffer`] and sends each as one pipeline (see [`build_batch`]),
//! retrying a chunk until Redis takes it, so writes reach Redis in the
//! order they were accepted. When the buffer drains it trims every stream
//! written since its last trim before the last chunk counts as written:
//! once [`Store::flush`](streammon_core::Store::flush) returns, every
//! stream is within its bounds exactly. Maintenance (deleting silent
//! streams and old resolved alerts) runs when an alert resolves, every 64
//! chunks, and on draining once time has moved a sixteenth of the
//! retention window since it last ran: a silent stream goes at most that
//! much later than the window says.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Pipeline, RedisResult, Value};

use crate::buffer::{Buffer, Encoded, Hash, Write};
use crate::config::Settings;

/// What the store and its flusher share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) buffer: Buffer,
    /// Newest sample timestamp accepted: retention is measured back from it.
    pub(crate) newest_ms: AtomicI64,
    /// The flusher's last outcome: `None` when its last write succeeded.
    pub(crate) last_error: Mutex<Option<String>>,
    /// The last write Redis refused for good, naming the key. Sticky: the
    /// foreign data that caused it is still there.
    pub(crate) refused: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    pub(crate) fn error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn refusal(&self) -> Option<String> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One pipeline of writes, and the key of each of its commands (to name
/// the key when Redis refuses one).
#[derive(Default)]
struct Batch {
    pipe: Pipeline,
    keys: Vec<String>,
}

impl Batch {
    fn cmd(&mut self, name: &str, key: &str) -> &mut Pipeline {
        self.keys.push(key.to_owned());
        self.pipe.cmd(name).arg(key)
    }
}

/// Added to a roll-up key's retention for its expiry: an hour, so a key is
/// never dropped while its scope is still written.
const ROLLUP_EXPIRY_SLACK_MS: i64 = 3_600_000;

fn build_batch(writes: &[Write], s: &Settings, newest_ms: i64, dirty: &mut HashMap<String, usize>) -> Batch {
    let k = &s.keys;
    let mut b = Batch::default();
    b.pipe.ignore_errors();
    let mut history: Vec<&str> = Vec::new();
    let mut streams: BTreeMap<&str, Vec<&Encoded>> = BTreeMap::new();
    for w in writes {
        match w {
            Write::Samples(samples) => {
                for e in samples {
                    streams.entry(&e.stream).or_default().push(e);
                }
            }
            Write::Tick(json) => history.push(json),
            Write::Rollup { key, start_ms, json, retention_ms } => {
                // One row per bucket: a bucket written again replaces.
                b.cmd("ZREMRANGEBYSCORE", key).arg(start_ms).arg(start_ms);
                b.cmd("ZADD", key).arg(start_ms).arg(json);
                b.cmd("ZREMRANGEBYSCORE", key).arg("-inf").arg(format!("({}", start_ms.saturating_sub(*retention_ms)));
                // A scope no longer written (a retired title) goes with its
                // retention, rather than staying for good.
                b.cmd("PEXPIRE", key).arg(retention_ms.saturating_add(ROLLUP_EXPIRY_SLACK_MS));
            }
            Write::Alert { id, json, resolved_ms } => {
                b.cmd("HSET", k.alerts()).arg(id).arg(json);
                match resolved_ms {
                    Some(at) => b.cmd("ZADD", k.resolved_alerts()).arg(at).arg(id),
                    None => b.cmd("ZREM", k.resolved_alerts()).arg(id),
                };
            }
            Write::Content { id, json } => {
                b.cmd("HSET", k.content()).arg(id).arg(json);
            }
            Write::Entry { hash, id, json } => {
                let key = match hash {
                    Hash::Acks => k.acks(),
                    Hash::Silences => k.silences(),
                };
                match json {
                    Some(json) => b.cmd("HSET", key).arg(id).arg(json),
                    None => b.cmd("HDEL", key).arg(id),
                };
            }
        }
    }
    if !history.is_empty() {
        // LPUSH of many values leaves the last one at the head: newest first.
        b.cmd("LPUSH", k.history()).arg(&history);
        b.cmd("LTRIM", k.history()).arg(0).arg(s.history_len - 1);
    }
    // The chunk's own samples count too: the flusher may take a write
    // before `append` has published its timestamp.
    let newest_ms = streams.values().flatten().map(|e| e.ts).fold(newest_ms, i64::max);
    let mut index = Vec::with_capacity(streams.len());
    for (name, samples) in streams {
        let key = k.stream(name);
        let cmd = b.cmd("ZADD", &key);
        for e in &samples {
            cmd.arg(e.ts).arg(&e.json);
        }
        let written = dirty.entry(name.to_owned()).or_default();
        *written += samples.len();
        if *written >= trim_every(s) {
            dirty.remove(name);
            trim(&mut b, s, newest_ms, name);
        }
        index.push((samples.iter().map(|e| e.ts).max().unwrap_or(i64::MIN), name));
    }
    if !index.is_empty() {
        let cmd = b.cmd("ZADD", k.streams()).arg("GT");
        for (ts, name) in index {
            cmd.arg(ts).arg(name);
        }
    }
    b
}

/// Writes to a stream between two trims of it, about a sixteenth of its
/// bound: trimming is approximate under load (a stream may hold up to
/// that many samples too many, like `XADD MAXLEN ~`) and exact once the
/// buffer is drained (see [`trim_batch`]).
fn trim_every(s: &Settings) -> usize {
    (s.max_per_series / 16).max(1)
}

/// Trims one stream to its bound and to the retention window.
fn trim(b: &mut Batch, s: &Settings, newest_ms: i64, name: &str) {
    let key = s.keys.stream(name);
    let cutoff = newest_ms.saturating_sub(s.retention_ms);
    b.cmd("ZREMRANGEBYSCORE", &key).arg("-inf").arg(format!("({cutoff}"));
    b.cmd("ZREMRANGEBYRANK", &key).arg(0).arg(-(s.max_per_series as i64) - 1);
}

/// Trims every stream written since its last trim: sent when the buffer
/// is drained, so that once [`flush`](Store::flush) returns every stream
/// is within its bounds exactly.
fn trim_batch(dirty: &mut HashMap<String, usize>, s: &Settings, newest_ms: i64) -> Batch {
    let mut b = Batch::default();
    b.pipe.ignore_errors();
    for (name, _) in dirty.drain() {
        trim(&mut b, s, newest_ms, &name);
    }
    b
}

/// Whether a failed write may succeed if sent again: anything but Redis
/// refusing the command itself (wrong type, bad argument).
fn is_transient(e: &redis::RedisError) -> bool {
    !matches!(e.code(), Some("WRONGTYPE" | "ERR"))
}

async fn write_chunk(conn: &mut ConnectionManager, batch: &Batch) -> RedisResult<Vec<(String, redis::RedisError)>> {
    let replies: Vec<RedisResult<Value>> = batch.pipe.query_async(conn).await?;
    let mut refused = Vec::new();
    for (reply, key) in replies.into_iter().zip(&batch.keys) {
        if let Err(e) = reply {
            if is_transient(&e) {
                return Err(e);
            }
            refused.push((key.clone(), e));
        }
    }
    Ok(refused)
}

/// The flusher: drains the buffer in order, retrying a chunk until Redis
/// takes it, so nothing accepted is lost while the process lives.
pub(crate) async fn flush_loop(shared: Arc<Shared>, mut conn: ConnectionManager) {
    let s = &shared.settings;
    let mut chunks: u64 = 0;
    let mut maintained_at = i64::MIN;
    // Streams written since their last trim, and how many samples.
    let mut dirty: HashMap<String, usize> = HashMap::new();
    loop {
        let writes = shared.buffer.take(s.batch_size);
        if writes.is_empty() {
            shared.buffer.wake.notified().await;
            continue;
        }
        let units: usize = writes.iter().map(Write::units).sum();
        let batch = build_batch(&writes, s, shared.newest_ms.load(Ordering::Acquire), &mut dirty);
        if !send(&shared, &mut conn, &batch).await {
            shared.buffer.failed.fetch_add(units as u64, Ordering::Relaxed);
        }
        // When the buffer drains, bring everything within its bounds
        // before the chunk counts as written, so that after `flush` they
        // hold exactly.
        let drained = shared.buffer.is_empty();
        if drained && !dirty.is_empty() {
            let trims = trim_batch(&mut dirty, s, shared.newest_ms.load(Ordering::Acquire));
            send(&shared, &mut conn, &trims).await;
        }
        chunks += 1;
        let resolved = writes.iter().any(|w| matches!(w, Write::Alert { resolved_ms: Some(_), .. }));
        // Streams only fall silent as time moves on: when drained, look for
        // them once time has moved a sixteenth of the retention window.
        let newest = shared.newest_ms.load(Ordering::Acquire);
        let moved = newest.saturating_sub(maintained_at) >= s.retention_ms / 16;
        if resolved || chunks.is_multiple_of(64) || (drained && moved) {
            match maintain(&shared, &mut conn).await {
                Ok(()) => maintained_at = newest,
                Err(e) => shared.set_error(Some(format!("maintenance failed: {e}"))),
            }
        }
        shared.buffer.done(units);
    }
}

/// Sends one pipeline, retrying with backoff until Redis takes it; false
/// when Redis refused part of it for good (foreign data under one of our
/// keys), which is recorded naming the key: retrying would block every
/// write behind it.
async fn send(shared: &Shared, conn: &mut ConnectionManager, batch: &Batch) -> bool {
    let mut backoff = Duration::from_millis(10);
    loop {
        match write_chunk(conn, batch).await {
            Ok(refused) => {
                shared.set_error(None);
                let Some((key, e)) = refused.first() else { return true };
                *shared.refused.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(format!("write refused under key `{key}`: {e}"));
                return false;
            }
            Err(e) => {
                shared.set_error(Some(format!("write failed, retrying: {e}")));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Deletes streams silent for longer than the retention window and the
/// oldest resolved alerts past their bound.
async fn maintain(shared: &Shared, conn: &mut ConnectionManager) -> RedisResult<()> {
    let s = &shared.settings;
    let k = &s.keys;
    let cutoff = shared.newest_ms.load(Ordering::Acquire).saturating_sub(s.retention_ms);
    let (stale, resolved): (Vec<String>, usize) = redis::pipe()
        .cmd("ZRANGEBYSCORE")
        .arg(k.streams())
        .arg("-inf")
        .arg(format!("({cutoff}"))
        .cmd("ZCARD")
        .arg(k.resolved_alerts())
        .query_async(conn)
        .await?;
    if !stale.is_empty() {
        let mut pipe = redis::pipe();
        for name in &stale {
            pipe.cmd("DEL").arg(k.stream(name)).ignore();
        }
        pipe.cmd("ZREM").arg(k.streams()).arg(&stale).ignore();
        pipe.exec_async(conn).await?;
    }
    if resolved > s.max_resolved_alerts {
        let excess = resolved - s.max_resolved_alerts;
        let ids: Vec<String> =
            redis::cmd("ZRANGE").arg(k.resolved_alerts()).arg(0).arg(excess - 1).query_async(conn).await?;
        if !ids.is_empty() {
            redis::pipe()
                .cmd("HDEL")
                .arg(k.alerts())
                .arg(&ids)
                .ignore()
                .cmd("ZREM")
                .arg(k.resolved_alerts())
                .arg(&ids)
                .ignore()
                .exec_async(conn)
                .await?;
        }
    }
    Ok(())
}
