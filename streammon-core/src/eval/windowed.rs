//! Scoring a detector's output on labelled data: the windowed scheme of
//! real-time anomaly benchmarks (NAB style).
//!
//! The simulator ([`evaluate`](super::evaluate)) knows exactly when each
//! incident starts; real telemetry does not. Labelled corpora instead mark
//! a *window* of rows around each anomaly, and a detector is judged by
//! when it first fires inside each window and by what it says elsewhere:
//!
//! - A *detection* is a row whose score is at or above the threshold.
//! - Only the earliest detection in a window counts, and it earns more
//!   the earlier it comes: `2·sigmoid(−5p) − 1`, scaled so that the
//!   window's first row earns the full `A_TP`, with `p` running from −1 at
//!   the window's first row to 0 just past its last.
//! - A window with no detection costs `A_FN`.
//! - Every detection outside a window costs `A_FP`, scaled the same way by
//!   its distance (in rows) from the end of the previous window, relative
//!   to that window's width: right after a window it costs little, far
//!   away the full `A_FP`; before a file's first window always the full
//!   `A_FP`.
//! - The first 15 % of each file, at most 750 rows, is for learning: its
//!   rows are not scored at all (a window there still counts, and can
//!   only be missed).
//! - The threshold is the one, among the scores the detector gave, that
//!   maximises the total over the whole corpus ([`NEVER_THRESHOLD`] when
//!   none beats never firing).
//! - The total is normalised to `100·(total − never)/(perfect − never)`,
//!   where *never* (`−A_FN` per window) is a detector that never fires and
//!   *perfect* (`+A_TP` per window) one that fires on each window's first
//!   row: 0 is no better than silence, 100 is perfect.
//!
//! Three [`PROFILES`] weigh the outcomes differently: [`STANDARD`],
//! [`LOW_FP`] (false alarms cost twice as much) and [`LOW_FN`] (missed
//! windows cost twice as much).
//!
//! This module is the reference scorer `testdata/detection/score.py`
//! written again, operation for operation, so that both give the same
//! figures to the last bit: the same sigmoid, the same order of summation
//! (rows sorted by descending score, ties kept in file then row order),
//! every row of one score value applied before totals are compared, ties
//! between totals won by the higher threshold, and Python's rounding
//! (half to even on the exact value) of the score to 2 decimals and the
//! raw total to 3. Where score.py has no defined answer this module
//! picks one:
//!
//! - after a window one row wide, score.py divides by zero; here a
//!   detection outside it costs the full `A_FP`, the limit of the
//!   scaling as the width goes to one row;
//! - score.py mis-scores windows that end before they start or overlap
//!   another window without a word; here they are errors;
//! - a corpus without windows has no normalised score; here an error.
//!
//! It takes plain numbers (epoch milliseconds, scores, windows): reading
//! the corpus is the caller's business.
//!
//! ```
//! use streammon_core::eval::windowed::{self, LabelledFile, Window};
//!
//! // 20 rows a minute apart, one window over rows 10 to 14; the learning
//! // period is floor(0.15 · 20) = 3 rows.
//! let timestamps: Vec<i64> = (0..20).map(|i| i * 60_000).collect();
//! let window = Window { start_ms: 10 * 60_000, end_ms: 14 * 60_000 };
//! // A detector that fires on the window's first row and nowhere else.
//! let scores: Vec<f64> = (0..20).map(|i| if i == 10 { 0.9 } else { 0.1 }).collect();
//! let file = LabelledFile::new("web/latency.csv", &timestamps, &scores, &[window])?;
//! let report = windowed::score(&[file])?;
//! assert_eq!(report.standard.score, 100.0);
//! assert_eq!(report.standard.threshold, 0.9);
//! assert_eq!((report.standard.rows_in_windows, report.standard.rows_outside), (1, 0));
//! assert_eq!((report.files, report.windows, report.rows), (1, 1, 17));
//! # Ok::<(), streammon_core::Error>(())
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::format_rfc3339;

