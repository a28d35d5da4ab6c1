//! Embed the simulator in a few lines: run two simulated hours of a
//! streaming service with a CDN incident, and print what an operator would
//! see per region and the incident's ground truth.
//!
//! Run with: `cargo run -p streammon-examples --example simulate`

use std::collections::BTreeMap;

use streammon_core::{IncidentConfig, SimConfig, Simulator, Span};

fn main() -> Result<(), streammon_core::Error> {
    let config = SimConfig {
        seed: 2026,
        step: Span::from_secs(10),
        incidents: IncidentConfig {
            scripted: vec!["cdn_degradation:eu-west@1h+10m".parse()?],
            ..IncidentConfig::default()
        },
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(config)?;
    let mut frame = Default::default();

    // Per region: (viewers, buffering ratio weighted by viewers, bitrate × viewers).
    let mut per_region: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
    for tick in 1..=720 {
        sim.step(&mut frame);
        for change in &frame.changes {
            if tick > 1 {
                println!("content_change: {} {:?} -> {}", change.content_id, change.from, change.to);
            }
        }
        for incident in &frame.incidents_started {
            println!("incident started: {}", serde_json::to_string(incident).expect("serialisable"));
        }
        // Print the picture at the end of each half hour.
        if tick % 180 == 0 {
            per_region.clear();
            for s in &frame.samples {
                let e = per_region.entry(s.region.to_string()).or_default();
                e.0 += u64::from(s.viewers);
                e.1 += s.buffering_ratio * f64::from(s.viewers);
                e.2 += s.bitrate_kbps * f64::from(s.viewers);
            }
            println!("\n{}", streammon_core::time::format_rfc3339(frame.timestamp_ms));
            println!("{:<14} {:>10} {:>10} {:>12}", "region", "viewers", "buffering", "bitrate");
            for (region, (viewers, buffering, bitrate)) in &per_region {
                let v = (*viewers).max(1) as f64;
                println!("{region:<14} {viewers:>10} {:>9.2}% {:>8.0} kbps", 100.0 * buffering / v, bitrate / v);
            }
        }
    }
    Ok(())
}
