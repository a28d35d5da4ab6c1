//! Root-cause hints: the dimension value that best explains a set of
//! series firing together, and the one-line summary built around it.
//!
//! # Scoring
//! Let `F` be the firing streams (distinct title × region) and `A` every
//! stream the engine follows. For a candidate value `v` (a region, a
//! title, a content type or a dominant rendition), its *coverage* is
//! `c = |F ∩ v| / |F|` and its *base share* is `p = |A ∩ v| / |A|`. The
//! score is
//!
//! ```text
//! score(v) = c · ln(c / p)
//! ```
//!
//! the term `v` contributes to the Kullback–Leibler divergence of the
//! firing set from the population. It rewards a value that covers most of
//! the firing set (coverage) *and* is rare in the population (lift
//! `c / p`), and, unlike lift alone, it is not won by a value that holds
//! three of forty firing series merely because it is rare: a region
//! holding every firing series at a tenth of the population scores
//! `1 · ln 10 ≈ 2.3`, a rendition holding 60 % of them at a twentieth of
//! the population `0.6 · ln 12 ≈ 1.5`. A value that is as common in the
//! population as in the firing set scores 0.
//!
//! A hint needs support: at least `min_support` firing streams with the
//! value, and a coverage of at least one half, so that it explains the
//! majority. Ties go to the dimension listed first in [`CauseDimension`],
//! then to the smaller value.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::impact::ScopeKey;
use super::table::{Table, type_index};
use super::{Impact, MetricShift, metric_label};
use crate::content::{ContentType, RenditionId};
use crate::sample::Metric;
use crate::time::format_rfc3339;

/// A dimension a root-cause hint can name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseDimension {
    /// A CDN region.
    Region,
    /// A title.
    Content,
    /// A content type (video, audio, live).
    ContentType,
    /// The dominant rendition of the streams.
    Rendition,
}

/// The shared dimension value that best explains a set of firing series,
/// with the numbers behind the choice.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// Which dimension.
    pub dimension: CauseDimension,
    /// The value, e.g. `eu-west`.
    pub value: String,
    /// Firing streams with that value.
    pub support: usize,
    /// Share of the firing streams with that value, within (0, 1].
    pub coverage: f64,
    /// Share of every followed stream with that value, within (0, 1].
    pub base_share: f64,
    /// `coverage / base_share`.
    pub lift: f64,
    /// `coverage · ln(lift)`; see the module docs.
    pub score: f64,
}

/// The best hint for the firing streams `set` (distinct slot ids), if any
/// value has the support.
pub(crate) fn best_cause(set: &[u32], table: &Table, min_support: usize) -> Option<Cause> {
    let total = table.len() as f64;
    if set.len() < min_support || total == 0.0 {
        return None;
    }
    let mut counts: BTreeMap<(CauseDimension, &str), (usize, u32)> = BTreeMap::new();
    for slot in set.iter().filter_map(|&id| table.get(id)) {
        let region_n = table.by_region.get(&slot.region).copied().unwrap_or(0);
        counts.entry((CauseDimension::Region, slot.region.as_str())).or_insert((0, region_n)).0 += 1;
        let content_n = table.slots_of(&slot.content).len() as u32;
        counts.entry((CauseDimension::Content, slot.content.as_str())).or_insert((0, content_n)).0 += 1;
        if let Some(t) = slot.content_type {
            counts.entry((CauseDimension::ContentType, t.as_str())).or_insert((0, table.by_type[type_index(t)])).0 += 1;
        }
        if let Some(r) = slot.rendition {
            counts.entry((CauseDimension::Rendition, r.as_str())).or_insert((0, table.by_rendition[r.index()])).0 += 1;
        }
    }
    let firing = set.len() as f64;
    let mut best: Option<Cause> = None;
    for ((dimension, value), (k, n)) in counts {
        let coverage = k as f64 / firing;
        if k < min_support || coverage < 0.5 || n == 0 {
            continue;
        }
        let base_share = (f64::from(n) / total).min(1.0);
        let lift = coverage / base_share;
        let score = coverage * lift.ln();
        if score > 0.0 && best.as_ref().is_none_or(|b| score > b.score + 1e-12) {
            best = Some(Cause { dimension, value: value.to_owned(), support: k, coverage, base_share, lift, score });
        }
    }
    best
}

