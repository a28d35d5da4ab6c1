//! Simulator throughput: samples produced per second on one core.
//!
//! | bench                     | titles | regions | samples / tick | step | incidents      |
//! |---------------------------|--------|---------|----------------|------|----------------|
//! | `simulator/step/48`       | 48     | 10      | 420            | 1 s  | none           |
//! | `simulator/step/1000`     | 1 000  | 10      | 9 190          | 1 s  | none           |
//! | `simulator/step/5000`     | 5 000  | 10      | 45 520         | 1 s  | 6 / h (random) |
//! | `simulator/jsonl/1000`    | 1 000  | 10      | 9 190          | 1 s  | none, + JSON   |
//!
//! Every run uses fixed seeds; the simulator is warmed up for 60 ticks
//! before measuring, so live events and ABR state are in steady motion.
//! Target: at least 1 000 000 samples per second on one core
//! (`docs/PERFORMANCE.md`).
//!
//! Run: `cargo bench -p streammon-benches --bench simulator`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::{Frame, SimConfig, Simulator};

fn simulator(titles: usize, incidents_per_hour: f64) -> (Simulator, Frame) {
    let mut config = SimConfig { seed: 0x5EED, titles, ..SimConfig::default() };
    config.incidents.rate_per_hour = incidents_per_hour;
    let mut sim = Simulator::new(config).expect("valid config");
    let mut frame = Frame::default();
    for _ in 0..60 {
        sim.step(&mut frame);
    }
    (sim, frame)
}

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulator/step");
    for (titles, rate) in [(48, 0.0), (1_000, 0.0), (5_000, 6.0)] {
        let (mut sim, mut frame) = simulator(titles, rate);
        group.throughput(Throughput::Elements(frame.samples.len() as u64));
        group.bench_function(titles.to_string(), |b| {
            b.iter(|| {
                sim.step(&mut frame);
                black_box(frame.samples.len())
            })
        });
    }
    group.finish();
}

fn bench_jsonl(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulator/jsonl");
    let (mut sim, mut frame) = simulator(1_000, 0.0);
    let mut out = Vec::with_capacity(8 << 20);
    group.throughput(Throughput::Elements(frame.samples.len() as u64));
    group.bench_function("1000", |b| {
        b.iter(|| {
            sim.step(&mut frame);
            out.clear();
            for s in &frame.samples {
                serde_json::to_writer(&mut out, s).expect("in-memory write");
                out.push(b'\n');
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_step, bench_jsonl);
criterion_main!(benches);
