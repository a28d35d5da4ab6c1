//! Every Redis key streammon uses, built in one place.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `history_key` (default `metrics_history`) | list | JSON tick records (the `metrics_update` payload), newest first, trimmed to `history_len` |
//! | `{prefix}s:{content}:{region}` | sorted set | JSON samples of one stream, score = `timestamp_ms` |
//! | `{prefix}streams` | sorted set | `{content}:{region}` of every stream, score = its newest `timestamp_ms` |
//! | `{prefix}alerts` | hash | alert id → JSON alert |
//! | `{prefix}alerts:resolved` | sorted set | ids of resolved alerts, score = `resolved_ms` |
//! | `{prefix}content` | hash | content id → JSON of its latest status change |
//! | `{prefix}acks` | hash | alert id → JSON acknowledgement |
//! | `{prefix}silences` | hash | silence id → JSON silence |
//! | `{prefix}checkpoint:{name}` | string | a source's saved state (the simulator's, as JSON) |
//! | `{prefix}r:{res}:{scope}` | sorted set | JSON roll-ups of one scope (`service`, `region:…`, `type:…`, `content:…`) at `1m` or `1h`, score = bucket start |
//!
//! Content and region ids are escaped (`%` → `%25`, `:` → `%3A`) so that a
//! stream's name splits back into its parts unambiguously.

use streammon_core::rollup::{Resolution, RollupScope};
use streammon_core::{ContentId, RegionId};

/// The keys of one store: its prefix and its history list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    history: String,
    streams: String,
    alerts: String,
    resolved: String,
    content: String,
    acks: String,
    silences: String,
}

fn escape(part: &str) -> String {
    part.replace('%', "%25").replace(':', "%3A")
}

fn unescape(part: &str) -> String {
    part.replace("%3A", ":").replace("%25", "%")
}

impl Keys {
    /// The keys under `prefix`, with the history list at `history` (not
    /// prefixed, so the original's tools find `metrics_history`).
    pub fn new(prefix: &str, history: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            history: history.to_owned(),
            streams: format!("{prefix}streams"),
            alerts: format!("{prefix}alerts"),
            resolved: format!("{prefix}alerts:resolved"),
            content: format!("{prefix}content"),
            acks: format!("{prefix}acks"),
            silences: format!("{prefix}silences"),
        }
    }

    /// The prefix of every key but the history list.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The list of the latest tick records, the original's `metrics_history`.
    pub fn history(&self) -> &str {
        &self.history
    }

    /// The sorted set indexing every stream by its newest timestamp.
    pub fn streams(&self) -> &str {
        &self.streams
    }

    /// The hash of alerts by id.
    pub fn alerts(&self) -> &str {
        &self.alerts
    }

    /// The sorted set of resolved alerts' ids by resolution time.
    pub fn resolved_alerts(&self) -> &str {
        &self.resolved
    }

    /// The hash of latest status changes by content id.
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The hash of acknowledgements by alert id.
    pub fn acks(&self) -> &str {
        &self.acks
    }

    /// The hash of silences by id.
    pub fn silences(&self) -> &str {
        &self.silences
    }

    /// The string holding the checkpoint saved under `name`.
    pub fn checkpoint(&self, name: &str) -> String {
        format!("{}checkpoint:{}", self.prefix, escape(name))
    }

    /// The sorted set of one scope's roll-ups at one resolution.
    pub fn rollups(&self, scope: &RollupScope, resolution: Resolution) -> String {
        format!("{}r:{resolution}:{scope}", self.prefix)
    }

    /// The name of a stream as it appears in [`streams`](Self::streams).
    pub fn stream_name(content: &str, region: &str) -> String {
        format!("{}:{}", escape(content), escape(region))
    }

    /// The content and region of a stream name; `None` if it is not one.
    pub fn parse_stream_name(name: &str) -> Option<(ContentId, RegionId)> {
        let (c, r) = name.split_once(':')?;
        Some((unescape(c).into(), unescape(r).into()))
    }

    /// The sorted set of one stream's samples, from its name.
    pub fn stream(&self, name: &str) -> String {
        format!("{}s:{name}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        let k = Keys::new("sm:", "metrics_history");
        assert_eq!(k.history(), "metrics_history");
        assert_eq!(k.streams(), "sm:streams");
        assert_eq!(k.alerts(), "sm:alerts");
        assert_eq!(k.resolved_alerts(), "sm:alerts:resolved");
        assert_eq!(k.content(), "sm:content");
        assert_eq!(k.stream(&Keys::stream_name("vod-000001", "eu-west")), "sm:s:vod-000001:eu-west");
        assert_eq!(k.rollups(&"region:eu-west".parse().unwrap(), Resolution::Minute), "sm:r:1m:region:eu-west");
    }

    #[test]
    fn odd_ids_round_trip() {
        let name = Keys::stream_name("a:b%3A", "c%:d");
        assert_eq!(name, "a%3Ab%253A:c%25%3Ad");
        let (c, r) = Keys::parse_stream_name(&name).unwrap();
        assert_eq!((c.as_str(), r.as_str()), ("a:b%3A", "c%:d"));
    }
}
