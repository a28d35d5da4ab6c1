//! A deterministic, seedable simulator of a streaming service.
//!
//! It produces what a real service's player telemetry would: one
//! [`Sample`] per (title, CDN region, tick), [`ContentChange`]s as titles
//! are released, retired, go live and end, and [`Incident`]s with their
//! ground truth. Simulated time advances by a fixed step that the caller
//! drives, so it runs as fast as the CPU allows, or paced to the wall
//! clock by whoever calls [`Simulator::step`].
//!
//! # Determinism
//! The same [`SimConfig`] gives the same frames on every run: all
//! randomness comes from PCG generators seeded from `seed` (one for the
//! catalogue, one for random incidents, one per series, so an incident in
//! one series never shifts another's draws), nothing reads a clock, and
//! output follows catalogue and region order, never a hash map's.
//!
//! Across platforms: the model's own math goes through `libm`, a portable
//! implementation, and numbers are rounded to a fixed precision before
//! output. The samplers inside `rand_distr` (normal, Poisson, binomial,
//! Pareto) still call the platform's `exp` and `ln`; where a platform's
//! math library differs in the last bit, a draw can differ in rare cases.
//! `tests/simulator.rs` pins a digest of the default output so CI catches
//! any such drift.
//!
//! # Restarts
//! [`Simulator::checkpoint`] writes the whole state down and
//! [`Simulator::resume`] goes on from it with the same world, so that a
//! restarted server's detectors, warmed on the last run's samples, watch
//! the world they learned.
//!
//! # Memory
//! The catalogue keeps a fixed number of slots: a retired title or ended
//! event is replaced in place. Memory is O(titles × regions) and does not
//! grow with simulated time.

mod catalog;
mod checkpoint;
mod config;
mod incident;
mod model;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;

pub use checkpoint::{CHECKPOINT_VERSION, MAX_CATCH_UP_TICKS, SimCheckpoint};
pub use config::{ContentMix, DEFAULT_START_MS, IncidentConfig, SimConfig};
pub use incident::{Incident, IncidentKind, IncidentScope, IncidentScript, TargetKind};

use self::catalog::{Catalog, Entry};
use self::incident::Effect;
use self::model::{Congestion, Series, SeriesInput, SeriesOutput};
use crate::content::{Content, ContentChange, ContentStatus, ContentType};
use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::region::Region;
use crate::sample::{SCHEMA_VERSION, Sample};
use crate::time::{HOUR_MS, MINUTE_MS};

/// Everything one tick produced. Reuse one `Frame` across
/// [`Simulator::step`] calls to avoid allocating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    /// End of the tick, epoch milliseconds; the timestamp of every sample.
    pub timestamp_ms: i64,
    /// One sample per streaming title and region, in catalogue then
    /// region order.
    pub samples: Vec<Sample>,
    /// Titles that changed status during the tick.
    pub changes: Vec<ContentChange>,
    /// Incidents that began this tick, with their full ground truth.
    pub incidents_started: Vec<Incident>,
    /// Incidents that ended this tick.
    pub incidents_ended: Vec<Incident>,
}

/// A simulated streaming service. See the [module docs](self).
///
/// ```
/// use streammon_core::{SimConfig, Simulator};
/// let mut sim = Simulator::new(SimConfig { seed: 42, ..SimConfig::default() })?;
/// let mut frame = Default::default();
/// for _ in 0..60 {
///     sim.step(&mut frame);
/// }
/// let viewers: u64 = frame.samples.iter().map(|s| u64::from(s.viewers)).sum();
/// assert!(viewers > 0);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    now_ms: i64,
    step_ms: i64,
    /// Catalogue lifecycle.
    rng: Pcg64Mcg,
    /// Random incidents: a stream of their own, so that turning incidents
    /// on does not change the catalogue's story.
    incident_rng: Pcg64Mcg,
    catalog: Catalog,
    entries: Vec<Entry>,
    /// Per entry, per region.
    series: Vec<Vec<Series>>,
    /// Normalised audience share per region.
    region_share: Vec<f64>,
    /// Normalised audience share per content type.
    type_share: [f64; 3],
    /// Egress / capacity per region, from the previous tick.
    utilization: Vec<f64>,
    /// Scripted incidents not yet started, latest first.
    pending: Vec<IncidentScript>,
    active: Vec<Incident>,
    incidents_started: u64,
    announced: bool,
    scratch: Scratch,
}

