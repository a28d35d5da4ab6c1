//! The error type of every [`Store`](super::Store).

/// What can go wrong when storing or reading history.
///
/// Every variant names what it is about (a key, a field, a backend), so a
/// caller can log or return it without adding context. Backends map their
/// own failures onto these variants; the original error's text is kept in
/// `reason`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A store or query setting is out of range.
    #[error("invalid `{field}`: {reason}")]
    InvalidConfig {
        /// The field, e.g. `points` or `history_len`.
        field: &'static str,
        /// Why it was refused, naming the value.
        reason: String,
    },
    /// Data under one of our keys is not what we wrote: foreign or corrupt.
    #[error("corrupt data under key `{key}`: {reason}")]
    Corrupt {
        /// The backend key (for Redis, the full key with its prefix).
        key: String,
        /// What could not be decoded.
        reason: String,
    },
    /// The backend cannot be reached or refused the request.
    #[error("{backend} unavailable: {reason}")]
    Unavailable {
        /// Which backend, e.g. `redis`.
        backend: &'static str,
        /// The underlying error.
        reason: String,
    },
    /// The write buffer is full (the backend has been down too long); the
    /// batch was refused and counted as dropped.
    #[error("write buffer full ({capacity} samples): {dropped} samples dropped")]
    BufferFull {
        /// Samples in the refused batch.
        dropped: usize,
        /// The buffer's capacity in samples.
        capacity: usize,
    },
    /// Waiting for buffered writes to reach the backend took too long.
    #[error("{what} did not finish within {after_ms} ms ({pending} writes pending)")]
    Timeout {
        /// What was waited for, e.g. `flush`.
        what: &'static str,
        /// How long it was waited for.
        after_ms: u64,
        /// Writes still buffered.
        pending: usize,
    },
}

impl StoreError {
    /// Builds a [`StoreError::InvalidConfig`].
    pub fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig { field, reason: reason.into() }
    }

    /// Builds a [`StoreError::Corrupt`].
    pub fn corrupt(key: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt { key: key.into(), reason: reason.to_string() }
    }
}
