//! Determinism (issue 15): two runs with the same graph, flags and seed
//! write byte-identical files. `verify` writes everything but `timings.json`
//! identically (report.json, junit.xml, summary.md, report.html, the Model
//! Explorer files, the `.h5`/`.keras`/`.py` and thaw_fallbacks.py); `convert`
//! writes the same `.h5`, `.keras` and `.py` twice.
//!
//! The runs are more than a second apart, so a timestamp in any file (HDF5
//! stamps objects with their creation time by default, at one-second
//! resolution) shows up as a difference.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Every file in `dir` (not recursive) by name.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The differences between two snapshots, one line each (the first
/// differing byte of a file that differs).
fn differences(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut out = Vec::new();
    for name in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                let at = x
                    .iter()
                    .zip(y)
                    .position(|(p, q)| p != q)
                    .unwrap_or(x.len().min(y.len()));
                out.push(format!(
                    "{name}: differs from byte {at} ({} vs {} bytes)",
                    x.len(),
                    y.len()
                ));
            }
            (Some(_), None) => out.push(format!("{name}: only in the first run")),
            _ => out.push(format!("{name}: only in the second run")),
        }
    }
    out
}

fn thaw(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "thaw {args:?}: {:?}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs `args` (writing into `out`) twice, `out` emptied in between, and
/// returns both runs' files but `skip`.
fn twice(
    out: &Path,
    args: &[&str],
    skip: &[&str],
) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
    let mut runs = Vec::new();
    for i in 0..2 {
        if i == 1 {
            // More than HDF5's one-second timestamp resolution apart.
            std::thread::sleep(Duration::from_millis(1100));
        }
        let _ = std::fs::remove_dir_all(out);
        std::fs::create_dir_all(out).unwrap();
        thaw(args);
        let mut files = snapshot(out);
        files.retain(|k, _| !skip.contains(&k.as_str()));
        runs.push(files);
    }
    let b = runs.pop().unwrap();
    (runs.pop().unwrap(), b)
}

/// Fixtures that cover the writers: fallback layers (thaw_fallbacks.py),
/// attention (the MultiHeadAttention shim), an unrolled LSTM, plain conv/BN.
const CASES: [&str; 4] = [
    "k3_fallback_ops",
    "tk_transformer_block",
    "k3_lstm_seq",
    "tk_bn_depthwise_relu6",
];

#[test]
fn verify_twice_writes_identical_files_but_timings() {
    let tmp = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for case in CASES {
        let out = tmp.path().join(case);
        let model = format!("fixtures/{case}/model.pb");
        let (a, b) = twice(
            &out,
            &[
                "verify",
                &model,
                "--seed",
                "7",
                "--samples",
                "2",
                "--formats",
                "h5,keras,py",
                "--out",
                out.to_str().unwrap(),
            ],
            &["timings.json"],
        );
        for must in [
            "report.json",
            "junit.xml",
            "summary.md",
            "report.html",
            "model.h5",
            "model.keras",
            "model.py",
        ] {
            assert!(a.contains_key(must), "{case}: verify wrote no {must}");
        }
        // The clock is in timings.json, and only there.
        let report: serde_json::Value = serde_json::from_slice(&a["report.json"]).unwrap();
        assert!(
            report.get("timings").is_none(),
            "{case}: report.json holds timings"
        );
        problems.extend(
            differences(&a, &b)
                .into_iter()
                .map(|d| format!("{case}: {d}")),
        );
        let timings: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("timings.json")).unwrap()).unwrap();
        assert!(timings["total_ms"].as_f64().unwrap() > 0.0);
    }
    assert!(
        problems.is_empty(),
        "not deterministic:\n{}",
        problems.join("\n")
    );
}

#[test]
fn convert_twice_writes_identical_models() {
    let tmp = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for case in CASES {
        for ext in ["h5", "keras", "py"] {
            let out = tmp.path().join(format!("{case}-{ext}"));
            let target = out.join(format!("m.{ext}"));
            let model = format!("fixtures/{case}/model.pb");
            let (a, b) = twice(
                &out,
                &["convert", &model, "-o", target.to_str().unwrap()],
                &[],
            );
            assert!(!a.is_empty(), "{case}: convert -o {ext} wrote nothing");
            problems.extend(
                differences(&a, &b)
                    .into_iter()
                    .map(|d| format!("{case} -o .{ext}: {d}")),
            );
        }
    }
    assert!(
        problems.is_empty(),
        "not deterministic:\n{}",
        problems.join("\n")
    );
}
