//! A labelled corpus on disk, and another tool's scores laid out beside it.
//!
//! ```text
//! DIR/data/<group>/<name>.csv    timestamp,value (a blank value is a missing sample)
//! DIR/labels/windows.json        {"<group>/<name>.csv": [["<start>", "<end>"], ...]}
//! RESULTS/<group>/<name>.csv     a header with anomaly_score, one row per data row
//! ```
//!
//! The files scored are those `windows.json` names, in the order of their
//! names. Data files are read as `streammon detect` reads them
//! ([`series_csv`](crate::series_csv)), strictly; window bounds are
//! timestamps in the same forms. Results files are read as the reference
//! scorer reads them: real CSV through the `csv` crate, the score taken
//! from the column named `anomaly_score`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use streammon_core::eval::windowed::{LabelledFile, Window};

use super::parallel;
use crate::error::CliError;
use crate::series_csv::{BadLine, Series, parse_timestamp, read_series};

/// A window bound as written: a timestamp as text, or a number of epoch
/// seconds or milliseconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Bound {
    Text(String),
    Number(f64),
}

/// One file of the corpus with its windows.
#[derive(Debug)]
pub(super) struct CorpusFile {
    /// The name in `windows.json`, e.g. `group/name.csv`.
    pub(super) name: String,
    /// Where its data is.
    pub(super) path: PathBuf,
    /// Its rows.
    pub(super) series: Series,
    /// Its windows, in the order written.
    windows: Vec<Window>,
    /// The line of `windows.json` where each window is written.
    window_lines: Vec<Option<usize>>,
}

/// A labelled corpus, read.
#[derive(Debug)]
pub(super) struct Corpus {
    /// `labels/windows.json`.
    labels: PathBuf,
    /// The files, by name.
    pub(super) files: Vec<CorpusFile>,
}

impl Corpus {
    /// Reads `dir/labels/windows.json` and every data file it names, on
    /// `threads` threads.
    ///
    /// # Errors
    /// [`CliError::Input`] as `file:line: reason` for a missing or
    /// malformed `windows.json`, a window bound that is not a timestamp, a
    /// data file it names that is missing or holds a line that is not data.
    pub(super) fn read(dir: &Path, threads: usize) -> Result<Self, CliError> {
        let labels = dir.join("labels").join("windows.json");
        let text = std::fs::read_to_string(&labels).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CliError::Input {
                path: labels.clone(),
                line: None,
                reason: "missing: a labelled corpus holds its windows in labels/windows.json".into(),
            },
            _ => CliError::io(&labels, e),
        })?;
        let parsed: BTreeMap<String, Vec<(Bound, Bound)>> = serde_json::from_str(&text).map_err(|e| {
            let position = format!(" at line {} column {}", e.line(), e.column());
            let reason = e.to_string().trim_end_matches(&position).to_owned();
            CliError::Input {
                path: labels.clone(),
                line: Some(e.line()),
                reason: format!("{reason} (expected {{\"<group>/<name>.csv\": [[\"<start>\", \"<end>\"], ...]}})"),
            }
        })?;
        let mut pending = Vec::with_capacity(parsed.len());
        for (name, bounds) in parsed {
            let mut windows = Vec::with_capacity(bounds.len());
            let mut window_lines = Vec::with_capacity(bounds.len());
            for (k, (start, end)) in bounds.iter().enumerate() {
                let line = window_line(&text, &name, k);
                let read = |bound: &Bound, which: &str| {
                    match bound {
                        Bound::Text(t) => parse_timestamp(t),
                        Bound::Number(n) => parse_timestamp(&n.to_string()),
                    }
                    .map_err(|BadLine(reason)| CliError::Input {
                        path: labels.clone(),
                        line,
                        reason: format!("{name}: window {}: its {which}: {reason}", k + 1),
                    })
                };
                windows.push(Window { start_ms: read(start, "start")?, end_ms: read(end, "end")? });
                window_lines.push(line);
            }
            let path = dir.join("data").join(&name);
            pending.push((name, path, windows, window_lines));
        }
        let series = parallel::map(&pending, threads, |(name, path, _, _)| {
            if !path.is_file() {
                return Err(CliError::Input {
                    path: path.clone(),
                    line: None,
                    reason: format!("missing: labels/windows.json has windows for {name}"),
                });
            }
            read_series(path)
        });
        let files = pending
            .into_iter()
            .zip(series)
            .map(|((name, path, windows, window_lines), series)| {
                Ok(CorpusFile { name, path, series: series?, windows, window_lines })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        Ok(Self { labels, files })
    }

    /// Matches one file's scores to its windows.
    ///
    /// # Errors
    /// [`CliError::Input`]: for a window that does not fit the file, at
    /// its line in `windows.json`; for a score out of [0, 1], at the data
    /// line of its row, saying which detector (`who`) gave it.
    pub(super) fn labelled(&self, file: &CorpusFile, scores: &[f64], who: &str) -> Result<LabelledFile, CliError> {
        LabelledFile::new(&file.name, &file.series.timestamps, scores, &file.windows).map_err(|err| match err {
            streammon_core::Error::InvalidLabels { window: Some(k), .. } => CliError::Input {
                path: self.labels.clone(),
                line: file.window_lines.get(k).copied().flatten(),
                reason: err.to_string(),
            },
            streammon_core::Error::InvalidLabels { row: Some(r), reason, .. } => CliError::Input {
                path: file.path.clone(),
                line: file.series.lines.get(r).copied(),
                reason: format!("{who}: {reason}"),
            },
            err => CliError::Input { path: file.path.clone(), line: None, reason: format!("{who}: {err}") },
        })
    }
}

