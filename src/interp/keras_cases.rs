//! Cross-check against real Keras: each `testdata/<case>.npz` holds an input,
//! the weights and the output of one Keras 3.15.1 layer on TensorFlow 2.21
//! (made by `testdata/gen.py`, pinned versions and fixed seed). Here the same
//! layer is built as thaw IR, run with [`run_layer`] and compared.
//!
//! The configs below mirror `gen.py`'s `case_list()` by hand; a mismatch
//! changes shapes or values and fails, it cannot pass silently.

use std::fs::File;

use ndarray::ArrayD;
use ndarray_npy::NpzReader;

use super::run_layer;
use crate::keras::{Activation, Layer, LayerKind, Padding, Weight};

#[allow(clippy::too_many_arguments)] // one argument per Keras config field
fn conv(
    filters: usize,
    k: [usize; 2],
    s: usize,
    padding: Padding,
    d: usize,
    groups: usize,
    use_bias: bool,
    activation: Activation,
) -> LayerKind {
    LayerKind::Conv2D {
        filters,
        kernel_size: k,
        strides: [s, s],
        padding,
        dilation_rate: [d, d],
        groups,
        use_bias,
        activation,
    }
}

fn cases() -> Vec<(&'static str, LayerKind)> {
    use Activation::*;
    use Padding::*;
    vec![
        ("conv_same", conv(8, [3, 3], 1, Same, 1, 1, true, Relu)),
        ("conv_valid", conv(6, [3, 2], 1, Valid, 1, 1, false, Linear)),
        (
            "conv_strided_same_even",
            conv(5, [4, 4], 2, Same, 1, 1, true, Linear),
        ),
        ("conv_dilated", conv(4, [3, 3], 1, Same, 2, 1, true, Linear)),
        ("conv_grouped", conv(6, [3, 3], 1, Same, 1, 2, true, Linear)),
        (
            "dw_dm2_strided_same",
            LayerKind::DepthwiseConv2D {
                kernel_size: [3, 3],
                strides: [2, 2],
                padding: Same,
                depth_multiplier: 2,
                dilation_rate: [1, 1],
                use_bias: true,
                activation: Linear,
            },
        ),
        (
            "avgpool_same",
            LayerKind::AveragePooling2D {
                pool_size: [3, 3],
                strides: [2, 2],
                padding: Same,
            },
        ),
        (
            "maxpool_same",
            LayerKind::MaxPooling2D {
                pool_size: [3, 3],
                strides: [2, 2],
                padding: Same,
            },
        ),
        (
            "dense",
            LayerKind::Dense {
                units: 5,
                use_bias: true,
                activation: Tanh,
            },
        ),
        (
            "dense_rank3",
            LayerKind::Dense {
                units: 4,
                use_bias: true,
                activation: Linear,
            },
        ),
        (
            "bn",
            LayerKind::BatchNormalization {
                axis: -1,
                epsilon: 1e-3,
                center: true,
                scale: true,
            },
        ),
        (
            "relu6",
            LayerKind::ReLU {
                max_value: Some(6.0),
                negative_slope: 0.0,
                threshold: 0.0,
            },
        ),
        ("softmax", LayerKind::Softmax { axis: -1 }),
        ("softmax_axis1", LayerKind::Softmax { axis: 1 }),
    ]
}

/// Loads `testdata/<case>.npz`: (x, y, weights named as in the IR).
fn load(case: &str) -> (ArrayD<f32>, ArrayD<f32>, Vec<Weight>) {
    let path = format!("{}/{case}.npz", testdata_dir());
    let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e} (run testdata/gen.py)"));
    let mut npz = NpzReader::new(file).unwrap_or_else(|e| panic!("{path}: {e}"));
    let names = npz.names().unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut read = |n: &str| -> ArrayD<f32> {
        npz.by_name(n)
            .unwrap_or_else(|e| panic!("{path}: {n}: {e}"))
    };
    let x = read("x");
    let y = read("y");
    // Keras weight order is the order of the IR docs; the npz is sorted by name,
    // but the interpreter looks weights up by name, so order does not matter.
    let weights = names
        .iter()
        .filter_map(|n| n.strip_prefix("w_"))
        .map(|n| Weight {
            name: n.to_string(),
            value: read(&format!("w_{n}")),
        })
        .collect();
    (x, y, weights)
}

#[test]
fn layers_match_keras_3() {
    let mut checked = 0;
    for (case, kind) in cases() {
        let (x, want, weights) = load(case);
        let layer = Layer {
            name: case.into(),
            kind,
            inbound: vec!["x".into()],
            weights,
        };
        let got = run_layer(&layer, &[&x]).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(got.shape(), want.shape(), "{case}: shape");
        // Tolerance atol 1e-5 + rtol 1e-4: TensorFlow (Eigen/oneDNN) sums the
        // products of a convolution or matmul in a different order than
        // matrixmultiply and may use FMA, and its exp/tanh/rsqrt differ from
        // Rust's libm by a few ULPs. Values here are O(1)-O(10) with <= 48 terms per
        // output, so honest differences stay around 1e-6; any wrong tap, channel
        // or padding moves a value by O(0.1).
        let mut worst = 0.0f32;
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            let err = (g - w).abs();
            assert!(
                err <= 1e-5 + 1e-4 * w.abs(),
                "{case}: element {i}: got {g}, Keras {w}"
            );
            worst = worst.max(err);
        }
        eprintln!("{case:24} max |diff| {worst:.2e}");
        checked += 1;
    }
    assert_eq!(checked, 14);
}

/// `src/interp/testdata`, found from this source file so the test also works
/// when the module is compiled from another crate root.
fn testdata_dir() -> String {
    let here = std::path::Path::new(file!());
    let dir = here
        .parent()
        .map(|p| p.join("testdata"))
        .unwrap_or_default();
    if dir.is_absolute() {
        dir.display().to_string()
    } else {
        format!("{}/{}", env!("CARGO_MANIFEST_DIR"), dir.display())
    }
}
