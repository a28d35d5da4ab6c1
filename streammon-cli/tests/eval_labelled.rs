//! `streammon eval --labelled` as a user runs it: it reproduces the
//! reference scorer (`testdata/detection/score.py`) on the labelled
//! corpus, for Python baselines and for our own detectors, and reports bad
//! input as `file:line: reason`.
//!
//! Needs python3 (the baselines and the reference scorer are Python); the
//! tests fail, never skip, without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{arg, stderr, streammon};
use serde_json::Value;

fn detection() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/detection")
}

fn corpus() -> PathBuf {
    detection().join("cloud-monitoring")
}

/// python3, or a failure saying to install it.
fn python3() -> Command {
    let found = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        found,
        "python3 is not installed: these tests run the reference scorer and baselines; install it (apt-get install python3)"
    );
    Command::new("python3")
}

/// The corpus files, as `windows.json` names them.
fn corpus_files() -> Vec<String> {
    let labels = std::fs::read_to_string(corpus().join("labels/windows.json")).unwrap();
    let labels: serde_json::Map<String, Value> = serde_json::from_str(&labels).unwrap();
    labels.keys().cloned().collect()
}

/// Runs `job` over `items` on one thread per core; panics on the first
/// failure.
fn each<T: Sync>(items: &[T], job: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    job(item);
                }
            });
        }
    });
}

