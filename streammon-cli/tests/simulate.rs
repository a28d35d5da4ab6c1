//! `streammon simulate` as a user runs it: files, formats, determinism and
//! clear errors.

mod common;

use common::{arg, stderr, streammon};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn same_seed_writes_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = ["a.jsonl", "b.jsonl", "c.jsonl"].iter().map(|f| dir.path().join(f)).collect();
    for (file, seed) in files.iter().zip(["7", "7", "8"]) {
        let out =
            streammon(&["simulate", "--seed", seed, "--duration", "10m", "--step", "5s", "-q", "--out", arg(file)]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(read(&files[0]), read(&files[1]));
    assert_ne!(read(&files[0]), read(&files[2]));
    let text = String::from_utf8(read(&files[0])).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 100 * 120 / 2);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["schema"], 1);
    assert_eq!(first["timestamp_ms"], 1_767_225_605_000i64);
}

#[test]
fn csv_labels_and_events_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (samples, labels, events) =
        (dir.path().join("s.csv"), dir.path().join("labels.jsonl"), dir.path().join("events.jsonl"));
    let out = streammon(&[
        "simulate",
        "--duration",
        "30m",
        "--step",
        "10s",
        "-q",
        "--incidents",
        "cdn_degradation:eu-west@5m+10m,origin_outage@20m+2m*0.9",
        "--out",
        arg(&samples),
        "--labels",
        arg(&labels),
        "--events",
        arg(&events),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&samples).unwrap();
    let mut rows = csv.lines();
    let header = rows.next().unwrap();
    assert!(header.starts_with("schema,timestamp_ms,interval_ms,content_id"), "{header}");
    let columns = header.split(',').count();
    assert!(rows.all(|r| r.split(',').count() == columns));

    let labels = std::fs::read_to_string(&labels).unwrap();
    let labels: Vec<serde_json::Value> = labels.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[0]["kind"], "cdn_degradation");
    assert_eq!(labels[0]["scope"]["region"], "eu-west");
    assert_eq!(labels[0]["start_ms"], 1_767_225_600_000i64 + 5 * 60_000);
    assert_eq!(labels[0]["end_ms"], 1_767_225_600_000i64 + 15 * 60_000);
    assert_eq!(labels[1]["kind"], "origin_outage");
    assert!(labels[1]["scope"]["content"].is_string());

    let events = std::fs::read_to_string(&events).unwrap();
    let first: serde_json::Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(first["from"], serde_json::Value::Null);
    assert!(events.lines().count() >= 48, "the initial catalogue is announced");
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let cases: [(&[&str], &str); 6] = [
        (&["simulate", "--step", "5x"], "unknown unit \"x\""),
        (&["simulate", "--duration", "1s", "--step", "10s"], "--duration: 1s is shorter than one step (10s)"),
        (&["simulate", "--incidents", "latency_spike:mars-north@1h+1m"], "no region \"mars-north\""),
        (&["simulate", "--incidents", "meteor@1h+1m"], "expected one of cdn_degradation"),
        (&["simulate", "--incidents", "random=lots"], "the rate must be a number"),
        (&["simulate", "--titles", "0"], "invalid `titles`: 0 must be between 1 and 100000"),
    ];
    for (args, message) in cases {
        let out = streammon(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn config_file_errors_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.toml");
    std::fs::write(&path, "seed = 3\ntitels = 5\n").unwrap();
    let out = streammon(&["simulate", "--config", arg(&path)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with(&format!("{}:2: unknown field `titels`", path.display())), "{}", stderr(&out));

    std::fs::write(&path, "seed = 3\n\n[[incidents.scripted]]\nkind = \"latency_spike\"\nat = \"1h\"\nduration = \"5m\"\ntarget = \"mars\"\n").unwrap();
    let out = streammon(&["simulate", "--config", arg(&path)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!("{}:7: invalid `incidents.scripted[0].target`", path.display())),
        "{}",
        stderr(&out)
    );

    std::fs::write(&path, "seed = 3\nstep = \"10s\"\ntitles = 5\n").unwrap();
    let file = dir.path().join("s.jsonl");
    let out = streammon(&["simulate", "--config", arg(&path), "--duration", "1m", "-q", "--out", arg(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&file).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["interval_ms"], 10_000);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_streammon"))
        .args(["simulate", "--duration", "6h", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 4096];
    child.stdout.as_mut().unwrap().read_exact(&mut head).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(head.starts_with(b"{\"schema\":1,"));
}
