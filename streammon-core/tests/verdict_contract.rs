//! The verdict contract, for every detector in the registry, built bare
//! and as the pipeline builds it (gated at 20 viewers, calibrated):
//!
//! - the score is finite and within [0, 1];
//! - an expected band, when given, has finite ends and `low <= high`;
//! - a point scoring 0.5 or more lies strictly outside its band, carries
//!   one and a reason; below 0.5 there is no reason (so a value within
//!   the band never scores 0.5);
//! - the band contains the detector's baseline: after a long run of one
//!   value, that value.
//!
//! Driven by the simulator with incidents, over every metric of a few
//! streams, and by generated pathological series: constants, steps,
//! spikes of any scale, counts near zero, gaps, missing and infinite
//! values, irregular intervals.

use proptest::prelude::*;
use streammon_core::detect::{DETECTOR_NAMES, DetectorConfig, Gate};
use streammon_core::{Detector, IncidentScript, Metric, Point, SimConfig, Simulator, Span, Verdict};

/// The gate the server builds its detectors with.
const SERVER: Gate = Gate { min_weight: 20.0, calibrate: true, persistence: 0 };

/// The detectors the contract is checked on: every registered name.
fn names() -> impl Iterator<Item = &'static str> {
    DETECTOR_NAMES.into_iter()
}

/// Both builds of every detector, with a label for messages.
fn detectors() -> Vec<(String, Box<dyn Detector>)> {
    names()
        .flat_map(|name| {
            let config = DetectorConfig::from_name(name).unwrap();
            [
                (format!("{name} (build)"), config.build().unwrap()),
                (format!("{name} (build_gated)"), config.build_gated(&SERVER).unwrap()),
            ]
        })
        .collect()
}

/// Checks one verdict for the point it judged; `Err` says what broke.
fn check(point: Point, v: &Verdict) -> Result<(), String> {
    if !(v.score.is_finite() && (0.0..=1.0).contains(&v.score)) {
        return Err(format!("score {} outside [0, 1]", v.score));
    }
    if let Some(b) = v.expected
        && !(b.low.is_finite() && b.high.is_finite() && b.low <= b.high)
    {
        return Err(format!("band {b:?} not finite and ordered"));
    }
    if v.score >= 0.5 {
        let Some(b) = v.expected else { return Err("a score of 0.5 or more without a band".into()) };
        if b.contains(point.value) {
            return Err(format!("value {} within {b:?} scored {}", point.value, v.score));
        }
        if v.reason.is_none() {
            return Err("a score of 0.5 or more without a reason".into());
        }
    } else if v.reason.is_some() {
        return Err(format!("a reason below 0.5 ({})", v.score));
    }
    Ok(())
}

/// Feeds `points` to every detector, checking every verdict.
fn run(points: &[Point]) -> Result<(), String> {
    for (label, mut d) in detectors() {
        for (i, &p) in points.iter().enumerate() {
            let v = d.update(p);
            check(p, &v).map_err(|e| format!("{label}, point {i} ({p:?}): {e}"))?;
        }
    }
    Ok(())
}

#[test]
fn simulated_streams_with_incidents_keep_the_contract() {
    let mut config = SimConfig { seed: 5, titles: 6, step: Span::from_secs(10), ..SimConfig::default() };
    config.incidents.rate_per_hour = 4.0;
    config.incidents.scripted.push("cdn_degradation:eu-west@30m+10m".parse::<IncidentScript>().unwrap());
    let frames: Vec<_> = Simulator::new(config).unwrap().take(1_500).collect();
    // Two streams, every metric.
    let keys: Vec<(String, String)> =
        frames[0].samples.iter().take(2).map(|s| (s.content_id.to_string(), s.region.to_string())).collect();
    for (title, region) in keys {
        for metric in Metric::ALL {
            let points: Vec<Point> = frames
                .iter()
                .filter_map(|f| {
                    let s = f.samples.iter().find(|s| s.content_id.as_str() == title && s.region.as_str() == region)?;
                    Some(Point::new(f.timestamp_ms, s.get(metric)?).with_weight(f64::from(s.viewers)))
                })
                .collect();
            if let Err(e) = run(&points) {
                panic!("{title} in {region}, {metric:?}: {e}");
            }
        }
    }
}

