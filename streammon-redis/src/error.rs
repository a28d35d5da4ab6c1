//! The one error type of `streammon-redis`.

use streammon_core::StoreError;

/// What can go wrong building a [`RedisStore`](crate::RedisStore).
///
/// Once built, the store reports through the core's [`StoreError`], like
/// every [`Store`](streammon_core::Store).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// A configuration field or environment variable holds a bad value.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The field or variable, e.g. `REDIS_PORT` or `history_len`.
        field: &'static str,
        /// Why it was refused, naming the value.
        reason: String,
    },
    /// The server could not be reached, or did not answer the `PING`
    /// healthcheck.
    #[error("cannot connect to redis at {addr}: {reason}")]
    Connect {
        /// The address, without any password.
        addr: String,
        /// The underlying error.
        reason: String,
    },
}

impl RedisError {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Config { field, reason: reason.into() }
    }
}

impl From<RedisError> for StoreError {
    fn from(e: RedisError) -> Self {
        match e {
            RedisError::Config { field, reason } => StoreError::InvalidConfig { field, reason },
            RedisError::Connect { addr, reason } => {
                StoreError::Unavailable { backend: "redis", reason: format!("{addr}: {reason}") }
            }
        }
    }
}

/// Maps a failed read of `key` onto the core's error: data of the wrong
/// type under our key is corruption naming the key; anything else means
/// the server is unavailable.
pub(crate) fn read_error(key: &str, e: &redis::RedisError) -> StoreError {
    if e.code() == Some("WRONGTYPE") {
        StoreError::corrupt(key, format!("holds a value of another type ({e})"))
    } else {
        StoreError::Unavailable { backend: "redis", reason: e.to_string() }
    }
}
