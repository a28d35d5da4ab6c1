//! Common Media Client Data (CTA-5004 and CTA-5004-B): the telemetry that
//! dash.js, hls.js, Shaka Player and native players send with their
//! segment requests or to a collector, read into typed reports and rolled
//! up into the same samples the simulator produces.
//!
//! - [`Report::parse`] reads one payload (every key of versions 1 and 2);
//!   [`transmission`] takes the payload out of a query argument, the
//!   `CMCD-*` headers, an event-mode body or JSON. Parsing borrows from
//!   the text and allocates nothing for a typical payload. No input
//!   panics: every malformed value is an
//!   [`Error::InvalidCmcd`](crate::Error::InvalidCmcd) naming the key.
//! - A [`Collector`] follows each viewer's session ([`Session`]) and, each
//!   tick, emits one [`Sample`](crate::Sample) per (title, region), plus a
//!   [`ContentChange`](crate::ContentChange) when a title is first seen
//!   or stops being watched; [`RegionMap`] says which region a report
//!   comes from.

mod collector;
mod regions;
mod report;
mod session;
mod sfv;
pub mod transmission;

pub use collector::{Admission, Collector, CollectorConfig, CollectorStats, UNIDENTIFIED};
pub use regions::{NetworkRegion, RegionMap, RegionMapConfig};
pub use report::{EventType, MAX_LIST, ObjectType, OtList, PlayerState, Report, StreamType, StreamingFormat};
pub use session::{Phase, Session};
pub use sfv::{Bare, InnerList, Item, Params, Value};
