#![doc = include_str!("../README.md")]

pub mod alert;
pub mod cmcd;
pub mod content;
pub mod detect;
mod error;
pub mod eval;
pub mod forecast;
mod id;
pub mod limits;
pub mod monitor;
pub mod pipeline;
pub mod region;
pub mod rollup;
pub mod sample;
mod series;
pub mod significance;
pub mod simulator;
pub mod source;
pub mod stats;
pub mod store;
pub mod time;

pub use alert::{Alert, AlertConfig, AlertEngine, AlertEvent, AlertState, RuleConfig, Severity};
pub use content::{
    Codec, Content, ContentChange, ContentStatus, ContentType, Genre, Ladder, LatencyMode, LiveInfo, LivePhase,
    LiveSchedule, Rendition, RenditionId,
};
pub use detect::{Anomaly, Band, Detector, Point, Reason, VectorDetector, Verdict};
pub use error::{Error, Result};
pub use forecast::{
    CapacityWarning, CapacityWatch, CapacityWatchConfig, ForecasterConfig, HoltWinters, HoltWintersConfig,
};
pub use forecast::{Forecast, Forecaster};
pub use id::{ContentId, RegionId};
pub use region::{Continent, LatencyProfile, Region};
pub use sample::{Metric, RenditionMix, SCHEMA_VERSION, Sample};
pub use series::SeriesKey;
pub use simulator::{
    ContentMix, Frame, Incident, IncidentConfig, IncidentKind, IncidentScope, IncidentScript, SimCheckpoint, SimConfig,
    Simulator, TargetKind,
};
pub use source::Source;
pub use store::{MemoryStore, Store, StoreCounters, StoreError, StoreHealth};
pub use time::Span;