/// `eval --labelled CORPUS` with `args`, as JSON.
fn eval_json(args: &[&str]) -> Vec<Value> {
    let corpus = corpus();
    let mut all = vec!["eval", "--labelled", arg(&corpus), "--json", "-q"];
    all.extend_from_slice(args);
    let out = streammon(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scores(entry: &Value) -> [f64; 3] {
    ["standard", "low_fp", "low_fn"].map(|p| entry[p]["score"].as_f64().unwrap())
}

#[test]
fn the_python_baselines_score_the_reference_figures() {
    let algos = [("zscore", [36.97, 31.86, 41.72]), ("wgauss", [37.11, 33.13, 39.52]), ("const", [0.0, 0.0, 0.0])];
    let files = corpus_files();
    let out = tempfile::tempdir().unwrap();
    let jobs: Vec<(&str, &String)> = algos.iter().flat_map(|(algo, _)| files.iter().map(move |f| (*algo, f))).collect();
    let started = std::time::Instant::now();
    each(&jobs, |&(algo, file)| {
        let dest = out.path().join(algo).join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let run = python3()
            .arg(detection().join("baseline.py"))
            .args([algo, arg(&corpus().join("data").join(file)), arg(&dest)])
            .output()
            .unwrap();
        assert!(run.status.success(), "baseline.py {algo} {file}: {}", stderr(&run));
    });
    eprintln!("baselines over {} files in {:.1?}", files.len(), started.elapsed());
    for (algo, expected) in algos {
        let results = out.path().join(algo);
        let scored = eval_json(&["--results", arg(&results)]);
        assert_eq!(scored.len(), 1);
        assert_eq!(scores(&scored[0]), expected, "{algo}: {}", scored[0]);
        assert_eq!((scored[0]["files"].as_u64(), scored[0]["windows"].as_u64()), (Some(60), Some(236)));
    }
}

#[test]
fn scoring_in_process_equals_score_py_on_detect_output() {
    let files = corpus_files();
    for detector in ["zscore", "mad"] {
        let out = tempfile::tempdir().unwrap();
        each(&files, |file| {
            let dest = out.path().join(file);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            let input = corpus().join("data").join(file);
            let run =
                streammon(&["detect", "-q", "--detector", detector, "--input", arg(&input), "--output", arg(&dest)]);
            assert!(run.status.success(), "detect {file}: {}", stderr(&run));
        });
        let reference = python3()
            .arg(detection().join("score.py"))
            .args([arg(&corpus()), arg(out.path()), "--json"])
            .output()
            .unwrap();
        assert!(reference.status.success(), "score.py: {}", stderr(&reference));
        let reference: Value = serde_json::from_slice(&reference.stdout).unwrap();

        let mut ours = eval_json(&["--detectors", detector]).remove(0);
        assert_eq!(ours["detector"], detector);
        ours.as_object_mut().unwrap().remove("detector");
        // Every figure, thresholds included, to the last bit.
        assert_eq!(ours, reference, "{detector}");
        // And the same output scored as another tool's.
        let mut theirs = eval_json(&["--results", arg(out.path())]).remove(0);
        theirs.as_object_mut().unwrap().remove("detector");
        assert_eq!(theirs, reference, "{detector} through --results");
    }
}

/// A corpus of one file of 40 rows a minute apart (line n + 2 holds row
/// n), one window over rows 30 to 33, and an output that finds it.
struct Tiny {
    dir: tempfile::TempDir,
}

impl Tiny {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("corpus/data/g");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(dir.path().join("corpus/labels")).unwrap();
        std::fs::create_dir_all(dir.path().join("results/g")).unwrap();
        let mut csv = String::from("timestamp,value\n");
        let mut scores = String::from("timestamp,value,anomaly_score\n");
        for i in 0..40 {
            let value = if i == 30 { 50.0 } else { f64::from(i % 3) };
            csv.push_str(&format!("2026-01-01 00:{i:02}:00,{value}\n"));
            scores.push_str(&format!("2026-01-01 00:{i:02}:00,{value},{}\n", if i == 30 { 1.0 } else { 0.0 }));
        }
        std::fs::write(data.join("a.csv"), csv).unwrap();
        std::fs::write(dir.path().join("results/g/a.csv"), scores).unwrap();
        let tiny = Self { dir };
        tiny.labels("{\n  \"g/a.csv\": [\n    [\"2026-01-01 00:30:00\", \"2026-01-01 00:33:00\"]\n  ]\n}\n");
        tiny
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn labels(&self, text: &str) {
        std::fs::write(self.path("corpus/labels/windows.json"), text).unwrap();
    }

    /// Replaces line `n` (from 1) of a file.
    fn set_line(&self, rel: &str, n: usize, line: &str) {
        let path = self.path(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[n - 1] = line;
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }

    /// `eval --labelled corpus` with `args`: exit code and standard error,
    /// with the temporary directory written `TMP`.
    fn eval(&self, args: &[&str]) -> (Option<i32>, String) {
        let corpus = self.path("corpus");
        let mut all = vec!["eval", "--labelled", arg(&corpus), "-q"];
        all.extend_from_slice(args);
        let out = streammon(&all);
        (out.status.code(), stderr(&out).replace(arg(self.dir.path()), "TMP"))
    }

    fn results(&self, args: &[&str]) -> (Option<i32>, String) {
        let results = self.path("results");
        let mut all = vec!["--results", arg(&results)];
        all.extend_from_slice(args);
        self.eval(&all)
    }
}

#[test]
fn a_users_corpus_and_results_are_scored() {
    let tiny = Tiny::new();
    let corpus = tiny.path("corpus");
    let results = tiny.path("results");
    let out = streammon(&["eval", "--labelled", arg(&corpus), "--results", arg(&results), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scores(&json[0]), [100.0; 3]);
    assert_eq!(
        (json[0]["files"].as_u64(), json[0]["windows"].as_u64(), json[0]["rows"].as_u64()),
        (Some(1), Some(1), Some(34))
    );
    assert_eq!(json[0]["standard"]["threshold"], 1.0);

    let out = streammon(&["eval", "--labelled", arg(&corpus), "--detectors", "zscore,mad", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("1 files, 1 windows, 34 rows scored"), "{table}");
    assert!(table.contains("low FP") && table.contains("threshold"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("zscore")) && table.lines().any(|l| l.starts_with("mad")), "{table}");
}

#[test]
fn bad_results_are_reported_as_file_line_reason() {
    let tiny = Tiny::new();
    let results = "TMP/results/g/a.csv";

    tiny.set_line("results/g/a.csv", 6, "2026-01-01 00:04:00,1,high");
    assert_eq!(tiny.results(&[]), (Some(2), format!("{results}:6: anomaly_score \"high\" is not a number\n")));
    tiny.set_line("results/g/a.csv", 6, "2026-01-01 00:04:00,1,1.5");
    assert_eq!(tiny.results(&[]), (Some(2), format!("{results}:6: anomaly_score 1.5 is outside [0, 1]\n")));

    tiny.set_line("results/g/a.csv", 6, "2026-01-01 00:04:00,1,0");
    let text = std::fs::read_to_string(tiny.path("results/g/a.csv")).unwrap();
    let short: Vec<&str> = text.lines().take(40).collect();
    std::fs::write(tiny.path("results/g/a.csv"), short.join("\n") + "\n").unwrap();
    assert_eq!(tiny.results(&[]), (Some(2), format!("{results}:41: 39 rows for the 40 of data/g/a.csv\n")));

    std::fs::remove_file(tiny.path("results/g/a.csv")).unwrap();
    assert_eq!(
        tiny.results(&[]),
        (Some(2), format!("{results}: missing: the scores of data/g/a.csv, one row per row\n"))
    );
}

#[test]
fn a_bad_corpus_is_reported_as_file_line_reason() {
    let tiny = Tiny::new();
    let labels = "TMP/corpus/labels/windows.json";

    // A window that does not start on a row, at its line in windows.json.
    tiny.labels("{\n  \"g/a.csv\": [\n    [\"2026-01-01 00:30:00\", \"2026-01-01 00:33:00\"],\n    [\"2026-01-01 00:35:30\", \"2026-01-01 00:36:00\"]\n  ]\n}\n");
    let (code, err) = tiny.results(&[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "{labels}:4: g/a.csv: window 2 [2026-01-01T00:35:30.000Z, 2026-01-01T00:36:00.000Z]: its start is not the timestamp of a row\n"
        )
    );
    // The same from the built-in detectors.
    assert_eq!(tiny.eval(&["--detectors", "mad"]), (code, err));

    tiny.labels("{\n  \"g/a.csv\": [\n    [\"2026-01-01 00:30:00\", \"soon\"]\n  ]\n}\n");
    let (code, err) = tiny.results(&[]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with(&format!("{labels}:3: g/a.csv: window 1: its end: cannot parse timestamp")), "{err}");

    tiny.labels("{\n  \"g/a.csv\": [\n    [\"2026-01-01 00:30:00\"]\n  ]\n}\n");
    let (code, err) = tiny.results(&[]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with(&format!("{labels}:3: invalid length 1")), "{err}");

    tiny.labels("{\"g/b.csv\": [[\"2026-01-01 00:30:00\", \"2026-01-01 00:33:00\"]]}");
    assert_eq!(
        tiny.results(&[]),
        (Some(2), "TMP/corpus/data/g/b.csv: missing: labels/windows.json has windows for g/b.csv\n".to_owned())
    );

    std::fs::remove_file(tiny.path("corpus/labels/windows.json")).unwrap();
    assert_eq!(
        tiny.results(&[]),
        (Some(2), format!("{labels}: missing: a labelled corpus holds its windows in labels/windows.json\n"))
    );

    let tiny = Tiny::new();
    tiny.set_line("corpus/data/g/a.csv", 7, "2026-01-01 00:05:00,lots");
    assert_eq!(
        tiny.eval(&["--detectors", "mad"]),
        (Some(2), "TMP/corpus/data/g/a.csv:7: value \"lots\" is not a number\n".to_owned())
    );
    tiny.set_line("corpus/data/g/a.csv", 7, "yesterday,1");
    let (code, err) = tiny.eval(&["--detectors", "mad"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("TMP/corpus/data/g/a.csv:7: cannot parse timestamp from \"yesterday\""), "{err}");
}

#[test]
fn simulator_flags_are_refused_with_labelled_data() {
    let tiny = Tiny::new();
    for flags in [&["--seed", "3"][..], &["--duration", "1h"], &["--threshold", "0.9"], &["--persistence", "3"]] {
        let (code, err) = tiny.eval(flags);
        assert_eq!(code, Some(2), "{flags:?}");
        assert!(err.contains("cannot be used with") && err.contains("--labelled"), "{flags:?}: {err}");
    }
    let (code, err) = tiny.results(&["--detectors", "mad"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
    let out = streammon(&["eval", "--results", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--labelled"), "{}", stderr(&out));
    let out = streammon(&["eval", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("streammon eval --labelled testdata/detection/cloud-monitoring --results"), "{help}");
}
