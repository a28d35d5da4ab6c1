//! Forecasting across the public API: accuracy against a naive baseline,
//! interval coverage, season detection, robustness to missing data, and
//! capacity warnings on the simulator.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;
use streammon_core::forecast::{
    CapacityWatch, CapacityWatchConfig, ForecasterConfig, HoltWinters, HoltWintersConfig, SeasonalNaive,
    SeasonalNaiveConfig, Trigger,
};
use streammon_core::{Forecast, Forecaster, Frame, Point, SimConfig, Simulator, Span};

const HOUR_MS: i64 = 3_600_000;
const HORIZON: usize = 15;

/// Hourly points with a trend, a daily season (a peak and a shoulder, not
/// a pure sine) and Gaussian noise.
fn daily(seed: u64, n: usize, noise: f64) -> Vec<f64> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise).unwrap();
    (0..n)
        .map(|t| {
            let hour = (t % 24) as f64;
            let day = std::f64::consts::TAU * hour / 24.0;
            200.0 + 0.4 * t as f64 + 40.0 * day.sin() + 15.0 * (2.0 * day).cos() + normal.sample(&mut rng)
        })
        .collect()
}

fn hw() -> HoltWinters {
    HoltWinters::new(HoltWintersConfig::default()).unwrap()
}

fn feed(f: &mut dyn Forecaster, values: &[f64]) {
    for (t, &v) in values.iter().enumerate() {
        f.update(Point::new(t as i64 * HOUR_MS, v));
    }
}

/// Rolling-origin evaluation over the last `origins` points: mean absolute
/// error and the share of realised values inside the intervals.
fn evaluate(f: &mut dyn Forecaster, values: &[f64], origins: usize, level: f64) -> (f64, f64) {
    let start = values.len() - origins - HORIZON;
    feed(f, &values[..start]);
    let (mut abs, mut inside, mut n) = (0.0, 0usize, 0usize);
    let mut out: Vec<Forecast> = Vec::new();
    for origin in start..start + origins {
        out.clear();
        f.forecast(HORIZON, level, &mut out);
        assert_eq!(out.len(), HORIZON);
        for (h, step) in out.iter().enumerate() {
            let actual = values[origin + h];
            assert_eq!(step.timestamp_ms, (origin + h) as i64 * HOUR_MS);
            abs += (step.value - actual).abs();
            inside += usize::from(step.low <= actual && actual <= step.high);
            n += 1;
        }
        f.update(Point::new(origin as i64 * HOUR_MS, values[origin]));
    }
    (abs / n as f64, inside as f64 / n as f64)
}

/// (a) Holt-Winters beats the naive forecasts over 15 steps, and its 95 %
/// intervals hold about 95 % of what happened, on eight fixed seeds (a
/// statistical property checked on random seeds would fail now and then
/// by chance, telling nothing).
#[test]
fn holt_winters_beats_naive_and_its_intervals_cover() {
    for seed in 0..8 {
        let values = daily(seed, 24 * 30, 6.0);
        let (hw_mae, coverage) = evaluate(&mut hw(), &values, 24 * 5, 0.95);
        let (naive_mae, _) =
            evaluate(&mut SeasonalNaive::new(SeasonalNaiveConfig::default()).unwrap(), &values, 24 * 5, 0.95);
        let seasonal = SeasonalNaiveConfig { season: 24, min_samples: 2 };
        let (snaive_mae, _) = evaluate(&mut SeasonalNaive::new(seasonal).unwrap(), &values, 24 * 5, 0.95);
        assert!(hw_mae < 0.5 * naive_mae, "seed {seed}: hw {hw_mae:.2} vs naive {naive_mae:.2}");
        assert!(hw_mae < snaive_mae, "seed {seed}: hw {hw_mae:.2} vs seasonal naive {snaive_mae:.2}");
        assert!((0.85..=0.99).contains(&coverage), "seed {seed}: coverage {coverage:.3}");
    }
}

