//! Tolerances people can live with (issue 4): the scale term of the default
//! rule, per-class and per-layer overrides from `thaw.toml` / `--config`,
//! the rule each layer used in `report.json`, and top-1 agreement.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn thaw() -> Command {
    Command::cargo_bin("thaw").expect("the thaw binary is built by cargo test")
}

fn fixture(case: &str) -> PathBuf {
    std::fs::canonicalize(format!("fixtures/{case}/model.pb")).expect("fixture exists")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `thaw verify MODEL --out OUT extra...` in `cwd`; returns the exit
/// code, stderr and the report (Null when none was written).
fn verify_in(cwd: &Path, model: &Path, extra: &[&str]) -> (Option<i32>, String, Value) {
    let out = cwd.join("out");
    let o = thaw()
        .current_dir(cwd)
        .args([
            "verify",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    let report = out.join("report.json");
    let r = if report.exists() {
        json(&report)
    } else {
        Value::Null
    };
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        r,
    )
}

fn layers(r: &Value) -> &Vec<Value> {
    r["layers"].as_array().expect("layers[]")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `v` (an f32 written by serde_json as its shortest decimal) is `want`.
fn is(v: &Value, want: f64) -> bool {
    (f(v) - want).abs() <= 1e-6 * want.abs()
}

#[test]
fn every_check_records_its_rule_and_isolated_checks_use_a_tenth_of_stol() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err, r) = verify_in(dir.path(), &fixture("k3_inverted_residual"), &[]);
    assert_eq!(code, Some(0), "{err}");
    let t = &r["tolerance"];
    assert!(
        is(&t["atol"], 1e-4) && is(&t["rtol"], 1e-3) && is(&t["stol"], 1e-5),
        "{t}"
    );
    for l in layers(&r) {
        assert_eq!(&l["cumulative"]["tolerance"], t, "{}", l["name"]);
        assert!(l["cumulative"]["tolerance_from"].is_null());
        let iso = &l["isolated"]["tolerance"];
        assert!(is(&iso["stol"], 1e-6), "{iso}");
        assert_eq!(iso["atol"], t["atol"]);
        // The ratio says how close to failing: <= 1 for a passing layer.
        assert!(f(&l["cumulative"]["tolerance_ratio"]) <= 1.0, "{l}");
        assert!(
            f(&l["cumulative"]["scale"])
                >= f(&l["cumulative"]["graph_max"])
                    .abs()
                    .max(f(&l["cumulative"]["graph_min"]).abs())
                    - 1e-6
        );
    }
}

#[test]
fn thaw_toml_in_the_current_folder_sets_class_and_layer_tolerances() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("k3_bn_depthwise_relu6");
    // Find a layer whose cumulative error is not exactly 0: the `exact`
    // preset on it alone must fail it, and nothing else.
    let (code, _, clean) = verify_in(dir.path(), &model, &[]);
    assert_eq!(code, Some(0));
    let noisy = layers(&clean)
        .iter()
        .find(|l| f(&l["cumulative"]["max_abs"]) > 0.0)
        .expect("a layer with float noise")["name"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        dir.path().join("thaw.toml"),
        format!(
            "[tolerance]\nstol = 2e-5\n\n[tolerance.class.Conv2D]\natol = 0.5\n\n\
             [tolerance.layer.\"{noisy}\"]\npreset = \"exact\"\n"
        ),
    )
    .unwrap();
    let (code, err, r) = verify_in(dir.path(), &model, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(is(&r["tolerance"]["stol"], 2e-5));
    for l in layers(&r) {
        let name = l["name"].as_str().unwrap();
        let from = l["cumulative"]["tolerance_from"].as_str().unwrap_or("");
        if name == noisy {
            assert_eq!(l["status"], "fail", "{l}");
            assert_eq!(f(&l["cumulative"]["tolerance"]["atol"]), 0.0);
            assert!(
                from.contains(&format!("[tolerance.layer.\"{noisy}\"]")),
                "{from}"
            );
        } else if l["class_name"] == "Conv2D" {
            assert!(is(&l["cumulative"]["tolerance"]["atol"], 0.5));
            assert!(
                from.starts_with("thaw.toml [tolerance.class.Conv2D]"),
                "{from}"
            );
            assert_eq!(l["status"], "pass");
        } else {
            assert!(l["cumulative"]["tolerance_from"].is_null(), "{l}");
            assert!(is(&l["cumulative"]["tolerance"]["stol"], 2e-5));
        }
    }
    // The command line overrides the file's [tolerance]; --config another file.
    std::fs::write(
        dir.path().join("other.toml"),
        "[tolerance]\npreset = \"close\"\n",
    )
    .unwrap();
    let (code, err, r) = verify_in(
        dir.path(),
        &model,
        &["--config", "other.toml", "--atol", "3e-4"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(is(&r["tolerance"]["atol"], 3e-4) && is(&r["tolerance"]["rtol"], 1e-4));
}

#[test]
fn bad_config_files_exit_2_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("k3_inverted_residual");
    let cases = [
        ("[tolerance]\natoll = 1e-3\n", "atoll"),
        ("[tolerance.class.Softmx]\natol = 1e-3\n", "Softmx"),
        (
            "[tolerance.layer.\"no_such_layer\"]\natol = 1e-3\n",
            "no_such_layer",
        ),
        ("[tolerance]\npreset = \"loose\"\n", "loose"),
        ("[tolerance]\nrtol = -1.0\n", "rtol"),
    ];
    for (text, key) in cases {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let (code, err, _) = verify_in(dir.path(), &model, &["--config", "bad.toml"]);
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(
            err.contains("bad.toml") && err.contains(key),
            "{text}: {err}"
        );
    }
    let (code, err, _) = verify_in(dir.path(), &model, &["--config", "missing.toml"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn classifier_outputs_report_top1_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err, r) = verify_in(dir.path(), &fixture("k3_pool_flatten_dense"), &[]);
    assert_eq!(code, Some(0), "{err}");
    let outputs: Vec<&Value> = layers(&r)
        .iter()
        .filter(|l| l["is_output"] == true)
        .collect();
    assert!(!outputs.is_empty());
    for l in &outputs {
        // A passing rank-2 output: every sample's argmax agrees.
        assert_eq!(l["cumulative"]["top1_agreement"].as_f64(), Some(1.0), "{l}");
        assert!(l["isolated"]["top1_agreement"].is_null());
    }
    for l in layers(&r).iter().filter(|l| l["is_output"] == false) {
        assert!(l["cumulative"]["top1_agreement"].is_null(), "{l}");
    }
}

/// The deep-graph case: ResNet50 (from `harness/gen_zoo.py`, cached
/// outside the repo) fails with the old rule (`--stol 0`, 72 layers) and
/// passes with the defaults. `cargo test --test tolerance -- --ignored`.
#[test]
#[ignore = "needs ~/.cache/thaw/zoo (harness/gen_zoo.py)"]
fn resnet50_has_no_false_alarm_with_the_defaults() {
    let home = std::env::var("HOME").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for case in ["resnet50_k3", "resnet50_v2_tk"] {
        let pb = PathBuf::from(format!("{home}/.cache/thaw/zoo/{case}/model.pb"));
        let (code, err, r) = verify_in(dir.path(), &pb, &[]);
        assert_eq!(code, Some(0), "{case}: {err}");
        let worst = layers(&r)
            .iter()
            .map(|l| f(&l["cumulative"]["tolerance_ratio"]))
            .fold(0.0, f64::max);
        // Measured 0.15 (resnet50_k3) and 0.17 (resnet50_v2_tk): a 5x margin.
        assert!(worst < 0.5, "{case}: worst ratio {worst}");
        let (code, _, r) = verify_in(dir.path(), &pb, &["--stol", "0"]);
        assert_eq!(code, Some(1), "{case}: the old rule must fail it");
        assert!(layers(&r).iter().any(|l| l["status"] == "fail"));
    }
}
