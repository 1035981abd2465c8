//! The `thaw` command line on every committed fixture and on bad input:
//! exit codes, the per-layer table, report.json, and nothing half-written.

use assert_cmd::Command;
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

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn verify_passes_on_every_fixture() {
    let mut failures = Vec::new();
    for case in fixtures() {
        let out = tempfile::tempdir().unwrap();
        let o = thaw()
            .args([
                "verify",
                case.join("model.pb").to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        if o.status.code() != Some(0) {
            failures.push(format!(
                "{}: exit {:?}\n{stdout}{}",
                case.display(),
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        assert!(stdout.contains("verdict: PASS"), "{stdout}");
        let r = json(&out.path().join("report.json"));
        assert_eq!(r["schema_version"], 5);
        assert!(r.get("timings").is_none(), "timings live in timings.json");
        let t = json(&out.path().join("timings.json"));
        assert!(t["total_ms"].as_f64().unwrap() > 0.0);
        assert_eq!(r["verdict"], "pass");
        assert_eq!(r["seed"], 0);
        assert_eq!(r["samples"], 4);
        assert!(r["first_divergence"].is_null());
        let layers = r["layers"].as_array().unwrap();
        assert!(!layers.is_empty());
        for l in layers {
            assert_eq!(l["status"], "pass", "{}: {l}", case.display());
            assert!(l["cumulative"]["max_abs"].as_f64().unwrap() <= 1e-4, "{l}");
            assert!(!l["tf_node"].as_str().unwrap().is_empty());
        }
        let h5 = r["keras_file"].as_str().unwrap();
        assert!(Path::new(h5).exists(), "{h5}");
        // The weighted layers of the original Keras model map one to one.
        let meta = json(&case.join("meta.json"));
        for class in ["Conv2D", "DepthwiseConv2D", "Dense", "BatchNormalization"] {
            let want = meta["keras_layers"][class].as_u64().unwrap_or(0);
            let got = layers.iter().filter(|l| l["class_name"] == class).count() as u64;
            assert_eq!(got, want, "{}: {class} layers", case.display());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_broken_tolerance_is_caught_as_divergence() {
    // With atol = rtol = stol = 0, float reordering between tract and the
    // interpreter must show up as a failure with exit code 1: the gate can fail.
    let case = Path::new("fixtures/tk_bn_depthwise_relu6/model.pb");
    let out = tempfile::tempdir().unwrap();
    let o = thaw()
        .args([
            "verify",
            case.to_str().unwrap(),
            "--atol",
            "0",
            "--rtol",
            "0",
            "--stol",
            "0",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let r = json(&out.path().join("report.json"));
    assert_eq!(r["verdict"], "fail");
    assert!(r["first_divergence"]["layer"].is_string());
}

#[test]
fn seed_changes_inputs_and_is_reported() {
    let case = "fixtures/tk_pool_flatten_dense/model.pb";
    let run = |seed: &str| {
        let out = tempfile::tempdir().unwrap();
        thaw()
            .args([
                "verify",
                case,
                "--seed",
                seed,
                "--samples",
                "2",
                "--out",
                out.path().to_str().unwrap(),
            ])
            .assert()
            .success();
        json(&out.path().join("report.json"))
    };
    let (a, b) = (run("1"), run("2"));
    assert_eq!(a["seed"], 1);
    assert_eq!(a["samples"], 2);
    assert_ne!(
        a["layers"][0]["cumulative"]["mean_abs"],
        serde_json::Value::Null
    );
    assert_eq!(b["seed"], 2);
}

#[test]
fn convert_writes_h5_and_inspect_lists_the_mapping() {
    let out = tempfile::tempdir().unwrap();
    let h5 = out.path().join("m.h5");
    thaw()
        .args([
            "convert",
            "fixtures/k3_inverted_residual/model.pb",
            "-o",
            h5.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(h5.exists());
    let o = thaw()
        .args(["inspect", "fixtures/k3_inverted_residual/model.pb"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("inputs:") && s.contains("outputs:") && s.contains("ops ("),
        "{s}"
    );
    assert!(s.contains("BatchNormalization"), "{s}");
    assert!(s.contains("unsupported ops: none"), "{s}");
}

fn expect_error(args: &[&str], code: i32, needles: &[&str]) {
    let o = thaw().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let all = format!("{}{err}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(o.status.code(), Some(code), "{args:?}: {all}");
    for n in needles {
        assert!(all.contains(n), "{args:?}: expected '{n}' in:\n{all}");
    }
    assert!(
        !all.contains("panicked") && !all.contains("RUST_BACKTRACE"),
        "{all}"
    );
}

#[test]
fn truncated_pb_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read("fixtures/tk_inverted_residual/model.pb").unwrap();
    let p = dir.path().join("cut.pb");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("out");
    expect_error(
        &[
            "verify",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        2,
        &["cut.pb", "not a TensorFlow GraphDef"],
    );
    assert!(
        !out.join("cut.h5").exists(),
        "no Keras file may be written for a bad graph"
    );
}

#[test]
fn text_renamed_pb_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("text.pb");
    std::fs::copy("tests/data/unknown_dim.pbtxt", &p).unwrap();
    expect_error(
        &["inspect", p.to_str().unwrap()],
        2,
        &["text.pb", "not a TensorFlow GraphDef", ".pbtxt"],
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    expect_error(
        &["verify", "no/such/model.pb"],
        2,
        &["no/such/model.pb", "cannot read"],
    );
    // The cause once, though the error also carries it as its source.
    let o = thaw()
        .args(["verify", "no/such/model.pb"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn unsupported_ops_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    expect_error(
        &[
            "verify",
            "tests/data/unsupported_op.pbtxt",
            "--out",
            out.to_str().unwrap(),
        ],
        3,
        // Ops with neither a rule nor a fallback layer (Erf and Cumsum have fallbacks).
        &[
            "m/lg/Lgamma (Lgamma)",
            "m/cp/Cumprod (Cumprod)",
            "UNSUPPORTED",
        ],
    );
    let r = json(&out.join("report.json"));
    assert_eq!(r["verdict"], "unsupported");
    assert_eq!(r["unsupported_ops"].as_array().unwrap().len(), 2);
    assert!(r["keras_file"].is_null());
    // convert refuses too, and writes nothing.
    let h5 = dir.path().join("x.h5");
    expect_error(
        &[
            "convert",
            "tests/data/unsupported_op.pbtxt",
            "-o",
            h5.to_str().unwrap(),
        ],
        3,
        &["Lgamma"],
    );
    assert!(!h5.exists());
}

#[test]
fn unknown_dimension_asks_for_input_flag() {
    expect_error(
        &["inspect", "tests/data/unknown_dim.pbtxt"],
        2,
        &["image", "--input image:"],
    );
    // ... and --input resolves it.
    thaw()
        .args([
            "inspect",
            "tests/data/unknown_dim.pbtxt",
            "--input",
            "image:1,8,8,3",
        ])
        .assert()
        .success();
}

#[test]
fn bad_flags_are_usage_errors() {
    expect_error(
        &[
            "verify",
            "fixtures/tk_pool_flatten_dense/model.pb",
            "--input",
            "x:1,a",
        ],
        2,
        &["--input", "'a'"],
    );
    expect_error(
        &[
            "verify",
            "fixtures/tk_pool_flatten_dense/model.pb",
            "--input-range",
            "1",
        ],
        2,
        &["--input-range"],
    );
    expect_error(
        &[
            "inspect",
            "fixtures/tk_pool_flatten_dense/model.pb",
            "--input",
            "nope:1,2",
        ],
        2,
        &["nope", "no such Placeholder"],
    );
    expect_error(&["frobnicate"], 2, &["frobnicate"]);
}

#[test]
fn tolerance_presets_and_overrides() {
    let case = "fixtures/tk_bn_depthwise_relu6/model.pb";
    let run = |args: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let mut all = vec!["verify", case, "--out", out.path().to_str().unwrap()];
        all.extend_from_slice(args);
        let o = thaw().args(&all).output().unwrap();
        (o.status.code(), json(&out.path().join("report.json")))
    };
    let (code, r) = run(&["--tolerance", "exact"]);
    assert_eq!(
        (
            r["tolerance"]["atol"].as_f64(),
            r["tolerance"]["rtol"].as_f64()
        ),
        (Some(0.0), Some(0.0))
    );
    assert_eq!(
        code,
        Some(1),
        "float reordering between the two sides must fail an exact comparison"
    );
    let (code, r) = run(&["--tolerance", "very-approximate", "--atol", "0.5"]);
    assert_eq!(code, Some(0));
    assert_eq!(r["tolerance"]["atol"].as_f64(), Some(0.5));
    assert!((r["tolerance"]["rtol"].as_f64().unwrap() - 1e-2).abs() < 1e-9);
    expect_error(
        &["verify", case, "--tolerance", "loose"],
        2,
        &["--tolerance", "very-approximate"],
    );
    expect_error(
        &["verify", case, "--atol", "-1"],
        2,
        &["--atol", "non-negative"],
    );
}

#[test]
fn closed_stdout_is_not_an_internal_error() {
    // Regression: `thaw inspect model.pb | head -1` made println! panic on the
    // broken pipe and the tool reported an internal error (exit 4).
    use std::process::{Command as StdCommand, Stdio};
    let bin = assert_cmd::cargo::cargo_bin("thaw");
    let mut child = StdCommand::new(bin)
        .args(["inspect", "fixtures/k3_inverted_residual/model.pb"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is read
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("internal error"), "{err}");
    assert_ne!(out.status.code(), Some(4), "{err}");
}

/// `inspect --supported --json` needs no model and prints the five registry
/// sections, each non-empty; without --supported a missing model is a usage error.
#[test]
fn inspect_supported_lists_the_registries() {
    let o = thaw()
        .args(["inspect", "--supported", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    for key in [
        "conversion_rules",
        "keras_classes",
        "interpreter_classes",
        "tract_ops",
        "fallback_ops",
    ] {
        let n = v[key].as_array().map_or(0, Vec::len);
        assert!(n > 0, "section {key} is missing or empty");
    }
    let conv2d = v["keras_classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "Conv2D")
        .expect("Conv2D is a Keras class");
    assert_eq!(conv2d["family"], "conv");
    assert!(
        v["conversion_rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| { r["op"] == "Conv2D" && r["family"] == "conv" && r["priority"].is_u64() })
    );
    let text = thaw().args(["inspect", "--supported"]).output().unwrap();
    assert_eq!(text.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&text.stdout).contains("keras classes ("));
    expect_error(&["inspect"], 2, &["MODEL.pb"]);
}
