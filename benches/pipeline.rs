//! The whole server-side pipeline per tick, as `streammon serve` runs it:
//! simulate → detect, alert and forecast ([`Pipeline`]) → store
//! ([`MemoryStore`]) → publish (JSON encoding, history, live view and
//! Prometheus gauges, without sockets). Throughput is in samples.
//!
//! | bench                      | titles | regions | samples / tick | detector | metrics followed |
//! |----------------------------|--------|---------|----------------|----------|------------------|
//! | `pipeline/tick/200_titles` | 200    | 10      | ~1 900         | `auto`   | 5                |
//! | `pipeline/tick/2000_titles`| 2 000  | 10      | ~19 000        | `auto`   | 5                |
//!
//! The simulator (seed `0x5EED`, 1 s step, random incidents at 6 per hour)
//! runs 300 ticks before measuring, so detectors are past their warm-up
//! and calibration is on, as in the server's defaults
//! ([`PipelineConfig::default`]). Each iteration is one tick, its
//! simulation included: the source is part of the pipeline.
//!
//! Run: `cargo bench -p streammon-benches --bench pipeline`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::pipeline::{Pipeline, PipelineConfig, TickOutput};
use streammon_core::{Frame, MemoryStore, SimConfig, Simulator, Store};
use streammon_http::{AppState, HttpSettings, Ingest, Publisher, Telemetry};

struct Rig {
    sim: Simulator,
    pipeline: Pipeline,
    store: Arc<MemoryStore>,
    publisher: Publisher,
    frame: Frame,
    out: TickOutput,
    rt: tokio::runtime::Runtime,
}

impl Rig {
    fn new(titles: usize) -> Self {
        let mut config = SimConfig { seed: 0x5EED, titles, ..SimConfig::default() };
        config.incidents.rate_per_hour = 6.0;
        let sim = Simulator::new(config).expect("valid config");
        let mut pipeline = Pipeline::new(&PipelineConfig::default()).expect("valid config");
        for region in sim.regions() {
            pipeline.set_capacity(region.id.clone(), region.capacity_gbps * 1_000.0);
        }
        let store = Arc::new(MemoryStore::new());
        let (ingest, _rx) = Ingest::channel(1);
        let state =
            AppState::new(store.clone(), Arc::new(Telemetry::new()), ingest, HttpSettings::default(), "simulator");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let mut rig = Self {
            sim,
            pipeline,
            store,
            publisher: Publisher::new(state, None),
            frame: Frame::default(),
            out: TickOutput::default(),
            rt,
        };
        // `cargo test --benches` runs each bench once, unoptimised: a short
        // warm-up proves the rig works without minutes of debug-build ticks.
        let warm = if std::env::args().any(|a| a == "--bench") { 300 } else { 3 };
        for _ in 0..warm {
            rig.tick();
        }
        rig
    }

    fn tick(&mut self) -> usize {
        self.sim.step(&mut self.frame);
        self.pipeline.process(&self.frame, &mut self.out);
        let store = &self.store;
        let samples = &self.frame.samples;
        self.rt.block_on(async {
            store.append(samples).await.expect("memory store accepts");
        });
        self.publisher.publish(&self.pipeline, &self.out, samples, true);
        samples.len()
    }
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline/tick");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for titles in [200, 2_000] {
        let mut rig = Rig::new(titles);
        let per_tick = rig.frame.samples.len() as u64;
        group.throughput(Throughput::Elements(per_tick));
        group.bench_function(format!("{titles}_titles"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(rig.tick());
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
