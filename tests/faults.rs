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
        let broken = thaw::keras::h5::read(&row.h5).unwrap();
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
