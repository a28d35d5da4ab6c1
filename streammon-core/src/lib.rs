#![doc = include_str!("../README.md")]

pub mod content;
mod error;
mod id;
pub mod region;
pub mod sample;
pub mod simulator;
pub mod time;

pub use content::{
    Codec, Content, ContentChange, ContentStatus, ContentType, Genre, Ladder, LatencyMode, LiveInfo, LivePhase,
    LiveSchedule, Rendition, RenditionId,
};
pub use error::{Error, Result};
pub use id::{ContentId, RegionId};
pub use region::{Continent, LatencyProfile, Region};
pub use sample::{Metric, RenditionMix, SCHEMA_VERSION, Sample};
pub use simulator::{
    ContentMix, Frame, Incident, IncidentConfig, IncidentKind, IncidentScope, IncidentScript, SimConfig, Simulator,
    TargetKind,
};
pub use time::Span;
