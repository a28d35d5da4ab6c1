//! Helpers shared by the command-line tests: run the built binary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `streammon` with `args` and waits for it.
pub(crate) fn streammon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streammon")).args(args).output().expect("run streammon")
}

/// Standard error as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary path as an argument.
pub(crate) fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}