/// Whether every stream in `set` has the hint's value.
pub(crate) fn explains(cause: &Cause, set: &[u32], table: &Table) -> bool {
    set.iter().filter_map(|&id| table.get(id)).all(|slot| match cause.dimension {
        CauseDimension::Region => slot.region == cause.value.as_str(),
        CauseDimension::Content => slot.content == cause.value.as_str(),
        CauseDimension::ContentType => slot.content_type.map(ContentType::as_str) == Some(&cause.value),
        CauseDimension::Rendition => slot.rendition.map(RenditionId::as_str) == Some(&cause.value),
    })
}

/// What a summary says about the size and level of an alert.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Level<'a> {
    /// A metric's mean value against its mean baseline.
    Value { metric: Option<Metric>, label: &'a str, value: f64, baseline: f64 },
    /// No data for this long.
    Absent { after_ms: i64 },
}

/// The summary line, e.g. `buffering ratio 4.1 % (expected 1.0 %, 4.1×)
/// in eu-west across 37 titles since 14:02`.
pub(crate) fn summary(
    level: Level<'_>,
    places: &[(CauseDimension, &str)],
    titles: usize,
    regions: usize,
    started_ms: i64,
) -> String {
    let mut s = String::with_capacity(96);
    match level {
        Level::Value { metric, label, value, baseline } => shift(&mut s, metric, label, value, baseline),
        Level::Absent { after_ms } => {
            let _ = write!(s, "no data for {}", crate::time::Span::from_millis(after_ms as u64));
        }
    }
    let mut names_title = false;
    for (dimension, value) in places {
        let _ = match dimension {
            CauseDimension::Region => write!(s, " in {value}"),
            CauseDimension::Content => {
                names_title = true;
                write!(s, " on {value}")
            }
            CauseDimension::ContentType => write!(s, " on {value} titles"),
            CauseDimension::Rendition => write!(s, " at {value}"),
        };
    }
    let (n, unit) = if names_title { (regions, "region") } else { (titles, "title") };
    let _ = write!(s, " across {n} {unit}{}", if n == 1 { "" } else { "s" });
    since(&mut s, started_ms);
    s
}

/// The summary of an impact alert, naming its scope first, e.g. `eu-west:
/// buffering ratio 3.6 % (expected 0.45 %, 8.0×), latency 52 ms (expected
/// 23 ms, 2.3×); 52 000 viewers across 48 titles since 14:02`.
pub(crate) fn impact_summary(
    scope: &ScopeKey,
    shifts: &[MetricShift],
    impact: &Impact,
    streams: usize,
    started_ms: i64,
) -> String {
    let mut s = String::with_capacity(128);
    let _ = match scope {
        ScopeKey::Region(r) => write!(s, "{r}: "),
        ScopeKey::Content(c) => write!(s, "{c}: "),
        ScopeKey::Stream(c, r) => write!(s, "{c} in {r}: "),
    };
    for (i, m) in shifts.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        shift(&mut s, Some(m.metric), metric_label(m.metric), m.value, m.baseline);
    }
    let _ = write!(s, "; {} viewer{}", count(impact.viewers), if impact.viewers == 1 { "" } else { "s" });
    let plural = if streams == 1 { "" } else { "s" };
    let _ = match scope {
        ScopeKey::Region(_) => write!(s, " across {streams} title{plural}"),
        ScopeKey::Content(_) => write!(s, " in {streams} region{plural}"),
        ScopeKey::Stream(..) => Ok(()),
    };
    since(&mut s, started_ms);
    s
}

