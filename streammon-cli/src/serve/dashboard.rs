//! Finds the dashboard's production build for `--dashboard`.

use std::path::{Path, PathBuf};

use streammon_http::Dashboard;

use crate::error::CliError;

/// Where `./run.sh` builds the dashboard, relative to the working
/// directory: used when `--dashboard` is not given.
pub(crate) const DEFAULT_DIR: &str = "dashboard/dist";

/// The dashboard to serve, and a note for the log.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) dashboard: Option<Dashboard>,
    pub(crate) note: String,
}

/// The build in `dir`, or in the default directory when `dir` is `None`.
/// A missing default is not an error (the server runs without the
/// dashboard and says how to build it); a directory named on the command
/// line must hold a build. Its files are read when asked for, by the
/// server.
///
/// # Errors
/// [`CliError::Usage`] when the named directory is missing or holds no
/// `index.html`; [`CliError::Io`] when it cannot be resolved.
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
    let dir = dir.canonicalize().map_err(|source| CliError::Io { path: dir.clone(), source })?;
    let dashboard = Dashboard::new(&dir);
    if !dashboard.has_index() {
        return Err(usage(format!("{} has no index.html: is it a dashboard build (dashboard/dist)?", dir.display())));
    }
    let note = format!("dashboard: served from {}", dir.display());
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
        assert!(dashboard.has_index());
        assert_eq!(dashboard.dir(), dir.path().canonicalize().unwrap());
        assert!(loaded.note.starts_with("dashboard: served from"), "{}", loaded.note);

        std::fs::remove_file(dir.path().join("index.html")).unwrap();
        let err = load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.starts_with("--dashboard: ") && err.contains("no index.html"), "{err}");
        let err = load(Some(&dir.path().join("nope"))).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