/// The line of `text` where window `k` of `name` opens, found by walking
/// the JSON from the name's key (serde_json does not keep positions).
fn window_line(text: &str, name: &str, k: usize) -> Option<usize> {
    let key = serde_json::to_string(name).ok()?;
    // The last occurrence as a key, as serde keeps the last of duplicates.
    let from =
        text.rmatch_indices(&key).map(|(i, _)| i + key.len()).find(|&i| text[i..].trim_start().starts_with(':'))?;
    let (mut depth, mut element, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for (i, c) in text[from..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => {
                depth += 1;
                if depth == 2 {
                    if element == k {
                        return Some(text[..from + i].matches('\n').count() + 1);
                    }
                    element += 1;
                }
            }
            ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads another tool's scores for `file` from `path`: the
/// `anomaly_score` column, one row per data row, each in [0, 1].
///
/// # Errors
/// [`CliError::Input`] as `file:line: reason` for a missing file or
/// column, a score that is not a number in [0, 1], or a row count that is
/// not the data file's.
pub(super) fn read_scores(path: &Path, file: &CorpusFile) -> Result<Vec<f64>, CliError> {
    let input = |line: Option<u64>, reason: String| CliError::Input {
        path: path.to_owned(),
        line: line.map(|l| l as usize),
        reason,
    };
    let rows = file.series.timestamps.len();
    let data = format!("data/{}", file.name);
    let reader = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => input(None, format!("missing: the scores of {data}, one row per row")),
        _ => CliError::io(path, e),
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(BufReader::with_capacity(1 << 16, reader));
    let csv_error = |e: csv::Error| input(e.position().map(|p| p.line()), e.to_string());
    let column = reader.headers().map_err(csv_error)?.iter().position(|h| h == "anomaly_score");
    let column = column.ok_or_else(|| input(Some(1), "no anomaly_score column in the header".into()))?;
    let mut scores = Vec::with_capacity(rows);
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line = record.position().map(|p| p.line());
        if scores.len() == rows {
            return Err(input(line, format!("more rows than the {rows} of {data}")));
        }
        let text = record.get(column).ok_or_else(|| input(line, "no anomaly_score field".into()))?.trim();
        let score: f64 = text.parse().map_err(|_| input(line, format!("anomaly_score {text:?} is not a number")))?;
        if !(0.0..=1.0).contains(&score) {
            return Err(input(line, format!("anomaly_score {text} is outside [0, 1]")));
        }
        scores.push(score);
    }
    if scores.len() < rows {
        let end = reader.position().line();
        return Err(input(Some(end), format!("{} rows for the {rows} of {data}", scores.len())));
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_found_on_their_lines() {
        let text = "{\n \"a/x.csv\": [\n  [\"1\", \"2\"],\n  [\"3\", \"[4]\"]\n ],\n \"b/y.csv\": [[\"5\", \"6\"],\n [\"7\", \"8\"]]\n}";
        assert_eq!(window_line(text, "a/x.csv", 0), Some(3));
        assert_eq!(window_line(text, "a/x.csv", 1), Some(4));
        assert_eq!(window_line(text, "a/x.csv", 2), None);
        assert_eq!(window_line(text, "b/y.csv", 0), Some(6));
        assert_eq!(window_line(text, "b/y.csv", 1), Some(7));
        assert_eq!(window_line(text, "c/z.csv", 0), None);
    }

    #[test]
    fn scores_are_read_by_column_name_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = CorpusFile {
            name: "g/f.csv".into(),
            path: dir.path().join("data.csv"),
            series: Series { timestamps: vec![0, 1, 2], values: vec![0.0; 3], lines: vec![2, 3, 4] },
            windows: vec![],
            window_lines: vec![],
        };
        let path = dir.path().join("out.csv");
        let read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            read_scores(&path, &file).map_err(|e| e.to_string().replace(&path.display().to_string(), "out.csv"))
        };
        assert_eq!(read("anomaly_score,timestamp\n0.5,\"a,b\"\n\n1,x\n0,y\n"), Ok(vec![0.5, 1.0, 0.0]));
        assert_eq!(read("timestamp,score\n").unwrap_err(), "out.csv:1: no anomaly_score column in the header");
        assert_eq!(
            read("t,anomaly_score\na,0.5\nb,x\nc,1\n").unwrap_err(),
            "out.csv:3: anomaly_score \"x\" is not a number"
        );
        assert_eq!(
            read("t,anomaly_score\na,0.5\nb,1.5\nc,1\n").unwrap_err(),
            "out.csv:3: anomaly_score 1.5 is outside [0, 1]"
        );
        assert_eq!(
            read("t,anomaly_score\na,0.5\nb,NaN\nc,1\n").unwrap_err(),
            "out.csv:3: anomaly_score NaN is outside [0, 1]"
        );
        assert_eq!(read("t,anomaly_score\na,0.5\nb\nc,1\n").unwrap_err(), "out.csv:3: no anomaly_score field");
        assert_eq!(read("t,anomaly_score\na,0.5\nb,1\n").unwrap_err(), "out.csv:4: 2 rows for the 3 of data/g/f.csv");
        assert_eq!(
            read("t,anomaly_score\na,0\nb,0\nc,0\nd,0\n").unwrap_err(),
            "out.csv:5: more rows than the 3 of data/g/f.csv"
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            read_scores(&path, &file).unwrap_err().to_string(),
            format!("{}: missing: the scores of data/g/f.csv, one row per row", path.display())
        );
    }
}
