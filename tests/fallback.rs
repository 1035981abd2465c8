//! Fallback custom layers (issue 3, "nothing silently dropped"): ops with no
//! Keras layer become `ThawTfOp` layers that verify against TensorFlow, are
//! listed in report.json, and come with the generated `thaw_fallbacks.py`.
//! (That real Keras 3 and tf-keras load them is checked by
//! `harness/roundtrip.py` on the same fixtures; see `.ci/run`.)

use ndarray::{ArrayD, IxDyn};
use std::path::PathBuf;
use thaw::compare::Tolerance;
use thaw::convert::fallback::{Family, SPECS};
use thaw::convert::{ConvertOptions, convert};
use thaw::graph::Graph;
use thaw::keras::{Layer, LayerKind, TfArg, TfArgValue, TfAttr, TfOp, Weight};
use thaw::report::{Status, Verdict};
use thaw::verify::{VerifyOptions, verify};

/// The eleven ops `harness/gen_fixtures.py::build_fallback_ops` uses, by TF op
/// (the second Atan2 reads a constant, stored as the layer's weight `const_0`).
const FIXTURE_OPS: [&str; 11] = [
    "Abs", "Atan2", "Atan2", "Cos", "Cumsum", "Log1p", "Round", "Sign", "Sin", "Square", "Sum",
];

fn verify_case(case: &str) -> (thaw::report::Report, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: PathBuf::from(format!("fixtures/{case}/model.pb")),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 4,
        seed: 7,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    (verify(&opts).unwrap(), out)
}

#[test]
fn fallback_fixtures_verify_with_every_op_as_a_fallback_layer() {
    for case in ["k3_fallback_ops", "tk_fallback_ops"] {
        let (r, out) = verify_case(case);
        assert_eq!(r.verdict, Verdict::Pass, "{case}: {}", r.to_table());
        let mut ops: Vec<&str> = r.fallback_layers.iter().map(|f| f.tf_op.as_str()).collect();
        ops.sort_unstable();
        assert_eq!(ops, FIXTURE_OPS, "{case}");
        // dense_in, concat, dense_out.
        assert_eq!(r.native_layers, 3, "{case}");
        for f in &r.fallback_layers {
            let l = r.layers.iter().find(|l| l.name == f.layer).unwrap();
            assert_eq!(l.class_name, "ThawTfOp", "{case}");
            // `model/tf.math.sin/Sin`, `model_1/Atan2_1`: the node's own name starts with its op.
            let own = f.node.rsplit('/').next().unwrap();
            assert!(own.starts_with(&f.tf_op), "{case}: {f:?}");
            assert_eq!(l.isolated.as_ref().unwrap().status, Status::Pass, "{case}");
        }
        // The module sits next to the .h5, and report.json lists the layers.
        let module = out.path().join("thaw_fallbacks.py");
        let src = std::fs::read_to_string(&module).unwrap();
        assert!(src.contains("class ThawTfOp"), "{case}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
                .unwrap();
        assert_eq!(json["fallback_layers"].as_array().unwrap().len(), 11);
        assert_eq!(json["native_layers"], 3);
        assert!(r.to_table().contains("3 native, 11 fallback"), "{case}");
    }
}

#[test]
fn converted_fallbacks_survive_the_h5_round_trip() {
    let graph = Graph::load(std::path::Path::new("fixtures/k3_fallback_ops/model.pb")).unwrap();
    let conv = convert(&graph, &ConvertOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h5 = dir.path().join("m.h5");
    thaw::keras::h5::write(&h5, &conv.model).unwrap();
    let back = thaw::keras::h5::read(&h5).unwrap();
    let tf_ops = |m: &thaw::keras::Model| -> Vec<TfOp> {
        m.layers
            .iter()
            .filter_map(|l| match &l.kind {
                LayerKind::TfOp(op) => Some(op.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(tf_ops(&back).len(), 11);
    let with_weight = back
        .layers
        .iter()
        .find(|l| matches!(l.kind, LayerKind::TfOp(_)) && !l.weights.is_empty())
        .expect("the Atan2 of a constant has a weight");
    assert_eq!(with_weight.weights[0].name, "const_0");
    assert_eq!(with_weight.weights[0].value.shape(), &[8]);
    let mut a = tf_ops(&conv.model);
    let mut b = tf_ops(&back);
    a.sort_by(|x, y| x.op.cmp(&y.op));
    b.sort_by(|x, y| x.op.cmp(&y.op));
    assert_eq!(a, b);
}

#[test]
fn a_model_without_fallbacks_gets_no_module() {
    let (r, out) = verify_case("k3_average");
    assert!(r.fallback_layers.is_empty());
    assert!(!out.path().join("thaw_fallbacks.py").exists());
}

/// Every op conversion may emit as a fallback has an interpreter
/// implementation (conversion and interpretation must agree on the list).
#[test]
fn every_fallback_op_is_interpreted() {
    let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).unwrap();
    for spec in SPECS {
        let mut args = vec![TfArg {
            name: spec.args[0].into(),
            value: TfArgValue::Input(0),
        }];
        let mut weights = vec![];
        match spec.family {
            Family::Unary | Family::Lrn => {}
            Family::Binary => {
                args.push(TfArg {
                    name: spec.args[1].into(),
                    value: TfArgValue::Weight {
                        index: 0,
                        shape: vec![3],
                    },
                });
                weights.push(Weight {
                    name: "const_0".into(),
                    value: ArrayD::from_elem(IxDyn(&[3]), 0.5),
                });
            }
            Family::Cumulative | Family::Reduce => args.push(TfArg {
                name: spec.args[1].into(),
                value: TfArgValue::Ints {
                    values: vec![1],
                    shape: vec![],
                },
            }),
        }
        let layer = Layer {
            name: "f".into(),
            kind: LayerKind::TfOp(TfOp {
                op: spec.op.into(),
                args,
                attrs: vec![("keep_dims".into(), TfAttr::Bool(false))],
            }),
            inbound: vec!["x".into()],
            weights,
        };
        // LRN normalises 4-D NHWC tensors only.
        let x4 = x
            .clone()
            .into_shape_with_order(IxDyn(&[1, 1, 2, 3]))
            .unwrap();
        let input = if spec.family == Family::Lrn { &x4 } else { &x };
        let y = thaw::interp::run_layer(&layer, &[input])
            .unwrap_or_else(|e| panic!("{}: {e}", spec.op));
        let want: &[usize] = match spec.family {
            Family::Reduce => &[2],
            Family::Lrn => &[1, 1, 2, 3],
            _ => &[2, 3],
        };
        assert_eq!(y.shape(), want, "{}", spec.op);
    }
}
