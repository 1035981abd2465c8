//! The model formats `thaw convert -o` picks by extension (.h5, .keras, .py)
//! and the other outputs of issue 14. That real Keras loads them and matches
//! TensorFlow on every fixture is .ci/run's job (harness/roundtrip.py); here:
//! what thaw itself can check, fast.

use assert_cmd::Command;

fn thaw() -> Command {
    Command::cargo_bin("thaw").expect("the thaw binary is built by cargo test")
}

/// A `.keras` thaw writes is a model thaw's own `--keras` reader aligns with
/// the graph and verifies (weights and config survive the archive).
#[test]
fn converted_keras_archive_verifies_against_its_graph() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("m.keras");
    let pb = "fixtures/k3_inverted_residual/model.pb";
    thaw()
        .args(["convert", pb, "-o", archive.to_str().unwrap()])
        .assert()
        .success();
    let o = thaw()
        .args([
            "verify",
            pb,
            "--samples",
            "2",
            "--keras",
            archive.to_str().unwrap(),
        ])
        .arg("--out")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `-o model.py` writes the module and the `.h5` it loads, one line per layer
/// with the layer's TF nodes; the fallback module comes along when needed.
#[test]
fn converted_model_py_has_its_weights_and_fallbacks_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let py = dir.path().join("model.py");
    thaw()
        .args(["convert", "fixtures/k3_fallback_ops/model.pb", "-o"])
        .arg(&py)
        .assert()
        .success();
    let src = std::fs::read_to_string(&py).unwrap();
    assert!(dir.path().join("model.h5").is_file());
    assert!(dir.path().join("thaw_fallbacks.py").is_file());
    assert!(
        src.contains("def build_model(weights=True, keras=None):"),
        "{src}"
    );
    assert!(src.contains("custom[\"ThawTfOp\"]("), "{src}");
    assert!(src.contains("  # TF: "), "{src}");
}

#[test]
fn unknown_output_extension_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.onnx");
    let o = thaw()
        .args(["convert", "fixtures/k3_gelu/model.pb", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("-o") && err.contains("h5, keras, py"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
