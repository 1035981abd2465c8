//! `thaw verify MODEL --keras FILE`: a hand-built tf-keras `.h5` and a Keras 3
//! `.keras` archive of `tf1_mobilenet_v1_tail` (default layer names, weights
//! copied from the graph; made by `harness/make_handmade.py`) align with the
//! graph and verify; faulty copies are located at the right layer with the
//! right cause. Rebuilds holding Dropout and its kin (identities at inference)
//! verify in every format, and a Keras 3 archive with a native
//! MultiHeadAttention (`k3_transformer_block`) is read and verifies, and so do
//! Keras 3 masked models (their recorded mask ops checked and dropped), while
//! a mask made by hand is refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use thaw::compare::Tolerance;
use thaw::compare::align::Coverage;
use thaw::compare::diagnose::CauseKind;
use thaw::convert::ConvertOptions;
use thaw::report::{Report, Status, Verdict};
use thaw::verify::{KerasAlignment, VerifyOptions, verify_keras};

const GRAPH: &str = "fixtures/tf1_mobilenet_v1_tail/model.pb";

fn run(h5: &str) -> (Report, KerasAlignment) {
    run_on(GRAPH, h5)
}

fn run_on(graph: &str, h5: &str) -> (Report, KerasAlignment) {
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: PathBuf::from(graph),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 2,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    let r = verify_keras(&opts, Path::new(h5)).unwrap();
    assert!(out.path().join("alignment.json").is_file());
    r
}

#[test]
fn handmade_model_aligns_and_verifies() {
    let (r, al) = run("tests/data/handmade_mobilenet_v1_tail.h5");
    // Every user layer has a twin; the default names differ from the
    // graph's scopes, so the pairing is by topology.
    assert!(al.alignment.unaligned_user.is_empty(), "{:?}", al.alignment);
    assert!(
        al.alignment.unaligned_converted.is_empty(),
        "{:?}",
        al.alignment
    );
    let pair = |u: &str| al.alignment.pair(u).unwrap();
    assert_eq!(pair("conv2d").converted, "stem_1");
    assert_eq!(pair("batch_normalization").converted, "stem_2");
    assert_eq!(pair("conv2d_1").converted, "pw");
    // Dense(activation="tanh") stands for the converted Dense + tanh layer.
    assert_eq!(pair("dense").converted, "fc_1");
    assert_eq!(pair("dense").output, "tanh");
    // The weight-level check: every weight is the graph's constant.
    assert!(!al.weights.is_empty());
    for lw in &al.weights {
        for c in &lw.checks {
            assert_eq!(c.verdict, "equal", "{}: {c:?}", lw.user);
        }
    }
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.to_table());
    assert_eq!(r.layers.len(), 14);
    // The user lists its outputs (softmax, dense) in another order than the
    // graph's sinks (features, probs): each is named with its own tensor.
    let outputs: Vec<_> = r
        .outputs
        .iter()
        .map(|o| (o.layer.as_str(), o.tensor.as_str()))
        .collect();
    assert_eq!(outputs, [("softmax", "probs:0"), ("dense", "features:0")]);
    assert!(r.layers.iter().all(|l| l.status == Status::Pass));
}

#[test]
fn transposed_stem_kernel_is_located() {
    let (r, al) = run("tests/data/handmade_mobilenet_v1_tail_kernel_t.h5");
    assert_eq!(r.verdict, Verdict::Fail);
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, "conv2d", "{}", r.to_table());
    assert_eq!(
        d.causes[0].kind,
        CauseKind::KernelTransposed,
        "{:?}",
        d.causes
    );
    // The weight check sees it before anything runs.
    let w = al.weights.iter().find(|w| w.user == "conv2d").unwrap();
    assert_eq!(w.checks[0].verdict, "permuted");
    // Everything after it is blamed on it, not on itself.
    let after: Vec<_> = r
        .layers
        .iter()
        .skip(2)
        .filter(|l| l.status != Status::Pass)
        .collect();
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|l| l.downstream_of.as_deref() == Some("conv2d"))
    );
}

