//! Behaviour of the simulator across its public API: determinism,
//! invariants of every sample, and incidents that move what they claim.

use std::collections::HashMap;

use streammon_core::{
    ContentId, ContentType, Frame, IncidentConfig, IncidentKind, IncidentScript, Ladder, Metric, Sample, SimConfig,
    Simulator, Span,
};

fn config(seed: u64, step_s: u64) -> SimConfig {
    SimConfig { seed, step: Span::from_secs(step_s), ..SimConfig::default() }
}

fn run_bytes(config: SimConfig, ticks: usize) -> Vec<u8> {
    let mut sim = Simulator::new(config).unwrap();
    let mut frame = Frame::default();
    let mut out = Vec::new();
    for _ in 0..ticks {
        sim.step(&mut frame);
        for s in &frame.samples {
            serde_json::to_writer(&mut out, s).unwrap();
            out.push(b'\n');
        }
        serde_json::to_writer(&mut out, &frame.changes).unwrap();
        serde_json::to_writer(&mut out, &frame.incidents_started).unwrap();
    }
    out
}

/// FNV-1a: a stable digest, independent of the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let mut with_incidents = config(11, 5);
    with_incidents.incidents.rate_per_hour = 20.0;
    let a = run_bytes(with_incidents.clone(), 400);
    let b = run_bytes(with_incidents.clone(), 400);
    assert_eq!(a, b);
    with_incidents.seed = 12;
    let c = run_bytes(with_incidents, 400);
    assert_ne!(a, c);
    assert!(a.len() > 100_000);
}

/// Pins the output of the default configuration, so that a change to the
/// model, the random streams or the wire format is a deliberate one. If
/// you changed the model on purpose, update the digest and say so in the
/// commit message; if this fails on one platform only, determinism broke.
#[test]
fn default_output_is_pinned() {
    let bytes = run_bytes(config(0, 1), 120);
    assert_eq!(fnv1a(&bytes), PINNED_DIGEST, "digest {:#018x}", fnv1a(&bytes));
}
const PINNED_DIGEST: u64 = 0x358b_fdb2_71ec_db59;

/// What the test knows of each title: its ladder, type and segment length.
fn catalog(sim: &Simulator) -> HashMap<ContentId, (Ladder, ContentType, f64)> {
    sim.catalog().map(|c| (c.id.clone(), (c.ladder, c.content_type(), c.segment_duration_s))).collect()
}

