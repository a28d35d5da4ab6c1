//! Store throughput: samples written per second and query latency, for
//! the embedded memory store and for Redis.
//!
//! | bench                                  | store  | data held before                      | one iteration                                   |
//! |----------------------------------------|--------|---------------------------------------|-------------------------------------------------|
//! | `store/memory/append/frame`            | memory | 600 frames (≈ 250 000 samples)        | append one frame (≈ 420 samples)                |
//! | `store/memory/range/one_series`        | memory | same                                  | every sample of one stream (600)                |
//! | `store/memory/downsampled/region_100`  | memory | same                                  | one metric of one region's ≈ 42 streams, 100 points each |
//! | `store/memory/rollups/7d_minutes`      | memory | a week of the service's minute roll-ups (10 080) | read them and re-bucket into 1 008 ten-minute buckets (the dashboard's 7d view) |
//! | `store/redis/append_flush/10_frames`   | redis  | 600 frames                            | append 10 frames (≈ 4 200 samples), then flush  |
//! | `store/redis/range/one_series`         | redis  | same                                  | as for memory                                   |
//! | `store/redis/downsampled/region_100`   | redis  | same                                  | as for memory                                   |
//! | `store/redis/rollups/7d_minutes`       | redis  | same week of roll-ups                 | as for memory                                   |
//!
//! Frames come from the simulator with its default catalogue (48 titles,
//! 10 regions, seed `0x5EED`, 1 s steps) and are generated before
//! measuring. Both stores keep 600 samples per stream (ten minutes), so
//! the writes measured also trim, as in steady state; written frames are
//! the next ones of the simulation, cycled and moved forward in time so
//! every write is a new sample. Redis is a
//! `redis-server` the bench starts on a free port (no persistence), or the
//! one `REDIS_URL` names; the bench drives it from a single-threaded tokio
//! runtime, so one core runs the encoder, the flusher and the reads.
//! Under `cargo test` (one iteration each) only 20 frames are loaded.
//!
//! Run: `cargo bench -p streammon-benches --bench store`, and
//! `scripts/bench-redis.sh` for the comparison with `redis-benchmark`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::rollup::{Figure, Resolution, Rollup, RollupQuery, RollupScope, rebucket};
use streammon_core::store::{DownsampleQuery, MemoryConfig, RangeQuery, SeriesFilter};
use streammon_core::{Metric, Sample, SeriesKey, SimConfig, Simulator, Store};
use streammon_redis::{RedisConfig, RedisStore};
use tokio::runtime::Runtime;

fn loaded_frames() -> usize {
    if std::env::args().any(|a| a == "--bench") { 600 } else { 20 }
}

fn frames(n: usize) -> Vec<Vec<Sample>> {
    let mut sim = Simulator::new(SimConfig { seed: 0x5EED, ..SimConfig::default() }).expect("valid config");
    (0..n).map(|_| sim.next_frame().samples).collect()
}

/// A `redis-server` of the bench's own, killed on drop.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn redis() -> (Server, RedisConfig) {
    let prefix = format!("streammon-bench:{}:", std::process::id());
    let base = RedisConfig {
        history_key: format!("{prefix}metrics_history"),
        prefix,
        max_per_series: PER_SERIES,
        ..Default::default()
    };
    if let Some(url) = std::env::var("REDIS_URL").ok().filter(|u| !u.trim().is_empty()) {
        return (Server(None), RedisConfig { url: Some(url), ..base });
    }
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("the store bench needs redis-server on PATH (apt-get install redis-server) or REDIS_URL");
    let server = Server(Some(child));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pong = TcpStream::connect(("127.0.0.1", port)).ok().and_then(|mut s| {
            s.write_all(b"PING\r\n").ok()?;
            let mut buf = [0u8; 8];
            let n = s.read(&mut buf).ok()?;
            Some(buf[..n].starts_with(b"+PONG"))
        });
        if pong == Some(true) {
            break;
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, RedisConfig { url: Some(format!("redis://127.0.0.1:{port}/0")), ..base })
}

fn queries(frames: &[Vec<Sample>]) -> (RangeQuery, DownsampleQuery) {
    let first = &frames[0][0];
    let (from, to) = (first.timestamp_ms, frames.last().unwrap()[0].timestamp_ms + 1);
    let one = RangeQuery::new(SeriesFilter::series(&SeriesKey::of(first, Metric::Viewers)), from, to);
    let region = DownsampleQuery {
        filter: SeriesFilter { content: None, region: Some(first.region.clone()) },
        metric: Metric::BufferingRatio,
        from_ms: from,
        to_ms: to,
        points: 100,
    };
    (one, region)
}

/// Frames after the loaded ones, cycled, each cycle moved forward in time
/// so that every write is a new sample (the copy is made outside the
/// measurement).
fn shifted(frames: Vec<Vec<Sample>>) -> impl FnMut() -> Vec<Sample> {
    let span = frames.last().unwrap()[0].timestamp_ms - frames[0][0].timestamp_ms + 1_000;
    let mut i = 0;
    move || {
        let mut f = frames[i % frames.len()].clone();
        let shift = (i / frames.len()) as i64 * span;
        for s in &mut f {
            s.timestamp_ms += shift;
        }
        i += 1;
        f
    }
}

/// Both stores keep ten minutes per stream at 1 s ticks, so the writes
/// measured trim as they go, as in steady state.
const PER_SERIES: usize = 600;

/// Runs a future that is ready at once (every memory-store future is).
fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("memory store futures are always ready"),
    }
}

