//! The input files of the `streammon` command, read the same way by the
//! binary and by anything else that needs to read them.
//!
//! The binary (`src/main.rs`) holds the commands; this library holds what
//! turns text from outside into values: the `timestamp,value` CSV that
//! `streammon detect` and `streammon eval --labelled` read
//! ([`series_csv`]), the TOML configuration file of `streammon serve` and
//! `streammon eval` ([`serve_file`], read by [`config_file`]), and the
//! [`CliError`](error::CliError) they fail with. It is a library so that
//! the fuzz targets in the repository's `fuzz/` directory run the very code
//! the binary runs, not a copy of it.

pub mod config_file;
pub mod error;
pub mod series_csv;
pub mod serve_file;
