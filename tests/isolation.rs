//! Planting one fault in a converted model must make the report point at
//! the faulty layer (it fails in isolation) and mark the layers after it as
//! downstream of it (they fail only cumulatively).

use std::path::PathBuf;
use std::time::Instant;
use thaw::compare::Tolerance;
use thaw::convert::{ConvertOptions, convert};
use thaw::graph::Graph;
use thaw::keras::{LayerKind, Model};
use thaw::report::{Report, Status, Timings, Verdict};
use thaw::verify::{VerifyOptions, verify_conversion};

const CASE: &str = "fixtures/tk_inverted_residual/model.pb";

fn verify_with(fault: impl FnOnce(&mut Model) -> String) -> (Report, String) {
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: PathBuf::from(CASE),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 4,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    let graph = Graph::load(&opts.model).unwrap();
    let mut conv = convert(&graph, &opts.convert).unwrap();
    let broken = fault(&mut conv.model);
    let report =
        verify_conversion(&opts, &graph, &conv, Timings::default(), Instant::now()).unwrap();
    (report, broken)
}

fn layer_named<'a>(r: &'a Report, name: &str) -> &'a thaw::report::LayerReport {
    r.layers.iter().find(|l| l.name == name).unwrap()
}

#[test]
fn clean_model_has_no_divergence() {
    let (r, _) = verify_with(|_| String::new());
    assert_eq!(r.verdict, Verdict::Pass);
    assert!(
        r.layers
            .iter()
            .all(|l| l.isolated.as_ref().unwrap().status == Status::Pass)
    );
}

#[test]
fn spatially_flipped_kernel_is_located_and_blamed_downstream() {
    let (r, broken) = verify_with(|m| {
        // The first 3x3 depthwise kernel, flipped top to bottom.
        let l = m
            .layers
            .iter_mut()
            .find(|l| matches!(l.kind, LayerKind::DepthwiseConv2D { .. }))
            .unwrap();
        let w = &mut l.weights[0].value;
        w.invert_axis(ndarray::Axis(0));
        l.name.clone()
    });
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        r.first_divergence.as_ref().map(|d| d.layer.as_str()),
        Some(broken.as_str())
    );
    let faulty = layer_named(&r, &broken);
    assert_eq!(faulty.isolated.as_ref().unwrap().status, Status::Fail);
    // Everything after it that fails does so only because of it.
    let after: Vec<_> = r
        .layers
        .iter()
        .skip_while(|l| l.name != broken)
        .skip(1)
        .collect();
    let downstream: Vec<_> = after.iter().filter(|l| l.status == Status::Fail).collect();
    assert!(!downstream.is_empty(), "the fault must propagate");
    for l in downstream {
        assert_eq!(
            l.isolated.as_ref().unwrap().status,
            Status::Pass,
            "{}",
            l.name
        );
        assert_eq!(
            l.downstream_of.as_deref(),
            Some(broken.as_str()),
            "{}",
            l.name
        );
    }
}

#[test]
fn missing_relu6_cap_is_located() {
    let (r, broken) = verify_with(|m| {
        let l = m
            .layers
            .iter_mut()
            .find(|l| matches!(l.kind, LayerKind::ReLU { .. }))
            .unwrap();
        l.kind = LayerKind::ReLU {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        };
        l.name.clone()
    });
    // This fixture's first ReLU6 sees values above 6 (its BN gammas are
    // random and large enough), so dropping the cap changes its output.
    assert_eq!(
        r.first_divergence.as_ref().map(|d| d.layer.as_str()),
        Some(broken.as_str()),
        "{}",
        r.to_table()
    );
}

#[test]
fn bn_epsilon_1e5_instead_of_1e3_is_located() {
    let (r, broken) = verify_with(|m| {
        let l = m
            .layers
            .iter_mut()
            .find(|l| matches!(l.kind, LayerKind::BatchNormalization { .. }))
            .unwrap();
        if let LayerKind::BatchNormalization { epsilon, .. } = &mut l.kind {
            *epsilon = if (*epsilon - 1e-3).abs() < 1e-6 {
                1e-5
            } else {
                1e-3
            };
        }
        l.name.clone()
    });
    assert_eq!(
        r.first_divergence.as_ref().map(|d| d.layer.as_str()),
        Some(broken.as_str())
    );
}
