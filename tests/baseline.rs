//! The CI gate on the committed fixtures: every fixture verifies without a
//! regression against its committed baseline (`reports/baselines/<case>.json`,
//! written by `reports/baselines/refresh.sh`), and planted regressions — a
//! grown error, a removed layer, a changed class, a worse verdict — are each
//! caught, by `thaw verify --baseline` and by `thaw diff`.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn thaw() -> Command {
    Command::cargo_bin("thaw").expect("the thaw binary is built by cargo test")
}

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("fixtures")
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.pb").exists())
        .collect();
    v.sort();
    assert!(
        v.len() >= 10,
        "expected at least 10 fixtures, found {}",
        v.len()
    );
    v
}

fn baseline_of(case: &Path) -> PathBuf {
    let name = case.file_name().unwrap().to_str().unwrap();
    PathBuf::from("reports/baselines").join(format!("{name}.json"))
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// `thaw verify` on a fixture with `--baseline`; returns (exit code, stdout).
fn verify_against(
    case: &Path,
    baseline: &Path,
    out: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let o = thaw()
        .args([
            "verify",
            case.join("model.pb").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--baseline",
            baseline.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

fn diff(old: &Path, new: &Path) -> (Option<i32>, String) {
    let o = thaw()
        .args(["diff", old.to_str().unwrap(), new.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

/// This is how CI checks the baselines: every fixture, its committed baseline.
#[test]
fn every_fixture_matches_its_committed_baseline() {
    let mut failures = Vec::new();
    for case in fixtures() {
        let baseline = baseline_of(&case);
        if !baseline.exists() {
            failures.push(format!(
                "{}: no baseline {}; run reports/baselines/refresh.sh and review it",
                case.display(),
                baseline.display()
            ));
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        let (code, text) = verify_against(&case, &baseline, out.path(), &[]);
        if code != Some(0) || !text.contains("gate: PASS") {
            failures.push(format!("{}: exit {code:?}\n{text}", case.display()));
        }
        // the renderings are written next to report.json
        for f in ["report.json", "report.html", "junit.xml", "summary.md"] {
            assert!(out.path().join(f).exists(), "{}: no {f}", case.display());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A fresh report of one fixture, to plant regressions into.
fn fresh_report(dir: &Path) -> (PathBuf, PathBuf) {
    let case = PathBuf::from("fixtures/tf1_vgg_style");
    let out = dir.join("fresh");
    let o = thaw()
        .args([
            "verify",
            case.join("model.pb").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    (case, out.join("report.json"))
}

#[test]
fn diff_of_a_report_with_itself_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = fresh_report(dir.path());
    let (code, text) = diff(&report, &report);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("gate: PASS: 0 regression(s)"), "{text}");
}

#[test]
fn planted_grown_error_is_caught() {
    // One layer's error 1000x the fresh run's (status left as it was, so
    // only the growth rule can catch it): a regression for `thaw diff`.
    let dir = tempfile::tempdir().unwrap();
    let (case, report) = fresh_report(dir.path());
    let mut v = read(&report);
    let layer = &mut v["layers"][0];
    let name = layer["name"].as_str().unwrap().to_string();
    let cum = layer["cumulative"]["max_abs"].as_f64().unwrap();
    assert!(
        cum > 1e-7,
        "the planted layer needs a measurable error: {cum}"
    );
    layer["cumulative"]["max_abs"] = Value::from(cum * 1000.0);
    let grown = dir.path().join("grown.json");
    write(&grown, &v);
    let (code, text) = diff(&report, &grown);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "REGRESSION  layer {name}: cumulative max abs error grew"
        )),
        "{text}"
    );
    assert!(text.contains("gate: FAIL: 1 regression(s)"), "{text}");

    // `verify --baseline`: a baseline claiming a 1000x smaller error. Under
    // the default floor (1e-6) that is float noise and passes; with the
    // floor lowered to 1e-9 the growth counts.
    v["layers"][0]["cumulative"]["max_abs"] = Value::from(cum / 1000.0);
    let baseline = dir.path().join("baseline.json");
    write(&baseline, &v);
    let (code, text) = verify_against(&case, &baseline, &dir.path().join("run"), &[]);
    assert_eq!(
        code,
        Some(0),
        "noise-level growth must not trip the gate: {text}"
    );
    let (code, text) = verify_against(
        &case,
        &baseline,
        &dir.path().join("run"),
        &["--gate-floor", "1e-9"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("verdict: PASS"),
        "the run itself passes: {text}"
    );
    assert!(
        text.contains(&format!(
            "REGRESSION  layer {name}: cumulative max abs error grew"
        )),
        "{text}"
    );
}

#[test]
fn planted_removed_layer_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = fresh_report(dir.path());
    let mut v = read(&report);
    let removed = v["layers"].as_array_mut().unwrap().remove(2);
    let name = removed["name"].as_str().unwrap();
    let new = dir.path().join("new.json");
    write(&new, &v);
    let (code, text) = diff(&report, &new);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("REGRESSION  layer {name}: disappeared")),
        "{text}"
    );
    // and the other way round it is a layer that appeared
    let (code, text) = diff(&new, &report);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("REGRESSION  layer {name}: appeared")),
        "{text}"
    );
}

#[test]
fn planted_class_change_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = fresh_report(dir.path());
    let mut v = read(&report);
    let layer = &mut v["layers"][1];
    let name = layer["name"].as_str().unwrap().to_string();
    let old_class = layer["class_name"].as_str().unwrap().to_string();
    layer["class_name"] = Value::from("AveragePooling2D");
    let new = dir.path().join("new.json");
    write(&new, &v);
    let (code, text) = diff(&report, &new);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "REGRESSION  layer {name}: class changed {old_class} -> AveragePooling2D"
        )),
        "{text}"
    );
}

#[test]
fn planted_worse_verdict_is_caught() {
    // A real failing run (a tolerance tighter than float noise) against the
    // passing committed baseline: the verdict and layer statuses worsened.
    let dir = tempfile::tempdir().unwrap();
    let case = PathBuf::from("fixtures/tf1_vgg_style");
    let o = thaw()
        .args([
            "verify",
            case.join("model.pb").to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
            "--atol",
            "1e-9",
            "--rtol",
            "0",
            "--stol",
            "0",
            "--baseline",
            baseline_of(&case).to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("REGRESSION  verdict pass -> fail"), "{text}");
    assert!(text.contains("check pass -> fail"), "{text}");
    assert!(text.contains("note        tolerance"), "{text}");
}

#[test]
fn unreadable_reports_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "not json").unwrap();
    let (code, text) = diff(&bad, &bad);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("bad.json"), "{text}");
    let (code, text) = diff(&dir.path().join("missing.json"), &bad);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("missing.json"), "{text}");
}
