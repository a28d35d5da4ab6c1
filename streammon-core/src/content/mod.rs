//! What is being streamed: titles, genres, ladders, live schedules.

mod ladder;
mod live;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::ContentId;

pub use ladder::{Codec, Ladder, Rendition, RenditionId};
pub use live::{LatencyMode, LiveInfo, LivePhase, LiveSchedule};

/// The three kinds of content the original design monitors.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// Video on demand.
    Video,
    /// Audio streams, on demand or radio-like.
    Audio,
    /// Live events (video).
    Live,
}

impl ContentType {
    /// Every content type.
    pub const ALL: [ContentType; 3] = [Self::Video, Self::Audio, Self::Live];

    /// The wire label: `video`, `audio` or `live`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Live => "live",
        }
    }

    /// The prefix of generated content ids: `vod`, `aod` or `live`.
    pub const fn id_prefix(self) -> &'static str {
        match self {
            Self::Video => "vod",
            Self::Audio => "aod",
            Self::Live => "live",
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fifteen genres of the original design, five per content type.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Genre {
    NatureDocumentary,
    TechTalk,
    CookingShow,
    Educational,
    EntertainmentSeries,
    Music,
    Podcast,
    Audiobook,
    RadioBroadcast,
    LiveCommentary,
    Sports,
    NewsCoverage,
    Concert,
    GamingTournament,
    Conference,
}

impl Genre {
    /// Every genre, grouped by content type.
    pub const ALL: [Genre; 15] = [
        Self::NatureDocumentary,
        Self::TechTalk,
        Self::CookingShow,
        Self::Educational,
        Self::EntertainmentSeries,
        Self::Music,
        Self::Podcast,
        Self::Audiobook,
        Self::RadioBroadcast,
        Self::LiveCommentary,
        Self::Sports,
        Self::NewsCoverage,
        Self::Concert,
        Self::GamingTournament,
        Self::Conference,
    ];

    /// The genres of one content type.
    pub fn of(content_type: ContentType) -> &'static [Genre] {
        match content_type {
            ContentType::Video => &Self::ALL[0..5],
            ContentType::Audio => &Self::ALL[5..10],
            ContentType::Live => &Self::ALL[10..15],
        }
    }

    /// The content type this genre belongs to.
    pub const fn content_type(self) -> ContentType {
        match self as usize {
            0..=4 => ContentType::Video,
            5..=9 => ContentType::Audio,
            _ => ContentType::Live,
        }
    }

    /// The ABR ladder titles of this genre are encoded with.
    pub const fn ladder(self) -> Ladder {
        match self {
            Self::NatureDocumentary | Self::CookingShow | Self::EntertainmentSeries | Self::Concert => Ladder::Film,
            Self::TechTalk | Self::Educational | Self::NewsCoverage | Self::Conference => Ladder::Talk,
            Self::Sports | Self::GamingTournament => Ladder::Sport,
            Self::Music => Ladder::Music,
            Self::Podcast | Self::Audiobook | Self::LiveCommentary => Ladder::Speech,
            Self::RadioBroadcast => Ladder::Broadcast,
        }
    }

    /// Mean viewing session in seconds for titles of this genre.
    pub const fn mean_watch_time_s(self) -> f64 {
        match self {
            Self::NatureDocumentary => 2_400.0,
            Self::TechTalk => 1_500.0,
            Self::CookingShow => 1_200.0,
            Self::Educational => 1_800.0,
            Self::EntertainmentSeries => 2_700.0,
            Self::Music => 1_800.0,
            Self::Podcast => 2_100.0,
            Self::Audiobook => 2_700.0,
            Self::RadioBroadcast => 3_600.0,
            Self::LiveCommentary => 2_400.0,
            Self::Sports => 3_000.0,
            Self::NewsCoverage => 1_200.0,
            Self::Concert => 2_700.0,
            Self::GamingTournament => 3_600.0,
            Self::Conference => 1_800.0,
        }
    }

    /// The wire label, e.g. `nature_documentary`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NatureDocumentary => "nature_documentary",
            Self::TechTalk => "tech_talk",
            Self::CookingShow => "cooking_show",
            Self::Educational => "educational",
            Self::EntertainmentSeries => "entertainment_series",
            Self::Music => "music",
            Self::Podcast => "podcast",
            Self::Audiobook => "audiobook",
            Self::RadioBroadcast => "radio_broadcast",
            Self::LiveCommentary => "live_commentary",
            Self::Sports => "sports",
            Self::NewsCoverage => "news_coverage",
            Self::Concert => "concert",
            Self::GamingTournament => "gaming_tournament",
            Self::Conference => "conference",
        }
    }
}