#[test]
fn default_epsilon_is_located() {
    let (r, al) = run("tests/data/handmade_mobilenet_v1_tail_eps.h5");
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, "batch_normalization", "{}", r.to_table());
    assert!(
        d.causes.iter().all(|c| c.kind == CauseKind::BnEpsilon),
        "{:?}",
        d.causes
    );
    assert!(
        d.causes.iter().any(|c| c.detail.contains("1.001e-5")),
        "{:?}",
        d.causes
    );
    // The weights themselves are right: only the config is wrong.
    let w = al
        .weights
        .iter()
        .find(|w| w.user == "batch_normalization")
        .unwrap();
    assert!(w.checks.iter().all(|c| c.verdict == "equal"));
}

/// Held while a test writes an `.h5` and while a child `thaw` runs. HDF5
/// locks a file it writes (flock) through a descriptor a child forked
/// meanwhile inherits and keeps, so a test reading its freshly written file
/// could find it still locked ("unable to lock file, errno = 11"); never
/// forking while writing avoids that.
static H5_WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn h5_write_lock() -> std::sync::MutexGuard<'static, ()> {
    // A test that panicked while holding it leaves nothing half-done.
    H5_WRITE.lock().unwrap_or_else(|e| e.into_inner())
}

fn cli(args: &[&str]) -> (i32, String) {
    let _lock = h5_write_lock();
    let out = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn cli_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        "tests/data/handmade_mobilenet_v1_tail.h5",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        "tests/data/handmade_mobilenet_v1_tail_eps.h5",
        "--out",
        o,
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("bn_epsilon"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["first_divergence"]["layer"], "batch_normalization");
    assert_eq!(json["first_divergence"]["causes"][0]["kind"], "bn_epsilon");
    // A file that is not a Keras model is the user's error.
    let (code, _) = cli(&["verify", GRAPH, "--keras", GRAPH, "--out", o]);
    assert_eq!(code, 2);
    let (code, _) = cli(&["verify", GRAPH, "--keras", "missing.h5", "--out", o]);
    assert_eq!(code, 2);
}

// --- Keras 3 `.keras` archives (src/keras/archive.rs) ---------------------------------------
// The same rebuild in Keras 3, saved with model.save("m.keras") (harness/make_handmade.py):
// default Keras 3 names (input_layer, conv2d, re_lu, ...), so pairs are by topology.

#[test]
fn keras3_archive_aligns_and_verifies() {
    let (r, al) = run("tests/data/handmade_mobilenet_v1_tail_k3.keras");
    assert!(al.alignment.unaligned_user.is_empty(), "{:?}", al.alignment);
    assert!(
        al.alignment.unaligned_converted.is_empty(),
        "{:?}",
        al.alignment
    );
    let pair = |u: &str| al.alignment.pair(u).unwrap();
    assert_eq!(pair("conv2d").converted, "stem_1");
    assert_eq!(pair("batch_normalization").converted, "stem_2");
    assert_eq!(pair("conv2d_1").converted, "pw");
    assert_eq!(pair("dense").output, "tanh");
    // Weights were read from model.weights.h5's class-keyed groups into the
    // right layers: each equals the graph's constant.
    assert!(!al.weights.is_empty());
    for lw in &al.weights {
        for c in &lw.checks {
            assert_eq!(c.verdict, "equal", "{}: {c:?}", lw.user);
        }
    }
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.to_table());
    assert!(r.layers.iter().all(|l| l.status == Status::Pass));
}

#[test]
fn keras3_archive_channels_first_dense_rows_are_located() {
    let (r, _) = run("tests/data/handmade_mobilenet_v1_tail_k3_flatten.keras");
    assert_eq!(r.verdict, Verdict::Fail);
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, "dense", "{}", r.to_table());
    assert!(
        d.causes.iter().any(|c| c.kind == CauseKind::FlattenOrder),
        "{:?}",
        d.causes
    );
}

/// A rebuild with use_bias=False where the graph adds a bias: once cut the
/// alignment at that layer (so the rest went unchecked and the run PASSED);
/// now aligned, located and named (harness/faults.py `bias` rows).
#[test]
fn keras3_archive_missing_bias_is_located() {
    let (r, al) = run("tests/data/handmade_mobilenet_v1_tail_k3_nobias.keras");
    assert!(al.alignment.unaligned_user.is_empty(), "{:?}", al.alignment);
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.to_table());
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, "conv2d_1", "{}", r.to_table());
    assert!(
        d.causes.iter().any(|c| c.kind == CauseKind::Bias),
        "{:?}",
        d.causes
    );
    let w = al.weights.iter().find(|w| w.user == "conv2d_1").unwrap();
    assert!(w.checks.iter().any(|c| c.verdict == "missing"), "{w:?}");
}