/// (b) The season is found on a seasonal series, at whatever interval.
#[test]
fn detects_the_season_and_none_on_white_noise() {
    for seed in 0..5 {
        let mut f = hw();
        feed(&mut f, &daily(seed, 24 * 12, 6.0));
        assert_eq!(f.season(), Some(24), "seed {seed}");
        assert_eq!(f.step_ms(), Some(HOUR_MS));

        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let normal = Normal::new(50.0, 5.0).unwrap();
        let noise: Vec<f64> = (0..1_000).map(|_| normal.sample(&mut rng)).collect();
        let mut f = hw();
        feed(&mut f, &noise);
        assert_eq!(f.season(), None, "seed {seed}");
    }
}

/// (b) A random walk seen through a short window can look like a wave to
/// autocorrelation; the AIC check keeps it from becoming a season.
#[test]
fn random_walks_rarely_get_a_season() {
    let seasons = (0..20)
        .filter(|&seed| {
            let mut rng = Pcg64Mcg::seed_from_u64(seed);
            let normal = Normal::new(0.0, 1.0).unwrap();
            let mut level = 100.0;
            let walk: Vec<f64> = (0..1_000)
                .map(|_| {
                    level += normal.sample(&mut rng);
                    level
                })
                .collect();
            let mut f = hw();
            feed(&mut f, &walk);
            f.season().is_some()
        })
        .count();
    println!("{seasons} of 20 random walks got a season");
    assert!(seasons <= 2, "{seasons} of 20 random walks got a season");
}

/// (c) Missing values, gaps, jitter and constant series never put a NaN
/// into a forecast or panic.
#[test]
fn robust_to_nan_gaps_and_constants() {
    let names = ForecasterConfig::names();
    let mut series: Vec<Vec<(i64, f64)>> = Vec::new();
    let seasonal = daily(3, 24 * 10, 6.0);
    // Every seventh value NaN, a twelve-hour gap, out-of-order and duplicate points.
    series.push(
        seasonal
            .iter()
            .enumerate()
            .filter(|(t, _)| !(100..112).contains(t))
            .map(|(t, &v)| (t as i64 * HOUR_MS, if t % 7 == 0 { f64::NAN } else { v }))
            .chain([(50 * HOUR_MS, 1e9), (239 * HOUR_MS, 1.0), (240 * HOUR_MS, f64::INFINITY)])
            .collect(),
    );
    series.push((0..500).map(|t| (t * 10_000, 42.0)).collect());
    series.push((0..500).map(|t| (t * 10_000, 0.0)).collect());
    // Jittered timestamps around a 10 s interval.
    series.push((0..500).map(|t| (t * 10_000 + (t * 7_919) % 1_500, (t % 13) as f64)).collect());
    series.push((0..3).map(|t| (t * 1_000, f64::NAN)).collect());
    series.push(vec![(0, 1e300), (1_000, -1e300), (2_000, 1e300), (3_000, -1e300), (4_000, 1e300)]);
    for name in names {
        for points in &series {
            let mut f = ForecasterConfig::from_name(name).unwrap().build().unwrap();
            let mut out = Vec::new();
            for &(t, v) in points {
                f.update(Point::new(t, v));
                out.clear();
                f.forecast(HORIZON, 0.95, &mut out);
                for step in &out {
                    assert!(!step.value.is_nan() && !step.low.is_nan() && !step.high.is_nan(), "{name}: {step:?}");
                    assert!(step.low <= step.value && step.value <= step.high, "{name}: {step:?}");
                }
            }
            assert!(f.state_bytes() > 0);
        }
    }
    // A constant series is forecast exactly, with zero-width intervals.
    let mut f = hw();
    feed(&mut f, &[42.0; 300]);
    let mut out = Vec::new();
    f.forecast(5, 0.95, &mut out);
    assert!(out.iter().all(|s| s.value == 42.0 && s.low == 42.0 && s.high == 42.0), "{out:?}");
}

