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

/// Every file in `dir` (names only, sorted).
fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn ok(o: &std::process::Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `verify --formats keras,py` writes the `.keras` and the `.py` (which loads
/// the `.h5` verify always writes) beside the `.h5`, plus the fallback module
/// this model needs, and report.json lists exactly those files; no temporary
/// file is left behind.
#[test]
fn verify_formats_writes_every_format_and_report_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = thaw()
        .args([
            "verify",
            "fixtures/k3_fallback_ops/model.pb",
            "--samples",
            "2",
        ])
        .args(["--formats", "keras,py"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    ok(&o);
    let models = ["model.h5", "model.keras", "model.py", "thaw_fallbacks.py"];
    let names = names_in(&out);
    for m in models {
        assert!(names.contains(&m.to_string()), "{m} missing: {names:?}");
    }
    assert!(
        names.iter().all(|n| !n.contains(".tmp")),
        "a temporary file is left: {names:?}"
    );
    let py = std::fs::read_to_string(out.join("model.py")).unwrap();
    assert!(py.contains("model.h5"), "model.py does not load model.h5");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = r["files"]
        .as_array()
        .expect("report.json has files[]")
        .iter()
        .map(|f| {
            std::path::Path::new(f.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(listed.first().map(String::as_str), Some("model.h5"));
    listed.sort();
    assert_eq!(listed, models);
    // Without --formats only the .h5 (and the module it needs) is written.
    let plain = dir.path().join("plain");
    let o = thaw()
        .args(["verify", "fixtures/k3_gelu/model.pb", "--samples", "1"])
        .arg("--out")
        .arg(&plain)
        .output()
        .unwrap();
    ok(&o);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plain.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["files"].as_array().unwrap().len(), 1, "{}", r["files"]);
    assert!(!plain.join("model.keras").exists() && !plain.join("model.py").exists());
}

#[test]
fn unknown_verify_format_is_a_usage_error_naming_flag_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = thaw()
        .args([
            "verify",
            "fixtures/k3_gelu/model.pb",
            "--formats",
            "keras,onnx",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--formats") && err.contains("'onnx'") && err.contains("h5, keras, py"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written on a usage error");
}

/// `--dump-values`: one npz per sample whose keys are the report's layers
/// (both sides) and the inputs, and whose values reproduce report.json's max
/// abs error of every layer (max over samples of |keras - graph|, as f32).
#[test]
fn dumped_values_reproduce_the_reports_errors() {
    use ndarray::{ArrayD, Axis, IxDyn, OwnedRepr};
    use ndarray_npy::NpzReader;
    let dir = tempfile::tempdir().unwrap();
    let (out, dump) = (dir.path().join("out"), dir.path().join("dump"));
    let samples = 3;
    let o = thaw()
        .args(["verify", "fixtures/k3_add_concat_two_inputs/model.pb"])
        .args(["--samples", &samples.to_string(), "--dump-values"])
        .arg(&dump)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    ok(&o);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let layers = r["layers"].as_array().unwrap();
    let files = names_in(&dump);
    assert_eq!(files, ["sample_0.npz", "sample_1.npz", "sample_2.npz"]);
    let listed = r["files"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|f| f.as_str().unwrap().ends_with("sample_2.npz")),
        "{listed:?}"
    );
    let input_keys: Vec<String> = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("input/{}", i["name"].as_str().unwrap()))
        .collect();
    assert_eq!(input_keys.len(), 2, "this fixture has two inputs");
    let mut expected_keys = input_keys.clone();
    for l in layers {
        let name = l["name"].as_str().unwrap();
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{name} would be escaped; extend the test"
        );
        expected_keys.push(format!("graph/{name}"));
        expected_keys.push(format!("keras/{name}"));
    }
    expected_keys.sort();
    // Per layer: the largest |keras - graph| over every sample.
    let mut max_abs = vec![0f32; layers.len()];
    for f in &files {
        let mut npz = NpzReader::new(std::fs::File::open(dump.join(f)).unwrap()).unwrap();
        let mut keys = npz.names().unwrap();
        keys.sort();
        assert_eq!(keys, expected_keys, "{f}");
        for key in &input_keys {
            let input: ArrayD<f32> = npz.by_name::<OwnedRepr<f32>, IxDyn>(key).unwrap();
            assert_eq!(input.len_of(Axis(0)), 1, "a sample is a batch of one");
        }
        for (l, m) in layers.iter().zip(&mut max_abs) {
            let name = l["name"].as_str().unwrap();
            let g: ArrayD<f32> = npz
                .by_name::<OwnedRepr<f32>, IxDyn>(&format!("graph/{name}"))
                .unwrap();
            let k: ArrayD<f32> = npz
                .by_name::<OwnedRepr<f32>, IxDyn>(&format!("keras/{name}"))
                .unwrap();
            assert_eq!(g.shape(), k.shape(), "{name}");
            assert_eq!(g.len_of(Axis(0)), 1, "{name}");
            for (a, b) in k.iter().zip(&g) {
                *m = m.max((a - b).abs());
            }
        }
    }
    let mut nonzero = 0;
    for (l, m) in layers.iter().zip(&max_abs) {
        let reported = l["cumulative"]["max_abs"]
            .as_f64()
            .expect("every layer compared") as f32;
        assert_eq!(*m, reported, "layer {}", l["name"]);
        nonzero += usize::from(*m > 0.0);
    }
    // Rounding differs somewhere, so the check compared real differences.
    assert!(nonzero > 0, "every layer matched exactly: {max_abs:?}");
}

/// `thaw inspect --json` holds every fact of the text output: each line of
/// the text is found in the JSON, and the counts agree.
#[test]
fn inspect_json_has_every_fact_of_the_text() {
    for pb in [
        "fixtures/k3_fallback_ops/model.pb",
        "fixtures/k3_add_concat_two_inputs/model.pb",
    ] {
        let text = thaw().args(["inspect", pb]).output().unwrap();
        ok(&text);
        let json = thaw().args(["inspect", pb, "--json"]).output().unwrap();
        ok(&json);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
        let text = String::from_utf8(text.stdout).unwrap();
        check_inspect_text_against_json(&text, &v);
    }
}

fn check_inspect_text_against_json(text: &str, v: &serde_json::Value) {
    let arr = |k: &str| v[k].as_array().unwrap_or_else(|| panic!("{k}[] missing"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), v["model"].as_str());
    let (mut section, mut seen) = (String::new(), Vec::<(String, usize)>::new());
    let mut count = |s: &str| match seen.iter_mut().find(|(n, _)| n == s) {
        Some((_, c)) => {
            *c += 1;
            *c - 1
        }
        None => {
            seen.push((s.to_string(), 1));
            0
        }
    };
    for line in lines {
        let Some(item) = line.strip_prefix("  ") else {
            section = line.split(' ').next().unwrap().trim_end_matches(':').into();
            match section.as_str() {
                "ops" => assert_eq!(line, format!("ops ({} nodes):", v["nodes"])),
                "keras" => assert_eq!(
                    line,
                    format!(
                        "keras layers ({}: {} native, {} fallback):",
                        v["keras_layers"],
                        v["native_layers"],
                        arr("fallback_layers").len()
                    )
                ),
                "fallback" => assert_eq!(
                    line,
                    format!("fallback layers ({}):", arr("fallback_layers").len())
                ),
                "unsupported" => assert_eq!(
                    line,
                    if arr("unsupported_ops").is_empty() {
                        "unsupported ops: none".to_string()
                    } else {
                        format!("unsupported ops ({}):", arr("unsupported_ops").len())
                    }
                ),
                _ => {}
            }
            continue;
        };
        let words: Vec<&str> = item.split_whitespace().collect();
        let i = count(&section);
        match section.as_str() {
            "inputs" => {
                let j = &arr("inputs")[i];
                let dims: Vec<String> = std::iter::once("batch".to_string())
                    .chain(
                        j["shape"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|d| d.as_u64().map_or("?".to_string(), |d| d.to_string())),
                    )
                    .collect();
                let want = format!(
                    "{} [{}] {}",
                    j["name"].as_str().unwrap(),
                    dims.join(", "),
                    j["dtype"].as_str().unwrap()
                );
                assert_eq!(item, want);
            }
            "outputs" => {
                let j = &arr("outputs")[i];
                let want = format!(
                    "{} (= {}, Keras layer {})",
                    j["tensor"].as_str().unwrap(),
                    j["resolved"].as_str().unwrap(),
                    j["layer"].as_str().unwrap_or("-")
                );
                assert_eq!(item, want);
            }
            "ops" => {
                assert_eq!(words.len(), 2, "{item}");
                assert_eq!(v["ops"][words[0]].to_string(), words[1], "{item}");
            }
            "keras" => {
                let j = &arr("layers")[i];
                assert_eq!(words[0], j["name"]);
                assert_eq!(words[1], j["class_name"]);
                let nodes: Vec<&str> = j["tf_nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect();
                assert_eq!(item.split_once(" <- ").unwrap().1, nodes.join(", "));
            }
            "fallback" => {
                let j = &arr("fallback_layers")[i];
                assert_eq!(
                    words,
                    [
                        j["layer"].as_str().unwrap(),
                        "TF",
                        "op",
                        j["op"].as_str().unwrap(),
                        "node",
                        j["node"].as_str().unwrap()
                    ]
                );
            }
            "unsupported" => {
                let j = &arr("unsupported_ops")[i];
                assert!(item.starts_with(j["node"].as_str().unwrap()), "{item}");
            }
            s => panic!("unknown section {s}: {line}"),
        }
    }
    // Every JSON entry was printed (no fact only on one side).
    let printed = |s: &str| seen.iter().find(|(n, _)| n == s).map_or(0, |(_, c)| *c);
    assert_eq!(printed("inputs"), arr("inputs").len());
    assert_eq!(printed("outputs"), arr("outputs").len());
    assert_eq!(printed("ops"), v["ops"].as_object().unwrap().len());
    assert_eq!(printed("keras"), arr("layers").len());
    assert_eq!(printed("fallback"), arr("fallback_layers").len());
    assert_eq!(printed("unsupported"), arr("unsupported_ops").len());
    let nodes: u64 = v["ops"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(v["nodes"].as_u64(), Some(nodes));
}

/// A `--dump-values` folder that cannot be created is the user's to fix:
/// exit 2, naming the flag and the folder.
#[test]
fn uncreatable_dump_folder_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a_file");
    std::fs::write(&file, "").unwrap();
    let o = thaw()
        .args(["verify", "fixtures/k3_gelu/model.pb", "--samples", "1"])
        .arg("--dump-values")
        .arg(file.join("values"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--dump-values") && err.contains("a_file/values"),
        "{err}"
    );
}
