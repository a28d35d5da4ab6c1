//! The `timestamp,value` CSV of `streammon detect` and `streammon eval
//! --labelled`: read whole and strictly as `eval` reads it
//! (`series_csv::read_series_from`), and line by line as `detect` reads
//! it (`parse_line`, `parse_value`), each row scored by a detector as
//! `detect` scores it. The detector is the one of `DETECTOR_NAMES` at the
//! input's length modulo their number, so that every detector meets
//! every kind of row.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use streammon_cli::series_csv::{Line, parse_line, parse_value, read_series_from};
use streammon_core::detect::{DETECTOR_NAMES, DetectorConfig};
use streammon_core::{Detector, Point};

fuzz_target!(|data: &[u8]| {
    if let Ok(series) = read_series_from(data, Path::new("fuzz.csv")) {
        let rows = series.timestamps.len();
        assert!(series.values.len() == rows && series.lines.len() == rows);
        assert!(series.lines.windows(2).all(|w| w[0] < w[1]), "line numbers go up");
    }

    let name = DETECTOR_NAMES[data.len() % DETECTOR_NAMES.len()];
    let mut detector = DetectorConfig::from_name(name).and_then(|c| c.build()).expect("a default detector");
    // `detect` stops at the first line that is not UTF-8 (its reader
    // fails), and skips a line that is not data: a header on the first
    // line, a bad line (reported) after it.
    for line in data.split_inclusive(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else { return };
        let Line { ts, value_text, .. } = match parse_line(line.trim_end_matches(['\n', '\r'])) {
            None => continue,
            Some(Ok(ok)) => ok,
            Some(Err(_)) => continue,
        };
        let value = parse_value(value_text).unwrap_or(f64::NAN);
        let verdict = detector.update(Point::new(ts, value));
        assert!((0.0..=1.0).contains(&verdict.score), "{name}: score {} at {ts}, {value}", verdict.score);
    }
});
