//! The one error type of `streammon-core`.

/// Everything that can go wrong in `streammon-core`.
///
/// Every variant names the offending field or input, so a caller can report
/// it to a user without adding context of its own. Errors only arise when
/// values are constructed or parsed; once a [`Simulator`](crate::Simulator)
/// exists, stepping it cannot fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field holds a value outside its valid range.
    #[error("invalid `{field}`: {reason}")]
    InvalidConfig {
        /// Dotted path of the field, e.g. `regions[2].audience_share`.
        field: String,
        /// Why the value was refused, naming the value.
        reason: String,
    },
    /// A sample from outside failed validation.
    #[error("invalid sample field `{field}`: {reason}")]
    InvalidSample {
        /// The offending field, as on the wire.
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// A CMCD payload holds a value its key does not allow, or is not
    /// a structured dictionary.
    #[error("invalid CMCD{}: {reason}", if key.is_empty() { String::new() } else { format!(" `{key}`") })]
    InvalidCmcd {
        /// The CMCD key, e.g. `br`; empty for a syntax error.
        key: String,
        /// What is wrong, with the byte offset of a syntax error.
        reason: String,
    },
    /// A piece of text could not be parsed as the value it should hold.
    #[error("cannot parse {what} from {input:?}: {reason}")]
    Parse {
        /// What was being parsed, e.g. `duration`.
        what: &'static str,
        /// The text as it was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// Labelled windows or scores handed to the windowed scorer
    /// ([`eval::windowed`](crate::eval::windowed)) do not fit their series.
    #[error("{file}: {reason}")]
    InvalidLabels {
        /// The series, as its caller named it (e.g. `group/name.csv`).
        file: String,
        /// Index of the offending window, in the order the windows were
        /// given, when a window is at fault.
        window: Option<usize>,
        /// Index of the offending row, when a row is at fault.
        row: Option<usize>,
        /// What is wrong, naming the value.
        reason: String,
    },
    /// A simulator checkpoint cannot be read, or was written by another
    /// simulated world (seed, catalogue size, regions, step).
    #[error("cannot go on from the simulator checkpoint: {reason}")]
    InvalidCheckpoint {
        /// Why, naming the field that differs.
        reason: String,
    },
}

impl Error {
    /// Builds an [`Error::InvalidConfig`].
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig { field: field.into(), reason: reason.into() }
    }

    /// Builds an [`Error::InvalidSample`].
    pub(crate) fn sample(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSample { field, reason: reason.into() }
    }

    /// Builds an [`Error::Parse`].
    pub fn parse(what: &'static str, input: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Parse { what, input: input.into(), reason: reason.into() }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
