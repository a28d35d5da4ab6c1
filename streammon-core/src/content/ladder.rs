//! Renditions and ABR ladders: what a player can choose between.
//!
//! Bitrates follow common industry ladders (Apple's HLS authoring
//! guidance and typical OTT services): H.264 up to 1080p, HEVC above it,
//! 60 fps ladders for sports and gaming, AAC/HE-AAC for audio.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A step of a ladder, identified by its resolution (video) or bitrate
/// (audio). Its position is stable: it indexes [`RenditionMix`](crate::RenditionMix).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RenditionId {
    #[serde(rename = "480p")]
    P480,
    #[serde(rename = "720p")]
    P720,
    #[serde(rename = "1080p")]
    P1080,
    #[serde(rename = "1440p")]
    P1440,
    #[serde(rename = "2160p")]
    P2160,
    #[serde(rename = "96k")]
    A96,
    #[serde(rename = "128k")]
    A128,
    #[serde(rename = "192k")]
    A192,
    #[serde(rename = "256k")]
    A256,
    #[serde(rename = "320k")]
    A320,
}

impl RenditionId {
    /// Number of rendition ids.
    pub const COUNT: usize = 10;

    /// Every id, in index order.
    pub const ALL: [RenditionId; Self::COUNT] = [
        Self::P480,
        Self::P720,
        Self::P1080,
        Self::P1440,
        Self::P2160,
        Self::A96,
        Self::A128,
        Self::A192,
        Self::A256,
        Self::A320,
    ];

    /// Position in [`RenditionId::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The label used on the wire, e.g. `1080p` or `128k`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::P480 => "480p",
            Self::P720 => "720p",
            Self::P1080 => "1080p",
            Self::P1440 => "1440p",
            Self::P2160 => "2160p",
            Self::A96 => "96k",
            Self::A128 => "128k",
            Self::A192 => "192k",
            Self::A256 => "256k",
            Self::A320 => "320k",
        }
    }

    /// Parses a wire label such as `720p`.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.as_str() == label)
    }

    /// Whether this is a video rendition.
    pub const fn is_video(self) -> bool {
        (self as usize) < 5
    }
}

impl fmt::Display for RenditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A codec in a ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// H.264 / AVC (`avc1`).
    H264,
    /// H.265 / HEVC (`hvc1`).
    Hevc,
    /// AAC-LC (`mp4a.40.2`).
    Aac,
    /// HE-AAC v1 (`mp4a.40.5`), used at the lowest audio bitrates.
    HeAac,
}

/// One encoded version of a title.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rendition {
    /// Which step this is.
    pub id: RenditionId,
    /// Frame width in pixels; 0 for audio.
    pub width: u16,
    /// Frame height in pixels; 0 for audio.
    pub height: u16,
    /// Frames per second; 0 for audio.
    pub fps: u8,
    /// Average encoded bitrate in kilobits per second (video includes its
    /// audio track).
    pub bitrate_kbps: u32,
    /// Codec.
    pub codec: Codec,
}

const fn video(id: RenditionId, width: u16, height: u16, fps: u8, bitrate_kbps: u32, codec: Codec) -> Rendition {
    Rendition { id, width, height, fps, bitrate_kbps, codec }
}

const fn audio(id: RenditionId, bitrate_kbps: u32, codec: Codec) -> Rendition {
    Rendition { id, width: 0, height: 0, fps: 0, bitrate_kbps, codec }
}

use Codec::{Aac, H264, HeAac, Hevc};
use RenditionId::*;