/// What a detection in a window earns, and what a false alarm and a
/// missed window cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Profile {
    /// Name, as in the report: `standard`, `low_fp` or `low_fn`.
    pub name: &'static str,
    /// `A_TP`: what a detection on a window's first row earns.
    pub true_positive: f64,
    /// `A_FP`: what a detection far from any window costs.
    pub false_positive: f64,
    /// `A_FN`: what a window without a detection costs.
    pub false_negative: f64,
}

/// The standard profile: `(A_TP, A_FP, A_FN) = (1, 0.11, 1)`.
pub const STANDARD: Profile =
    Profile { name: "standard", true_positive: 1.0, false_positive: 0.11, false_negative: 1.0 };
/// False alarms cost twice as much: `(1, 0.22, 1)`.
pub const LOW_FP: Profile = Profile { name: "low_fp", true_positive: 1.0, false_positive: 0.22, false_negative: 1.0 };
/// Missed windows cost twice as much: `(1, 0.11, 2)`.
pub const LOW_FN: Profile = Profile { name: "low_fn", true_positive: 1.0, false_positive: 0.11, false_negative: 2.0 };
/// The three profiles, in the order of the report.
pub const PROFILES: [Profile; 3] = [STANDARD, LOW_FP, LOW_FN];

/// The threshold reported when no threshold does better than never
/// firing: above every score, as score.py reports it.
pub const NEVER_THRESHOLD: f64 = 1.1;

/// The rows of a file that are for learning and not scored:
/// `min(floor(0.15 · rows), 750)`.
///
/// ```
/// use streammon_core::eval::windowed::learning_rows;
/// assert_eq!(learning_rows(100), 15);
/// assert_eq!(learning_rows(20_000), 750);
/// ```
pub fn learning_rows(rows: usize) -> usize {
    // The same floating-point product as score.py, so that both floor it
    // to the same integer.
    (0.15 * rows as f64).floor().min(750.0) as usize
}

/// A labelled anomaly window: the timestamps of its first and last rows,
/// in milliseconds since the Unix epoch. Both must be the timestamp of a
/// row of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// Timestamp of the window's first row.
    pub start_ms: i64,
    /// Timestamp of the window's last row (inclusive).
    pub end_ms: i64,
}

/// What one scored row does to the total when it is a detection.
#[derive(Debug, Clone, Copy)]
enum Effect {
    /// Inside window `id` (numbered across the corpus once pooled): it
    /// would earn `tp · A_TP` if it were the window's best detection.
    Window { id: usize, tp: f64 },
    /// Outside every window: it costs `fp · A_FP` (`fp` ≤ 0).
    Outside { fp: f64 },
}

/// One scored row: the detector's score and what detecting it does.
#[derive(Debug, Clone, Copy)]
struct Row {
    score: f64,
    effect: Effect,
}

/// One file's rows, matched to its windows, ready to be pooled with the
/// others by [`score`].
///
/// Files are independent until [`score`] pools them, so they may be built
/// on several threads.
#[derive(Debug, Clone)]
pub struct LabelledFile {
    name: String,
    rows: usize,
    windows: usize,
    scored: Vec<Row>,
}

/// `2·sigmoid(−5p) − 1`, and −1 past `p = 3`: score.py's scaling.
fn sig_score(p: f64) -> f64 {
    if p > 3.0 { -1.0 } else { 2.0 / (1.0 + (5.0 * p).exp()) - 1.0 }
}