#[test]
fn keras3_archive_cli_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        "tests/data/handmade_mobilenet_v1_tail_k3.keras",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        "tests/data/handmade_mobilenet_v1_tail_k3_flatten.keras",
        "--out",
        o,
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("flatten_order"), "{stdout}");
    // Not a zip, or a zip without the entries: the user's error, named.
    let junk = dir.path().join("junk.keras");
    std::fs::write(&junk, b"not a zip").unwrap();
    let lock = h5_write_lock();
    let out = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args([
            "verify",
            GRAPH,
            "--keras",
            junk.to_str().unwrap(),
            "--out",
            o,
        ])
        .output()
        .unwrap();
    drop(lock);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a .keras archive"), "{stderr}");
    // An .h5 renamed .keras is not an archive either.
    let renamed = dir.path().join("renamed.keras");
    std::fs::copy("tests/data/handmade_mobilenet_v1_tail.h5", &renamed).unwrap();
    let (code, _) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        renamed.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert_eq!(code, 2);
}

// --- issue 4: user models that cannot run all the way, and unaligned layers ----------------
// Each case edits the hand-built tf-keras model through thaw's own Keras IR and writes it
// back with thaw's writer (the same layer names and weights as the file above).

/// The hand-built model with one edit, written to a temporary `.h5`.
fn edited(edit: impl FnOnce(&mut thaw::keras::Model)) -> (tempfile::TempDir, PathBuf) {
    let mut m =
        thaw::keras::h5::read(Path::new("tests/data/handmade_mobilenet_v1_tail.h5")).unwrap();
    edit(&mut m);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.h5");
    let lock = h5_write_lock();
    thaw::keras::h5::write(&path, &m).unwrap();
    drop(lock);
    (dir, path)
}

/// Inserts `layer` after `after`: every consumer of `after` reads `layer` instead.
fn insert_after(m: &mut thaw::keras::Model, after: &str, layer: thaw::keras::Layer) {
    for l in &mut m.layers {
        for i in &mut l.inbound {
            if i == after {
                *i = layer.name.clone();
            }
        }
    }
    // After a model input: first.
    let at = m
        .layers
        .iter()
        .position(|l| l.name == after)
        .map_or(0, |i| i + 1);
    m.layers.insert(at, layer);
}

fn activation(name: &str, inbound: &str, a: thaw::keras::Activation) -> thaw::keras::Layer {
    thaw::keras::Layer {
        name: name.into(),
        kind: thaw::keras::LayerKind::Activation { activation: a },
        inbound: vec![inbound.into()],
        weights: vec![],
    }
}

/// padding="valid" on the 3x3 depthwise conv (the graph pads SAME): its 4x4
/// output makes the Flatten in front of the Dense 48 wide instead of 108, so
/// the Dense cannot run. This was an internal error (exit 4); now the Dense
/// has status `error` with the reason, and the depthwise conv is located,
/// failing in isolation on the shape, with `padding` as the cause.
#[test]
fn a_model_that_cannot_run_all_the_way_is_judged_layer_by_layer() {
    let (_d, h5) = edited(|m| {
        let l = m
            .layers
            .iter_mut()
            .find(|l| l.name == "depthwise_conv2d")
            .unwrap();
        let thaw::keras::LayerKind::DepthwiseConv2D { padding, .. } = &mut l.kind else {
            panic!("{:?}", l.kind)
        };
        *padding = thaw::keras::Padding::Valid;
    });
    let (r, _) = run(h5.to_str().unwrap());
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.to_table());
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, "depthwise_conv2d", "{}", r.to_table());
    assert_eq!(d.causes[0].kind, CauseKind::Padding, "{:?}", d.causes);
    let layer = |n: &str| r.layers.iter().find(|l| l.name == n).unwrap();
    let iso = layer("depthwise_conv2d").isolated.as_ref().unwrap();
    assert!(
        iso.detail
            .as_deref()
            .unwrap_or("")
            .contains("shape mismatch"),
        "{iso:?}"
    );
    let dense = layer("dense");
    assert_eq!(dense.status, Status::Error);
    let why = dense.detail.as_deref().unwrap_or("");
    assert!(why.contains("cannot run"), "{why}");
    // Fed the graph's values, the Dense itself is right.
    assert_eq!(dense.isolated.as_ref().unwrap().status, Status::Pass);
    assert_eq!(dense.downstream_of.as_deref(), Some("depthwise_conv2d"));
    // Through the CLI: a verdict (exit 1), not an internal error (exit 4).
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        h5.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("first divergence: depthwise_conv2d"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error (downstream of depthwise_conv2d) (the Keras layer cannot run"),
        "{stdout}"
    );
}