/// After a long run of one value, the band (when there is one) holds it:
/// that value is what every detector expects.
#[test]
fn the_band_contains_the_baseline() {
    for value in [0.0, 1.0, -3.5, 1234.5678, 1e-9, 7e12] {
        for (label, mut d) in detectors() {
            let mut last = Verdict::QUIET;
            for i in 0..2_000 {
                let p = Point::new(i * 1_000, value).with_weight(100.0);
                last = d.update(p);
                check(p, &last).unwrap_or_else(|e| panic!("{label} at {value}: {e}"));
            }
            if let Some(b) = last.expected {
                assert!(b.contains(value), "{label}: {b:?} does not contain the baseline {value}");
            }
            // And a noisy series around the same value keeps it too.
            let mut d = DetectorConfig::from_name(label.split(' ').next().unwrap()).unwrap().build().unwrap();
            let mut last = Verdict::QUIET;
            for i in 0..2_000_i64 {
                let noise = ((i * 7_919 + 13) % 101) as f64 / 101.0 - 0.5;
                last = d.update(Point::new(i * 1_000, value + noise * value.abs().max(1.0) * 1e-2));
            }
            if let Some(b) = last.expected {
                assert!(b.contains(value), "{label}, noisy: {b:?} does not contain the baseline {value}");
            }
        }
    }
}

/// A pathological series.
#[derive(Debug, Clone)]
enum Shape {
    Constant(f64),
    Step { from: f64, to: f64, at: usize },
    Spikes { base: f64, scale: f64, every: usize },
    Counts { rate: u32 },
    Noise { level: f64, spread: f64 },
}

impl Shape {
    fn value(&self, i: usize, r: u64) -> f64 {
        let unit = (r % 10_000) as f64 / 10_000.0;
        match *self {
            Self::Constant(c) => c,
            Self::Step { from, to, at } => {
                if i < at {
                    from
                } else {
                    to
                }
            }
            Self::Spikes { base, scale, every } => {
                if i % every == every - 1 {
                    base + scale
                } else {
                    base + unit
                }
            }
            // Mostly zero, now and then a small count.
            Self::Counts { rate } => f64::from(u32::from(r % 100 < u64::from(rate)) * (1 + (r / 100 % 3) as u32)),
            Self::Noise { level, spread } => level + spread * (unit - 0.5),
        }
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    let scale = (-300i32..300).prop_map(|e| 10f64.powi(e));
    prop_oneof![
        prop_oneof![Just(0.0), Just(1.0), -1e6..1e6f64, scale.clone()].prop_map(Shape::Constant),
        (-1e6..1e6f64, -1e6..1e6f64, 0usize..400).prop_map(|(from, to, at)| Shape::Step { from, to, at }),
        (-1e3..1e3f64, scale.clone(), 2usize..50).prop_map(|(base, scale, every)| Shape::Spikes { base, scale, every }),
        (1u32..20).prop_map(|rate| Shape::Counts { rate }),
        (-1e9..1e9f64, scale).prop_map(|(level, spread)| Shape::Noise { level, spread }),
    ]
}

/// What happens to a point: kept, missing (NaN), infinite, or after a gap.
fn events(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![20 => Just(0u8), 1 => Just(1), 1 => Just(2), 1 => Just(3)], n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pathological_series_keep_the_contract(
        shape in shape(),
        events in events(700),
        seed in any::<u64>(),
        weight in prop_oneof![Just(1.0), Just(100.0)],
    ) {
        let mut t = 0_i64;
        let mut r = seed;
        let points: Vec<Point> = events
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                // Irregular intervals, and now and then a gap of hours.
                t += 1_000 + (r >> 40) as i64 % 9_000 + if e == 3 { 6 * 3_600_000 } else { 0 };
                let value = match e {
                    1 => f64::NAN,
                    2 => if r % 2 == 0 { f64::INFINITY } else { f64::NEG_INFINITY },
                    _ => shape.value(i, r >> 20),
                };
                Point::new(t, value).with_weight(weight)
            })
            .collect();
        if let Err(e) = run(&points) {
            prop_assert!(false, "{:?}: {}", shape, e);
        }
    }
}
