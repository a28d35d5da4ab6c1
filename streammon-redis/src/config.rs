//! Configuration: the raw, serde-friendly [`RedisConfig`] and its
//! environment variables, validated once into [`Settings`].

use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use serde::{Deserialize, Serialize};
use streammon_core::Span;
use streammon_core::rollup::RollupRetention;

use crate::error::RedisError;
use crate::keys::Keys;

/// How to reach Redis and how much to keep there.
///
/// Read from a file section or from the environment
/// ([`from_env`](Self::from_env)); `url` wins over `host` and `port`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Full address, `redis://[user:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS. Wins over `host`, `port`, `password` and `db`
    /// when set (`REDIS_URL`). Defaults to none.
    pub url: Option<String>,
    /// Server host name or address (`REDIS_HOST`). Defaults to `localhost`.
    pub host: String,
    /// Server port (`REDIS_PORT`). Defaults to 6379.
    pub port: u16,
    /// Password for `AUTH` when connecting by host and port
    /// (`REDIS_PASSWORD`). Defaults to none.
    pub password: Option<String>,
    /// Database number when connecting by host and port (`REDIS_DB`).
    /// Defaults to 0.
    pub db: i64,
    /// PEM file of the certificate authority to trust for `rediss://`
    /// instead of the system's roots (a private CA). Defaults to none: the
    /// system's roots.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Prefix of every key but the history list (`REDIS_PREFIX`).
    /// Defaults to `streammon:`.
    pub prefix: String,
    /// Name of the list of the latest tick records. Not prefixed, so the
    /// original's tools keep finding it; give it the prefix to keep every
    /// key under one. Defaults to `metrics_history`.
    pub history_key: String,
    /// Length of the history list. Defaults to 1000.
    pub history_len: usize,
    /// Samples kept per `(content, region)` stream. Defaults to 3600.
    pub max_per_series: usize,
    /// Samples older than this behind the newest sample written are
    /// trimmed, and streams silent that long are deleted. Defaults to `1h`.
    pub retention: Span,
    /// Resolved alerts kept; the oldest go first. Defaults to 10 000.
    pub max_resolved_alerts: usize,
    /// Writes (a sample, an alert or a status each) that may wait while
    /// Redis is away; past it batches are refused and counted as dropped.
    /// Defaults to 1 000 000.
    pub buffer_capacity: usize,
    /// Writes sent per pipeline. Defaults to 2000.
    pub batch_size: usize,
    /// How long minute and hour roll-ups are kept, behind the newest of
    /// their scope. Defaults to 7 and 90 days.
    pub rollup_retention: RollupRetention,
    /// Time allowed to establish a connection. Defaults to `5s`.
    pub connect_timeout: Span,
    /// Time allowed for a reply. Defaults to `5s`.
    pub response_timeout: Span,
    /// Longest [`flush`](streammon_core::Store::flush) waits for buffered
    /// writes. Defaults to `30s`.
    pub flush_timeout: Span,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            host: "localhost".into(),
            port: 6379,
            password: None,
            db: 0,
            tls_ca_file: None,
            prefix: "streammon:".into(),
            history_key: "metrics_history".into(),
            history_len: 1000,
            max_per_series: 3600,
            retention: Span::from_hours(1),
            max_resolved_alerts: 10_000,
            buffer_capacity: 1_000_000,
            batch_size: 2000,
            rollup_retention: RollupRetention::default(),
            connect_timeout: Span::from_secs(5),
            response_timeout: Span::from_secs(5),
            flush_timeout: Span::from_secs(30),
        }
    }
}

impl RedisConfig {
    /// The defaults, overridden by `REDIS_URL`, `REDIS_HOST`, `REDIS_PORT`,
    /// `REDIS_PASSWORD`, `REDIS_DB` and `REDIS_PREFIX` where set.
    ///
    /// # Errors
    /// [`RedisError::Config`] naming a variable that does not parse.
    pub fn from_env() -> Result<Self, RedisError> {
        Self::default().with_env(|name| std::env::var(name).ok())
    }