/// (c) A gap inside the series keeps the forecast on the grid and close
/// to the truth.
#[test]
fn gaps_keep_the_grid() {
    let values = daily(9, 24 * 12, 3.0);
    let mut f = hw();
    for (t, &v) in values.iter().enumerate() {
        if !(200..220).contains(&t) {
            f.update(Point::new(t as i64 * HOUR_MS, v));
        }
    }
    let truth = daily(9, 24 * 12 + HORIZON, 3.0);
    let mut out = Vec::new();
    f.forecast(HORIZON, 0.95, &mut out);
    for (h, step) in out.iter().enumerate() {
        let t = values.len() + h;
        assert_eq!(step.timestamp_ms, t as i64 * HOUR_MS);
        assert!((step.value - truth[t]).abs() < 20.0, "step {h}: {step:?} vs {}", truth[t]);
    }
}

/// Egress of one region, Mbps: the sum of `bandwidth_mbps` over its samples.
fn region_bandwidth(frame: &Frame, region: &str) -> f64 {
    frame.samples.iter().filter(|s| s.region == region).map(|s| s.bandwidth_mbps).sum()
}

const SEED: u64 = 7;
const REGION: &str = "eu-west";
/// 420 Gbps: above eu-west's clean egress over these two hours (at most
/// about 390 Gbps), below what the flash crowd drives it to (about 433).
const LIMIT_MBPS: f64 = 420_000.0;

/// The title drawing the most bandwidth in `REGION` at the start.
fn most_popular_title() -> String {
    let mut sim = Simulator::new(SimConfig { seed: SEED, step: Span::from_secs(10), ..SimConfig::default() }).unwrap();
    let frame = sim.next_frame();
    let top = frame
        .samples
        .iter()
        .filter(|s| s.region == REGION)
        .max_by(|a, b| a.bandwidth_mbps.total_cmp(&b.bandwidth_mbps))
        .unwrap();
    top.content_id.to_string()
}

/// Runs two simulated hours at 10 s steps; returns every warning, the
/// first time egress actually crossed the limit, and the peak egress.
fn watch_region(script: Option<String>) -> (Vec<streammon_core::CapacityWarning>, Option<i64>, f64) {
    let mut config = SimConfig { seed: SEED, step: Span::from_secs(10), ..SimConfig::default() };
    if let Some(script) = script {
        config.incidents.scripted.push(script.parse().unwrap());
    }
    let mut sim = Simulator::new(config).unwrap();
    let mut watch =
        CapacityWatch::new(CapacityWatchConfig { limit: LIMIT_MBPS, ..CapacityWatchConfig::default() }).unwrap();
    let mut frame = Frame::default();
    let (mut warnings, mut crossed, mut peak) = (Vec::new(), None, 0.0f64);
    for _ in 0..720 {
        sim.step(&mut frame);
        let egress = region_bandwidth(&frame, REGION);
        peak = peak.max(egress);
        if egress >= LIMIT_MBPS {
            crossed.get_or_insert(frame.timestamp_ms);
        }
        warnings.extend(watch.update(Point::new(frame.timestamp_ms, egress)));
    }
    (warnings, crossed, peak)
}

