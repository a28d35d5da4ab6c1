//! Errors of the command line, and how each maps to an exit code.

use std::io;
use std::path::PathBuf;

/// The exit code when the server's pipeline fails: `EX_SOFTWARE` of
/// `sysexits.h`.
pub const PIPELINE_FAILED_EXIT: i32 = 70;

/// Everything a `streammon` command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A flag's value makes no sense; printed after the flag's name.
    #[error("{flag}: {reason}")]
    Usage {
        /// The flag, e.g. `--host`.
        flag: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// A configuration or input file holds something we cannot use:
    /// printed as `file:line: reason`.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file.
        path: PathBuf,
        /// The line, from 1, when one is to blame.
        line: Option<usize>,
        /// What is wrong there.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
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
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage { .. } | Self::Input { .. } | Self::Core(_) => 2,
            Self::Io { .. } | Self::Server(_) => 1,
            Self::PipelineFailed(_) => PIPELINE_FAILED_EXIT,
        }
    }

    /// [`CliError::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
