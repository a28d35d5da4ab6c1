//! Plug a detector of your own into the pipeline: a hard ceiling on
//! buffering, fed by the simulator with a CDN incident in eu-west.
//!
//! Run with: `cargo run -p streammon-examples --example custom_detector`

use streammon_core::monitor::Monitor;
use streammon_core::{Band, Detector, IncidentConfig, Metric, Point, Reason, SimConfig, Simulator, Verdict};

/// Anything above `limit` is an anomaly, from the first point on.
#[derive(Debug)]
struct Ceiling {
    limit: f64,
}

impl Detector for Ceiling {
    fn name(&self) -> &'static str {
        "ceiling"
    }
    fn update(&mut self, p: Point) -> Verdict {
        let over = p.value > self.limit && p.weight >= 50.0;
        Verdict::new(if over { 1.0 } else { 0.0 }, Some(Band::new(0.0, self.limit)), over.then_some(Reason::Above))
    }
    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

fn main() -> Result<(), streammon_core::Error> {
    let scripted = vec!["cdn_degradation:eu-west@10m+5m*1.0".parse()?];
    let config = SimConfig { incidents: IncidentConfig { scripted, ..Default::default() }, ..SimConfig::default() };
    let mut monitor =
        Monitor::with_factory(vec![Metric::BufferingRatio], Box::new(|_| Box::new(Ceiling { limit: 0.02 })));
    let mut anomalies = Vec::new();
    for frame in Simulator::new(config)?.take(20 * 60) {
        monitor.observe_all(&frame.samples, &mut anomalies);
    }
    let eu = anomalies.iter().filter(|a| a.series.region == "eu-west").count();
    println!("{} anomalies, {eu} of them in eu-west, where the incident was", anomalies.len());
    Ok(())
}