impl LabelledFile {
    /// Matches one file's rows to its windows.
    ///
    /// `timestamps` and `scores` hold one entry per row, in file order;
    /// `windows` may come in any order. When two rows share a timestamp a
    /// window bound names the later one, as in score.py.
    ///
    /// # Errors
    /// [`Error::InvalidLabels`] naming the file and the window or row at
    /// fault: a window that does not start and end on a row, ends before
    /// it starts or overlaps another; a score that is not a finite number
    /// in [0, 1]; `scores` and `timestamps` of different lengths.
    pub fn new(name: impl Into<String>, timestamps: &[i64], scores: &[f64], windows: &[Window]) -> Result<Self> {
        let name = name.into();
        let fail = |window: Option<usize>, row: Option<usize>, reason: String| Error::InvalidLabels {
            file: name.clone(),
            window,
            row,
            reason,
        };
        if scores.len() != timestamps.len() {
            return Err(fail(None, None, format!("{} scores for {} rows", scores.len(), timestamps.len())));
        }
        if let Some((i, s)) = scores.iter().enumerate().find(|(_, s)| !(0.0..=1.0).contains(*s)) {
            return Err(fail(None, Some(i), format!("row {}: score {s} is not a number in [0, 1]", i + 1)));
        }
        // Later rows win, as in score.py's `{t: i for i, t in enumerate(times)}`.
        let index: HashMap<i64, usize> = timestamps.iter().enumerate().map(|(i, &t)| (t, i)).collect();
        let mut spans = Vec::with_capacity(windows.len());
        for (k, w) in windows.iter().enumerate() {
            let describe =
                || format!("window {} [{}, {}]", k + 1, format_rfc3339(w.start_ms), format_rfc3339(w.end_ms));
            let row = |t: i64, bound: &str| {
                index.get(&t).copied().ok_or_else(|| {
                    fail(Some(k), None, format!("{}: its {bound} is not the timestamp of a row", describe()))
                })
            };
            let (a, b) = (row(w.start_ms, "start")?, row(w.end_ms, "end")?);
            if a > b {
                return Err(fail(Some(k), None, format!("{}: ends before it starts", describe())));
            }
            spans.push((a, b, k));
        }
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let ((_, end, k), (start, _, j)) = (pair[0], pair[1]);
            if start <= end {
                let (first, second) = (k.min(j) + 1, k.max(j) + 1);
                return Err(fail(Some(k.max(j)), None, format!("windows {first} and {second} overlap")));
            }
        }

        let n = timestamps.len();
        let learn = learning_rows(n);
        let top = sig_score(-1.0);
        let mut scored = Vec::with_capacity(n - learn);
        // The window the rows are in or before, and the last one passed.
        let mut w = 0;
        let mut previous: Option<(usize, usize)> = None; // (last row, width)
        for (i, &score) in scores.iter().enumerate() {
            let inside = spans.get(w).is_some_and(|&(a, b, _)| a <= i && i <= b);
            let effect = if inside {
                let (a, b, _) = spans[w];
                let width = (b - a + 1) as f64;
                Effect::Window { id: w, tp: sig_score(-((b - i + 1) as f64) / width) / top }
            } else {
                let fp = match previous {
                    None => -1.0,
                    // A one-row window: the limit of the scaling is the
                    // full cost (score.py divides by zero).
                    Some((_, 1)) => -1.0,
                    Some((end, width)) => sig_score(i.abs_diff(end) as f64 / (width - 1) as f64),
                };
                Effect::Outside { fp }
            };
            if i >= learn {
                scored.push(Row { score, effect });
            }
            if inside && i == spans[w].1 {
                previous = Some((i, spans[w].1 - spans[w].0 + 1));
                w += 1;
            }
        }
        Ok(Self { name, rows: n, windows: windows.len(), scored })
    }

    /// The file's name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows scored: those after the learning period.
    pub fn scored_rows(&self) -> usize {
        self.scored.len()
    }

    /// Labelled windows in the file.
    pub fn windows(&self) -> usize {
        self.windows
    }
}

/// How a detector did under one [`Profile`], at its best threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProfileScore {
    /// The normalised score, rounded to 2 decimals: 0 is no better than
    /// never firing, 100 is a detection on every window's first row.
    pub score: f64,
    /// The total before normalisation, rounded to 3 decimals.
    pub raw: f64,
    /// The best threshold: a row is a detection when its score is at or
    /// above it. [`NEVER_THRESHOLD`] when never firing does best.
    pub threshold: f64,
    /// Scored rows at or above the threshold inside a window.
    pub rows_in_windows: usize,
    /// Scored rows at or above the threshold outside every window.
    pub rows_outside: usize,
}

