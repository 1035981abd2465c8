//! Inputs that expose bugs (issue 4): `--input-dist normal`, `--inputs
//! data.npz` (the fixtures' `input:<name>` keys and plain `<name>`), refused
//! files and ranges, and integer ids drawn within an Embedding's vocabulary.

use assert_cmd::Command;
use ndarray::ArrayD;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn thaw() -> Command {
    Command::cargo_bin("thaw").expect("the thaw binary is built by cargo test")
}

fn case(case: &str) -> PathBuf {
    PathBuf::from(format!("fixtures/{case}"))
}

fn verify(model: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String, Value) {
    let o = thaw()
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
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
    } else {
        Value::Null
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text, r)
}

#[test]
fn normal_inputs_are_recorded_and_pass() {
    let out = tempfile::tempdir().unwrap();
    let pb = case("k3_add_concat_two_inputs").join("model.pb");
    let (code, text, r) = verify(&pb, out.path(), &["--input-dist", "normal", "--seed", "3"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["input_dist"], "normal");
    assert_eq!(r["seed"], 3);
    assert!(r["inputs_file"].is_null());
    let (code, text, _) = verify(&pb, out.path(), &["--input-dist", "cauchy"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("cauchy"), "{text}");
}

#[test]
fn constant_inputs_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let pb = case("k3_add_concat_two_inputs").join("model.pb");
    let (code, text, _) = verify(&pb, out.path(), &["--input-range", "0.5,0.5"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("0.5,0.5"), "{text}");
}

/// The fixture's own io.npz (TensorFlow's inputs, keys `input:<name>`, batch
/// 2) drives both sides: the run passes and takes the file's batch.
#[test]
fn fixture_io_npz_is_accepted_as_inputs() {
    for c in ["k3_add_concat_two_inputs", "tk_pool_flatten_dense"] {
        let out = tempfile::tempdir().unwrap();
        let npz = case(c).join("io.npz");
        let (code, text, r) = verify(
            &case(c).join("model.pb"),
            out.path(),
            &["--inputs", npz.to_str().unwrap()],
        );
        assert_eq!(code, Some(0), "{c}: {text}");
        assert_eq!(r["samples"], 2, "{c}");
        assert_eq!(r["inputs_file"], npz.to_str().unwrap());
        for i in r["inputs"].as_array().unwrap() {
            assert_eq!(i["shape"][0], 2, "{c}: {i}");
        }
    }
}

fn write_npz(path: &Path, arrays: &[(&str, ArrayD<f32>)]) {
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    for (k, a) in arrays {
        w.add_array(*k, a).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn plain_names_work_and_bad_files_exit_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let pb = case("k3_add_concat_two_inputs").join("model.pb");
    let a = ArrayD::from_shape_fn(vec![3, 8, 8, 3], |i| {
        (i[1] * 8 + i[2]) as f32 / 64.0 - i[3] as f32
    });
    let b = ArrayD::from_shape_fn(vec![3, 8, 8, 2], |i| (i[0] + i[3]) as f32 * 0.25);
    let good = dir.path().join("good.npz");
    write_npz(&good, &[("input_a", a.clone()), ("input_b", b.clone())]);
    let (code, text, r) = verify(
        &pb,
        &dir.path().join("o1"),
        &["--inputs", good.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["samples"], 3);

    let cases: Vec<(&str, Vec<(&str, ArrayD<f32>)>, &str)> = vec![
        ("missing.npz", vec![("input_a", a.clone())], "input_b"),
        (
            "shape.npz",
            vec![
                ("input_a", a.clone()),
                ("input_b", ArrayD::zeros(vec![3, 8, 2, 8])),
            ],
            "input_b",
        ),
        (
            "batch.npz",
            vec![
                ("input_a", a.clone()),
                ("input_b", ArrayD::zeros(vec![2, 8, 8, 2])),
            ],
            "input_b",
        ),
    ];
    for (file, arrays, key) in cases {
        let p = dir.path().join(file);
        write_npz(&p, &arrays);
        let (code, text, _) = verify(
            &pb,
            &dir.path().join("o2"),
            &["--inputs", p.to_str().unwrap()],
        );
        assert_eq!(code, Some(2), "{file}: {text}");
        assert!(text.contains(file) && text.contains(key), "{file}: {text}");
    }
    // A float64 array where float32 is needed: the dtype is named.
    let p = dir.path().join("dtype.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&p).unwrap());
    w.add_array("input_a", &a.mapv(f64::from)).unwrap();
    w.add_array("input_b", &b).unwrap();
    w.finish().unwrap();
    let (code, text, _) = verify(
        &pb,
        &dir.path().join("o3"),
        &["--inputs", p.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("dtype.npz") && text.contains("input_a") && text.contains("float32"),
        "{text}"
    );
}

/// Token ids for an Embedding: seeded ones stay within its vocabulary (an id
/// outside it is an error on both sides), and ids in a file are checked.
#[test]
fn integer_inputs_stay_within_the_embeddings_vocabulary() {
    let c = case("k3_text_cnn");
    if !c.join("model.pb").exists() {
        eprintln!("skipped: no fixtures/k3_text_cnn yet");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for seed in ["0", "1", "2"] {
        let (code, text, r) = verify(
            &c.join("model.pb"),
            &dir.path().join(seed),
            &["--seed", seed],
        );
        assert_eq!(code, Some(0), "seed {seed}: {text}");
        assert_eq!(r["inputs"][0]["dtype"], "int32");
    }
    let (code, text, _) = verify(
        &c.join("model.pb"),
        &dir.path().join("io"),
        &["--inputs", c.join("io.npz").to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{text}");
    let bad = dir.path().join("bad_ids.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&bad).unwrap());
    w.add_array("tokens", &ArrayD::from_elem(vec![1, 20], 1_000_000i64))
        .unwrap();
    w.finish().unwrap();
    let (code, text, _) = verify(
        &c.join("model.pb"),
        &dir.path().join("bad"),
        &["--inputs", bad.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("bad_ids.npz") && text.contains("tokens") && text.contains("1000000"),
        "{text}"
    );
}