fn memory(c: &mut Criterion) {
    let loaded = frames(loaded_frames());
    let extra = frames(loaded.len() + 64).split_off(loaded.len());
    let store = MemoryConfig { max_per_series: PER_SERIES, ..Default::default() }.build().unwrap();
    for f in &loaded {
        ready(store.append(f)).unwrap();
    }
    eprintln!(
        "store/memory: {} samples held; size_of::<Sample>() = {} bytes, so about {:.0} MB",
        store.len(),
        size_of::<Sample>(),
        (store.len() * size_of::<Sample>()) as f64 / 1e6
    );
    let (one, region) = queries(&loaded);
    eprintln!(
        "store/memory: range/one_series returns {} samples, downsampled/region_100 {} series",
        ready(store.range(&one)).unwrap().len(),
        ready(store.downsampled(&region)).unwrap().len()
    );
    let mut g = c.benchmark_group("store/memory");
    g.sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    g.bench_function("range/one_series", |b| b.iter(|| black_box(ready(store.range(&one)).unwrap())));
    g.bench_function("downsampled/region_100", |b| b.iter(|| black_box(ready(store.downsampled(&region)).unwrap())));
    g.throughput(Throughput::Elements(extra[0].len() as u64));
    let mut next = shifted(extra);
    g.bench_function("append/frame", |b| {
        b.iter_batched(&mut next, |f| ready(store.append(&f)).unwrap(), BatchSize::SmallInput)
    });
    g.finish();
}

fn redis_store(c: &mut Criterion) {
    let (_server, config) = redis();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rt: &Runtime = &rt;
    let store = rt.block_on(RedisStore::connect(&config)).expect("connect to the bench's redis");
    let loaded = frames(loaded_frames());
    rt.block_on(async {
        for f in &loaded {
            store.append(f).await.unwrap();
        }
        store.flush().await.unwrap();
    });
    let (one, region) = queries(&loaded);
    eprintln!(
        "store/redis: range/one_series returns {} samples, downsampled/region_100 {} series",
        rt.block_on(store.range(&one)).unwrap().len(),
        rt.block_on(store.downsampled(&region)).unwrap().len()
    );
    let writes: Vec<Vec<Sample>> = frames(loaded.len() + 64).split_off(loaded.len());
    let json: usize = writes[0].iter().map(|s| serde_json::to_string(s).unwrap().len()).sum();
    eprintln!("store/redis: a sample is {} bytes of JSON on average", json / writes[0].len());
    let per_iter = 10;
    let mut g = c.benchmark_group("store/redis");
    g.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    g.bench_function("range/one_series", |b| b.iter(|| black_box(rt.block_on(store.range(&one)).unwrap())));
    g.bench_function("downsampled/region_100", |b| {
        b.iter(|| black_box(rt.block_on(store.downsampled(&region)).unwrap()))
    });
    // Last: the writes move time forward and trim what the queries read.
    g.throughput(Throughput::Elements(writes[..per_iter].iter().map(|f| f.len() as u64).sum()));
    let mut next = shifted(writes);
    g.bench_function("append_flush/10_frames", |b| {
        b.iter_batched(
            || (0..per_iter).map(|_| next()).collect::<Vec<_>>(),
            |batch| {
                rt.block_on(async {
                    for f in &batch {
                        store.append(f).await.unwrap();
                    }
                    store.flush().await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let health = rt.block_on(store.health());
    assert_eq!((health.dropped, health.failed), (0, 0), "{health:?}");
}

/// A week of the service's minute roll-ups, and the query of the
/// dashboard's 7d view over it.
fn week_of_rollups() -> (Vec<Rollup>, RollupQuery) {
    let minute = Resolution::Minute.ms();
    let start = 1_796_000_000_000 / minute * minute;
    let rows: Vec<Rollup> = (0..7 * 24 * 60)
        .map(|i| Rollup {
            scope: RollupScope::Service,
            resolution: Resolution::Minute,
            start_ms: start + i * minute,
            ticks: 60,
            figures: [Figure([123_456.7, 120_000.0, 130_000.0]); 8],
        })
        .collect();
    let query = RollupQuery {
        scope: RollupScope::Service,
        resolution: Resolution::Minute,
        from_ms: start,
        to_ms: start + 7 * 24 * 60 * minute,
    };
    (rows, query)
}

fn rollups_7d(
    store: &dyn Store,
    query: &RollupQuery,
    block: impl Fn(std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Rollup>> + '_>>) -> Vec<Rollup>,
) -> usize {
    let rows = block(Box::pin(async { store.rollups(query).await.unwrap() }));
    rebucket(&rows, Metric::Viewers, query.from_ms, 10 * Resolution::Minute.ms()).len()
}

fn rollups(c: &mut Criterion) {
    let (rows, query) = week_of_rollups();
    let memory = MemoryConfig::default().build().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(memory.append_rollups(&rows)).unwrap();
    let (_server, config) = redis();
    let redis = rt.block_on(RedisStore::connect(&config)).expect("connect to the bench's redis");
    rt.block_on(async {
        redis.append_rollups(&rows).await.unwrap();
        redis.flush().await.unwrap();
    });
    let block = |f: std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Rollup>> + '_>>| rt.block_on(f);
    assert_eq!(rollups_7d(&memory, &query, block), 1_008);
    assert_eq!(rollups_7d(&redis, &query, block), 1_008);
    let mut g = c.benchmark_group("store");
    g.sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function("memory/rollups/7d_minutes", |b| b.iter(|| black_box(rollups_7d(&memory, &query, block))));
    g.bench_function("redis/rollups/7d_minutes", |b| b.iter(|| black_box(rollups_7d(&redis, &query, block))));
    g.finish();
}

criterion_group!(benches, memory, redis_store, rollups);
criterion_main!(benches);
