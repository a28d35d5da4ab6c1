//! Reads the dashboard's production build into memory for `--dashboard`.

use std::path::{Path, PathBuf};

use streammon_http::Dashboard;

use crate::error::CliError;

/// Where `./run.sh` builds the dashboard, relative to the working
/// directory: used when `--dashboard` is not given.
pub(crate) const DEFAULT_DIR: &str = "dashboard/dist";

/// Largest build read, so a mistyped directory (`--dashboard /`) fails
/// fast instead of reading a disk into memory.
const MAX_BYTES: usize = 64 << 20;

/// The dashboard to serve, and a note for the log.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) dashboard: Option<Dashboard>,
    pub(crate) note: String,
}

/// Loads `dir`, or the default directory when `dir` is `None`. A missing
/// default is not an error (the server runs without the dashboard and
/// says how to build it); a directory named on the command line must hold
/// a build.
///
/// # Errors
/// [`CliError::Usage`] when the named directory is missing or holds no
/// `index.html`, or the build is larger than 64 MiB; [`CliError::Io`] when
/// a file cannot be read.
pub(crate) fn load(dir: Option<&Path>) -> Result<Loaded, CliError> {
    let (dir, named) = match dir {
        Some(d) => (d.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_DIR), false),
    };
    let usage = |reason: String| CliError::Usage { flag: "--dashboard", reason };
    if !dir.is_dir() {
        if named {
            return Err(usage(format!("{} is not a directory", dir.display())));
        }
        return Ok(Loaded {
            dashboard: None,
            note: format!(
                "dashboard: not built ({DEFAULT_DIR} missing); browsers get a page that says how: \
                 npm --prefix dashboard ci && npm --prefix dashboard run build"
            ),
        });
    }
    let mut dashboard = Dashboard::default();
    let mut pending = vec![dir.clone()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| CliError::Io { path: d.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| CliError::Io { path: d.clone(), source })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| CliError::Io { path: path.clone(), source })?;
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(&dir) else { continue };
            let Some(rel) = rel.to_str() else {
                return Err(usage(format!("{}: the file name is not UTF-8", path.display())));
            };
            let body = std::fs::read(&path).map_err(|source| CliError::Io { path: path.clone(), source })?;
            dashboard.insert(&rel.replace(std::path::MAIN_SEPARATOR, "/"), body);
            if dashboard.bytes() > MAX_BYTES {
                return Err(usage(format!("{} holds more than 64 MiB: is it a dashboard build?", dir.display())));
            }
        }
    }
    if !dashboard.has_index() {
        return Err(usage(format!("{} has no index.html: is it a dashboard build (dashboard/dist)?", dir.display())));
    }
    let note = format!("dashboard: {} files, {} KiB from {}", dashboard.len(), dashboard.bytes() / 1024, dir.display());
    Ok(Loaded { dashboard: Some(dashboard), note })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_build_and_refuses_what_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(dir.path().join("assets/app-1.js"), "1").unwrap();
        let loaded = load(Some(dir.path())).unwrap();
        let dashboard = loaded.dashboard.unwrap();
        assert_eq!(dashboard.len(), 2);
        assert!(dashboard.has_index());
        assert!(loaded.note.contains("2 files"), "{}", loaded.note);

        std::fs::remove_file(dir.path().join("index.html")).unwrap();
        let err = load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.starts_with("--dashboard: ") && err.contains("no index.html"), "{err}");
        let err = load(Some(&dir.path().join("nope"))).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
