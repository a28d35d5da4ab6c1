//! The learned detectors across the public API: determinism, false
//! positives on clean simulated traffic, detection of a scripted CDN
//! degradation, and properties that must hold on any input.

use std::sync::OnceLock;

use proptest::prelude::*;
use streammon_core::detect::{IsolationForestConfig, KMeansConfig, LagEmbedding};
use streammon_core::{
    ContentType, Detector, IncidentScript, Metric, Point, SimConfig, Simulator, Span, VectorDetector, Verdict,
};

/// The metrics each vector holds, in order.
const METRICS: [Metric; 5] =
    [Metric::LatencyMs, Metric::BufferingRatio, Metric::BitrateKbps, Metric::ErrorRate, Metric::StartupTimeMs];

/// Ticks simulated (5 s each): 2 h 30 m.
const TICKS: usize = 1800;
/// The scripted incident: from 1 h 30 m for 15 minutes.
const INCIDENT: &str = "cdn_degradation:eu-west@90m+15m";
/// Indices of the incident's ticks (the first tick ends at 5 s).
const INCIDENT_TICKS: std::ops::Range<usize> = 1079..1259;
/// A clearly anomalous score: for the forest, a point isolated in 30 %
/// fewer splits than the path at the band's edge (`r = 1/0.7` on the
/// scale every detector shares, 0.5 on the edge and never 1). These tests
/// counted scores above 0.8 when that was what such a point scored; the
/// evidence asked for is the same.
const CLEAR: f64 = 0.728;

/// One video title in `eu-west`, as metric vectors with their timestamps:
/// the first on-demand title, default simulator settings but a 5 s step,
/// with `script` (where `{title}` stands for that title's id) if given.
fn stream(script: Option<&str>) -> Vec<(i64, [f64; 5])> {
    let mut config = SimConfig { step: Span::from_secs(5), ..SimConfig::default() };
    if let Some(script) = script {
        let script = script.replace("{title}", &title());
        config.incidents.scripted.push(script.parse::<IncidentScript>().unwrap());
    }
    let mut sim = Simulator::new(config).unwrap();
    let mut frame = Default::default();
    let mut out = Vec::with_capacity(TICKS);
    let title = title();
    for _ in 0..TICKS {
        sim.step(&mut frame);
        let s =
            frame.samples.iter().find(|s| s.content_id.as_str() == title && s.region.as_str() == "eu-west").unwrap();
        out.push((s.timestamp_ms, METRICS.map(|m| s.get(m).unwrap())));
    }
    out
}

/// The id of the first on-demand video title.
fn title() -> String {
    let frame = Simulator::new(SimConfig { step: Span::from_secs(5), ..SimConfig::default() }).unwrap().next_frame();
    frame.samples.iter().find(|s| s.content_type == ContentType::Video).unwrap().content_id.as_str().to_owned()
}

fn clean() -> &'static [(i64, [f64; 5])] {
    static CLEAN: OnceLock<Vec<(i64, [f64; 5])>> = OnceLock::new();
    CLEAN.get_or_init(|| stream(None))
}

fn degraded() -> &'static [(i64, [f64; 5])] {
    static DEGRADED: OnceLock<Vec<(i64, [f64; 5])>> = OnceLock::new();
    DEGRADED.get_or_init(|| stream(Some(INCIDENT)))
}

/// Both detectors with a seed, by name.
fn detectors(seed: u64) -> Vec<Box<dyn VectorDetector>> {
    vec![
        Box::new(IsolationForestConfig { seed, ..Default::default() }.build().unwrap()),
        Box::new(KMeansConfig { seed, ..Default::default() }.build().unwrap()),
    ]
}

fn scores(detector: &mut dyn VectorDetector, data: &[(i64, [f64; 5])]) -> Vec<f64> {
    data.iter().map(|(t, v)| detector.update(*t, v).0.score).collect()
}

#[test]
fn same_seed_same_scores() {
    for (mut a, mut b) in detectors(11).into_iter().zip(detectors(11)) {
        assert_eq!(scores(a.as_mut(), clean()), scores(b.as_mut(), clean()), "{}", a.name());
    }
}

