//! Reading a `timestamp,value` CSV line: what `streammon detect` scores
//! and what `streammon eval --labelled` feeds the detectors, read by this
//! one module so the two cannot drift.
//!
//! A line is split on its first two commas and each field unquoted, line
//! by line, so that `detect` streams a file of any size in constant memory
//! and writes each timestamp back exactly as it was read.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::CliError;

/// A line we could not use, and why.
#[derive(Debug)]
pub struct BadLine(pub String);

/// One data line: the timestamp as written and read, and the value as
/// written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line<'a> {
    /// The timestamp field, unquoted.
    pub ts_text: &'a str,
    /// The timestamp in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The value field, unquoted.
    pub value_text: &'a str,
}

/// Latest epoch millisecond a series' timestamp may name, 9999-12-31, and
/// (negated) the earliest, 9999 years before 1970.
const MAX_TIMESTAMP_MS: f64 = 253_402_300_799_999.0;

/// Parses a timestamp: RFC 3339 / ISO-8601, or a number of epoch seconds
/// (below 10^11) or milliseconds, within 9999 years of 1970.
pub fn parse_timestamp(text: &str) -> Result<i64, BadLine> {
    if let Ok(n) = text.parse::<f64>() {
        if !n.is_finite() {
            return Err(BadLine(format!("timestamp {text:?} is not a finite number")));
        }
        let ms = if n.abs() < 1e11 { (n * 1_000.0).round() } else { n.round() };
        if ms.abs() > MAX_TIMESTAMP_MS {
            return Err(BadLine(format!("timestamp {text:?} is past the year 9999")));
        }
        return Ok(ms as i64);
    }
    streammon_core::time::parse_rfc3339(text).map_err(|e| BadLine(e.to_string()))
}

fn unquote(field: &str) -> &str {
    let f = field.trim();
    f.strip_prefix('"').and_then(|f| f.strip_suffix('"')).unwrap_or(f)
}

/// Splits a line into (timestamp text, value text).
fn fields(line: &str) -> Result<(&str, &str), BadLine> {
    let mut parts = line.splitn(3, ',');
    let ts = unquote(parts.next().unwrap_or(""));
    let value = parts.next().map(unquote).ok_or_else(|| BadLine("expected two columns: timestamp,value".into()))?;
    Ok((ts, value))
}

/// Reads a line without its line break. `None` for a blank line, which
/// is skipped; an error for a line that is not data (on the first line,
/// a header).
pub fn parse_line(text: &str) -> Option<Result<Line<'_>, BadLine>> {
    if text.trim().is_empty() {
        return None;
    }
    Some(fields(text).and_then(|(ts_text, value_text)| Ok(Line { ts_text, ts: parse_timestamp(ts_text)?, value_text })))
}

/// Reads a value: a number, or NaN for a missing sample (a blank field or
/// `nan`); an error for anything else.
pub fn parse_value(text: &str) -> Result<f64, BadLine> {
    match text.parse::<f64>() {
        Ok(v) => Ok(v),
        Err(_) if text.is_empty() || text.eq_ignore_ascii_case("nan") => Ok(f64::NAN),
        Err(_) => Err(BadLine(format!("value {text:?} is not a number"))),
    }
}

/// A whole series, read strictly: every line after an optional header is
/// data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Timestamps, epoch milliseconds.
    pub timestamps: Vec<i64>,
    /// Values; NaN for a missing sample.
    pub values: Vec<f64>,
    /// The line number of each row in the file.
    pub lines: Vec<usize>,
}

/// Reads a whole `timestamp,value` file into memory.
///
/// # Errors
/// [`CliError::Io`] when the file cannot be read; otherwise as
/// [`read_series_from`].
pub fn read_series(path: &Path) -> Result<Series, CliError> {
    let file = File::open(path).map_err(|e| CliError::io(path, e))?;
    read_series_from(BufReader::with_capacity(1 << 16, file), path)
}

/// Reads a whole `timestamp,value` series from `reader` into memory;
/// `path` names it in errors.
///
/// # Errors
/// [`CliError::Io`] when reading fails (or the text is not UTF-8);
/// [`CliError::Input`] as `file:line: reason` for the first line that is
/// neither a header (on the first line), blank, nor a row with a timestamp
/// and a number or a missing value.
pub fn read_series_from(mut reader: impl BufRead, path: &Path) -> Result<Series, CliError> {
    let mut series = Series::default();
    let mut text = String::new();
    for number in 1.. {
        text.clear();
        if reader.read_line(&mut text).map_err(|e| CliError::io(path, e))? == 0 {
            break;
        }
        let bad = |BadLine(reason)| CliError::Input { path: path.to_owned(), line: Some(number), reason };
        let line = match parse_line(text.trim_end_matches(['\n', '\r'])) {
            None => continue,
            Some(Ok(line)) => line,
            // A first line that is not data is a header.
            Some(Err(_)) if number == 1 => continue,
            Some(Err(e)) => return Err(bad(e)),
        };
        series.values.push(parse_value(line.value_text).map_err(bad)?);
        series.timestamps.push(line.ts);
        series.lines.push(number);
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_form() {
        let t = 1_767_225_600_000;
        for text in ["2026-01-01T00:00:00Z", "2026-01-01 00:00:00", "1767225600", "1767225600000", "1767225600.0"] {
            assert_eq!(parse_timestamp(text).ok(), Some(t), "{text}");
        }
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("inf").is_err());
        assert_eq!(fields("\"2026-01-01\",\"3.5\",extra").ok(), Some(("2026-01-01", "3.5")));
        assert!(fields("2026-01-01").is_err());
    }

    /// Fuzzing (target `detect_csv`) read a timestamp past i64 as
    /// i64::MAX, silently; it is a bad line now.
    #[test]
    fn a_timestamp_past_the_calendar_is_a_bad_line() {
        for text in ["1e30", "-9223372036854775809", "253402300800000"] {
            let err = parse_timestamp(text).unwrap_err();
            assert!(err.0.contains("9999"), "{text}: {}", err.0);
        }
        assert_eq!(parse_timestamp("253402300799999").unwrap(), 253_402_300_799_999);
    }

    #[test]
    fn lines_and_values() {
        assert!(parse_line("  ").is_none());
        let line = parse_line("2026-01-01 00:00:00,").unwrap().unwrap();
        assert_eq!((line.ts_text, line.ts, line.value_text), ("2026-01-01 00:00:00", 1_767_225_600_000, ""));
        assert!(parse_value("").unwrap().is_nan());
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("2.5").unwrap(), 2.5);
        assert_eq!(parse_value("abc").unwrap_err().0, "value \"abc\" is not a number");
    }

    #[test]
    fn a_series_is_read_strictly_after_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "timestamp,value\n1767225600,1\n\n1767225660,\n1767225720,2\n").unwrap();
        let series = read_series(&path).unwrap();
        assert_eq!(series.timestamps, [1_767_225_600_000, 1_767_225_660_000, 1_767_225_720_000]);
        assert_eq!(series.lines, [2, 4, 5]);
        assert!(series.values[1].is_nan());
        std::fs::write(&path, "timestamp,value\n1767225600,1\nsoon,2\n").unwrap();
        let err = read_series(&path).unwrap_err().to_string();
        assert_eq!(err, format!("{}:3: cannot parse timestamp from \"soon\": expected YYYY-MM-DD", path.display()));
        std::fs::write(&path, "1767225600,1\n1767225660,x\n").unwrap();
        let err = read_series(&path).unwrap_err().to_string();
        assert_eq!(err, format!("{}:2: value \"x\" is not a number", path.display()));
    }
}