impl fmt::Display for Genre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a title is in its life. On-demand titles go `available` →
/// `retired`; live events go `scheduled` → `pre_show` → `live` → `ended`.
/// Every transition is a [`ContentChange`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentStatus {
    /// On-demand title that can be played.
    Available,
    /// On-demand title taken out of the catalogue.
    Retired,
    /// Live event announced, not yet streaming.
    Scheduled,
    /// Live event streaming its pre-show slate.
    PreShow,
    /// Live event on air.
    Live,
    /// Live event over.
    Ended,
}

impl ContentStatus {
    /// Whether the title is streaming in this state (and so produces samples).
    pub const fn is_streaming(self) -> bool {
        matches!(self, Self::Available | Self::PreShow | Self::Live)
    }

    /// The wire label, e.g. `pre_show`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Retired => "retired",
            Self::Scheduled => "scheduled",
            Self::PreShow => "pre_show",
            Self::Live => "live",
            Self::Ended => "ended",
        }
    }
}

impl From<LivePhase> for ContentStatus {
    fn from(phase: LivePhase) -> Self {
        match phase {
            LivePhase::Scheduled => Self::Scheduled,
            LivePhase::PreShow => Self::PreShow,
            LivePhase::Live => Self::Live,
            LivePhase::Ended => Self::Ended,
        }
    }
}

impl fmt::Display for ContentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One title or live event in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// Stable identifier, e.g. `vod-000042`.
    pub id: ContentId,
    /// Display title.
    pub title: String,
    /// Genre; determines the content type and ladder.
    pub genre: Genre,
    /// The ABR ladder the title is encoded with.
    pub ladder: Ladder,
    /// Media segment duration in seconds.
    pub segment_duration_s: f64,
    /// Relative popularity weight (1.0 is average).
    pub popularity: f64,
    /// Live attributes; `None` for on-demand titles.
    pub live: Option<LiveInfo>,
    /// Current status.
    pub status: ContentStatus,
}

impl Content {
    /// The content type, derived from the genre.
    pub fn content_type(&self) -> ContentType {
        self.genre.content_type()
    }
}

/// A title changed status: the payload of the `content_change` event.
///
/// Wire format (schema version 1):
///
/// ```
/// # use streammon_core::*;
/// let change = ContentChange {
///     timestamp_ms: 1_767_225_600_000,
///     content_id: ContentId::from("live-000001"),
///     title: "Premier Cup: Lions vs Hawks".into(),
///     content_type: ContentType::Live,
///     genre: Some(Genre::Sports),
///     from: Some(ContentStatus::PreShow),
///     to: ContentStatus::Live,
/// };
/// assert_eq!(
///     serde_json::to_string(&change)?,
///     r#"{"timestamp_ms":1767225600000,"content_id":"live-000001","title":"Premier Cup: Lions vs Hawks","content_type":"live","genre":"sports","from":"pre_show","to":"live"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentChange {
    /// When the change happened, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Which title.
    pub content_id: ContentId,
    /// Its display title.
    pub title: String,
    /// Its content type.
    pub content_type: ContentType,
    /// Its genre; `None` when the source does not say (a title first seen
    /// in player telemetry).
    #[serde(default)]
    pub genre: Option<Genre>,
    /// Status before; `None` when the title first appears.
    pub from: Option<ContentStatus>,
    /// Status after.
    pub to: ContentStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_genres_per_type_with_matching_ladders() {
        for t in ContentType::ALL {
            let genres = Genre::of(t);
            assert_eq!(genres.len(), 5);
            for g in genres {
                assert_eq!(g.content_type(), t);
                assert_eq!(g.ladder().is_audio(), t == ContentType::Audio, "{g}");
                assert_eq!(serde_json::to_string(g).unwrap(), format!("\"{g}\""));
            }
        }
    }
}