fn close(a: f64, b: f64, abs: f64, rel: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

fn check_invariants(s: &Sample, ladder: Ladder, kind: ContentType, segment_s: f64, collapsed: bool, step_ms: u32) {
    let ctx = || serde_json::to_string(s).unwrap();
    assert_eq!(s.schema, streammon_core::SCHEMA_VERSION);
    assert_eq!(s.interval_ms, step_ms);
    assert_eq!(s.content_type, kind, "{}", ctx());
    for (name, ratio) in [("buffering_ratio", s.buffering_ratio), ("error_rate", s.error_rate)] {
        assert!((0.0..=1.0).contains(&ratio), "{name} {}", ctx());
    }
    assert_eq!(u64::from(s.viewers), s.renditions.total(), "{}", ctx());
    assert!(ladder.get(s.rendition).is_some(), "rendition off the ladder: {}", ctx());
    for (id, _) in s.renditions.iter() {
        assert!(ladder.get(id).is_some(), "mix off the ladder: {}", ctx());
    }
    assert!(s.latency_ms > 0.0 && s.startup_time_ms > 0.0 && s.avg_watch_time_s > 0.0, "{}", ctx());
    assert_eq!(s.e2e_latency_ms.is_some(), kind == ContentType::Live, "{}", ctx());
    assert_eq!(s.segment_duration_s, segment_s);
    assert!(close(s.segment_size_kb, s.bitrate_kbps * segment_s / 8.0, 0.02, 1e-4), "{}", ctx());
    // Bandwidth is viewers × delivered bitrate.
    // Bitrate is rounded to 0.001 kbps and bandwidth to 0.001 Mbps.
    let slack = 0.000_5 * f64::from(s.viewers) + 0.5 + 1e-9 * s.bandwidth_mbps * 1_000.0;
    assert!((s.bitrate_kbps * f64::from(s.viewers) - s.bandwidth_mbps * 1_000.0).abs() <= slack, "{}", ctx());
    if !collapsed {
        let (lo, hi) = (ladder.lowest().bitrate_kbps, ladder.highest().bitrate_kbps);
        assert!((f64::from(lo)..=f64::from(hi)).contains(&s.bitrate_kbps), "{}", ctx());
        // The totals are the sums of their parts, rendition by rendition.
        let kbps: f64 =
            s.renditions.iter().map(|(id, v)| f64::from(v) * f64::from(ladder.get(id).unwrap().bitrate_kbps)).sum();
        assert!(close(kbps / 1_000.0, s.bandwidth_mbps, 0.001, 1e-9), "{}", ctx());
    } else {
        assert!(s.bitrate_kbps > 0.0 && s.bitrate_kbps <= f64::from(ladder.highest().bitrate_kbps));
    }
}

#[test]
fn every_sample_keeps_the_invariants_through_incidents_and_churn() {
    let mut cfg = config(3, 5);
    cfg.titles = 120;
    cfg.vod_lifetime = Span::from_hours(2);
    cfg.incidents.rate_per_hour = 30.0;
    let step_ms = cfg.step.as_millis() as u32;
    let mut sim = Simulator::new(cfg).unwrap();
    let mut frame = Frame::default();
    let mut last_ts = sim.now_ms();
    let (mut samples, mut changes, mut incidents) = (0usize, 0usize, 0usize);
    for _ in 0..(6 * 720) {
        sim.step(&mut frame);
        assert_eq!(frame.timestamp_ms, last_ts + i64::from(step_ms));
        last_ts = frame.timestamp_ms;
        let titles = catalog(&sim);
        let collapsed: Vec<&ContentId> = sim
            .active_incidents()
            .iter()
            .filter(|i| i.kind == IncidentKind::EncoderCollapse)
            .filter_map(|i| i.scope.content.as_ref())
            .collect();
        for s in &frame.samples {
            assert_eq!(s.timestamp_ms, frame.timestamp_ms);
            let (ladder, kind, seg) = titles[&s.content_id];
            check_invariants(s, ladder, kind, seg, collapsed.contains(&&s.content_id), step_ms);
        }
        samples += frame.samples.len();
        changes += frame.changes.len();
        incidents += frame.incidents_started.len();
    }
    assert!(samples > 1_000_000, "{samples}");
    assert!(changes > 200, "titles should come and go: {changes}");
    assert!(incidents > 100, "{incidents}");
}

/// Mean of a metric over the samples in scope, weighted by viewers.
fn weighted_mean(frames: &[Frame], from: usize, to: usize, metric: Metric, pick: &dyn Fn(&Sample) -> bool) -> f64 {
    let (mut sum, mut weight) = (0.0, 0.0);
    for f in &frames[from..to] {
        for s in f.samples.iter().filter(|s| pick(s)) {
            if let Some(v) = s.get(metric) {
                let w = f64::from(s.viewers).max(1.0);
                sum += v * w;
                weight += w;
            }
        }
    }
    assert!(weight > 0.0, "no samples in scope for {metric}");
    sum / weight
}

fn frames(config: SimConfig, ticks: usize) -> Vec<Frame> {
    Simulator::new(config).unwrap().take(ticks).collect()
}

/// Runs the same world with and without one scripted incident at tick 360
/// to 540 (10 s steps: 1 h to 1 h 30 m) and returns both.
fn with_and_without(script: &str) -> (Vec<Frame>, Vec<Frame>) {
    let base = SimConfig { titles: 30, ..config(5, 10) };
    let mut hit = base.clone();
    hit.incidents = IncidentConfig { scripted: vec![script.parse::<IncidentScript>().unwrap()], ..Default::default() };
    (frames(hit, 900), frames(base, 900))
}

/// The incident window starts at tick index 359 (sample time = start + 360 steps).
const START: usize = 359;
const END: usize = 539;

fn assert_untouched_before(hit: &[Frame], control: &[Frame]) {
    assert_eq!(hit[..START], control[..START], "frames before the incident must be identical");
}

#[test]
fn cdn_degradation_hurts_its_region_only_and_recovers() {
    let (hit, control) = with_and_without("cdn_degradation:eu-west@1h+30m*0.9");
    assert_untouched_before(&hit, &control);
    assert_eq!(hit[START].incidents_started.len(), 1);
    assert_eq!(hit[END].incidents_ended.len(), 1);
    let eu = |s: &Sample| s.region == "eu-west";
    let window = (START + 12, END);
    let ratio =
        |m| weighted_mean(&hit, window.0, window.1, m, &eu) / weighted_mean(&control, window.0, window.1, m, &eu);
    assert!(ratio(Metric::BufferingRatio) > 3.0, "buffering ×{}", ratio(Metric::BufferingRatio));
    assert!(ratio(Metric::BitrateKbps) < 0.85, "bitrate ×{}", ratio(Metric::BitrateKbps));
    assert!(ratio(Metric::LatencyMs) > 2.0, "latency ×{}", ratio(Metric::LatencyMs));
    assert!(ratio(Metric::StartupTimeMs) > 1.5, "startup ×{}", ratio(Metric::StartupTimeMs));
    assert!(ratio(Metric::ErrorRate) > 5.0, "errors ×{}", ratio(Metric::ErrorRate));
    // Other regions see exactly what they would have seen.
    for (h, c) in hit[START..END].iter().zip(&control[START..END]) {
        let others = |f: &Frame| f.samples.iter().filter(|s| s.region != "eu-west").cloned().collect::<Vec<_>>();
        assert_eq!(others(h), others(c));
    }
    // Ten minutes after the end, quality is back within noise.
    let after = (END + 60, 900);
    let back = weighted_mean(&hit, after.0, after.1, Metric::BufferingRatio, &eu)
        / weighted_mean(&control, after.0, after.1, Metric::BufferingRatio, &eu);
    assert!((0.8..1.25).contains(&back), "buffering after recovery ×{back}");
}

#[test]
fn latency_spike_moves_latency_and_startup_in_its_region() {
    let (hit, control) = with_and_without("latency_spike:us-east@1h+30m*0.5");
    assert_untouched_before(&hit, &control);
    let us = |s: &Sample| s.region == "us-east";
    let r = |m| weighted_mean(&hit, START + 1, END, m, &us) / weighted_mean(&control, START + 1, END, m, &us);
    assert!(r(Metric::LatencyMs) > 5.0, "latency ×{}", r(Metric::LatencyMs));
    // Start-up pays the extra latency on each of its four round trips.
    let added = |m| weighted_mean(&hit, START + 1, END, m, &us) - weighted_mean(&control, START + 1, END, m, &us);
    assert!(
        added(Metric::StartupTimeMs) > 0.9 * 4.0 * added(Metric::LatencyMs),
        "{} vs {}",
        added(Metric::StartupTimeMs),
        added(Metric::LatencyMs)
    );
    let after = |f: &[Frame]| weighted_mean(f, END + 2, 900, Metric::LatencyMs, &us);
    assert!(close(after(&hit), after(&control), 0.0, 0.15), "{} vs {}", after(&hit), after(&control));
}

/// The most watched on-demand title in the control run, so scripts can
/// name a title that streams through the window.
fn top_title(control: &[Frame]) -> String {
    let mut viewers: HashMap<&str, u64> = HashMap::new();
    for s in &control[START].samples {
        if s.content_type != ContentType::Live {
            *viewers.entry(s.content_id.as_str()).or_default() += u64::from(s.viewers);
        }
    }
    viewers.into_iter().max_by_key(|&(id, v)| (v, std::cmp::Reverse(id))).unwrap().0.to_owned()
}

#[test]
fn origin_outage_fails_requests_and_drives_viewers_away() {
    let (_, control) = with_and_without("latency_spike:us-east@9h+1m");
    let title = top_title(&control);
    let (hit, control) = with_and_without(&format!("origin_outage:{title}@1h+30m*0.8"));
    assert_untouched_before(&hit, &control);
    let it = |s: &Sample| s.content_id == title.as_str();
    let r = |m| weighted_mean(&hit, START + 6, END, m, &it) / weighted_mean(&control, START + 6, END, m, &it);
    assert!(r(Metric::ErrorRate) > 50.0, "errors ×{}", r(Metric::ErrorRate));
    assert!(r(Metric::BufferingRatio) > 5.0, "buffering ×{}", r(Metric::BufferingRatio));
    assert!(r(Metric::StartupTimeMs) > 3.0, "startup ×{}", r(Metric::StartupTimeMs));
    let viewers = |f: &[Frame]| f[END - 1].samples.iter().filter(|s| it(s)).map(|s| s.viewers).sum::<u32>();
    assert!(viewers(&hit) * 2 < viewers(&control), "{} vs {}", viewers(&hit), viewers(&control));
    // Other titles are untouched.
    for (h, c) in hit[START..END].iter().zip(&control[START..END]) {
        let others = |f: &Frame| f.samples.iter().filter(|s| !it(s)).cloned().collect::<Vec<_>>();
        assert_eq!(others(h), others(c));
    }
}

#[test]
fn encoder_collapse_cuts_bitrate_at_the_same_resolutions() {
    let (_, control) = with_and_without("latency_spike:us-east@9h+1m");
    let title = top_title(&control);
    let (hit, control) = with_and_without(&format!("encoder_collapse:{title}@1h+30m*1.0"));
    assert_untouched_before(&hit, &control);
    let it = |s: &Sample| s.content_id == title.as_str();
    let r = |m| weighted_mean(&hit, START + 1, END, m, &it) / weighted_mean(&control, START + 1, END, m, &it);
    for m in [Metric::BitrateKbps, Metric::BandwidthMbps, Metric::SegmentSizeKb] {
        assert!(r(m) < 0.5, "{m} ×{}", r(m));
    }
    let after = |f: &[Frame]| weighted_mean(f, END + 1, 900, Metric::BitrateKbps, &it);
    assert!(close(after(&hit), after(&control), 0.0, 0.15), "{} vs {}", after(&hit), after(&control));
}

#[test]
fn flash_crowd_multiplies_the_audience() {
    let (_, control) = with_and_without("latency_spike:us-east@9h+1m");
    let title = top_title(&control);
    let (hit, control) = with_and_without(&format!("flash_crowd:{title}@1h+30m*0.8"));
    assert_untouched_before(&hit, &control);
    let it = |s: &Sample| s.content_id == title.as_str();
    let total = |f: &Frame| f.samples.iter().filter(|s| it(s)).map(|s| u64::from(s.viewers)).sum::<u64>();
    // Within ten minutes the audience has more than tripled.
    assert!(
        total(&hit[START + 60]) > 3 * total(&control[START + 60]),
        "{} vs {}",
        total(&hit[START + 60]),
        total(&control[START + 60])
    );
    let joins = |f: &[Frame]| f[START + 3].samples.iter().filter(|s| it(s)).map(|s| s.joins).sum::<u32>();
    assert!(joins(&hit) > 5 * joins(&control).max(1));
    // Half an hour after the end the crowd has gone again.
    let late = END + 180;
    assert!(total(&hit[late]) < 2 * total(&control[late]), "{} vs {}", total(&hit[late]), total(&control[late]));
}

#[test]
fn audiences_follow_the_local_day() {
    // eu-west is UTC: compare 21:00 with 05:00, one day into the run.
    let cfg = SimConfig { titles: 30, ..config(9, 60) };
    let frames = frames(cfg, 1_440 + 22 * 60);
    let eu = |f: &Frame| f.samples.iter().filter(|s| s.region == "eu-west").map(|s| u64::from(s.viewers)).sum::<u64>();
    let evening = eu(&frames[1_440 + 21 * 60 - 1]);
    let dawn = eu(&frames[1_440 + 5 * 60 - 1]);
    assert!(evening > 4 * dawn, "21:00 {evening} vs 05:00 {dawn}");
}

#[test]
fn live_events_ramp_up_peak_and_end() {
    let cfg = SimConfig {
        titles: 40,
        mix: streammon_core::ContentMix { video: 0.0, audio: 0.0, live: 1.0 },
        ..config(4, 30)
    };
    let mut sim = Simulator::new(cfg).unwrap();
    let mut frame = Frame::default();
    let mut seen_live = HashMap::new();
    let mut transitions = Vec::new();
    for _ in 0..(12 * 120) {
        sim.step(&mut frame);
        for c in &frame.changes {
            transitions.push((c.from, c.to));
        }
        let schedules: HashMap<_, _> =
            sim.catalog().filter_map(|c| c.live.map(|l| (c.id.clone(), l.schedule))).collect();
        for s in &frame.samples {
            let sched = schedules[&s.content_id];
            let x = (s.timestamp_ms - sched.start_ms) as f64 / (sched.end_ms - sched.start_ms) as f64;
            let bucket = if x < 0.0 {
                0
            } else if x < 0.2 {
                1
            } else if x < 0.8 {
                2
            } else {
                3
            };
            let e: &mut [u64; 4] = seen_live.entry(s.content_id.clone()).or_insert([0; 4]);
            e[bucket] = e[bucket].max(u64::from(s.viewers));
        }
    }
    use streammon_core::ContentStatus::*;
    for pair in [(Some(Scheduled), PreShow), (Some(PreShow), Live), (Some(Live), Ended), (None, Scheduled)] {
        assert!(transitions.contains(&pair), "{pair:?} never happened");
    }
    // Peak audiences dwarf pre-show audiences for events seen whole.
    let whole: Vec<_> = seen_live.values().filter(|b| b[0] > 0 && b[3] > 0).collect();
    assert!(whole.len() >= 5, "{}", whole.len());
    let grew = whole.iter().filter(|b| b[2] > 3 * b[0]).count();
    assert!(grew * 10 >= whole.len() * 9, "{grew} of {}", whole.len());
}

#[test]
fn memory_stays_bounded_over_a_long_run() {
    let mut cfg = config(1, 60);
    cfg.vod_lifetime = Span::from_hours(1);
    cfg.incidents.rate_per_hour = 10.0;
    let mut sim = Simulator::new(cfg).unwrap();
    let titles = sim.catalog().len();
    let mut frame = Frame::default();
    let mut max_samples = 0;
    for _ in 0..(60 * 24 * 7) {
        sim.step(&mut frame);
        max_samples = max_samples.max(frame.samples.len());
        assert!(sim.active_incidents().len() < 50);
    }
    assert_eq!(sim.catalog().len(), titles);
    assert!(max_samples <= titles * sim.regions().len());
}

/// Regression: a live slot whose first event was already over at the
/// start used to be announced as ended and never host another event.
#[test]
fn no_live_slot_starts_over_and_every_slot_keeps_hosting_events() {
    let live_only = streammon_core::ContentMix { video: 0.0, audio: 0.0, live: 1.0 };
    for seed in 0..12 {
        let mut sim = Simulator::new(SimConfig { titles: 10, mix: live_only.clone(), ..config(seed, 60) }).unwrap();
        let slots: Vec<ContentId> = sim.catalog().filter(|c| c.live.is_some()).map(|c| c.id.clone()).collect();
        let first = sim.next_frame();
        assert!(
            !first.changes.iter().any(|c| c.from.is_none() && c.to == streammon_core::ContentStatus::Ended),
            "seed {seed}: an event was announced as already ended"
        );
        // Over a simulated day, every slot's event goes on air at some point.
        let mut on_air = std::collections::HashSet::new();
        for frame in sim.by_ref().take(24 * 60) {
            on_air.extend(
                frame
                    .changes
                    .iter()
                    .filter(|c| c.to == streammon_core::ContentStatus::Live)
                    .map(|c| c.content_id.clone()),
            );
        }
        let live_now: Vec<_> = first
            .changes
            .iter()
            .filter(|c| c.to == streammon_core::ContentStatus::Live)
            .map(|c| c.content_id.clone())
            .collect();
        let aired = slots.iter().filter(|id| on_air.contains(*id) || live_now.contains(id)).count();
        assert_eq!(aired, slots.len(), "seed {seed}: {aired} of {} first events aired", slots.len());
        assert!(on_air.len() > slots.len(), "seed {seed}: slots must host further events");
    }
}

/// Regression: a scripted incident naming a title that does not exist
/// used to produce a label whose metrics never moved.
#[test]
fn scripted_incidents_must_name_a_real_title() {
    let mut cfg = config(0, 1);
    cfg.incidents.scripted = vec!["origin_outage:vod-999999@1m+1m".parse().unwrap()];
    let err = Simulator::new(cfg).unwrap_err().to_string();
    assert!(err.contains("incidents.scripted[0].target") && err.contains("vod-999999"), "{err}");
}

/// Regression: a scripted incident shorter than a step, or starting at 0,
/// used to vanish without a label.
#[test]
fn scripted_incidents_cover_whole_ticks() {
    let mut cfg = config(0, 10);
    cfg.incidents.scripted =
        vec!["latency_spike:eu-west@0s+3s".parse().unwrap(), "latency_spike:us-east@25s+1s".parse().unwrap()];
    let frames = frames(cfg, 10);
    let started: Vec<_> = frames.iter().flat_map(|f| f.incidents_started.clone()).collect();
    assert_eq!(started.len(), 2);
    let start = streammon_core::simulator::DEFAULT_START_MS;
    assert_eq!((started[0].start_ms, started[0].end_ms), (start + 10_000, start + 20_000));
    assert_eq!((started[1].start_ms, started[1].end_ms), (start + 30_000, start + 40_000));
    assert_eq!(frames[0].incidents_started.len(), 1);
    assert_eq!(frames[1].incidents_ended.len(), 1);
    assert_eq!(frames[2].incidents_started.len(), 1);
}

/// Random incidents draw from a stream of their own: turning them on does
/// not change which titles come and go.
#[test]
fn incidents_do_not_change_the_catalogue_story() {
    let calm = SimConfig { vod_lifetime: Span::from_hours(1), ..config(21, 30) };
    let mut stormy = calm.clone();
    stormy.incidents.rate_per_hour = 30.0;
    let story = |cfg: SimConfig| -> Vec<_> {
        Simulator::new(cfg)
            .unwrap()
            .take(2 * 240)
            .flat_map(|f| f.changes)
            .map(|c| (c.timestamp_ms, c.content_id, c.to))
            .collect()
    };
    assert_eq!(story(calm), story(stormy));
}
