//! A simulator's state written down, so that a restarted server goes on
//! with the same world: the same titles, live events in the same phase,
//! the same audiences and random streams.

use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, Entry};
use super::config::SimConfig;
use super::incident::Incident;
use super::model::Series;
use super::{Scratch, Simulator};
use crate::error::{Error, Result};

/// The format of [`Simulator::checkpoint`]; a checkpoint of another
/// version is refused, and the caller starts a new world.
pub const CHECKPOINT_VERSION: u32 = 1;

/// At most this many ticks are simulated again by
/// [`Simulator::resume_at`] to catch up from a checkpoint; an older one is
/// refused.
pub const MAX_CATCH_UP_TICKS: i64 = 3_600;

/// Everything a simulator carries from one tick to the next, from
/// [`Simulator::checkpoint`]: plain serde data (about 260 bytes per series in
/// JSON) whose fields are private. Its configuration is kept to check
/// that a resumed run simulates the same world; scripted incidents are
/// the resuming run's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimCheckpoint {
    version: u32,
    config: SimConfig,
    now_ms: i64,
    rng: Pcg64Mcg,
    incident_rng: Pcg64Mcg,
    catalog: Catalog,
    entries: Vec<Entry>,
    series: Vec<Vec<Series>>,
    utilization: Vec<f64>,
    weight_sums: Vec<[f64; 3]>,
    active: Vec<Incident>,
    incidents_started: u64,
}

impl Simulator {
    /// Its state at the end of the last tick, for [`Simulator::resume`]
    /// after a restart; serialise it with any serde format.
    ///
    /// ```
    /// use streammon_core::{SimCheckpoint, SimConfig, Simulator};
    /// let config = SimConfig { titles: 5, ..SimConfig::default() };
    /// let mut sim = Simulator::new(config.clone())?;
    /// for _ in 0..30 {
    ///     sim.next_frame();
    /// }
    /// let text = serde_json::to_string(&sim.checkpoint())?;
    /// let checkpoint: SimCheckpoint = serde_json::from_str(&text)?;
    /// let mut again = Simulator::resume(config, checkpoint)?;
    /// assert_eq!(again.next_frame().samples, sim.next_frame().samples);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self) -> SimCheckpoint {
        SimCheckpoint {
            version: CHECKPOINT_VERSION,
            config: SimConfig { incidents: Default::default(), ..self.config.clone() },
            now_ms: self.now_ms,
            rng: self.rng.clone(),
            incident_rng: self.incident_rng.clone(),
            catalog: self.catalog.clone(),
            entries: self.entries.clone(),
            series: self.series.clone(),
            utilization: self.utilization.clone(),
            weight_sums: self.scratch.weight_sums.clone(),
            active: self.active.clone(),
            incidents_started: self.incidents_started,
        }
    }

    /// Goes on from a [`checkpoint`](Self::checkpoint): the next frame is
    /// the one the checkpointed simulator would have made. `config` must
    /// describe the same world (seed, step, titles, mix, audience,
    /// regions, catalogue lifetimes). Incidents come from `config` alone:
    /// scripted ones count from the checkpoint's time, and those in force
    /// at the checkpoint end with it (the first frame reports them ended,
    /// their `end_ms` its timestamp), so a run restarted with
    /// other incidents, or none, gets what it asked for. Its `start_ms` is
    /// ignored. Like a new simulator's, its first frame announces every
    /// title (a change with no `from`), for a consumer that starts with it.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an invalid `config`, and
    /// [`Error::InvalidCheckpoint`] for a checkpoint of another version,
    /// of another world (naming the field), or whose catalogue does not
    /// fit its regions.
    pub fn resume(mut config: SimConfig, state: SimCheckpoint) -> Result<Self> {
        config.validate()?;
        let refuse = |reason: String| Error::InvalidCheckpoint { reason };
        if state.version != CHECKPOINT_VERSION {
            return Err(refuse(format!("version {} (this build reads {CHECKPOINT_VERSION})", state.version)));
        }
        if let Some(field) = differs(&state.config, &config) {
            return Err(refuse(format!("`{field}` differs from the checkpointed run's")));
        }
        let regions = config.regions.len();
        let titles = state.entries.len();
        let fits = state.series.len() == titles
            && state.series.iter().all(|s| s.len() == regions)
            && state.entries.iter().all(|e| e.affinity.len() == regions)
            && state.utilization.len() == regions
            && state.weight_sums.len() == regions
            && titles == config.titles;
        if !fits {
            return Err(refuse(format!("its catalogue does not hold {} titles × {regions} regions", config.titles)));
        }
        // Scripted incidents may target titles released since the start,
        // so they are checked against the checkpoint's catalogue.
        let mut scripted = std::mem::take(&mut config.incidents.scripted);
        super::check_targets(&scripted, &state.entries)?;
        let mut sim = Self::new(SimConfig { start_ms: state.now_ms, ..config })?;
        sim.rng = state.rng;
        sim.incident_rng = state.incident_rng;
        sim.catalog = state.catalog;
        sim.entries = state.entries;
        sim.series = state.series;
        sim.utilization = state.utilization;
        sim.scratch = Scratch { weight_sums: state.weight_sums, ..sim.scratch };
        sim.active = state.active;
        for incident in &mut sim.active {
            incident.end_ms = incident.end_ms.min(state.now_ms + sim.step_ms);
        }
        sim.incidents_started = state.incidents_started;
        sim.config.incidents.scripted.clone_from(&scripted);
        scripted.sort_by_key(|s| std::cmp::Reverse(s.at));
        sim.pending = scripted;
        Ok(sim)
    }

    /// [`resume`](Self::resume), then [`skip_to`](Self::skip_to) `t_ms`:
    /// a restarted server goes on from the last tick it stored, which may
    /// be later than its last checkpoint.
    ///
    /// # Errors
    /// As [`resume`](Self::resume), and [`Error::InvalidCheckpoint`] for a
    /// checkpoint more than [`MAX_CATCH_UP_TICKS`] behind `t_ms`.
    pub fn resume_at(config: SimConfig, state: SimCheckpoint, t_ms: i64) -> Result<Self> {
        let behind = (t_ms - state.now_ms) / config.step.as_millis().max(1) as i64;
        if behind > MAX_CATCH_UP_TICKS {
            return Err(Error::InvalidCheckpoint {
                reason: format!(
                    "{behind} ticks behind the last stored one (at most {MAX_CATCH_UP_TICKS} are caught up)"
                ),
            });
        }
        let mut sim = Self::resume(config, state)?;
        sim.skip_to(t_ms);
        Ok(sim)
    }

    /// Steps without output until the clock reaches `t_ms` (at most one
    /// step short): a resumed simulator catches up with the samples its
    /// last run stored after its checkpoint. A catalogue not yet
    /// announced is announced by the next frame still.
    pub fn skip_to(&mut self, t_ms: i64) {
        let mut frame = super::Frame::default();
        let announced = self.announced;
        while self.now_ms + self.step_ms <= t_ms {
            self.step(&mut frame);
        }
        self.announced = announced;
    }
}

