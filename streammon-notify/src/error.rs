//! The one error type of `streammon-notify`.

/// What can go wrong setting up delivery. Delivery failures themselves are
/// retried and counted, never returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// A destination URL is not one we can send to.
    #[error("{url}: {reason}")]
    Url {
        /// The URL, redacted to its scheme and host.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A webhook secret is too short.
    #[error("a webhook secret must be at least {min} bytes long; this one has {0}", min = crate::MIN_SECRET_BYTES)]
    Secret(usize),
    /// A webhook format other than `json` or `slack`.
    #[error("{0:?} is not a webhook format: json or slack")]
    Format(String),
    /// A delivery setting out of its range.
    #[error("`{field}`: {reason}")]
    Policy {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The system's TLS roots could not be read for an https destination.
    #[error("TLS: {0}")]
    Tls(String),
}