/// An extra layer that is an identity at inference (a linear Activation the
/// graph has no node for) is compared with its input's graph tensor and
/// passes: listed as unaligned, checked as an identity, verdict PASS.
#[test]
fn an_extra_identity_layer_is_checked_and_harmless() {
    let (_d, h5) = edited(|m| {
        let extra = activation(
            "extra_linear",
            "batch_normalization",
            thaw::keras::Activation::Linear,
        );
        insert_after(m, "batch_normalization", extra);
    });
    let (r, al) = run(h5.to_str().unwrap());
    assert_eq!(al.alignment.unaligned_user, ["extra_linear"]);
    assert!(al.alignment.unaligned_converted.is_empty());
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.to_table());
    assert_eq!(r.unaligned.len(), 1);
    assert_eq!(r.unaligned[0].coverage, Coverage::Identity);
    let row = r.layers.iter().find(|l| l.name == "extra_linear").unwrap();
    assert_eq!(row.status, Status::Pass);
    // Compared with the graph tensor of its input, the BatchNormalization's.
    let bn = r
        .layers
        .iter()
        .find(|l| l.name == "batch_normalization")
        .unwrap();
    assert_eq!(row.tf_node, bn.tf_node);
}

/// An extra layer that is not an identity (a ReLU after the stem conv, whose
/// output has negative values) is located at itself, with the activation
/// named, instead of blaming the BatchNormalization after it.
#[test]
fn an_extra_relu_is_located_at_itself() {
    let (_d, h5) = edited(|m| {
        let extra = activation("extra_relu", "conv2d", thaw::keras::Activation::Relu);
        insert_after(m, "conv2d", extra);
    });
    let (r, _) = run(h5.to_str().unwrap());
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.to_table());
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, "extra_relu", "{}", r.to_table());
    assert!(
        d.causes
            .iter()
            .any(|c| c.kind == CauseKind::Activation && c.detail.contains("linear")),
        "{:?}",
        d.causes
    );
    let bn = r
        .layers
        .iter()
        .find(|l| l.name == "batch_normalization")
        .unwrap();
    assert_eq!(bn.isolated.as_ref().unwrap().status, Status::Pass);
}

/// A rebuild that stops before the graph's Softmax: every user layer passes,
/// but one of the graph's outputs is computed by nothing in the user's
/// model, so the model's result is not verified: FAIL (exit 1), with the
/// reason in report.json and on the terminal.
#[test]
fn a_graph_output_no_user_layer_computes_fails_the_verdict() {
    let (_d, h5) = edited(|m| {
        m.layers.retain(|l| l.name != "softmax");
        for o in &mut m.outputs {
            if o == "softmax" {
                *o = "reshape".into();
            }
        }
    });
    let (r, al) = run(h5.to_str().unwrap());
    assert_eq!(al.alignment.unaligned_converted, ["softmax"]);
    assert!(r.layers.iter().all(|l| l.status == Status::Pass));
    assert!(r.first_divergence.is_none());
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.to_table());
    assert_eq!(r.unaligned.len(), 1);
    let u = &r.unaligned[0];
    assert_eq!((u.side, u.layer.as_str()), ("graph", "softmax"));
    assert_eq!(u.coverage, Coverage::Unchecked);
    assert!(u.reason.contains("graph output"), "{}", u.reason);
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        h5.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("graph layer softmax (Activation): UNCHECKED"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["unaligned"][0]["coverage"], "unchecked");
    assert_eq!(json["unaligned"][0]["side"], "graph");
}

