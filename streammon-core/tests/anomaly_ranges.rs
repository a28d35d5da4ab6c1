//! Every anomaly the pipeline reports, from every detector, keeps the
//! contract of an expected range (issue 15): inside the metric's domain,
//! holding its baseline, never holding the flagged value; and only points
//! that clear their metric's practical-significance floor are reported.
//! Property-tested over simulated traffic with incidents.

use proptest::prelude::*;
use streammon_core::detect::{DETECTOR_NAMES, DetectorConfig, Gate};
use streammon_core::monitor::Monitor;
use streammon_core::significance::Floors;
use streammon_core::{IncidentKind, Metric, SimConfig, Simulator, Span};

const METRICS: [Metric; 7] = [
    Metric::LatencyMs,
    Metric::StartupTimeMs,
    Metric::BufferingRatio,
    Metric::BitrateKbps,
    Metric::ErrorRate,
    Metric::Viewers,
    Metric::BandwidthMbps,
];

fn check(detector: &str, seed: u64, kind: IncidentKind, calibrate: bool) -> Result<usize, TestCaseError> {
    let mut config = SimConfig { seed, titles: 6, step: Span::from_secs(10), ..SimConfig::default() };
    config.incidents.rate_per_hour = 6.0;
    config.incidents.kinds = vec![kind];
    let gate = Gate { min_weight: 20.0, calibrate, persistence: 0 };
    let floors = Floors::default();
    let mut monitor = Monitor::new(&DetectorConfig::from_name(detector).unwrap(), &gate, METRICS.to_vec())
        .unwrap()
        .with_floors(floors);
    let mut anomalies = Vec::new();
    for frame in Simulator::new(config).unwrap().take(6 * 60) {
        monitor.observe_all(&frame.samples, &mut anomalies);
    }
    for a in &anomalies {
        let metric = a.series.metric;
        let (low, high) = metric.domain();
        let band = a.expected.ok_or_else(|| TestCaseError::fail(format!("{detector}: no range: {a:?}")))?;
        let baseline = a.baseline.ok_or_else(|| TestCaseError::fail(format!("{detector}: no baseline: {a:?}")))?;
        prop_assert!(band.low <= band.high, "{detector}: {a:?}");
        prop_assert!(band.low >= low && band.high <= high, "{detector}: range outside the domain of {metric}: {a:?}");
        prop_assert!(band.contains(baseline), "{detector}: range without its baseline: {a:?}");
        prop_assert!(!band.contains(a.value), "{detector}: flagged value inside its range: {a:?}");
        prop_assert!(a.score >= 0.5 && a.reason.is_some(), "{detector}: {a:?}");
        prop_assert!(floors.get(metric).clears(baseline, a.value), "{detector}: immaterial anomaly: {a:?}");
    }
    Ok(anomalies.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    #[test]
    fn every_detector_reports_consistent_material_ranges(
        seed in 0u64..1_000,
        kind in prop::sample::select(IncidentKind::ALL.to_vec()),
        calibrate in any::<bool>(),
    ) {
        let mut flagged = 0;
        for name in DETECTOR_NAMES {
            flagged += check(name, seed, kind, calibrate)?;
        }
        prop_assert!(flagged > 0, "no detector flagged anything: the property was not exercised");
    }
}
