//! Univariate detectors: points per second on one core, and bytes of
//! state per series.
//!
//! | bench                        | input                                              | points / iteration |
//! |------------------------------|----------------------------------------------------|--------------------|
//! | `detectors/update/<name>`    | 100 000 points of seeded noise + daily sine, 1 min | 100 000            |
//! | `detectors/calibrated/mad`   | the same, behind the calibration stage             | 100 000            |
//! | `stats/<name>`               | the same values into one rolling statistic         | 100 000            |
//!
//! Each detector is warmed up on 2 000 points first. Targets (one core):
//! 20 M points/s for the O(1) statistical detectors (`zscore`, `ewma`,
//! `cusum`, `seasonal`), 1 M points/s for `auto`, and at most 4 KiB of
//! state per series for `auto` (`docs/PERFORMANCE.md`). State sizes are
//! printed once per run.
//!
//! Run: `cargo bench -p streammon-benches --bench detectors`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::detect::{DETECTOR_NAMES, DetectorConfig, Gate};
use streammon_core::stats::{Ewma, RollingExtrema, RollingMoments, SortedWindow};
use streammon_core::{Detector, Point};

const POINTS: usize = 100_000;

fn series() -> Vec<Point> {
    let mut seed = 0x5EEDu64;
    (0..POINTS)
        .map(|i| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let season = (i as f64 / 1_440.0 * std::f64::consts::TAU).sin();
            Point::new(i as i64 * 60_000, 100.0 + 10.0 * season + noise)
        })
        .collect()
}

fn warmed(config: &DetectorConfig, gate: &Gate, points: &[Point]) -> Box<dyn Detector> {
    let mut d = config.build_gated(gate).expect("valid default config");
    for p in &points[..2_000] {
        d.update(*p);
    }
    d
}

fn bench_detectors(c: &mut Criterion) {
    let points = series();
    let mut group = c.benchmark_group("detectors/update");
    group.throughput(Throughput::Elements(POINTS as u64));
    for name in DETECTOR_NAMES {
        let config = DetectorConfig::from_name(name).expect("registered");
        let mut d = warmed(&config, &Gate::default(), &points);
        eprintln!("state_bytes {name}: {}", d.state_bytes());
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut sum = 0.0;
                for p in &points {
                    sum += d.update(*p).score;
                }
                black_box(sum)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("detectors/calibrated");
    group.throughput(Throughput::Elements(POINTS as u64));
    let gate = Gate { calibrate: true, ..Gate::default() };
    let mut d = warmed(&DetectorConfig::from_name("mad").expect("registered"), &gate, &points);
    group.bench_function("mad", |b| b.iter(|| black_box(points.iter().map(|p| d.update(*p).score).sum::<f64>())));
    group.finish();
}

fn bench_stats(c: &mut Criterion) {
    let values: Vec<f64> = series().iter().map(|p| p.value).collect();
    let mut group = c.benchmark_group("stats");
    group.throughput(Throughput::Elements(POINTS as u64));
    let mut moments = RollingMoments::new(120);
    group.bench_function("rolling_moments_120", |b| {
        b.iter(|| {
            for &v in &values {
                moments.push(v);
            }
            black_box(moments.variance())
        })
    });
    let mut ewma = Ewma::new(0.05);
    group.bench_function("ewma", |b| {
        b.iter(|| {
            for &v in &values {
                ewma.push(v);
            }
            black_box(ewma.variance())
        })
    });
    let mut extrema = RollingExtrema::new(120);
    group.bench_function("rolling_extrema_120", |b| {
        b.iter(|| {
            for &v in &values {
                extrema.push(v);
            }
            black_box(extrema.max())
        })
    });
    let mut window = SortedWindow::new(96);
    group.bench_function("sorted_window_96_median_mad", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for &v in &values {
                window.push(v);
                sum += window.median().unwrap_or(0.0) + window.mad().unwrap_or(0.0);
            }
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_detectors, bench_stats);
criterion_main!(benches);
