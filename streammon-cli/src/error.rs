//! Errors of the command line, and how each maps to an exit code.

use std::io;
use std::path::PathBuf;

/// Everything a `streammon` command can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A flag's value makes no sense; printed after the flag's name.
    #[error("{flag}: {reason}")]
    Usage { flag: &'static str, reason: String },
    /// A configuration or input file holds something we cannot use:
    /// printed as `file:line: reason`.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input { path: PathBuf, line: Option<usize>, reason: String },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The server could not start or failed while running (a port in
    /// use, storage unreachable).
    #[error("{0}")]
    Server(String),
    /// A value the core refused.
    #[error(transparent)]
    Core(#[from] streammon_core::Error),
    /// The server's pipeline failed (it panicked) while serving: exit code
    /// 70, so that a supervisor restarts it.
    #[error("{0}")]
    PipelineFailed(String),
}

impl CliError {
    /// Exit code: 2 for what the user can fix in the command or its input
    /// files, 1 for failures while running, 70 (`EX_SOFTWARE`) when the
    /// server's pipeline failed.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Self::Usage { .. } | Self::Input { .. } | Self::Core(_) => 2,
            Self::Io { .. } | Self::Server(_) => 1,
            Self::PipelineFailed(_) => crate::serve::PIPELINE_FAILED_EXIT,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