/// How a detector did on a labelled corpus, under each profile. Its JSON
/// has the fields and names of score.py's `--json` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Files scored.
    pub files: usize,
    /// Labelled windows, over all files.
    pub windows: usize,
    /// Rows scored (after each file's learning period), over all files.
    pub rows: usize,
    /// Under [`STANDARD`].
    pub standard: ProfileScore,
    /// Under [`LOW_FP`].
    pub low_fp: ProfileScore,
    /// Under [`LOW_FN`].
    pub low_fn: ProfileScore,
}

impl Report {
    /// Each profile with its score, in the order of [`PROFILES`].
    pub fn by_profile(&self) -> [(Profile, &ProfileScore); 3] {
        [(STANDARD, &self.standard), (LOW_FP, &self.low_fp), (LOW_FN, &self.low_fn)]
    }
}

/// Scores a detector over a corpus: pools the files' rows, finds the best
/// threshold under each profile and normalises the totals.
///
/// The order of `files` matters to the last bit of the totals (floating
/// point sums); score.py takes them sorted by name.
///
/// # Errors
/// [`Error::InvalidConfig`] for `windows` when the files hold no window:
/// the normalised score is then undefined.
pub fn score(files: &[LabelledFile]) -> Result<Report> {
    let windows: usize = files.iter().map(|f| f.windows).sum();
    if windows == 0 {
        return Err(Error::config("windows", "the corpus has no labelled window, so nothing to score against"));
    }
    let mut rows = Vec::with_capacity(files.iter().map(|f| f.scored.len()).sum());
    let mut offset = 0;
    for file in files {
        rows.extend(file.scored.iter().map(|r| match r.effect {
            Effect::Window { id, tp } => Row { score: r.score, effect: Effect::Window { id: id + offset, tp } },
            outside => Row { score: r.score, effect: outside },
        }));
        offset += file.windows;
    }
    // Descending and stable, as Python's `sorted(..., reverse=True)`; the
    // scores are finite, so `partial_cmp` only ties equal values (and the
    // two zeros, which Python also takes as equal).
    rows.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal));
    let [standard, low_fp, low_fn] = PROFILES.map(|p| best_threshold(&rows, windows, &p));
    Ok(Report { files: files.len(), windows, rows: rows.len(), standard, low_fp, low_fn })
}

/// Sweeps every threshold from the top down (`rows` sorted by descending
/// score) and keeps the best total.
fn best_threshold(rows: &[Row], windows: usize, p: &Profile) -> ProfileScore {
    let never = -p.false_negative * windows as f64;
    let perfect = p.true_positive * windows as f64;
    let mut best_in_window = vec![-p.false_negative; windows];
    let mut total = never;
    let (mut in_windows, mut outside) = (0, 0);
    let mut best = (total, NEVER_THRESHOLD, 0, 0);
    let mut i = 0;
    while i < rows.len() {
        let threshold = rows[i].score;
        while i < rows.len() && rows[i].score == threshold {
            match rows[i].effect {
                Effect::Outside { fp } => {
                    total += fp * p.false_positive;
                    outside += 1;
                }
                Effect::Window { id, tp } => {
                    let value = tp * p.true_positive;
                    let old = best_in_window[id];
                    if value > old {
                        total += value - old;
                        best_in_window[id] = value;
                    }
                    in_windows += 1;
                }
            }
            i += 1;
        }
        if total > best.0 {
            best = (total, threshold, in_windows, outside);
        }
    }
    let (total, threshold, rows_in_windows, rows_outside) = best;
    ProfileScore {
        score: round(100.0 * (total - never) / (perfect - never), 2),
        raw: round(total, 3),
        threshold,
        rows_in_windows,
        rows_outside,
    }
}

