//! Broken reconstructions (`harness/faults.py`) in thaw's converted-model mode.
//!
//! `harness/faults.py` breaks one layer of a converted `.h5` per fault and
//! checks it with `thaw verify --keras`; for the converted-model mode (the
//! same fault, as if thaw's own converter had made it) it writes a manifest
//! and runs [`converted_mode_from_manifest`], which swaps each broken model
//! into the fixture's conversion and verifies it there. The script judges the
//! reports. thaw's CLI has no fault-injection flag on purpose; this ignored
//! test is the hook.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Instant;
use thaw::compare::Tolerance;
use thaw::convert::{ConvertOptions, convert};
use thaw::graph::Graph;
use thaw::report::Timings;
use thaw::verify::{VerifyOptions, verify_conversion};

/// One row of the manifest `harness/faults.py` writes.
#[derive(Deserialize)]
struct Row {
    /// The fixture's frozen graph.
    model: PathBuf,
    /// The broken model: the converted one with one layer faulted (same names).
    h5: PathBuf,
    /// Where report.json goes.
    out: PathBuf,
    /// The inputs' range (the CLI's `--input-range`).
    input_range: [f32; 2],
}

/// For each manifest row: convert the graph, replace the converted model by
/// the broken one and verify; the report lands in the row's `out` (or, when
/// verification itself fails, the error in `out/error.txt`, and the script
/// shows it). Same options as the CLI's defaults (4 samples, seed 0, the
/// `approximate` tolerance) and the row's input range, so both modes see the
/// same inputs.
#[test]
#[ignore = "driven by harness/faults.py (THAW_FAULTS_MANIFEST=manifest.json)"]
fn converted_mode_from_manifest() {
    let manifest = std::env::var("THAW_FAULTS_MANIFEST")
        .expect("THAW_FAULTS_MANIFEST: the manifest written by harness/faults.py");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let rows: Vec<Row> = serde_json::from_str(&text).unwrap();
    assert!(!rows.is_empty(), "{manifest}: no rows");
    for row in rows {
        let opts = VerifyOptions {
            model: row.model.clone(),
            out_dir: row.out.clone(),
            convert: ConvertOptions::default(),
            samples: 4,
            seed: 0,
            input_range: row.input_range,
            tolerance: Tolerance::default(),
        };
        let graph = Graph::load(&row.model).unwrap();
        let mut conv = convert(&graph, &opts.convert).unwrap();
        // A broken model thaw cannot read (a config it refuses) is that row's
        // outcome, in error.txt as for a failed verification; the rest go on.
        let broken = match thaw::keras::h5::read(&row.h5) {
            Ok(m) => m,
            Err(e) => {
                std::fs::create_dir_all(&row.out).unwrap();
                std::fs::write(row.out.join("error.txt"), format!("{e}\n")).unwrap();
                continue;
            }
        };
        // The broken model keeps the converted names, so conv.tensors (layer
        // -> TF tensor) still describes it.
        assert_eq!(
            broken.layers.iter().map(|l| &l.name).collect::<Vec<_>>(),
            conv.model
                .layers
                .iter()
                .map(|l| &l.name)
                .collect::<Vec<_>>(),
            "{}",
            row.h5.display()
        );
        conv.model = broken;
        match verify_conversion(&opts, &graph, &conv, Timings::default(), Instant::now()) {
            Ok(_) => assert!(row.out.join("report.json").is_file()),
            Err(e) => {
                std::fs::create_dir_all(&row.out).unwrap();
                std::fs::write(row.out.join("error.txt"), format!("{e}\n")).unwrap();
            }
        }
    }
}

/// A `padding` row of `harness/faults.py` (`k3_add_concat_two_inputs`,
/// `conv_a`) in converted mode without Python: padding "valid" on a 3x3 conv
/// shrinks its output, so the Add of the two branches cannot run, nor
/// anything after it. That used to stop verification (an internal error,
/// exit 4); now the conv fails in isolation and is diagnosed, the Add is an
/// error with its own reason, the layers after it errors blamed on the conv.
#[test]
fn converted_model_that_cannot_run_is_judged() {
    let model = PathBuf::from("fixtures/k3_add_concat_two_inputs/model.pb");
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: model.clone(),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 2,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    let graph = Graph::load(&model).unwrap();
    let mut conv = convert(&graph, &opts.convert).unwrap();
    let faulted = "conv_a";
    let layer = conv
        .model
        .layers
        .iter_mut()
        .find(|l| l.name == faulted)
        .unwrap();
    let thaw::keras::LayerKind::Conv2D { padding, .. } = &mut layer.kind else {
        panic!("{:?}", layer.kind)
    };
    *padding = thaw::keras::Padding::Valid;
    let r = verify_conversion(&opts, &graph, &conv, Timings::default(), Instant::now()).unwrap();
    assert_eq!(r.verdict, thaw::report::Verdict::Fail, "{}", r.to_table());
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, faulted, "{}", r.to_table());
    assert_eq!(
        d.causes[0].kind,
        thaw::compare::diagnose::CauseKind::Padding,
        "{:?}",
        d.causes
    );
    let row = |n: &str| r.layers.iter().find(|l| l.name == n).unwrap();
    let why = row("add").detail.clone().unwrap_or_default();
    assert!(
        why.contains("the Keras layer cannot run: layer 'add' (Add)"),
        "{why}"
    );
    // Every layer fed by the Add has no value either, and all are blamed on
    // the conv (each passes in isolation).
    let after: Vec<_> = r
        .layers
        .iter()
        .filter(|l| {
            l.detail
                .as_deref()
                .is_some_and(|d| d.contains("layer 'add' failed upstream"))
        })
        .collect();
    assert!(after.len() >= 4, "{}", r.to_table());
    for l in after.into_iter().chain([row("add")]) {
        assert_eq!(l.downstream_of.as_deref(), Some(faulted), "{}", l.name);
    }
}