/// `label value (expected baseline, r×)`: the multiple only when it says
/// something (at least 1.5× or at most 0.67×), so no summary reads "1.0×
/// baseline".
fn shift(s: &mut String, metric: Option<Metric>, label: &str, value: f64, baseline: f64) {
    let _ = write!(s, "{label} {}", figure(metric, value));
    if baseline.is_finite() && value.is_finite() {
        let _ = write!(s, " (expected {}", figure(metric, baseline));
        if baseline > 0.0 && value >= 0.0 {
            let r = value / baseline;
            if r >= 1.5 {
                let _ = write!(s, ", {}×", if r >= 10.0 { format!("{r:.0}") } else { format!("{r:.1}") });
            } else if r <= 2.0 / 3.0 {
                let _ = write!(s, ", {:.0} % lower", 100.0 * (1.0 - r));
            }
        }
        s.push(')');
    }
}

fn since(s: &mut String, started_ms: i64) {
    let stamp = format_rfc3339(started_ms);
    let _ = write!(s, " since {}", &stamp[11..16]);
}

/// A metric's value for people, in its unit: ratios as percentages,
/// milliseconds (seconds from 10 s), kbps, Mbps, counts.
pub(crate) fn figure(metric: Option<Metric>, v: f64) -> String {
    if !v.is_finite() {
        return "unknown".to_owned();
    }
    let Some(metric) = metric else { return short(v) };
    match metric {
        Metric::BufferingRatio | Metric::ErrorRate => {
            let p = v * 100.0;
            if p >= 10.0 {
                format!("{p:.0} %")
            } else if p >= 1.0 {
                format!("{p:.1} %")
            } else {
                format!("{p:.2} %")
            }
        }
        Metric::LatencyMs | Metric::E2eLatencyMs | Metric::StartupTimeMs if v >= 10_000.0 => {
            format!("{:.1} s", v / 1_000.0)
        }
        Metric::LatencyMs | Metric::E2eLatencyMs | Metric::StartupTimeMs => format!("{v:.0} ms"),
        Metric::BitrateKbps => format!("{} kbps", count(v.round().max(0.0) as u64)),
        Metric::BandwidthMbps if v < 10.0 => format!("{v:.1} Mbps"),
        Metric::BandwidthMbps => format!("{} Mbps", count(v.round().max(0.0) as u64)),
        Metric::SegmentSizeKb => format!("{v:.0} kB"),
        Metric::AvgWatchTimeS => format!("{v:.0} s"),
        Metric::Viewers | Metric::Joins | Metric::Exits | Metric::RebufferEvents => count(v.round().max(0.0) as u64),
    }
}