/// The first field in which two configurations describe different
/// worlds (incidents and the start aside).
fn differs(saved: &SimConfig, config: &SimConfig) -> Option<&'static str> {
    [
        ("seed", saved.seed == config.seed),
        ("step", saved.step == config.step),
        ("titles", saved.titles == config.titles),
        ("mix", saved.mix == config.mix),
        ("peak_viewers", saved.peak_viewers == config.peak_viewers),
        ("regions", saved.regions == config.regions),
        ("vod_lifetime", saved.vod_lifetime == config.vod_lifetime),
        ("live_gap", saved.live_gap == config.live_gap),
    ]
    .into_iter()
    .find_map(|(field, same)| (!same).then_some(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{IncidentConfig, IncidentKind, IncidentScope, IncidentScript};
    use crate::time::Span;
    use crate::{Frame, RegionId};

    fn config() -> SimConfig {
        SimConfig {
            seed: 9,
            titles: 30,
            incidents: IncidentConfig { rate_per_hour: 40.0, ..IncidentConfig::default() },
            ..SimConfig::default()
        }
    }

    /// No random incidents, so none is in force at a checkpoint.
    fn quiet() -> SimConfig {
        SimConfig { incidents: IncidentConfig::default(), ..config() }
    }

    #[test]
    fn a_resumed_simulator_makes_the_frames_the_first_would_have() {
        let mut sim = Simulator::new(config()).unwrap();
        let mut frame = Frame::default();
        // Long enough for live events to start and end, titles to be
        // retired, and random incidents to come and go; then to a moment
        // with none in force (those end at a checkpoint).
        for _ in 0..3 * 3_600 {
            sim.step(&mut frame);
        }
        while !sim.active_incidents().is_empty() {
            sim.step(&mut frame);
        }
        let text = serde_json::to_string(&sim.checkpoint()).unwrap();
        let mut again = Simulator::resume(config(), serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(again.now_ms(), sim.now_ms());
        assert_eq!(again.catalog().collect::<Vec<_>>(), sim.catalog().collect::<Vec<_>>());
        // The first frame announces the catalogue again, and is the same
        // otherwise.
        let (mut first, expected) = (again.next_frame(), sim.next_frame());
        assert_eq!(first.changes.len(), 30 + expected.changes.len(), "{:?}", first.changes);
        assert!(first.changes[..30].iter().all(|c| c.from.is_none()));
        first.changes.drain(..30);
        assert_eq!(first, expected);
        for _ in 0..600 {
            assert_eq!(again.next_frame(), sim.next_frame());
        }
        // And the checkpoint of the resumed one is the same text, but for
        // the start its scripted incidents count from.
        let text = |sim: &Simulator| {
            let mut checkpoint = sim.checkpoint();
            checkpoint.config.start_ms = 0;
            serde_json::to_string(&checkpoint).unwrap()
        };
        assert_eq!(text(&again), text(&sim));
    }

    #[test]
    fn incidents_in_force_end_with_the_checkpoint() {
        let mut sim = Simulator::new(config()).unwrap();
        let mut frame = Frame::default();
        while sim.active_incidents().is_empty() {
            sim.step(&mut frame);
        }
        let ongoing = sim.active_incidents().to_vec();
        let mut again = Simulator::resume(config(), sim.checkpoint()).unwrap();
        let first = again.next_frame();
        assert_eq!(first.incidents_ended.len(), ongoing.len());
        for (ended, was) in first.incidents_ended.iter().zip(&ongoing) {
            assert_eq!((&ended.id, ended.end_ms), (&was.id, first.timestamp_ms), "{ended:?}");
        }
        assert!(again.active_incidents().iter().all(|i| !ongoing.iter().any(|o| o.id == i.id)));
    }

    #[test]
    fn scripted_incidents_count_from_the_checkpoint() {
        let mut sim = Simulator::new(SimConfig { titles: 5, ..SimConfig::default() }).unwrap();
        for _ in 0..100 {
            sim.next_frame();
        }
        let script = IncidentScript {
            kind: IncidentKind::CdnDegradation,
            at: Span::from_secs(15),
            duration: Span::from_mins(1),
            severity: 1.0,
            target: Some(RegionId::from("eu-west").to_string()),
        };
        let mut config = SimConfig { titles: 5, ..SimConfig::default() };
        config.incidents.scripted = vec![script];
        let mut again = Simulator::resume(config, sim.checkpoint()).unwrap();
        let from = again.now_ms();
        let started = (0..30).find_map(|_| again.next_frame().incidents_started.pop()).expect("the script starts");
        assert_eq!(started.start_ms, from + 15_000);
        assert_eq!(started.scope, IncidentScope { content: None, region: Some(RegionId::from("eu-west")) });
    }

    #[test]
    fn another_world_or_version_is_refused_by_name() {
        let sim = Simulator::new(config()).unwrap();
        let err = Simulator::resume(SimConfig { seed: 10, ..config() }, sim.checkpoint()).unwrap_err();
        assert!(err.to_string().contains("`seed` differs"), "{err}");
        let err = Simulator::resume(SimConfig { titles: 31, ..config() }, sim.checkpoint()).unwrap_err();
        assert!(err.to_string().contains("`titles` differs"), "{err}");
        let err = Simulator::resume(config(), SimCheckpoint { version: 99, ..sim.checkpoint() }).unwrap_err();
        assert!(err.to_string().contains("version 99"), "{err}");
        let mut short = sim.checkpoint();
        short.series.pop();
        let err = Simulator::resume(config(), short).unwrap_err();
        assert!(matches!(err, Error::InvalidCheckpoint { .. }), "{err}");
        let err = Simulator::resume(SimConfig { step: Span::from_secs(0), ..config() }, sim.checkpoint()).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
        // Incidents may change: they apply from the checkpoint on.
        Simulator::resume(SimConfig { incidents: IncidentConfig::default(), ..config() }, sim.checkpoint()).unwrap();
    }

    #[test]
    fn skip_to_catches_up_with_what_was_stored_after_the_checkpoint() {
        let mut sim = Simulator::new(quiet()).unwrap();
        for _ in 0..60 {
            sim.next_frame();
        }
        let mut again = Simulator::resume(quiet(), sim.checkpoint()).unwrap();
        for _ in 0..10 {
            sim.next_frame();
        }
        again.skip_to(sim.now_ms() + 500);
        assert_eq!(again.now_ms(), sim.now_ms());
        let far = sim.now_ms() + (MAX_CATCH_UP_TICKS + 70) * 1_000;
        let err = Simulator::resume_at(quiet(), sim.checkpoint(), far).unwrap_err();
        assert!(err.to_string().contains("ticks behind"), "{err}");
        let (first, expected) = (again.next_frame(), sim.next_frame());
        assert_eq!(first.samples, expected.samples);
        assert_eq!(first.changes.iter().filter(|c| c.from.is_none()).count(), 30, "announced after the catch-up");
    }
}