#[test]
fn clean_traffic_rarely_scores_clearly_anomalous() {
    for mut d in detectors(1) {
        let s = scores(d.as_mut(), clean());
        let judged = s.iter().skip(200).count();
        let high = s.iter().skip(200).filter(|&&x| x > CLEAR).count();
        let rate = high as f64 / judged as f64;
        println!("{}: {high} of {judged} clean points above {CLEAR}", d.name());
        assert!(rate < 0.01, "{}: false-positive rate {rate}", d.name());
    }
}

/// Scores before and during the incident in `data`: means, and how many
/// incident points scored clearly anomalous.
fn before_and_during(detector: &mut dyn VectorDetector, data: &[(i64, [f64; 5])]) -> (f64, f64, usize) {
    let s = scores(detector, data);
    let before = &s[INCIDENT_TICKS.start - 300..INCIDENT_TICKS.start];
    let during = &s[INCIDENT_TICKS];
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let fired = during.iter().filter(|&&x| x > CLEAR).count();
    println!(
        "{}: mean before {:.3}, during {:.3}, {fired} of {} above {CLEAR}",
        detector.name(),
        mean(before),
        mean(during),
        during.len()
    );
    (mean(before), mean(during), fired)
}

#[test]
fn cdn_degradation_scores_far_higher_than_before() {
    for mut d in detectors(1) {
        let (before, during, fired) = before_and_during(d.as_mut(), degraded());
        assert!(during > before + 0.4, "{}", d.name());
        assert!(fired * 10 > INCIDENT_TICKS.len() * 8, "{}: {fired} of {}", d.name(), INCIDENT_TICKS.len());
    }
}

/// The other kinds that move these five metrics for this stream, at the
/// default severity; `flash_crowd` moves none of them and is not claimed.
#[test]
fn latency_spike_origin_outage_and_encoder_collapse_fire() {
    for script in ["latency_spike:eu-west@90m+15m", "origin_outage:{title}@90m+15m", "encoder_collapse:{title}@90m+15m"]
    {
        let data = stream(Some(script));
        for mut d in detectors(1) {
            println!("{script}");
            let (before, during, fired) = before_and_during(d.as_mut(), &data);
            assert!(during > before + 0.4, "{script}: {}", d.name());
            assert!(fired * 10 > INCIDENT_TICKS.len() * 8, "{script}: {}: {fired}", d.name());
        }
    }
}

#[test]
fn the_univariate_adapters_ignore_scale_and_fire_on_a_level_drop() {
    let bitrate: Vec<Point> = degraded().iter().map(|(t, v)| Point::new(*t, v[2])).collect();
    let scaled: Vec<Point> = bitrate.iter().map(|p| Point::new(p.timestamp_ms, p.value * 1000.0)).collect();
    let pairs: Vec<(Box<dyn Detector>, Box<dyn Detector>)> = vec![
        (
            Box::new(LagEmbedding::isolation_forest(&IsolationForestConfig::default()).unwrap()),
            Box::new(LagEmbedding::isolation_forest(&IsolationForestConfig::default()).unwrap()),
        ),
        (
            Box::new(LagEmbedding::kmeans(&KMeansConfig::default()).unwrap()),
            Box::new(LagEmbedding::kmeans(&KMeansConfig::default()).unwrap()),
        ),
    ];
    for (mut d, mut scaled_d) in pairs {
        let mut plain = Vec::new();
        d.update_batch(&bitrate, &mut plain);
        let mut big = Vec::new();
        scaled_d.update_batch(&scaled, &mut big);
        let differ = plain.iter().zip(&big).filter(|(a, b)| (a.score - b.score).abs() > 0.05).count();
        assert!(differ * 100 < plain.len(), "{}: {differ} scores change with scale", d.name());
        let onset = &plain[INCIDENT_TICKS.start];
        let band = onset.expected.unwrap();
        assert!(!band.contains(bitrate[INCIDENT_TICKS.start].value), "{}: {band:?}", d.name());
        let fired = plain[INCIDENT_TICKS].iter().filter(|v| v.score > CLEAR).count();
        println!("{}: onset {:.3}, {fired} incident points above {CLEAR}", d.name(), onset.score);
        assert!(fired * 10 >= INCIDENT_TICKS.len() * 8, "{}: {fired} of {}", d.name(), INCIDENT_TICKS.len());
    }
}

