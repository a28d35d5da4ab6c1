//! Forecaster throughput: points absorbed per second by `update`, and
//! `forecast(15 steps)` calls per second, on one core.
//!
//! | bench                               | series                                   | season      | fit | buffer |
//! |-------------------------------------|------------------------------------------|-------------|-----|--------|
//! | `forecast/update/hw_auto_seasonal`  | hourly, trend + daily cycle + noise      | auto → 24   | on  | 864    |
//! | `forecast/update/hw_auto_noise`     | white noise                              | auto → none | on  | 864    |
//! | `forecast/update/hw_fixed24_nofit`  | hourly, trend + daily cycle + noise      | 24 (fixed)  | off | 96     |
//! | `forecast/update/seasonal_naive24`  | hourly, trend + daily cycle + noise      | 24 (fixed)  | —   | 24     |
//! | `forecast/predict/hw_15`            | the seasonal model above, warmed up      | 24          | —   | —      |
//!
//! Each update bench first feeds 2 000 points, then measures batches of
//! 1 024 further points with continuing timestamps, so the periodic
//! re-fits (every 1 024 steps) are included at their steady-state rate.
//! Series come from a PCG generator with a fixed seed (`0x5EED`). Each
//! forecaster's `state_bytes` is printed before its bench.
//!
//! Run: `cargo bench -p streammon-benches --bench forecast -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;
use streammon_core::forecast::{HoltWinters, HoltWintersConfig, Season, SeasonalNaive, SeasonalNaiveConfig};
use streammon_core::{Forecaster, Point};

const WARM: usize = 2_000;
const BATCH: usize = 1_024;
const HOUR_MS: i64 = 3_600_000;

/// A generator of the bench series, endless and deterministic.
struct Series {
    rng: Pcg64Mcg,
    noise: Normal<f64>,
    t: i64,
    seasonal: bool,
}

impl Series {
    fn new(seasonal: bool) -> Self {
        Self { rng: Pcg64Mcg::seed_from_u64(0x5EED), noise: Normal::new(0.0, 6.0).unwrap(), t: 0, seasonal }
    }

    fn next_point(&mut self) -> Point {
        let t = self.t;
        self.t += 1;
        let day = std::f64::consts::TAU * (t % 24) as f64 / 24.0;
        let shape = if self.seasonal { 0.01 * (t % 10_000) as f64 + 40.0 * day.sin() } else { 0.0 };
        Point::new(t * HOUR_MS, 200.0 + shape + self.noise.sample(&mut self.rng))
    }
}

fn warmed(mut f: Box<dyn Forecaster>, series: &mut Series) -> Box<dyn Forecaster> {
    for _ in 0..WARM {
        f.update(series.next_point());
    }
    f
}

fn hw(config: HoltWintersConfig) -> Box<dyn Forecaster> {
    Box::new(HoltWinters::new(config).expect("valid config"))
}

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("forecast/update");
    group.throughput(Throughput::Elements(BATCH as u64));
    let fixed = HoltWintersConfig { season: Season::Steps(24), fit: false, ..HoltWintersConfig::default() };
    let cases: [(&str, Box<dyn Forecaster>, bool); 4] = [
        ("hw_auto_seasonal", hw(HoltWintersConfig::default()), true),
        ("hw_auto_noise", hw(HoltWintersConfig::default()), false),
        ("hw_fixed24_nofit", hw(fixed), true),
        (
            "seasonal_naive24",
            Box::new(SeasonalNaive::new(SeasonalNaiveConfig { season: 24, min_samples: 2 }).expect("valid")),
            true,
        ),
    ];
    for (name, f, seasonal) in cases {
        let mut series = Series::new(seasonal);
        let mut f = warmed(f, &mut series);
        println!("{name}: state_bytes = {}", f.state_bytes());
        let points: Vec<Point> = (0..BATCH * 64).map(|_| series.next_point()).collect();
        let mut chunk = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                // Replay the pre-drawn points with timestamps that keep
                // moving forward.
                let shift = (chunk / 64 * BATCH * 64) as i64 * HOUR_MS;
                for p in &points[(chunk % 64) * BATCH..(chunk % 64 + 1) * BATCH] {
                    f.update(Point::new(p.timestamp_ms + shift, p.value));
                }
                chunk += 1;
            })
        });
        black_box(f.state_bytes());
    }
    group.finish();
}

fn bench_predict(c: &mut Criterion) {
    let mut group = c.benchmark_group("forecast/predict");
    group.throughput(Throughput::Elements(1));
    let mut series = Series::new(true);
    let f = warmed(hw(HoltWintersConfig::default()), &mut series);
    let mut out = Vec::with_capacity(15);
    group.bench_function("hw_15", |b| {
        b.iter(|| {
            out.clear();
            f.forecast(black_box(15), 0.95, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_update, bench_predict);
criterion_main!(benches);