/// A user model whose declared input shape is not the graph's cannot run at
/// all: that is the user's input (exit 2, naming the file and the input),
/// not an internal error (exit 4).
#[test]
fn a_user_model_with_another_input_shape_is_a_usage_error() {
    let (_d, h5) = edited(|m| m.inputs[0].shape = vec![Some(16), Some(16), Some(3)]);
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: PathBuf::from(GRAPH),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 2,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    let e = verify_keras(&opts, &h5).unwrap_err();
    assert!(e.is_user_error(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("edited.h5") && text.contains("16, 16, 3"),
        "{text}"
    );
    let (code, _) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        h5.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
}

/// An extra identity right after the model input is compared with the
/// graph's input itself (the oracle hands back the placeholder's value).
#[test]
fn an_extra_identity_after_the_input_is_checked() {
    let (_d, h5) = edited(|m| {
        let extra = activation("extra_first", "input_1", thaw::keras::Activation::Linear);
        insert_after(m, "input_1", extra);
    });
    let (r, al) = run(h5.to_str().unwrap());
    assert_eq!(al.alignment.unaligned_user, ["extra_first"]);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.to_table());
    let row = r.layers.iter().find(|l| l.name == "extra_first").unwrap();
    assert_eq!(row.status, Status::Pass);
    assert_eq!(row.max_abs, Some(0.0));
}

// --- issue 4: layers hand-built models really contain -----------------------------------------
// Dropout and its kin are identities at inference: `--keras` reads them (keeping the user's
// class for the report) and checks each against its input's graph tensor.

/// The faithful rebuild plus Dropout (after the first ReLU6), SpatialDropout2D (after the 1x1
/// conv) and GaussianNoise (after the Flatten), as tf-keras' `.h5`, Keras 3's legacy `.h5` and
/// a Keras 3 `.keras` archive (harness/make_handmade.py): read, aligned around the extra
/// layers, and PASS, each extra layer on its own row under its own class.
#[test]
fn dropout_and_noise_layers_are_read_as_identities_in_every_format() {
    for file in [
        "tests/data/handmade_mobilenet_v1_tail_dropout.h5",
        "tests/data/handmade_mobilenet_v1_tail_k3_dropout.h5",
        "tests/data/handmade_mobilenet_v1_tail_k3_dropout.keras",
    ] {
        let (r, al) = run(file);
        assert_eq!(
            al.alignment.unaligned_user,
            ["dropout", "spatial_dropout2d", "gaussian_noise"],
            "{file}"
        );
        assert!(al.alignment.unaligned_converted.is_empty(), "{file}");
        assert_eq!(r.verdict, Verdict::Pass, "{file}: {}", r.to_table());
        assert!(r.unaligned.iter().all(|u| u.coverage == Coverage::Identity));
        let row = |n: &str| r.layers.iter().find(|l| l.name == n).unwrap();
        for (name, class, same_as) in [
            ("dropout", "Dropout", "re_lu"),
            ("spatial_dropout2d", "SpatialDropout2D", "conv2d_1"),
            ("gaussian_noise", "GaussianNoise", "flatten"),
        ] {
            let l = row(name);
            assert_eq!(l.class_name, class, "{file}");
            assert_eq!(l.status, Status::Pass, "{file}: {name}");
            // Compared with the graph tensor of the layer feeding it.
            assert_eq!(l.tf_node, row(same_as).tf_node, "{file}: {name}");
            // Fed the graph's values, an identity returns them exactly.
            assert_eq!(l.isolated.as_ref().unwrap().max_abs, Some(0.0), "{file}");
        }
        // The Dense after the GaussianNoise still aligns (and by weights, not name).
        assert_eq!(al.alignment.pair("dense").unwrap().converted, "fc_1");
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        "tests/data/handmade_mobilenet_v1_tail_k3_dropout.keras",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("user layer dropout (Dropout): checked as an identity"),
        "{stdout}"
    );
}

/// Every identity-at-inference class, inserted through thaw's IR and written with thaw's
/// writer (at zero strength): read back under its class and checked as an identity.
#[test]
fn every_identity_at_inference_class_is_read_back_and_checked() {
    use thaw::keras::{IdentityClass, Layer, LayerKind};
    let (_d, h5) = edited(|m| {
        let mut after = "batch_normalization".to_string();
        for (i, class) in IdentityClass::ALL.into_iter().enumerate() {
            let name = format!("extra_{i}");
            insert_after(
                m,
                &after,
                Layer {
                    name: name.clone(),
                    kind: LayerKind::InferenceIdentity { class },
                    inbound: vec![after.clone()],
                    weights: vec![],
                },
            );
            after = name;
        }
    });
    let (r, al) = run(h5.to_str().unwrap());
    assert_eq!(al.alignment.unaligned_user.len(), IdentityClass::ALL.len());
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.to_table());
    for (i, class) in IdentityClass::ALL.into_iter().enumerate() {
        let row = r
            .layers
            .iter()
            .find(|l| l.name == format!("extra_{i}"))
            .unwrap();
        assert_eq!(row.class_name, class.keras_name());
        assert_eq!(row.status, Status::Pass);
    }
}

