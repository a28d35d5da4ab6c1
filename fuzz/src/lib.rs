//! What the fuzz targets share: the properties every parsed CMCD report
//! keeps, and a collector to feed the reports to, as the server does.

use streammon_core::cmcd::{Collector, CollectorConfig, MAX_LIST, Report};
use streammon_core::{ContentChange, RegionId, Sample};

/// A fixed "now", epoch ms (2026-01-01T00:00:00Z): the targets read no
/// clock, so that a crash replays.
pub const NOW_MS: i64 = 1_767_225_600_000;

/// Checks what `Report::parse` promises of every report it returns: the
/// bounds of each key (`docs/CMCD.md`, `report.rs`), strings of printable
/// ASCII (structured-field strings), and an owned copy equal to it.
pub fn check_report(r: &Report<'_>) {
    assert!(r.version >= 1, "version {}", r.version);
    let ints = [
        ("d", r.d),
        ("dfa", r.dfa),
        ("dl", r.dl),
        ("ltc", r.ltc),
        ("sn", r.sn),
        ("msd", r.msd),
        ("pt", r.pt),
        ("rtp", r.rtp),
        ("ts", r.ts),
        ("ttfb", r.ttfb),
        ("ttfbb", r.ttfbb),
        ("ttlb", r.ttlb),
    ];
    for (key, v) in ints {
        if let Some(v) = v {
            assert!(v >= 0, "{key}={v} is negative");
        }
    }
    if let Some(rc) = r.rc {
        assert!((100..=599).contains(&rc), "rc={rc}");
    }
    if let Some(pr) = r.pr {
        assert!(pr.is_finite() && pr >= 0.0, "pr={pr}");
    }
    let lists = [r.br, r.ab, r.lb, r.lab, r.tb, r.tab, r.tpb, r.bl, r.mtp, r.pb, r.tbl, r.bsa, r.bsd, r.bsda];
    for list in lists {
        assert!(list.iter().count() <= MAX_LIST);
        assert_eq!(list.is_empty(), list.first().is_none());
        assert_eq!(list.video().is_some(), !list.is_empty());
        for (v, _) in list.iter() {
            assert!((0..=i64::from(u32::MAX)).contains(&v), "list value {v}");
        }
    }
    let strings =
        [&r.cs, &r.nor, &r.nrr, &r.cid, &r.sid, &r.cdn, &r.ec, &r.cen, &r.h, &r.url, &r.cmsdd, &r.cmsds, &r.smrt];
    for s in strings.into_iter().flatten() {
        assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s:?} is not printable ASCII");
    }
    let owned = r.clone().into_owned();
    assert!(owned == *r, "into_owned changed the report");
}

/// Feeds `reports` to a fresh collector, one every 250 ms from
/// [`NOW_MS`], as one viewer region; then ends three ticks (one at once,
/// one a second later, one past the session timeout) and checks that
/// every sample it emits passes the check a client's sample must pass.
pub fn collect(reports: &[Report<'_>]) {
    let mut collector = Collector::new(CollectorConfig::default()).expect("default config");
    let region = RegionId::from("fuzz-region");
    let mut now = NOW_MS;
    for r in reports {
        // A report without a usable `sid` is refused (400), not a crash.
        let _ = collector.observe(r, &region, now);
        now += 250;
    }
    let (mut samples, mut changes): (Vec<Sample>, Vec<ContentChange>) = (Vec::new(), Vec::new());
    for at in [now, now + 1_000, now + 120_000] {
        samples.clear();
        changes.clear();
        collector.tick(at, 1_000, &mut samples, &mut changes);
        for s in &samples {
            if let Err(e) = s.validate() {
                panic!("the collector emitted an invalid sample ({e}): {s:?}");
            }
        }
    }
}