    /// This configuration overridden by the variables `lookup` finds; see
    /// [`from_env`](Self::from_env).
    ///
    /// # Errors
    /// [`RedisError::Config`] naming a variable that does not parse.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RedisError> {
        let get = |name| lookup(name).filter(|v: &String| !v.trim().is_empty());
        if let Some(url) = get("REDIS_URL") {
            self.url = Some(url);
        }
        if let Some(host) = get("REDIS_HOST") {
            self.host = host;
        }
        if let Some(port) = get("REDIS_PORT") {
            self.port = port
                .trim()
                .parse()
                .map_err(|_| RedisError::config("REDIS_PORT", format!("{port:?} is not a port number")))?;
        }
        if let Some(password) = get("REDIS_PASSWORD") {
            self.password = Some(password);
        }
        if let Some(db) = get("REDIS_DB") {
            self.db = db
                .trim()
                .parse()
                .map_err(|_| RedisError::config("REDIS_DB", format!("{db:?} is not a database number")))?;
        }
        if let Some(prefix) = get("REDIS_PREFIX") {
            self.prefix = prefix;
        }
        Ok(self)
    }

    /// Validates the configuration into [`Settings`].
    ///
    /// # Errors
    /// [`RedisError::Config`] naming the field: a URL that does not parse,
    /// a zero bound, a zero timeout.
    pub fn settings(&self) -> Result<Settings, RedisError> {
        let info = match &self.url {
            Some(url) => url
                .as_str()
                .into_connection_info()
                .map_err(|e| RedisError::config("url", format!("{}: {e}", redact(url))))?,
            None => {
                if self.host.trim().is_empty() {
                    return Err(RedisError::config("host", "is empty"));
                }
                if self.db < 0 {
                    return Err(RedisError::config("db", format!("{} is negative", self.db)));
                }
                let mut redis = redis::RedisConnectionInfo::default().set_db(self.db);
                if let Some(p) = &self.password {
                    redis = redis.set_password(p);
                }
                ConnectionAddr::Tcp(self.host.clone(), self.port)
                    .into_connection_info()
                    .map_err(|e| RedisError::config("host", e.to_string()))?
                    .set_redis_settings(redis)
            }
        };
        for (field, value) in [
            ("history_len", self.history_len),
            ("max_per_series", self.max_per_series),
            ("max_resolved_alerts", self.max_resolved_alerts),
            ("buffer_capacity", self.buffer_capacity),
            ("batch_size", self.batch_size),
        ] {
            if value == 0 {
                return Err(RedisError::config(field, "must be at least 1"));
            }
        }
        for (field, span) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
            ("flush_timeout", self.flush_timeout),
        ] {
            if span.as_millis() == 0 {
                return Err(RedisError::config(field, "must be longer than 0s"));
            }
        }
        if self.retention.as_millis() == 0 || self.retention.as_millis() > i64::MAX as u64 / 2 {
            return Err(RedisError::config("retention", format!("{} is out of range", self.retention)));
        }
        for (field, span) in [
            ("rollup_retention.minute", self.rollup_retention.minute),
            ("rollup_retention.hour", self.rollup_retention.hour),
        ] {
            if span.as_millis() == 0 || span.as_millis() > i64::MAX as u64 / 2 {
                return Err(RedisError::config(field, format!("{span} is out of range")));
            }
        }
        if self.history_key.is_empty() {
            return Err(RedisError::config("history_key", "is empty"));
        }
        let tls_root = match &self.tls_ca_file {
            None => None,
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| RedisError::config("tls_ca_file", format!("cannot read {}: {e}", path.display())))?,
            ),
        };
        let addr = match info.addr() {
            ConnectionAddr::Tcp(h, p) => format!("redis://{h}:{p}/{}", info.redis_settings().db()),
            ConnectionAddr::TcpTls { host, port, .. } => {
                format!("rediss://{host}:{port}/{}", info.redis_settings().db())
            }
            other => other.to_string(),
        };
        Ok(Settings {
            info,
            tls_root,
            addr,
            keys: Keys::new(&self.prefix, &self.history_key),
            history_len: self.history_len,
            max_per_series: self.max_per_series,
            retention_ms: self.retention.as_millis() as i64,
            rollup_retention: self.rollup_retention,
            max_resolved_alerts: self.max_resolved_alerts,
            buffer_capacity: self.buffer_capacity,
            batch_size: self.batch_size,
            connect_timeout: Duration::from_millis(self.connect_timeout.as_millis()),
            response_timeout: Duration::from_millis(self.response_timeout.as_millis()),
            flush_timeout: Duration::from_millis(self.flush_timeout.as_millis()),
        })
    }
}

/// A URL with any password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}***{}", &url[..scheme + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

/// A validated [`RedisConfig`]: what [`RedisStore`](crate::RedisStore) runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) info: ConnectionInfo,
    pub(crate) tls_root: Option<Vec<u8>>,
    pub(crate) addr: String,
    pub(crate) keys: Keys,
    pub(crate) history_len: usize,
    pub(crate) max_per_series: usize,
    pub(crate) retention_ms: i64,
    pub(crate) rollup_retention: RollupRetention,
    pub(crate) max_resolved_alerts: usize,
    pub(crate) buffer_capacity: usize,
    pub(crate) batch_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) flush_timeout: Duration,
}

impl Settings {
    /// The server address, without any password, e.g. `redis://localhost:6379/0`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The keys the store uses.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_are_localhost_6379() {
        let s = RedisConfig::default().with_env(env(&[])).unwrap().settings().unwrap();
        assert_eq!(s.addr(), "redis://localhost:6379/0");
        assert_eq!(s.keys().history(), "metrics_history");
        assert_eq!(s.keys().alerts(), "streammon:alerts");
    }

    #[test]
    fn host_port_db_and_password_from_env() {
        let vars = [("REDIS_HOST", "cache"), ("REDIS_PORT", "6380"), ("REDIS_DB", "3"), ("REDIS_PASSWORD", "pw")];
        let s = RedisConfig::default().with_env(env(&vars)).unwrap().settings().unwrap();
        assert_eq!(s.addr(), "redis://cache:6380/3");
        assert_eq!(s.info.redis_settings().password(), Some("pw"));
    }

    #[test]
    fn url_wins_and_carries_tls_password_and_db() {
        let vars = [("REDIS_URL", "rediss://:secret@cache.example:6390/2"), ("REDIS_HOST", "ignored")];
        let s = RedisConfig::default().with_env(env(&vars)).unwrap().settings().unwrap();
        assert_eq!(s.addr(), "rediss://cache.example:6390/2");
        assert_eq!(s.info.redis_settings().password(), Some("secret"));
    }

    #[test]
    fn bad_values_name_their_variable_or_field() {
        let err = RedisConfig::default().with_env(env(&[("REDIS_PORT", "http")])).unwrap_err();
        assert!(err.to_string().contains("REDIS_PORT"), "{err}");
        let err = RedisConfig { url: Some("http://x:pw@h".into()), ..Default::default() }.settings().unwrap_err();
        assert!(err.to_string().contains("`url`") && !err.to_string().contains("pw"), "{err}");
        let err = RedisConfig { batch_size: 0, ..Default::default() }.settings().unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<RedisConfig>(r#"{"hostname": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("hostname"), "{err}");
        let c: RedisConfig = serde_json::from_str(r#"{"port": 6380, "retention": "2h"}"#).unwrap();
        assert_eq!((c.port, c.retention), (6380, Span::from_hours(2)));
    }
}