/// issue 4: a Keras 3 `.keras` archive with a native MultiHeadAttention (fixtures/
/// k3_transformer_block's own model: harness/make_handmade.py rebuilds it with
/// gen_fixtures.py's seed) failed with "got 0 weights": its variables sit in the
/// query/key/value/output_dense sub-groups. Now every weight is read, equals the graph's
/// constant, and the model (which also holds a Dropout) verifies.
#[test]
fn keras3_archive_with_native_attention_verifies() {
    let graph = "fixtures/k3_transformer_block/model.pb";
    let file = "tests/data/k3_transformer_block.keras";
    let m = thaw::keras::archive::read(Path::new(file)).unwrap();
    let mha = m.layer("mha").unwrap();
    let names: Vec<&str> = mha.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        thaw::keras::config::weight_names(&mha.kind),
        "weights in thaw's order"
    );
    assert_eq!(mha.weight("query/kernel").unwrap().shape(), [16, 2, 8]);
    assert_eq!(
        mha.weight("attention_output/kernel").unwrap().shape(),
        [2, 8, 16]
    );
    let (r, al) = run_on(graph, file);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.to_table());
    assert_eq!(al.alignment.pair("mha").unwrap().by, "name");
    let mha_checks = &al.weights.iter().find(|w| w.user == "mha").unwrap().checks;
    assert_eq!(mha_checks.len(), 8);
    for c in mha_checks {
        assert_eq!(c.verdict, "equal", "{c:?}");
    }
    assert_eq!(al.alignment.unaligned_user, ["dropout"]);
    let dropout = r.layers.iter().find(|l| l.name == "dropout").unwrap();
    assert_eq!(dropout.class_name, "Dropout");
    assert_eq!(dropout.status, Status::Pass);
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = cli(&[
        "verify",
        graph,
        "--keras",
        file,
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
}

// --- issue 10: the configuration and weight diff (no silent pass) ---------------------------

/// The silent-pass bug: a BatchNormalization rebuilt with epsilon 1e-5
/// where the graph's is 1.001e-5 computes numbers within tolerance of the
/// graph's on random inputs, and thaw said PASS (exit 0). The config diff
/// names it (`bn_epsilon` at that layer) and the verdict is FAIL (exit 1);
/// `--numeric-only` judges on numbers alone, and that run passes, which is
/// what made the pass silent.
#[test]
fn bn_epsilon_1e5_is_not_a_silent_pass() {
    let (_d, h5) = edited(|m| {
        for l in &mut m.layers {
            if let thaw::keras::LayerKind::BatchNormalization { epsilon, .. } = &mut l.kind {
                assert!((*epsilon - 1.001e-5).abs() < 1e-9);
                *epsilon = 1e-5;
            }
        }
    });
    let (r, _) = run(h5.to_str().unwrap());
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.to_table());
    let f: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.layer.as_str(), f.kind, f.field.as_str()))
        .collect();
    assert_eq!(
        f,
        [("batch_normalization", CauseKind::BnEpsilon, "epsilon")],
        "{}",
        r.to_table()
    );
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let (code, text) = cli(&["verify", GRAPH, "--keras", h5.to_str().unwrap(), "--out", o]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("bn_epsilon"), "{text}");
    let (code, text) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        h5.to_str().unwrap(),
        "--numeric-only",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "the numbers alone pass: {text}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["findings"][0]["kind"], "bn_epsilon");
}

/// A clean hand-built model has no finding; relu6 where the graph has relu
/// is one even where random inputs in [-1, 1] never reach 6.
#[test]
fn activation_difference_is_a_finding_even_unexposed() {
    let (r, _) = run("tests/data/handmade_mobilenet_v1_tail.h5");
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let (_d, h5) = edited(|m| {
        let relu = m
            .layers
            .iter_mut()
            .find(|l| matches!(l.kind, thaw::keras::LayerKind::ReLU { .. }))
            .expect("a ReLU layer");
        if let thaw::keras::LayerKind::ReLU { max_value, .. } = &mut relu.kind {
            // A cap no value reaches: the numbers cannot tell.
            *max_value = Some(1e6);
        }
    });
    let (r, _) = run(h5.to_str().unwrap());
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.to_table());
    assert!(
        r.findings.iter().any(|f| f.kind == CauseKind::Activation),
        "{:?}",
        r.findings
    );
}