/// (d) A flash crowd on the most popular title pushes eu-west over its
/// limit; the watch warns before egress crosses, and a clean run never.
#[test]
fn flash_crowd_is_warned_before_the_crossing_and_a_clean_run_is_quiet() {
    let (clean, clean_crossed, clean_peak) = watch_region(None);
    assert_eq!(clean_crossed, None, "the limit must sit above clean egress (peak {clean_peak:.0})");
    assert!(clean.is_empty(), "false warnings: {:?}", &clean[..clean.len().min(3)]);

    let title = most_popular_title();
    let (warnings, crossed, peak) = watch_region(Some(format!("flash_crowd:{title}@1h+30m")));
    let crossed = crossed.unwrap_or_else(|| panic!("the flash crowd must cross the limit (peak {peak:.0})"));
    let first = warnings.first().expect("a warning");
    assert!(first.timestamp_ms < crossed, "warned at {} after crossing at {crossed}", first.timestamp_ms);
    assert!(first.lead_ms > 0 && first.crossing_ms > first.timestamp_ms, "{first:?}");
    assert!(first.timestamp_ms >= streammon_core::simulator::DEFAULT_START_MS + HOUR_MS, "{first:?}");
    let [low, high] = first.confidence_interval;
    assert!(low <= first.predicted_value && first.predicted_value <= high && first.predicted_value >= LIMIT_MBPS);
    println!("{}", serde_json::to_string(first).unwrap());
    println!(
        "warned {} s before egress crossed; predicted crossing in {} s",
        (crossed - first.timestamp_ms) / 1_000,
        first.lead_ms / 1_000
    );
}

/// (d) The upper bound triggers no later than the point forecast.
#[test]
fn upper_bound_trigger_warns_no_later() {
    let title = most_popular_title();
    let first_warning = |trigger| {
        let mut config = SimConfig { seed: SEED, step: Span::from_secs(10), ..SimConfig::default() };
        config.incidents.scripted.push(format!("flash_crowd:{title}@1h+30m").parse().unwrap());
        let mut sim = Simulator::new(config).unwrap();
        let watch_config = CapacityWatchConfig { limit: LIMIT_MBPS, trigger, ..CapacityWatchConfig::default() };
        let mut watch = CapacityWatch::new(watch_config).unwrap();
        let mut frame = Frame::default();
        (0..720).find_map(|_| {
            sim.step(&mut frame);
            watch.update(Point::new(frame.timestamp_ms, region_bandwidth(&frame, REGION))).map(|w| w.timestamp_ms)
        })
    };
    let point = first_warning(Trigger::Point).unwrap();
    let upper = first_warning(Trigger::Upper).unwrap();
    assert!(upper <= point, "upper {upper} vs point {point}");
}

/// (e) Total viewers, forecast 15 minutes ahead at one-minute steps over a
/// simulated day, fall inside the 95 % interval most of the time.
#[test]
fn viewer_forecasts_hold_their_intervals_on_simulated_data() {
    let mut sim = Simulator::new(SimConfig { seed: 11, step: Span::from_secs(60), ..SimConfig::default() }).unwrap();
    let mut frame = Frame::default();
    let viewers: Vec<(i64, f64)> = (0..24 * 60)
        .map(|_| {
            sim.step(&mut frame);
            (frame.timestamp_ms, frame.samples.iter().map(|s| f64::from(s.viewers)).sum())
        })
        .collect();
    let mut f = hw();
    let (mut inside, mut n, mut abs_pct) = (0usize, 0usize, 0.0);
    let mut out = Vec::new();
    for (i, &(t, v)) in viewers.iter().enumerate() {
        f.update(Point::new(t, v));
        if i < 60 || i + HORIZON >= viewers.len() {
            continue;
        }
        out.clear();
        f.forecast(HORIZON, 0.95, &mut out);
        for (h, step) in out.iter().enumerate() {
            let (t_actual, actual) = viewers[i + 1 + h];
            assert_eq!(step.timestamp_ms, t_actual);
            inside += usize::from(step.low <= actual && actual <= step.high);
            abs_pct += (step.value - actual).abs() / actual;
            n += 1;
        }
    }
    let coverage = inside as f64 / n as f64;
    let mape = abs_pct / n as f64;
    println!("viewers, 15 min ahead: coverage {coverage:.3}, MAPE {:.2} %", 100.0 * mape);
    assert!(coverage >= 0.8, "coverage {coverage:.3}");
    assert!(mape < 0.05, "MAPE {mape:.3}");
}