/// A count with thousands set apart: `52 000`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A value with about four significant digits.
fn short(x: f64) -> String {
    if x.abs() >= 100.0 || x == 0.0 { format!("{x:.0}") } else { format!("{x:.4}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{ContentId, RegionId};

    fn table(streams: &[(&str, &str, RenditionId)]) -> (Table, Vec<u32>) {
        let mut t = Table::default();
        let ids = streams
            .iter()
            .map(|&(c, r, rendition)| {
                let (id, _) = t.touch(&ContentId::from(c), &RegionId::from(r), 0, usize::MAX).unwrap();
                t.describe(id, ContentType::Video, rendition, 100);
                id
            })
            .collect();
        (t, ids)
    }

    #[test]
    fn a_region_holding_every_firing_stream_wins() {
        let mut streams = Vec::new();
        let titles: Vec<String> = (0..20).map(|i| format!("vod-{i:02}")).collect();
        for title in &titles {
            for region in ["eu-west", "us-east", "ap-south", "sa-east"] {
                streams.push((title.as_str(), region, RenditionId::P1080));
            }
        }
        let (t, ids) = table(&streams);
        let firing: Vec<u32> = ids.iter().copied().filter(|&id| t.get(id).unwrap().region == "eu-west").collect();
        let cause = best_cause(&firing, &t, 3).unwrap();
        assert_eq!((cause.dimension, cause.value.as_str(), cause.support), (CauseDimension::Region, "eu-west", 20));
        assert!((cause.lift - 4.0).abs() < 1e-9 && (cause.score - 4f64.ln()).abs() < 1e-9);
        assert!(explains(&cause, &firing, &t));
        assert!(!explains(&cause, &ids, &t));
        assert_eq!(best_cause(&firing[..2], &t, 3), None, "too little support");
        assert_eq!(best_cause(&ids, &t, 3), None, "the whole population has no shared cause");
    }

    #[test]
    fn a_title_in_every_region_wins() {
        let mut streams = Vec::new();
        let titles: Vec<String> = (0..30).map(|i| format!("vod-{i:02}")).collect();
        for (i, title) in titles.iter().enumerate() {
            for region in ["eu-west", "us-east", "ap-south", "sa-east"] {
                let rendition = if i < 3 { RenditionId::P480 } else { RenditionId::P1080 };
                streams.push((title.as_str(), region, rendition));
            }
        }
        let (t, ids) = table(&streams);
        let firing: Vec<u32> = ids.iter().copied().filter(|&id| t.get(id).unwrap().content == "vod-01").collect();
        let cause = best_cause(&firing, &t, 3).unwrap();
        assert_eq!((cause.dimension, cause.value.as_str()), (CauseDimension::Content, "vod-01"));
    }

    #[test]
    fn summaries_read_like_sentences() {
        let b = Some(Metric::BufferingRatio);
        let level = Level::Value { metric: b, label: "buffering ratio", value: 0.041, baseline: 0.01 };
        let start = 1_767_225_600_000 + (14 * 60 + 2) * 60_000;
        assert_eq!(
            summary(level, &[(CauseDimension::Region, "eu-west")], 37, 1, start),
            "buffering ratio 4.1 % (expected 1.0 %, 4.1×) in eu-west across 37 titles since 14:02"
        );
        assert_eq!(
            summary(level, &[(CauseDimension::Content, "vod-000003")], 1, 1, start),
            "buffering ratio 4.1 % (expected 1.0 %, 4.1×) on vod-000003 across 1 region since 14:02"
        );
        let absent = Level::Absent { after_ms: 300_000 };
        assert_eq!(summary(absent, &[], 2, 1, start), "no data for 5m across 2 titles since 14:02");
        let no_base =
            Level::Value { metric: Some(Metric::LatencyMs), label: "latency", value: 812.0, baseline: f64::NAN };
        assert_eq!(summary(no_base, &[], 1, 1, start), "latency 812 ms across 1 title since 14:02");
        // A small move never reads as "1.0×".
        let near =
            Level::Value { metric: Some(Metric::BitrateKbps), label: "bitrate", value: 7_500.0, baseline: 7_690.0 };
        assert_eq!(
            summary(near, &[], 1, 1, start),
            "bitrate 7 500 kbps (expected 7 690 kbps) across 1 title since 14:02"
        );
        let drop =
            Level::Value { metric: Some(Metric::BitrateKbps), label: "bitrate", value: 1_500.0, baseline: 6_000.0 };
        assert!(summary(drop, &[], 1, 1, start).starts_with("bitrate 1 500 kbps (expected 6 000 kbps, 75 % lower)"));
    }

    #[test]
    fn impact_summaries_name_their_scope() {
        let start = 1_767_225_600_000 + (14 * 60 + 2) * 60_000;
        let shifts = [
            MetricShift { metric: Metric::BufferingRatio, value: 0.036, baseline: 0.0045 },
            MetricShift { metric: Metric::LatencyMs, value: 52.0, baseline: 23.0 },
        ];
        let impact = Impact { viewers: 52_000, degradation: 0.0315, score: 1_638.0 };
        assert_eq!(
            impact_summary(&ScopeKey::Region("eu-west".into()), &shifts, &impact, 48, start),
            "eu-west: buffering ratio 3.6 % (expected 0.45 %, 8.0×), latency 52 ms (expected 23 ms, 2.3×); \
             52 000 viewers across 48 titles since 14:02"
        );
        let one = [MetricShift { metric: Metric::Viewers, value: 3_120.0, baseline: 650.0 }];
        let impact = Impact { viewers: 3_120, degradation: 0.79, score: 2_470.0 };
        assert_eq!(
            impact_summary(&ScopeKey::Stream("vod-5".into(), "ap-southeast".into()), &one, &impact, 1, start),
            "vod-5 in ap-southeast: viewers 3 120 (expected 650, 4.8×); 3 120 viewers since 14:02"
        );
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1 234 567");
    }
}