/// Checks that the titles scripted incidents target are in the catalogue.
fn check_targets(scripted: &[IncidentScript], entries: &[Entry]) -> Result<()> {
    for (i, script) in scripted.iter().enumerate() {
        if let (TargetKind::Content, Some(target)) = (script.kind.target_kind(), &script.target)
            && !entries.iter().any(|e| e.content.id == target.as_str())
        {
            return Err(Error::config(
                format!("incidents.scripted[{i}].target"),
                format!(
                    "no title {target:?} in the initial catalogue, whose ids run from vod-000001, \
                         aod-000001 and live-000001 up (see the first frame's content changes)"
                ),
            ));
        }
    }
    Ok(())
}

/// Time constant with which the audience shares follow the catalogue.
const SHARE_TIME_CONSTANT_MS: f64 = 30.0 * 60.0 * 1_000.0;

/// Buffers reused every tick.
#[derive(Debug, Clone, Default)]
struct Scratch {
    weight_sums: Vec<[f64; 3]>,
    bandwidth: Vec<f64>,
    output: SeriesOutput,
}

impl Simulator {
    /// Builds a simulator after validating `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the
    /// first invalid field.
    pub fn new(config: SimConfig) -> Result<Self> {
        config.validate()?;
        let regions = config.regions.len();
        let mut rng = Pcg64Mcg::seed_from_u64(mix_seed(config.seed, 0, 0));
        let mut catalog = Catalog::new(regions);
        let now = config.start_ms;

        let mix = &config.mix;
        let total = mix.video + mix.audio + mix.live;
        let type_share = [mix.video / total, mix.audio / total, mix.live / total];
        let live_slots = (config.titles as f64 * type_share[2]).round() as usize;
        let audio_titles = (config.titles as f64 * type_share[1]).round() as usize;
        let audio_titles = audio_titles.min(config.titles - live_slots);
        let video_titles = config.titles - live_slots - audio_titles;

        let mut entries = Vec::with_capacity(config.titles);
        for _ in 0..video_titles {
            let age = catalog::initial_age(&mut rng);
            entries.push(catalog.on_demand(&mut rng, ContentType::Video, now, age));
        }
        for _ in 0..audio_titles {
            let age = catalog::initial_age(&mut rng);
            entries.push(catalog.on_demand(&mut rng, ContentType::Audio, now, age));
        }
        for _ in 0..live_slots {
            // Spread the first events so that some are on air at the start.
            let lead = rng.random_range(-3 * HOUR_MS as i64..config.live_gap.as_millis() as i64);
            entries.push(catalog.live_event(&mut rng, now, lead));
        }

        let share_total: f64 = config.regions.iter().map(|r| r.audience_share).sum();
        let region_share = config.regions.iter().map(|r| r.audience_share / share_total).collect();
        check_targets(&config.incidents.scripted, &entries)?;
        let mut pending = config.incidents.scripted.clone();
        pending.sort_by_key(|s| std::cmp::Reverse(s.at));

        let mut sim = Self {
            step_ms: config.step.as_millis() as i64,
            now_ms: now,
            rng,
            incident_rng: Pcg64Mcg::seed_from_u64(mix_seed(config.seed, 0, u64::MAX)),
            catalog,
            series: Vec::with_capacity(entries.len()),
            entries,
            region_share,
            type_share,
            utilization: vec![0.0; regions],
            pending,
            active: Vec::new(),
            incidents_started: 0,
            announced: false,
            scratch: Scratch {
                weight_sums: vec![[0.0; 3]; regions],
                bandwidth: vec![0.0; regions],
                ..Scratch::default()
            },
            config,
        };
        sim.sum_weights(now);
        for i in 0..sim.entries.len() {
            let warm = sim.entries[i].content.live.is_none();
            let series = sim.new_series(i, warm, now);
            sim.series.push(series);
        }
        Ok(sim)
    }

    /// The configuration the simulator was built with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The simulated time: the end of the last tick, epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The CDN regions.
    pub fn regions(&self) -> &[Region] {
        &self.config.regions
    }