/// Issue 10 §2: the numbers alone (`--numeric-only`, no finding counted)
/// catch a BatchNormalization epsilon that moves its outputs by far less than
/// `atol + rtol * |graph|` but by thousands of ULPs, where an element-wise
/// layer fed the graph's own values can only be off by rounding. `min_atol`
/// shows the old rule (atol/rtol/stol alone) would have passed it.
#[test]
fn bn_epsilon_isolated_noise_is_not_a_silent_pass() {
    let (_d, h5) = edited(|m| {
        for l in &mut m.layers {
            if let thaw::keras::LayerKind::BatchNormalization { epsilon, .. } = &mut l.kind {
                *epsilon = 1e-4;
            }
        }
    });
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let (code, text) = cli(&[
        "verify",
        GRAPH,
        "--keras",
        h5.to_str().unwrap(),
        "--numeric-only",
        "--out",
        o,
    ]);
    assert_eq!(code, 1, "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    let bn = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["class_name"] == "BatchNormalization")
        .expect("a BatchNormalization row");
    let iso = &bn["isolated"];
    assert_eq!(iso["status"], "fail", "{iso}");
    assert!(iso["min_atol"].as_f64().unwrap() <= 1e-4, "{iso}");
    assert_eq!(iso["noise"]["fan_in"], 1, "element-wise: {iso}");
    assert!(iso["noise"]["ratio"].as_f64().unwrap() > 10.0, "{iso}");
    assert_eq!(json["first_divergence"]["layer"], bn["name"], "{text}");
    assert_eq!(json["first_divergence"]["causes"][0]["kind"], "bn_epsilon");
}

// --- Keras 3 masked models: recorded mask ops and mask= arguments ------------------------------

/// Keras 3 saves a masked model's mask computation as op layers of their own (`NotEqual(ids, 0)`
/// for `Embedding(mask_zero=True)`, `Any(NotEqual(x, 0), -1)` for `Masking(0.0)`) handed to the
/// recurrent layers as `mask=` arguments; `--keras` refused them (exit 2). They are the masks
/// thaw propagates itself, so they are dropped and the models verify, every layer aligned.
/// Files: the fixtures' own Keras 3 models (harness/make_handmade.py).
#[test]
fn keras3_masked_models_verify() {
    for (case, file) in [
        ("k3_mask_zero_rnn", "k3_mask_zero_rnn.keras"),
        ("k3_mask_zero_rnn", "k3_mask_zero_rnn.h5"),
        ("k3_masking_rnn", "k3_masking_rnn.keras"),
    ] {
        let graph = format!("fixtures/{case}/model.pb");
        let file = format!("tests/data/{file}");
        let (r, al) = run_on(&graph, &file);
        assert_eq!(r.verdict, Verdict::Pass, "{file}: {}", r.to_table());
        assert!(al.alignment.unaligned_user.is_empty(), "{file}: {al:?}");
        assert!(
            al.alignment.unaligned_converted.is_empty(),
            "{file}: {al:?}"
        );
        let names: Vec<&str> = r.layers.iter().map(|l| l.class_name.as_str()).collect();
        assert!(
            !names.iter().any(|c| ["NotEqual", "Any"].contains(c)),
            "{file}: the mask ops are no layers of the model: {names:?}"
        );
    }
}

/// The same model with the LSTM's mask made by hand (`mask=keras.ops.not_equal(ids, 1)`): Keras
/// computes something else than the graph, and dropping the mask would make it pass. It is
/// refused (exit 2), naming the layers that get it.
#[test]
fn keras3_mask_made_by_hand_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args([
            "verify",
            "fixtures/k3_mask_zero_rnn/model.pb",
            "--keras",
            "tests/data/k3_mask_zero_rnn_mask_by_hand.keras",
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "layer 'lstm_seq' (LSTM): its mask= argument NotEqual('ids', 1.0) differs from the mask \
         its input 'embed' carries by Keras's rules, NotEqual('ids', 0.0) (made by Embedding 'embed')",
        "layer 'gru_back' (GRU): its mask= argument NotEqual('ids', 1.0)",
        "layer 'rnn_last' (SimpleRNN): its mask= argument NotEqual('ids', 1.0)",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from: {stderr}");
    }
    assert!(!dir.path().join("report.json").exists());
}
