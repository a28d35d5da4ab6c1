//! Learned detectors: points scored per second on one core, and state.
//!
//! | bench                                      | call                    | model                       | per iteration      |
//! |--------------------------------------------|-------------------------|-----------------------------|--------------------|
//! | `ml/isolation_forest/score/{32,48,64,100}` | `update`, one at a time | trees as named, fixed       | 1 024 vectors of 5 |
//! | `ml/isolation_forest/batch/48`             | `update_batch`          | 48 trees, fixed             | 1 024 vectors of 5 |
//! | `ml/isolation_forest/update/48`            | `update`, one at a time | defaults, refit every 128   | 1 024 vectors of 5 |
//! | `ml/isolation_forest/refit/48`             | `update` that refits    | defaults, `retrain_every` 1 | 1 vector           |
//! | `ml/kmeans/score/8`                        | `update`, one at a time | k = 8, window 4, fixed      | 1 024 vectors of 5 |
//! | `ml/kmeans/update/8`                       | `update`, one at a time | defaults, refit every 128   | 1 024 vectors of 5 |
//! | `ml/kmeans/refit/8`                        | `update` that refits    | defaults, `retrain_every` 1 | 1 vector           |
//!
//! Input: one video title in `eu-west` from the simulator (seed `0x5EED`,
//! 8 titles, 1 s step, no incidents): latency, buffering ratio, bitrate,
//! error rate and startup time, 8 192 ticks, replayed in a loop. Detector
//! seeds are fixed. "Fixed" models are trained once, on the first 512
//! vectors for the forest (`min_samples` = `window` = 512) and the first
//! 256 for k-means (its `buffer`), and never refit (`retrain_every` huge),
//! so the bench measures scoring alone. `state_bytes` of each detector is
//! printed once.
//!
//! Target: at least 1 000 000 points per second scoring one at a time
//! (`docs/ML_DETECTORS.md`).
//!
//! Run: `cargo bench -p streammon-benches --bench ml_detectors`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::detect::{IsolationForestConfig, KMeansConfig};
use streammon_core::{ContentType, Frame, Metric, SimConfig, Simulator, VectorDetector};

const METRICS: [Metric; 5] =
    [Metric::LatencyMs, Metric::BufferingRatio, Metric::BitrateKbps, Metric::ErrorRate, Metric::StartupTimeMs];
const TICKS: usize = 8192;
const PER_ITER: usize = 1024;
const NEVER: usize = usize::MAX / 2;

fn stream() -> Vec<[f64; 5]> {
    let mut sim = Simulator::new(SimConfig { seed: 0x5EED, titles: 8, ..SimConfig::default() }).expect("valid config");
    let mut frame = Frame::default();
    let mut title = None;
    let mut out = Vec::with_capacity(TICKS);
    for _ in 0..TICKS {
        sim.step(&mut frame);
        let title = title.get_or_insert_with(|| {
            frame
                .samples
                .iter()
                .find(|s| s.content_type == ContentType::Video)
                .expect("a video title")
                .content_id
                .clone()
        });
        if let Some(s) = frame.samples.iter().find(|s| &s.content_id == title && s.region.as_str() == "eu-west") {
            out.push(METRICS.map(|m| s.get(m).unwrap_or(0.0)));
        }
    }
    out
}

fn fixed_forest(trees: usize) -> IsolationForestConfig {
    IsolationForestConfig { trees, min_samples: 512, retrain_every: NEVER, seed: 1, ..Default::default() }
}

/// Warms a detector on the first 512 vectors.
fn warm<D: VectorDetector>(mut d: D, data: &[[f64; 5]]) -> D {
    for (i, v) in data[..512].iter().enumerate() {
        d.update(i as i64, v);
    }
    d
}

/// Benches `update` one point at a time, replaying `data` in a loop.
fn bench_update<D: VectorDetector>(c: &mut Criterion, group: &str, name: &str, mut d: D, data: &[[f64; 5]]) {
    println!("state_bytes {group}/{name}: {}", d.state_bytes());
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(PER_ITER as u64));
    let mut at = 512;
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for _ in 0..PER_ITER {
                at = if at + 1 < data.len() { at + 1 } else { 512 };
                sum += d.update(at as i64, &data[at]).0.score;
            }
            black_box(sum)
        })
    });
    g.finish();
}

fn isolation_forest(c: &mut Criterion) {
    let data = stream();
    for trees in [32, 48, 64, 100] {
        let d = warm(fixed_forest(trees).build().expect("valid"), &data);
        bench_update(c, "ml/isolation_forest/score", &trees.to_string(), d, &data);
    }

    let mut d = warm(fixed_forest(48).build().expect("valid"), &data);
    let rows: Vec<f64> = data[512..512 + PER_ITER].iter().flatten().copied().collect();
    let mut out = Vec::with_capacity(PER_ITER);
    let mut g = c.benchmark_group("ml/isolation_forest/batch");
    g.throughput(Throughput::Elements(PER_ITER as u64));
    g.bench_function("48", |b| {
        b.iter(|| {
            out.clear();
            d.update_batch(&rows, &mut out);
            black_box(out.len())
        })
    });
    g.finish();

    let d = warm(IsolationForestConfig { seed: 1, ..Default::default() }.build().expect("valid"), &data);
    bench_update(c, "ml/isolation_forest/update", "48", d, &data);

    let d =
        warm(IsolationForestConfig { retrain_every: 1, seed: 1, ..Default::default() }.build().expect("valid"), &data);
    bench_refit(c, "ml/isolation_forest/refit", "48", d, &data);
}

/// Benches an `update` that refits every time.
fn bench_refit<D: VectorDetector>(c: &mut Criterion, group: &str, name: &str, mut d: D, data: &[[f64; 5]]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    let mut at = 512;
    g.bench_function(name, |b| {
        b.iter(|| {
            at = if at + 1 < data.len() { at + 1 } else { 512 };
            black_box(d.update(at as i64, &data[at]))
        })
    });
    g.finish();
}

fn kmeans(c: &mut Criterion) {
    let data = stream();
    let fixed = KMeansConfig { min_samples: 256, retrain_every: NEVER, seed: 1, ..Default::default() };
    bench_update(c, "ml/kmeans/score", "8", warm(fixed.build().expect("valid"), &data), &data);
    let d = warm(KMeansConfig { seed: 1, ..Default::default() }.build().expect("valid"), &data);
    bench_update(c, "ml/kmeans/update", "8", d, &data);
    let d = warm(KMeansConfig { retrain_every: 1, seed: 1, ..Default::default() }.build().expect("valid"), &data);
    bench_refit(c, "ml/kmeans/refit", "8", d, &data);
}

criterion_group!(benches, isolation_forest, kmeans);
criterion_main!(benches);