/// Python's `round(x, decimals)`: the decimal nearest the exact value of
/// `x`, ties to even, read back. Rust's formatting rounds the same way.
fn round(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MIN: i64 = 60_000;

    /// `n` rows a minute apart; windows as (first row, last row).
    fn file(n: usize, windows: &[(usize, usize)], scores: &[f64]) -> Result<LabelledFile> {
        let timestamps: Vec<i64> = (0..n as i64).map(|i| i * MIN).collect();
        let windows: Vec<Window> =
            windows.iter().map(|&(a, b)| Window { start_ms: a as i64 * MIN, end_ms: b as i64 * MIN }).collect();
        LabelledFile::new("g/f.csv", &timestamps, scores, &windows)
    }

    /// Scores of 0 but `hits` at the given rows.
    fn firing(n: usize, hits: &[(usize, f64)]) -> Vec<f64> {
        let mut scores = vec![0.0; n];
        for &(i, s) in hits {
            scores[i] = s;
        }
        scores
    }

    fn one(n: usize, windows: &[(usize, usize)], scores: &[f64]) -> Report {
        score(&[file(n, windows, scores).unwrap()]).unwrap()
    }

    #[test]
    fn a_later_detection_in_a_window_earns_less() {
        // Window rows 10..=14 (width 5); row 12 is p = −3/5 into it.
        let report = one(20, &[(10, 14)], &firing(20, &[(12, 1.0)]));
        let tp = sig_score(-0.6) / sig_score(-1.0);
        assert!((tp - 0.917_429).abs() < 1e-6, "{tp}");
        // (tp − never) / (perfect − never) with never = −1, perfect = 1.
        let expected = ProfileScore { score: 95.87, raw: 0.917, threshold: 1.0, rows_in_windows: 1, rows_outside: 0 };
        assert_eq!(report.standard, expected);
        assert_eq!(report.low_fp, expected);
        // never = −2, perfect = 1: 100 · 2.917 / 3.
        assert_eq!(report.low_fn, ProfileScore { score: 97.25, ..expected });
        assert_eq!((report.files, report.windows, report.rows), (1, 1, 17));
    }

    #[test]
    fn rows_of_one_score_count_together_and_equal_totals_keep_the_higher_threshold() {
        // Row 5 opens the window, row 19 is far past it (full cost, almost),
        // both at 0.8: taken alone row 5 would look perfect. Row 6 at 0.5
        // adds nothing (row 5 already earned more), so 0.8 stays best.
        let report = one(20, &[(5, 9)], &firing(20, &[(5, 0.8), (19, 0.8), (6, 0.5)]));
        assert_eq!(
            report.standard,
            ProfileScore { score: 94.5, raw: 0.89, threshold: 0.8, rows_in_windows: 1, rows_outside: 1 }
        );
        assert_eq!(report.low_fp.score, 89.0);
        assert_eq!(report.low_fn.score, 96.33);
    }

    #[test]
    fn past_a_one_row_window_a_detection_costs_the_full_false_positive() {
        // score.py divides by zero here; the limit is the full cost.
        let report = one(20, &[(10, 10)], &firing(20, &[(10, 1.0), (12, 1.0)]));
        assert_eq!(report.standard.raw, 0.89);
        assert_eq!(report.standard.score, 94.5);
        // Every row after the window is scored without a NaN.
        let report = one(20, &[(10, 10)], &firing(20, &[]));
        assert!(report.standard.score.is_finite());
    }

    #[test]
    fn detections_right_after_a_window_cost_little() {
        // Row 15 is one row past the window 10..=14: fp = sig(1/4).
        let report = one(20, &[(10, 14)], &firing(20, &[(10, 1.0), (15, 1.0)]));
        let cost = sig_score(0.25) * 0.11;
        assert!(cost > -0.062 && cost < -0.061, "{cost}");
        assert_eq!(report.standard.raw, round(1.0 + cost, 3));
    }

    #[test]
    fn the_learning_period_is_not_scored() {
        assert_eq!(learning_rows(20), 3);
        assert_eq!(learning_rows(5_000), 750);
        assert_eq!(learning_rows(4_999), 749);
        // The window's first row is row 1, in the learning period: a
        // detection there is not seen; the 0 scores fire everywhere.
        let report = one(20, &[(1, 5)], &firing(20, &[(1, 1.0)]));
        assert_eq!(report.rows, 17);
        assert_eq!(report.standard.threshold, 0.0);
        assert_eq!(report.standard.rows_in_windows, 3);
    }

    #[test]
    fn windows_are_numbered_across_files() {
        let a = file(20, &[(10, 12)], &firing(20, &[(10, 1.0)])).unwrap();
        let b = file(20, &[(10, 12)], &firing(20, &[])).unwrap();
        let report = score(&[a.clone(), b]).unwrap();
        // One window found, one missed: total 0 of −2..2 in the standard profile.
        assert_eq!(report.standard.score, 50.0);
        assert_eq!((report.files, report.windows, report.rows), (2, 2, 34));
        let report = score(&[a.clone(), a]).unwrap();
        assert_eq!(report.standard.score, 100.0);
    }

    #[test]
    fn bad_labels_name_the_file_and_the_window_or_row() {
        let scores = firing(20, &[]);
        let err = |r: Result<LabelledFile>| r.unwrap_err();
        let timestamps: Vec<i64> = (0..20).map(|i| i * MIN).collect();
        let off_row = Window { start_ms: 10 * MIN + 1, end_ms: 12 * MIN };
        let e = err(LabelledFile::new("g/f.csv", &timestamps, &scores, &[off_row]));
        assert!(matches!(e, Error::InvalidLabels { window: Some(0), row: None, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "g/f.csv: window 1 [1970-01-01T00:10:00.001Z, 1970-01-01T00:12:00.000Z]: its start is not the timestamp of a row"
        );
        let e = err(file(20, &[(4, 6), (12, 10)], &scores));
        assert!(
            e.to_string()
                .ends_with("window 2 [1970-01-01T00:12:00.000Z, 1970-01-01T00:10:00.000Z]: ends before it starts"),
            "{e}"
        );
        let e = err(file(20, &[(10, 14), (4, 6), (14, 16)], &scores));
        assert_eq!(e.to_string(), "g/f.csv: windows 1 and 3 overlap");
        let e = err(file(20, &[(10, 14)], &firing(20, &[(7, 1.5)])));
        assert!(matches!(e, Error::InvalidLabels { row: Some(7), .. }), "{e:?}");
        assert_eq!(e.to_string(), "g/f.csv: row 8: score 1.5 is not a number in [0, 1]");
        let e = err(file(20, &[(10, 14)], &firing(20, &[(7, f64::NAN)])));
        assert!(e.to_string().contains("score NaN"), "{e}");
        let e = err(file(20, &[(10, 14)], &[0.0; 19]));
        assert_eq!(e.to_string(), "g/f.csv: 19 scores for 20 rows");
        let e = score(&[file(20, &[], &scores).unwrap()]).unwrap_err();
        assert!(e.to_string().contains("no labelled window"), "{e}");
    }

    #[test]
    fn a_window_bound_on_a_repeated_timestamp_is_the_later_row() {
        // Rows 10 and 11 share a timestamp: the window starts on row 11,
        // so a detection on row 11 is on its first row.
        let mut timestamps: Vec<i64> = (0..20).map(|i| i * MIN).collect();
        timestamps[11] = timestamps[10];
        let window = Window { start_ms: 10 * MIN, end_ms: 14 * MIN };
        let f = LabelledFile::new("g/f.csv", &timestamps, &firing(20, &[(11, 1.0)]), &[window]).unwrap();
        assert_eq!(score(&[f]).unwrap().standard.score, 100.0);
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(round(0.125, 2), 0.12);
        assert_eq!(round(0.375, 2), 0.38);
        assert_eq!(round(2.675, 2), 2.67);
        assert_eq!(round(36.965, 2), 36.97);
        assert_eq!(round(-0.0004, 3), -0.0);
    }

    #[test]
    fn the_report_reads_as_score_py_writes_it() {
        let report = one(20, &[(10, 14)], &firing(20, &[(12, 1.0)]));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["standard"]["score"], 95.87);
        assert_eq!(json["low_fn"]["rows_in_windows"], 1);
        assert_eq!(json["files"], 1);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    /// Files as (rows, windows as (first row, last row)).
    type Layout = Vec<(usize, Vec<(usize, usize)>)>;

    /// Files with valid windows, each opening after the learning period
    /// and after at least 30 quiet rows per window: (rows, windows).
    fn corpus() -> impl Strategy<Value = Layout> {
        let layout = (prop::collection::vec((1usize..7, 0usize..12), 1..4), 0usize..40);
        prop::collection::vec(layout, 1..4).prop_map(|files| {
            files
                .into_iter()
                .map(|(spans, tail)| {
                    let body: usize = spans.iter().map(|(w, g)| w + g).sum::<usize>() + tail;
                    let quiet = 30 * spans.len();
                    let start = ((quiet as f64 + 0.15 * body as f64) / 0.85).ceil() as usize + 1;
                    let mut at = start;
                    let windows = spans
                        .iter()
                        .map(|&(width, gap)| {
                            let w = (at, at + width - 1);
                            at += width + gap;
                            w
                        })
                        .collect();
                    (start + body, windows)
                })
                .collect()
        })
    }

    /// Scores every row of a [`corpus`] with `score_at(row, windows)`.
    fn score_layout(files: &Layout, score_at: impl Fn(usize, &[(usize, usize)]) -> f64) -> Report {
        let files: Vec<LabelledFile> = files
            .iter()
            .map(|(n, windows)| {
                let scores: Vec<f64> = (0..*n).map(|i| score_at(i, windows)).collect();
                file(*n, windows, &scores).unwrap()
            })
            .collect();
        score(&files).unwrap()
    }

    proptest! {
        #[test]
        fn never_panics(
            n in 0usize..60,
            ticks in prop::collection::vec(0i64..4, 60),
            levels in prop::collection::vec(0usize..4, 60),
            windows in prop::collection::vec((0i64..70, 0i64..70), 0..5),
        ) {
            // Repeated timestamps, tied scores, windows on and off rows, in
            // any order.
            let timestamps: Vec<i64> = ticks[..n].iter().scan(0, |t, d| { *t += d; Some(*t * MIN) }).collect();
            let scores: Vec<f64> = levels[..n].iter().map(|&l| l as f64 / 3.0).collect();
            let windows: Vec<Window> =
                windows.iter().map(|&(a, b)| Window { start_ms: a * MIN, end_ms: b * MIN }).collect();
            if let Ok(f) = LabelledFile::new("g/f.csv", &timestamps, &scores, &windows)
                && let Ok(report) = score(&[f])
            {
                for (_, p) in report.by_profile() {
                    prop_assert!((0.0..=100.0).contains(&p.score), "{report:?}");
                }
            }
        }

        #[test]
        fn first_rows_score_100_and_silence_0(files in corpus(), noise in 0.0f64..1.0) {
            let windows: usize = files.iter().map(|(_, w)| w.len()).sum();
            let perfect = score_layout(&files, |i, w| if w.iter().any(|&(a, _)| a == i) { 1.0 } else { noise * 0.5 });
            for (_, p) in perfect.by_profile() {
                prop_assert_eq!(p.score, 100.0);
                prop_assert_eq!((p.threshold, p.rows_in_windows, p.rows_outside), (1.0, windows, 0));
            }
            // All at one level, the only detector that could fire fires
            // everywhere, which the quiet rows make worse than silence.
            let silent = score_layout(&files, |_, _| noise);
            for (_, p) in silent.by_profile() {
                prop_assert_eq!(p.score, 0.0);
                prop_assert_eq!((p.threshold, p.rows_in_windows, p.rows_outside), (NEVER_THRESHOLD, 0, 0));
            }
        }
    }
}
