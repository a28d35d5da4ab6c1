//! Alert engine throughput: samples observed per second on one core, with
//! an evaluation after every frame.
//!
//! | bench                        | titles | regions | samples / frame | rules | state of the service             |
//! |------------------------------|--------|---------|-----------------|-------|----------------------------------|
//! | `alerts/observe/clean`       | 5 000  | 10      | ~45 000         | 10    | healthy, nothing pending         |
//! | `alerts/observe/cdn_incident`| 5 000  | 10      | ~45 000         | 10    | eu-west degraded, alerts firing  |
//!
//! Frames come from the simulator (seed `0x5EED`, 1 s step, warmed up for
//! 60 ticks) and are generated before measuring, so only the engine is
//! timed: four frames are replayed in a cycle with their timestamps moved
//! forward each time. The ten rules are the six recommended ones plus
//! latency, live end-to-end latency, per-title errors and a bandwidth rate of change; the
//! engine is run for two simulated minutes before measuring, so in the
//! incident case the eu-west alerts have fired and hundreds of series are
//! hot. Each iteration observes one whole frame and evaluates once.
//!
//! Run: `cargo bench -p streammon-benches --bench alerts`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::alert::{Dimension, RuleKind};
use streammon_core::{
    AlertConfig, AlertEngine, AlertEvent, Frame, IncidentConfig, Metric, RuleConfig, SimConfig, Simulator, Span,
};

const FRAMES: usize = 4;

fn frames(incident: Option<&str>) -> Vec<Frame> {
    let mut config = SimConfig { seed: 0x5EED, titles: 5_000, ..SimConfig::default() };
    if let Some(script) = incident {
        config.incidents =
            IncidentConfig { scripted: vec![script.parse().expect("valid script")], ..Default::default() };
    }
    let mut sim = Simulator::new(config).expect("valid config");
    let mut frame = Frame::default();
    for _ in 0..60 {
        sim.step(&mut frame);
    }
    (0..FRAMES).map(|_| sim.next_frame()).collect()
}

fn rules() -> AlertConfig {
    let mut rules = AlertConfig::recommended_rules();
    let threshold = |name: &str, metric, above: Option<f64>, below: Option<f64>| RuleConfig {
        metric: Some(metric),
        above,
        below,
        min_viewers: Some(20),
        ..RuleConfig::new(name, RuleKind::Threshold)
    };
    rules.push(threshold("latency_high", Metric::LatencyMs, Some(400.0), None));
    rules.push(threshold("e2e_latency_high", Metric::E2eLatencyMs, Some(40_000.0), None));
    rules.push(RuleConfig {
        group_by: vec![Dimension::Content],
        ..threshold("title_errors", Metric::ErrorRate, Some(0.1), None)
    });
    rules.push(RuleConfig {
        metric: Some(Metric::BandwidthMbps),
        below: Some(-0.8),
        per: Some(Span::from_mins(1)),
        ..RuleConfig::new("egress_collapse", RuleKind::RateOfChange)
    });
    AlertConfig { rules, ..AlertConfig::default() }
}

/// Replays the frames in a cycle with time moving forward.
struct Replay {
    frames: Vec<Frame>,
    next: usize,
    passes: u64,
}

impl Replay {
    fn feed(&mut self, engine: &mut AlertEngine, events: &mut Vec<AlertEvent>) -> usize {
        let frame = &mut self.frames[self.next];
        if self.passes > 0 {
            // Used one cycle ago: move it one cycle on.
            let cycle = FRAMES as i64 * 1_000;
            frame.timestamp_ms += cycle;
            for s in &mut frame.samples {
                s.timestamp_ms += cycle;
            }
        }
        self.next += 1;
        if self.next == FRAMES {
            self.next = 0;
            self.passes += 1;
        }
        for s in &frame.samples {
            engine.observe_sample(s);
        }
        events.clear();
        engine.evaluate(frame.timestamp_ms, events);
        frame.samples.len()
    }
}

fn bench_observe(c: &mut Criterion) {
    let mut group = c.benchmark_group("alerts/observe");
    group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    for (name, incident) in [("clean", None), ("cdn_incident", Some("cdn_degradation:eu-west@1m+1h*1.0"))] {
        let frames = frames(incident);
        let samples = frames[0].samples.len() as u64;
        let mut replay = Replay { frames, next: 0, passes: 0 };
        let mut engine = AlertEngine::new(&rules()).expect("valid rules");
        let mut events = Vec::new();
        for _ in 0..120 {
            replay.feed(&mut engine, &mut events);
        }
        group.throughput(Throughput::Elements(samples));
        group.bench_function(name, |b| b.iter(|| black_box(replay.feed(&mut engine, &mut events))));
        let stats = engine.stats();
        let firing: Vec<_> = engine.active().map(|a| format!("{} {}", a.rule, a.summary)).collect();
        eprintln!("{name}: {stats:?}, active: {firing:#?}");
    }
    group.finish();
}

criterion_group!(benches, bench_observe);
criterion_main!(benches);
