//! The simulated catalogue: titles with names, popularity and regional
//! appeal, live events with schedules, and the release and retirement of
//! titles over time.

use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal};
use rand_pcg::Pcg64Mcg;

use crate::content::{Content, ContentStatus, ContentType, Genre, LatencyMode, LiveInfo, LiveSchedule};
use crate::id::ContentId;
use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};

/// One catalogue entry with what the simulator keeps about it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Entry {
    pub(crate) content: Content,
    /// Unique number of the entry, never reused; seeds its series.
    pub(crate) uid: u64,
    /// When the title was released (on demand) or scheduled (live).
    pub(crate) released_ms: i64,
    /// Relative appeal per region (log-normal around 1).
    pub(crate) affinity: Vec<f64>,
}

impl Entry {
    /// Popularity at `now_ms`: the title's weight with a novelty boost for
    /// new releases that decays with a 12 h time constant.
    pub(crate) fn weight(&self, now_ms: i64) -> f64 {
        let age_h = (now_ms - self.released_ms).max(0) as f64 / HOUR_MS as f64;
        let novelty = if self.content.live.is_some() { 1.0 } else { 1.0 + 2.0 * libm::exp(-age_h / 12.0) };
        self.content.popularity * novelty
    }

    /// The audience curve of a live event (1 for on-demand titles).
    pub(crate) fn curve(&self, now_ms: i64) -> f64 {
        self.content.live.map_or(1.0, |live| live.schedule.audience_curve(now_ms))
    }
}

const NAMES: [&[&str]; 15] = [
    &["Planet Depths", "Wild Coasts", "The Living Forest", "Frozen Frontiers", "Desert Kingdoms", "Ocean Giants"],
    &[
        "Scaling Rust Services",
        "Inside the Video Encoder",
        "Zero-Downtime Deploys",
        "The Art of Caching",
        "Observability at Scale",
    ],
    &["Street Food Journeys", "The Sourdough Hour", "Fire & Smoke", "Weeknight Kitchen", "Spice Routes"],
    &[
        "Linear Algebra, Visually",
        "History of Mathematics",
        "Intro to Astronomy",
        "Chemistry in the Kitchen",
        "World History Explained",
    ],
    &["Harbor Lights", "The Long Night", "Neon District", "Kingdom of Glass", "Second Chances"],
    &["Lo-Fi Beats", "Classical Essentials", "Indie Discoveries", "Jazz After Dark", "Top 50 Global"],
    &["The Daily Byte", "Founders Unfiltered", "Science Weekly", "True Crime Files", "The Product Show"],
    &["The Silent Shore", "Midnight Library Tales", "The Lighthouse Keeper", "Ember and Ash", "A Year of Rivers"],
    &["Metro FM", "Classic Rock 101", "City News Radio", "Smooth Jazz 88", "Talk Radio Live"],
    &[
        "Match Day Commentary",
        "Race Control Live",
        "Cricket Live Audio",
        "Court-side Commentary",
        "Tour Stage Commentary",
    ],
    &["Premier Cup", "Continental League", "World Series Qualifier", "Grand Slam Final", "Champions Trophy"],
    &["Breaking: Storm Landfall", "Election Night Live", "Global Markets Open", "Press Briefing", "Summit Coverage"],
    &[
        "Aurora Live in Berlin",
        "Symphony Under the Stars",
        "Festival Main Stage",
        "Unplugged Sessions",
        "Arena Tour Finale",
    ],
    &[
        "Arena Masters Finals",
        "Speedrun Marathon",
        "Battle Royale Invitational",
        "Strategy League Playoffs",
        "Fighting Game Open",
    ],
    &[
        "StreamTech Summit Keynote",
        "Cloud Native Day",
        "Video Engineering Forum",
        "Open Source Summit",
        "Developer Conference Live",
    ],
];
const TEAMS: [&str; 10] =
    ["Lions", "Hawks", "Rovers", "United", "Comets", "Titans", "Wolves", "Sharks", "Falcons", "Rangers"];

/// Makes new catalogue entries; owns the id counters.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Catalog {
    next_uid: u64,
    next_number: [u64; 3],
    regions: usize,
}

impl Catalog {
    pub(crate) fn new(regions: usize) -> Self {
        Self { next_uid: 0, next_number: [1; 3], regions }
    }

    fn next_id(&mut self, content_type: ContentType) -> (u64, ContentId) {
        let slot = &mut self.next_number[content_type as usize];
        let id = ContentId::from(format!("{}-{:06}", content_type.id_prefix(), *slot));
        *slot += 1;
        self.next_uid += 1;
        (self.next_uid, id)
    }

    fn affinity(&self, rng: &mut Pcg64Mcg, sigma: f64) -> Vec<f64> {
        let spread = LogNormal::new(0.0, sigma).expect("sigma is a positive constant");
        (0..self.regions).map(|_| spread.sample(rng)).collect()
    }

