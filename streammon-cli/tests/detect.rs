//! `streammon detect` and `streammon eval` as a user runs them.

mod common;

use common::{arg, stderr, streammon};

/// A 2 000-point series with one spike, in the given timestamp style.
fn series(iso: bool) -> String {
    let mut csv = String::from("timestamp,value\n");
    let mut seed = 9u64;
    for i in 0..2_000i64 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let noise = (seed >> 40) as f64 / (1u64 << 24) as f64;
        let value = if i == 1_500 { 40.0 } else { 10.0 + noise };
        let t = 1_767_225_600 + i * 60;
        if iso {
            csv.push_str(&format!("{},{value}\n", streammon_core::time::format_rfc3339(t * 1_000)));
        } else {
            csv.push_str(&format!("{t},{value}\n"));
        }
    }
    csv
}

#[test]
fn detect_scores_every_line_and_flags_the_spike() {
    let dir = tempfile::tempdir().unwrap();
    for iso in [true, false] {
        let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
        std::fs::write(&input, series(iso)).unwrap();
        let out = streammon(&["detect", "--input", arg(&input), "--output", arg(&output), "-q"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(&output).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 2_000);
        let scores: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        assert!(scores[1_500] >= 0.5, "{}", scores[1_500]);
        let loud = scores.iter().filter(|&&s| s >= 0.5).count();
        assert!(loud <= 5, "{loud} points flagged");
        // The timestamp is written back as it was read.
        let first_in = series(iso).lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
        assert_eq!(rows[0][0], first_in);
    }
}

#[test]
fn detect_reports_bad_lines_and_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "timestamp,value\n2026-01-01T00:00:00Z,1\nnot-a-time,2\n2026-01-01T00:02:00Z,abc\n2026-01-01T00:03:00Z\n2026-01-01T00:04:00Z,4\n").unwrap();
    let out = streammon(&["detect", "--input", arg(&input), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let name = input.display().to_string();
    assert!(err.contains(&format!("{name}:3: cannot parse timestamp")), "{err}");
    assert!(err.contains(&format!("{name}:4: value \"abc\" is not a number")), "{err}");
    assert!(err.contains(&format!("{name}:5: expected two columns")), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Lines 2, 4 (as missing) and 6 are scored.
    assert_eq!(stdout.lines().count(), 4, "{stdout}");

    let out = streammon(&["detect", "--input", arg(&input), "--strict", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with(&format!("{name}:3:")), "{}", stderr(&out));

    let out = streammon(&["detect", "--input", arg(&input), "--detector", "magic"]);
    assert_eq!(out.status.code(), Some(2));
    let out = streammon(&["detect", "--input", "/nonexistent/x.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/x.csv"));
}

#[test]
fn eval_prints_a_table_and_json() {
    let out = streammon(&[
        "eval",
        "--duration",
        "1h",
        "--titles",
        "6",
        "--incident-rate",
        "6",
        "--detectors",
        "auto,mad",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("precision") && table.contains("auto") && table.contains("mad"), "{table}");
    let out = streammon(&["eval", "--duration", "30m", "--titles", "4", "--detectors", "auto", "--json", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["detector"], "auto");
    assert!(json[0]["recall"].is_number());
}