/// False positives of the univariate adapters on clean traffic: below 1 %
/// for bitrate and startup time. The simulated latency has isolated
/// one-tick spikes to 2–2.6 × its median; both detectors flag them (they
/// are outliers of that series), so latency gets a looser bound of 3 %.
#[test]
fn the_univariate_adapters_are_quiet_on_clean_traffic() {
    for (metric, column, limit) in [("latency_ms", 0, 0.03), ("bitrate_kbps", 2, 0.01), ("startup_time_ms", 4, 0.01)] {
        let points: Vec<Point> = clean().iter().map(|(t, v)| Point::new(*t, v[column])).collect();
        let detectors: [Box<dyn Detector>; 2] = [
            Box::new(LagEmbedding::isolation_forest(&IsolationForestConfig::default()).unwrap()),
            Box::new(LagEmbedding::kmeans(&KMeansConfig::default()).unwrap()),
        ];
        for mut d in detectors {
            let mut out = Vec::new();
            d.update_batch(&points, &mut out);
            let judged = out.len() - 200;
            let high = out.iter().skip(200).filter(|v| v.score > CLEAR).count();
            println!("{} on {metric}: {high} of {judged} clean points above {CLEAR}", d.name());
            assert!((high as f64) < limit * judged as f64, "{} on {metric}: {high}", d.name());
        }
    }
}

#[test]
fn batch_scoring_matches_one_at_a_time() {
    let config = IsolationForestConfig { retrain_every: 100, ..Default::default() };
    let mut one = config.build().unwrap();
    let mut batch = config.build().unwrap();
    let mut rows: Vec<f64> = degraded().iter().flat_map(|(_, v)| *v).collect();
    rows[5 * 700 + 2] = f64::NAN;
    let expected: Vec<_> = rows.chunks_exact(5).map(|r| one.update(0, r)).collect();
    let mut got = Vec::new();
    for part in rows.chunks(5 * 333) {
        batch.update_batch(part, &mut got);
    }
    assert_eq!(got, expected);
}

#[test]
fn invalid_configs_name_the_field() {
    let err = IsolationForestConfig { sample_size: 1024, ..Default::default() }.build().unwrap_err();
    assert!(err.to_string().contains("isolation_forest.sample_size"), "{err}");
    let err = KMeansConfig { k: 0, ..Default::default() }.build().unwrap_err();
    assert!(err.to_string().contains("kmeans.k"), "{err}");
    let err = serde_json::from_str::<KMeansConfig>(r#"{"clusters": 3}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    let config: IsolationForestConfig = serde_json::from_str(r#"{"trees": 50}"#).unwrap();
    assert_eq!(config, IsolationForestConfig { trees: 50, ..Default::default() });
}

fn small_forest(seed: u64) -> Box<dyn VectorDetector> {
    let config = IsolationForestConfig {
        dimensions: 2,
        trees: 10,
        sample_size: 32,
        window: 64,
        retrain_every: 16,
        min_samples: 8,
        seed,
        ..Default::default()
    };
    Box::new(config.build().unwrap())
}

fn small_kmeans(seed: u64) -> Box<dyn VectorDetector> {
    let config = KMeansConfig {
        dimensions: 2,
        window: 2,
        k: 3,
        buffer: 64,
        retrain_every: 16,
        min_samples: 8,
        seed,
        ..Default::default()
    };
    Box::new(config.build().unwrap())
}

/// Any finite value or NaN, of any magnitude.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![8 => -1e9..1e9_f64, 1 => Just(f64::NAN), 1 => Just(0.0), 1 => Just(f64::INFINITY)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn scores_stay_in_range_and_state_stays_bounded(
        seed in any::<u64>(),
        rows in prop::collection::vec((value(), value()), 0..400),
    ) {
        for mut d in [small_forest(seed), small_kmeans(seed)] {
            let empty = d.state_bytes();
            for (i, (a, b)) in rows.iter().enumerate() {
                let (v, feature) = d.update(i as i64, &[*a, *b]);
                prop_assert!((0.0..=1.0).contains(&v.score), "{}: {v:?}", d.name());
                prop_assert!(!v.score.is_nan());
                prop_assert!(feature.is_none_or(|f| f < 2));
                if !(a.is_finite() && b.is_finite()) {
                    prop_assert_eq!(v, Verdict::QUIET);
                }
                prop_assert_eq!(d.state_bytes(), empty, "{} grew", d.name());
            }
            prop_assert_eq!(d.update(0, &[1.0]), (Verdict::QUIET, None));
        }
    }
}