    /// A new on-demand video or audio title, released `age_ms` ago.
    pub(crate) fn on_demand(
        &mut self,
        rng: &mut Pcg64Mcg,
        content_type: ContentType,
        now_ms: i64,
        age_ms: i64,
    ) -> Entry {
        let genres = Genre::of(content_type);
        let genre = genres[rng.random_range(0..genres.len())];
        let names = NAMES[genre as usize];
        let name = names[rng.random_range(0..names.len())];
        let title = match genre {
            Genre::Music | Genre::RadioBroadcast => name.to_owned(),
            Genre::Audiobook => format!("{name}, Chapter {}", rng.random_range(1..=40)),
            Genre::Podcast => format!("{name} #{}", rng.random_range(1..=400)),
            _ => format!("{name} S{}E{}", rng.random_range(1..=6), rng.random_range(1..=12)),
        };
        let ladder = genre.ladder();
        let segment_duration_s = match genre {
            Genre::Podcast | Genre::Audiobook | Genre::RadioBroadcast | Genre::LiveCommentary => 10.0,
            Genre::TechTalk | Genre::Educational => 4.0,
            _ => 6.0,
        };
        let (uid, id) = self.next_id(content_type);
        Entry {
            content: Content {
                id,
                title,
                genre,
                ladder,
                segment_duration_s,
                popularity: popularity(rng),
                live: None,
                status: ContentStatus::Available,
            },
            uid,
            released_ms: now_ms - age_ms,
            affinity: self.affinity(rng, 0.5),
        }
    }

    /// A new live event whose pre-show opens `lead_ms` from now (negative:
    /// it opened in the past, so the event may already be on air).
    pub(crate) fn live_event(&mut self, rng: &mut Pcg64Mcg, now_ms: i64, lead_ms: i64) -> Entry {
        let genres = Genre::of(ContentType::Live);
        let genre = genres[rng.random_range(0..genres.len())];
        let names = NAMES[genre as usize];
        let name = names[rng.random_range(0..names.len())];
        let title = if genre == Genre::Sports {
            let home = rng.random_range(0..TEAMS.len());
            let away = (home + rng.random_range(1..TEAMS.len())) % TEAMS.len();
            format!("{name}: {} vs {}", TEAMS[home], TEAMS[away])
        } else {
            name.to_owned()
        };
        let (low_latency_share, minutes) = match genre {
            Genre::Sports => (0.5, 105..=150),
            Genre::GamingTournament => (0.5, 120..=240),
            Genre::NewsCoverage => (0.3, 30..=90),
            Genre::Concert => (0.1, 90..=150),
            _ => (0.1, 45..=90),
        };
        let latency_mode =
            if rng.random::<f64>() < low_latency_share { LatencyMode::LowLatency } else { LatencyMode::Standard };
        let mut preshow_ms = now_ms + lead_ms;
        let mut start_ms = preshow_ms + rng.random_range(10..=15) * MINUTE_MS as i64;
        let mut end_ms = start_ms + rng.random_range(minutes) * MINUTE_MS as i64;
        if end_ms <= now_ms {
            // Already over: open the pre-show five minutes from now instead.
            let shift = now_ms - preshow_ms + 5 * MINUTE_MS as i64;
            (preshow_ms, start_ms, end_ms) = (preshow_ms + shift, start_ms + shift, end_ms + shift);
        }
        let schedule = LiveSchedule { preshow_ms, start_ms, end_ms };
        let (uid, id) = self.next_id(ContentType::Live);
        Entry {
            content: Content {
                id,
                title,
                genre,
                ladder: genre.ladder(),
                segment_duration_s: latency_mode.segment_duration_s(),
                popularity: popularity(rng),
                live: Some(LiveInfo { latency_mode, schedule }),
                status: schedule.phase(now_ms).into(),
            },
            uid,
            released_ms: now_ms,
            // Live events draw most of their audience from a few regions.
            affinity: self.affinity(rng, 1.0),
        }
    }
}

/// Heavy-tailed title popularity: a few titles draw most of the audience.
fn popularity(rng: &mut Pcg64Mcg) -> f64 {
    LogNormal::new(0.0, 1.0).expect("constant parameters").sample(rng)
}

/// Idle time of a live slot before its next event, at least five minutes.
pub(crate) fn live_gap(rng: &mut Pcg64Mcg, mean_ms: u64) -> i64 {
    let exp = Exp::new(1.0).expect("constant parameter");
    let gap: f64 = exp.sample(rng);
    5 * MINUTE_MS as i64 + (gap * mean_ms as f64) as i64
}

/// Age of a title in the initial catalogue: up to a week.
pub(crate) fn initial_age(rng: &mut Pcg64Mcg) -> i64 {
    rng.random_range(0..7 * DAY_MS as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ids_are_sequential_per_type() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut catalog = Catalog::new(3);
        let a = catalog.on_demand(&mut rng, ContentType::Video, 0, 0);
        let b = catalog.on_demand(&mut rng, ContentType::Audio, 0, 0);
        let c = catalog.on_demand(&mut rng, ContentType::Video, 0, 0);
        let d = catalog.live_event(&mut rng, 0, 0);
        assert_eq!(a.content.id, "vod-000001");
        assert_eq!(b.content.id, "aod-000001");
        assert_eq!(c.content.id, "vod-000002");
        assert_eq!(d.content.id, "live-000001");
        assert_eq!(d.content.status, ContentStatus::PreShow);
        assert_eq!(a.affinity.len(), 3);
        assert!(b.content.ladder.is_audio() && !a.content.ladder.is_audio());
    }

    #[test]
    fn new_releases_get_a_fading_boost() {
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let mut catalog = Catalog::new(1);
        let e = catalog.on_demand(&mut rng, ContentType::Video, 0, 0);
        let p = e.content.popularity;
        assert!((e.weight(0) - 3.0 * p).abs() < 1e-9);
        assert!(e.weight(48 * HOUR_MS as i64) < 1.1 * p);
    }
}