    /// The catalogue: every title and live event in a slot, streaming or not.
    pub fn catalog(&self) -> impl ExactSizeIterator<Item = &Content> + '_ {
        self.entries.iter().map(|e| &e.content)
    }

    /// Incidents in force now.
    pub fn active_incidents(&self) -> &[Incident] {
        &self.active
    }

    /// Runs one tick and writes what it produced into `frame`, replacing
    /// its previous contents. Never fails: every input was validated at
    /// construction.
    pub fn step(&mut self, frame: &mut Frame) {
        let t = self.now_ms + self.step_ms;
        self.now_ms = t;
        frame.timestamp_ms = t;
        frame.samples.clear();
        frame.changes.clear();
        frame.incidents_started.clear();
        frame.incidents_ended.clear();

        if !self.announced {
            self.announced = true;
            for e in &self.entries {
                frame.changes.push(change(t, &e.content, None, e.content.status));
            }
        }
        self.advance_catalog(t, frame);
        self.advance_incidents(t, frame);
        self.sum_weights(t);
        self.emit_samples(t, frame);
    }

    /// Runs one tick and returns a new frame; [`step`](Self::step) with
    /// a reused frame avoids the allocation.
    pub fn next_frame(&mut self) -> Frame {
        let mut frame = Frame::default();
        self.step(&mut frame);
        frame
    }

    /// Releases and retires on-demand titles, moves live events through
    /// their schedule, and replaces ended events with new ones.
    fn advance_catalog(&mut self, t: i64, frame: &mut Frame) {
        let p_retire = 1.0 - libm::exp(-(self.step_ms as f64) / self.config.vod_lifetime.as_millis() as f64);
        for i in 0..self.entries.len() {
            let content = &self.entries[i].content;
            let replacement = match content.live {
                None => {
                    if self.rng.random::<f64>() >= p_retire {
                        continue;
                    }
                    frame.changes.push(change(t, content, Some(content.status), ContentStatus::Retired));
                    let kind = content.content_type();
                    self.catalog.on_demand(&mut self.rng, kind, t, 0)
                }
                Some(live) => {
                    let status = ContentStatus::from(live.schedule.phase(t));
                    if status != content.status {
                        frame.changes.push(change(t, content, Some(content.status), status));
                        self.entries[i].content.status = status;
                    }
                    if status != ContentStatus::Ended {
                        continue;
                    }
                    let lead = catalog::live_gap(&mut self.rng, self.config.live_gap.as_millis());
                    self.catalog.live_event(&mut self.rng, t, lead)
                }
            };
            frame.changes.push(change(t, &replacement.content, None, replacement.content.status));
            self.entries[i] = replacement;
            self.series[i] = self.new_series(i, false, t);
        }
    }

    /// Starts scripted and random incidents that are due and ends those
    /// whose time is up.
    fn advance_incidents(&mut self, t: i64, frame: &mut Frame) {
        let mut k = 0;
        while k < self.active.len() {
            if self.active[k].end_ms <= t {
                frame.incidents_ended.push(self.active.remove(k));
            } else {
                k += 1;
            }
        }
        while self.pending.last().is_some_and(|s| self.script_window(s).0 <= t) {
            let script = self.pending.pop().expect("checked above");
            let (begin, end) = self.script_window(&script);
            let scope = match script.target {
                Some(target) => match script.kind.target_kind() {
                    TargetKind::Region => IncidentScope { content: None, region: Some(RegionId::from(target)) },
                    TargetKind::Content => IncidentScope { content: Some(ContentId::from(target)), region: None },
                },
                None => self.random_scope(script.kind),
            };
            self.start_incident(script.kind, scope, begin, end, script.severity, frame);
        }
        let incidents = &self.config.incidents;
        if incidents.rate_per_hour > 0.0 {
            let expected = incidents.rate_per_hour * self.step_ms as f64 / HOUR_MS as f64;
            let p = self.incident_rng.random::<f64>();
            // Poisson arrivals: inverse-CDF walk, a handful of steps at most.
            let (mut count, mut term) = (0, libm::exp(-expected));
            let mut cdf = term;
            while p > cdf && count < 100 {
                count += 1;
                term *= expected / f64::from(count);
                cdf += term;
            }
            for _ in 0..count {
                let kinds = &self.config.incidents.kinds;
                let kind = kinds[self.incident_rng.random_range(0..kinds.len())];
                let median = self.config.incidents.median_duration.as_millis() as f64;
                let length = LogNormal::new(libm::log(median), 0.5).expect("median validated positive");
                // Whole ticks, so labels line up with sample timestamps.
                let ticks = (length.sample(&mut self.incident_rng) / self.step_ms as f64).round().max(1.0);
                let duration = ticks as i64 * self.step_ms;
                let severity = self.incident_rng.random_range(0.4..=1.0);
                let scope = self.random_scope(kind);
                self.start_incident(kind, scope, t, t + duration, severity, frame);
            }
        }
    }

    /// The sample timestamps a script covers, `[begin, end)`: its start
    /// rounded up to a tick (at the earliest the first), and its duration
    /// rounded up to whole ticks, so every scripted incident touches at
    /// least one sample and its label lines up with sample timestamps.
    fn script_window(&self, script: &IncidentScript) -> (i64, i64) {
        let step = self.step_ms;
        let ticks = |ms: u64| (ms as i64 + step - 1) / step;
        let begin = self.config.start_ms + ticks(script.at.as_millis()).max(1) * step;
        (begin, begin + ticks(script.duration.as_millis()).max(1) * step)
    }

    fn start_incident(
        &mut self,
        kind: IncidentKind,
        scope: IncidentScope,
        start_ms: i64,
        end_ms: i64,
        severity: f64,
        frame: &mut Frame,
    ) {
        self.incidents_started += 1;
        let incident = Incident {
            id: format!("inc-{:04}", self.incidents_started),
            kind,
            scope,
            metrics: kind.metrics().to_vec(),
            start_ms,
            end_ms,
            severity: (severity * 1_000.0).round() / 1_000.0,
        };
        frame.incidents_started.push(incident.clone());
        self.active.push(incident);
    }

    /// A scope for an incident without a scripted target: a region chosen
    /// by audience share, or a streaming title chosen by popularity (a
    /// flash crowd half the time in one region only).
    fn random_scope(&mut self, kind: IncidentKind) -> IncidentScope {
        let pick_region = |rng: &mut Pcg64Mcg, shares: &[f64], regions: &[Region]| {
            let mut x = rng.random::<f64>();
            for (share, region) in shares.iter().zip(regions) {
                x -= share;
                if x < 0.0 {
                    return region.id.clone();
                }
            }
            regions[regions.len() - 1].id.clone()
        };
        match kind.target_kind() {
            TargetKind::Region => IncidentScope {
                content: None,
                region: Some(pick_region(&mut self.incident_rng, &self.region_share, &self.config.regions)),
            },
            TargetKind::Content => {
                let t = self.now_ms;
                let total: f64 =
                    self.entries.iter().filter(|e| e.content.status.is_streaming()).map(|e| e.weight(t)).sum();
                let mut x = self.incident_rng.random::<f64>() * total;
                let mut content = self.entries[0].content.id.clone();
                for e in self.entries.iter().filter(|e| e.content.status.is_streaming()) {
                    content = e.content.id.clone();
                    x -= e.weight(t);
                    if x < 0.0 {
                        break;
                    }
                }
                let region = (kind == IncidentKind::FlashCrowd && self.incident_rng.random::<bool>())
                    .then(|| pick_region(&mut self.incident_rng, &self.region_share, &self.config.regions));
                IncidentScope { content: Some(content), region }
            }
        }
    }

    /// Sums title weights × regional affinity per region and content type:
    /// the denominators that turn weights into audience shares. The sums
    /// move toward the catalogue's with a time constant of
    /// [`SHARE_TIME_CONSTANT_MS`], so a title coming or going does not at
    /// once rescale every other title's audience (a big live event ending
    /// does not double the audience of the ones still on air).
    fn sum_weights(&mut self, t: i64) {
        let first = self.scratch.weight_sums.iter().all(|s| *s == [0.0; 3]);
        let keep = if first { 0.0 } else { libm::exp(-(self.step_ms as f64) / SHARE_TIME_CONSTANT_MS) };
        let mut now = vec![[0.0; 3]; self.scratch.weight_sums.len()];
        for e in &self.entries {
            let w = e.weight(t);
            let kind = e.content.content_type() as usize;
            for (sum, a) in now.iter_mut().zip(&e.affinity) {
                sum[kind] += w * a;
            }
        }
        for (smoothed, now) in self.scratch.weight_sums.iter_mut().zip(&now) {
            for (s, n) in smoothed.iter_mut().zip(now) {
                *s = keep * *s + (1.0 - keep) * n;
            }
        }
    }

    /// The audience a series is drawn toward: the peak audience × the
    /// region's share × its diurnal curve × the content type's share × the
    /// title's weight relative to its type in that region × a live event's
    /// audience curve.
    fn target(&self, entry: &Entry, region: usize, t: i64, diurnal: f64) -> f64 {
        let kind = entry.content.content_type() as usize;
        let sum = self.scratch.weight_sums[region][kind];
        if sum <= 0.0 {
            return 0.0;
        }
        self.config.peak_viewers as f64
            * self.region_share[region]
            * diurnal
            * self.type_share[kind]
            * entry.weight(t)
            * entry.affinity[region]
            / sum
            * entry.curve(t)
    }

    fn new_series(&self, index: usize, warm: bool, t: i64) -> Vec<Series> {
        let entry = &self.entries[index];
        (0..self.config.regions.len())
            .map(|r| {
                let rng = Pcg64Mcg::seed_from_u64(mix_seed(self.config.seed, entry.uid, r as u64 + 1));
                let viewers = if warm { self.target(entry, r, t, self.diurnal(r, t)).round() as u32 } else { 0 };
                Series::new(rng, viewers)
            })
            .collect()
    }

    fn diurnal(&self, region: usize, t: i64) -> f64 {
        let local = t + i64::from(self.config.regions[region].utc_offset_minutes) * MINUTE_MS as i64;
        model::diurnal(local.rem_euclid(24 * HOUR_MS as i64) as f64 / HOUR_MS as f64)
    }

    fn emit_samples(&mut self, t: i64, frame: &mut Frame) {
        let regions = self.config.regions.len();
        let diurnal: Vec<f64> = (0..regions).map(|r| self.diurnal(r, t)).collect();
        let congestion: Vec<Congestion> = self.utilization.iter().map(|&u| Congestion::at(u)).collect();
        let step_s = self.step_ms as f64 / 1_000.0;
        let tail_per_tick: Vec<f64> =
            self.config.regions.iter().map(|r| 1.0 - libm::pow(1.0 - r.latency.tail_probability, step_s)).collect();
        let mut bandwidth = std::mem::take(&mut self.scratch.bandwidth);
        bandwidth.fill(0.0);
        let mut out = std::mem::take(&mut self.scratch.output);

        for (i, entry) in self.entries.iter().enumerate() {
            let content = &entry.content;
            if !content.status.is_streaming() {
                continue;
            }
            let content_type = content.content_type();
            for (r, region) in self.config.regions.iter().enumerate() {
                let mut effect = Effect::NONE;
                for incident in &self.active {
                    if incident.scope.contains(&content.id, &region.id) {
                        effect.add(incident);
                    }
                }
                let input = SeriesInput {
                    step_s,
                    ladder: content.ladder,
                    segment_duration_s: content.segment_duration_s,
                    mean_watch_time_s: content.genre.mean_watch_time_s(),
                    live: content.live.map(|l| l.latency_mode),
                    latency: &region.latency,
                    tail_per_tick: tail_per_tick[r],
                    median_throughput_mbps: region.median_throughput_mbps,
                    congestion: congestion[r],
                    target_viewers: self.target(entry, r, t, diurnal[r]) * effect.audience,
                    effect,
                };
                self.series[i][r].tick(&input, &mut out);
                bandwidth[r] += out.bandwidth_mbps;
                frame.samples.push(Sample {
                    schema: SCHEMA_VERSION,
                    timestamp_ms: t,
                    interval_ms: self.step_ms as u32,
                    content_id: content.id.clone(),
                    content_type,
                    region: region.id.clone(),
                    viewers: out.viewers,
                    joins: out.joins,
                    exits: out.exits,
                    avg_watch_time_s: round(out.avg_watch_time_s, 10.0),
                    latency_ms: round(out.latency_ms, 10.0),
                    e2e_latency_ms: out.e2e_latency_ms.map(|v| round(v, 10.0)),
                    startup_time_ms: round(out.startup_time_ms, 10.0),
                    buffering_ratio: round(out.buffering_ratio, 1e6),
                    rebuffer_events: out.rebuffer_events,
                    bitrate_kbps: round(out.bitrate_kbps, 1_000.0),
                    rendition: out.rendition.unwrap_or(content.ladder.lowest().id),
                    renditions: out.renditions,
                    segment_duration_s: content.segment_duration_s,
                    segment_size_kb: round(out.segment_size_kb, 100.0),
                    bandwidth_mbps: round(out.bandwidth_mbps, 1_000.0),
                    error_rate: round(out.error_rate, 1e6),
                });
            }
        }
        for ((u, bw), region) in self.utilization.iter_mut().zip(&bandwidth).zip(&self.config.regions) {
            *u = bw / (region.capacity_gbps * 1_000.0);
        }
        self.scratch.bandwidth = bandwidth;
        self.scratch.output = out;
    }

    /// Egress / capacity per region after the last tick, in region order.
    pub fn utilization(&self) -> &[f64] {
        &self.utilization
    }
}

impl Iterator for Simulator {
    type Item = Frame;

    /// Never ends; take as many frames as needed.
    fn next(&mut self) -> Option<Frame> {
        Some(self.next_frame())
    }
}

fn change(t: i64, content: &Content, from: Option<ContentStatus>, to: ContentStatus) -> ContentChange {
    ContentChange {
        timestamp_ms: t,
        content_id: content.id.clone(),
        title: content.title.clone(),
        content_type: content.content_type(),
        genre: Some(content.genre),
        from,
        to,
    }
}

/// Rounds to a fixed number of decimals (`scale` = 10^decimals).
fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// SplitMix64 over the seed and a stream's coordinates: independent,
/// reproducible seeds for every random stream.
fn mix_seed(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