const FILM_30: [Rendition; 5] = [
    video(P480, 854, 480, 30, 1_200, H264),
    video(P720, 1280, 720, 30, 3_000, H264),
    video(P1080, 1920, 1080, 30, 6_000, H264),
    video(P1440, 2560, 1440, 30, 9_500, Hevc),
    video(P2160, 3840, 2160, 30, 16_000, Hevc),
];
const TALK_30: [Rendition; 3] = [
    video(P480, 854, 480, 30, 900, H264),
    video(P720, 1280, 720, 30, 2_200, H264),
    video(P1080, 1920, 1080, 30, 4_500, H264),
];
const SPORT_60: [Rendition; 5] = [
    video(P480, 854, 480, 60, 1_800, H264),
    video(P720, 1280, 720, 60, 4_500, H264),
    video(P1080, 1920, 1080, 60, 8_000, H264),
    video(P1440, 2560, 1440, 60, 12_000, Hevc),
    video(P2160, 3840, 2160, 60, 20_000, Hevc),
];
const MUSIC: [Rendition; 5] =
    [audio(A96, 96, HeAac), audio(A128, 128, Aac), audio(A192, 192, Aac), audio(A256, 256, Aac), audio(A320, 320, Aac)];
const SPEECH: [Rendition; 2] = [audio(A96, 96, HeAac), audio(A128, 128, Aac)];
const BROADCAST: [Rendition; 3] = [audio(A96, 96, HeAac), audio(A128, 128, Aac), audio(A192, 192, Aac)];

/// An ABR ladder: renditions in ascending bitrate order.
///
/// ```
/// use streammon_core::Ladder;
/// let ladder = Ladder::Film;
/// assert_eq!(ladder.lowest().id.as_str(), "480p");
/// assert_eq!(ladder.highest().id.as_str(), "2160p");
/// assert!(ladder.renditions().windows(2).all(|w| w[0].bitrate_kbps < w[1].bitrate_kbps));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ladder {
    /// Films and series: 480p to 2160p at 30 fps, 1.2 to 16 Mbps.
    Film,
    /// Talks, lectures and news: 480p to 1080p at 30 fps, 0.9 to 4.5 Mbps.
    Talk,
    /// Sports and gaming: 480p to 2160p at 60 fps, 1.8 to 20 Mbps.
    Sport,
    /// Music: 96 to 320 kbps.
    Music,
    /// Speech (podcasts, audiobooks, commentary): 96 and 128 kbps.
    Speech,
    /// Radio: 96 to 192 kbps.
    Broadcast,
}

impl Ladder {
    /// The renditions, lowest bitrate first.
    pub fn renditions(self) -> &'static [Rendition] {
        match self {
            Self::Film => &FILM_30,
            Self::Talk => &TALK_30,
            Self::Sport => &SPORT_60,
            Self::Music => &MUSIC,
            Self::Speech => &SPEECH,
            Self::Broadcast => &BROADCAST,
        }
    }

    /// The rendition with the lowest bitrate.
    pub fn lowest(self) -> &'static Rendition {
        &self.renditions()[0]
    }

    /// The rendition with the highest bitrate.
    pub fn highest(self) -> &'static Rendition {
        let r = self.renditions();
        &r[r.len() - 1]
    }

    /// The rendition with this id, if the ladder has it.
    pub fn get(self, id: RenditionId) -> Option<&'static Rendition> {
        self.renditions().iter().find(|r| r.id == id)
    }

    /// Whether this is an audio-only ladder.
    pub fn is_audio(self) -> bool {
        matches!(self, Self::Music | Self::Speech | Self::Broadcast)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_ascend_and_stay_in_their_kind() {
        for ladder in [Ladder::Film, Ladder::Talk, Ladder::Sport, Ladder::Music, Ladder::Speech, Ladder::Broadcast] {
            let r = ladder.renditions();
            assert!(r.windows(2).all(|w| w[0].bitrate_kbps < w[1].bitrate_kbps && w[0].id < w[1].id));
            assert!(r.iter().all(|x| x.id.is_video() != ladder.is_audio()));
            if ladder.is_audio() {
                assert!(r.iter().all(|x| (96..=320).contains(&x.bitrate_kbps)));
            } else {
                assert_eq!(ladder.lowest().height, 480);
            }
        }
        assert_eq!(Ladder::Film.highest().height, 2160);
    }

    #[test]
    fn labels_round_trip() {
        for id in RenditionId::ALL {
            assert_eq!(RenditionId::from_label(id.as_str()), Some(id));
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        }
    }
}
