//! One planted fault per cause kind, in the converted model of a fixture:
//! the report's `first_divergence` must be the faulty layer, and the right
//! `kind` must be among its causes (the hypothesis that undoes the fault
//! must make the layer pass in isolation).

use ndarray::{ArrayD, Axis, IxDyn};
use std::path::PathBuf;
use std::time::Instant;
use thaw::compare::Tolerance;
use thaw::compare::diagnose::CauseKind;
use thaw::convert::{ConvertOptions, convert};
use thaw::graph::Graph;
use thaw::keras::{Activation, Layer, LayerKind, Model, Padding};
use thaw::report::{Report, Verdict};
use thaw::verify::{VerifyOptions, verify_conversion, verify_keras};

/// Runs the converted-model check, then the same faulty model through
/// `--keras` (written as .h5, read back, aligned with a clean conversion):
/// returns both reports.
fn verify_with(case: &str, fault: impl FnOnce(&mut Model) -> String) -> (Report, String) {
    let (r, broken, _) = verify_both(case, fault);
    (r, broken)
}

fn verify_both(case: &str, fault: impl FnOnce(&mut Model) -> String) -> (Report, String, Report) {
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: PathBuf::from(format!("fixtures/{case}/model.pb")),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 2,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    let graph = Graph::load(&opts.model).unwrap();
    let mut conv = convert(&graph, &opts.convert).unwrap();
    let broken = fault(&mut conv.model);
    let report =
        verify_conversion(&opts, &graph, &conv, Timings::default(), Instant::now()).unwrap();
    let h5 = out.path().join("faulty.h5");
    thaw::keras::h5::write(&h5, &conv.model).unwrap();
    let keras_opts = VerifyOptions {
        out_dir: out.path().join("keras"),
        ..opts
    };
    let (keras_report, _) = verify_keras(&keras_opts, &h5).unwrap();
    (report, broken, keras_report)
}

use thaw::report::Timings;

/// Plants the fault with `plant` on the first layer `pick` accepts, and
/// checks the diagnosis.
fn check(
    case: &str,
    pick: impl Fn(&Layer) -> bool,
    plant: impl FnOnce(&mut Layer),
    kind: CauseKind,
) {
    let (r, broken) = verify_with(case, |m| {
        let l = m
            .layers
            .iter_mut()
            .find(|l| pick(l))
            .expect("no such layer");
        plant(l);
        l.name.clone()
    });
    assert_eq!(r.verdict, Verdict::Fail, "{case}: {}", r.to_table());
    let d = r.first_divergence.as_ref().expect("a divergence");
    assert_eq!(d.layer, broken, "{case}: {}", r.to_table());
    assert!(
        d.causes.iter().any(|c| c.kind == kind),
        "{case}/{broken}: expected {kind:?} among {:?}",
        d.causes
    );
    for c in d.causes.iter().filter(|c| c.kind != CauseKind::Other) {
        // A reported fix makes the layer pass: its error is small.
        assert!(c.max_abs_after_fix < 1e-2, "{c:?}");
    }
}

fn is_conv(l: &Layer) -> bool {
    matches!(
        l.kind,
        LayerKind::Conv2D {
            kernel_size: [3, 3],
            ..
        }
    )
}

fn kernel(l: &mut Layer) -> &mut ArrayD<f32> {
    &mut l.weights[0].value
}

#[test]
fn clean_models_have_no_divergence() {
    for case in ["tk_conv_strides_dilation", "tf1_vgg_style"] {
        let (r, _) = verify_with(case, |_| String::new());
        assert_eq!(r.verdict, Verdict::Pass, "{case}");
        assert!(r.first_divergence.is_none());
    }
}

#[test]
fn kernel_transposed() {
    check(
        "tk_conv_strides_dilation",
        is_conv,
        |l| {
            let k = kernel(l);
            *k = k
                .clone()
                .permuted_axes(IxDyn(&[1, 0, 2, 3]))
                .as_standard_layout()
                .to_owned();
        },
        CauseKind::KernelTransposed,
    );
}

#[test]
fn kernel_flipped() {
    check(
        "tk_inverted_residual",
        |l| matches!(l.kind, LayerKind::DepthwiseConv2D { .. }),
        |l| kernel(l).invert_axis(Axis(1)),
        CauseKind::KernelFlipped,
    );
}

#[test]
fn kernel_axes_oihw_reshaped_as_hwio() {
    check(
        "tk_conv_strides_dilation",
        is_conv,
        |l| {
            let k = kernel(l);
            let shape = k.shape().to_vec();
            // The OIHW tensor's buffer, reshaped (not transposed) into HWIO.
            let oihw = k.clone().permuted_axes(IxDyn(&[3, 2, 0, 1]));
            let flat: Vec<f32> = oihw.iter().copied().collect();
            *k = ArrayD::from_shape_vec(IxDyn(&shape), flat).unwrap();
        },
        CauseKind::KernelAxes,
    );
}

#[test]
fn kernel_axes_hwoi() {
    // conv2's kernel is 3x3x6x6: in and out swapped keeps the shape.
    check(
        "tf1_vgg_style",
        |l| {
            matches!(l.kind, LayerKind::Conv2D { .. })
                && l.weights[0].value.shape()[2] == l.weights[0].value.shape()[3]
        },
        |l| {
            let k = kernel(l);
            *k = k
                .clone()
                .permuted_axes(IxDyn(&[0, 1, 3, 2]))
                .as_standard_layout()
                .to_owned();
        },
        CauseKind::KernelAxes,
    );
}

#[test]
fn dense_transposed() {
    check(
        "tf1_vgg_style",
        |l| matches!(l.kind, LayerKind::Dense { .. }),
        |l| {
            let k = kernel(l);
            let shape = k.shape().to_vec();
            // A PyTorch-style (out, in) matrix reshaped into (in, out).
            let flat: Vec<f32> = k.t().iter().copied().collect();
            *k = ArrayD::from_shape_vec(IxDyn(&shape), flat).unwrap();
        },
        CauseKind::DenseTransposed,
    );
}

#[test]
fn padding_valid_instead_of_same() {
    check(
        "tf1_vgg_style",
        |l| {
            matches!(
                l.kind,
                LayerKind::Conv2D {
                    padding: Padding::Same,
                    ..
                }
            )
        },
        |l| {
            if let LayerKind::Conv2D { padding, .. } = &mut l.kind {
                *padding = Padding::Valid;
            }
        },
        CauseKind::Padding,
    );
}

#[test]
fn activation_missing() {
    check(
        "tk_pool_flatten_dense",
        |l| {
            matches!(
                l.kind,
                LayerKind::Conv2D {
                    activation: Activation::Tanh,
                    ..
                }
            )
        },
        |l| {
            if let LayerKind::Conv2D { activation, .. } = &mut l.kind {
                *activation = Activation::Linear;
            }
        },
        CauseKind::Activation,
    );
}

#[test]
fn bn_epsilon() {
    check(
        "tk_bn_depthwise_relu6",
        |l| matches!(l.kind, LayerKind::BatchNormalization { .. }),
        |l| {
            if let LayerKind::BatchNormalization { epsilon, .. } = &mut l.kind {
                // The fixture's 1.001e-5, read as Keras's default 1e-3.
                assert!((*epsilon - 1.001e-5).abs() < 1e-9);
                *epsilon = 1e-3;
            }
        },
        CauseKind::BnEpsilon,
    );
}

fn swap_values(l: &mut Layer, a: &str, b: &str) {
    let ia = l.weights.iter().position(|w| w.name == a).unwrap();
    let ib = l.weights.iter().position(|w| w.name == b).unwrap();
    let va = l.weights[ia].value.clone();
    l.weights[ia].value = l.weights[ib].value.clone();
    l.weights[ib].value = va;
}

#[test]
fn bn_stats_swapped() {
    check(
        "tk_inverted_residual",
        |l| matches!(l.kind, LayerKind::BatchNormalization { .. }),
        |l| swap_values(l, "moving_mean", "moving_variance"),
        CauseKind::BnStatsSwapped,
    );
}

#[test]
fn bn_affine_swapped() {
    check(
        "tk_inverted_residual",
        |l| matches!(l.kind, LayerKind::BatchNormalization { .. }),
        |l| swap_values(l, "gamma", "beta"),
        CauseKind::BnAffineSwapped,
    );
}

#[test]
fn bias_missing() {
    // tf1_mobilenet_v1_tail's 1x1 'pw' conv has a bias and a fused relu.
    check(
        "tf1_mobilenet_v1_tail",
        |l| {
            matches!(
                l.kind,
                LayerKind::Conv2D {
                    activation: Activation::Relu,
                    ..
                }
            ) && l.weight("bias").is_some()
        },
        |l| {
            if let LayerKind::Conv2D { use_bias, .. } = &mut l.kind {
                *use_bias = false;
            }
            l.weights.retain(|w| w.name != "bias");
        },
        CauseKind::Bias,
    );
}

#[test]
fn weights_swapped_between_two_batchnorms() {
    // b1_expand_bn and b1_dw_bn both have 12 channels; swap their weights.
    let (r, broken, kr) = verify_both("tk_inverted_residual", |m| {
        let bns: Vec<usize> = m
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l.kind, LayerKind::BatchNormalization { .. }))
            .map(|(i, _)| i)
            .collect();
        let (a, b) = (bns[0], bns[1]);
        assert_eq!(
            m.layers[a].weights[0].value.shape(),
            m.layers[b].weights[0].value.shape()
        );
        let wa = m.layers[a].weights.clone();
        m.layers[a].weights = m.layers[b].weights.clone();
        m.layers[b].weights = wa;
        m.layers[a].name.clone()
    });
    for r in [&r, &kr] {
        let d = r.first_divergence.as_ref().unwrap();
        assert_eq!(d.layer, broken);
        assert!(
            d.causes.iter().any(|c| c.kind == CauseKind::WeightsSwapped),
            "{:?}",
            d.causes
        );
    }
}

#[test]
fn flatten_order_channels_first() {
    check(
        "tk_pool_flatten_dense",
        |l| {
            matches!(
                l.kind,
                LayerKind::Dense {
                    activation: Activation::Relu,
                    ..
                }
            )
        },
        |l| {
            // Flatten of (3, 3, 4): rows re-ordered as a channels-first flatten would have them.
            let (h, w, c) = (3, 3, 4);
            let k = kernel(l);
            assert_eq!(k.shape()[0], h * w * c);
            let orig = k.clone();
            for hi in 0..h {
                for wi in 0..w {
                    for ci in 0..c {
                        let hwc = (hi * w + wi) * c + ci;
                        let chw = (ci * h + hi) * w + wi;
                        k.index_axis_mut(Axis(0), chw)
                            .assign(&orig.index_axis(Axis(0), hwc));
                    }
                }
            }
        },
        CauseKind::FlattenOrder,
    );
}

/// MobileNetV2 (from `harness/gen_zoo.py`, cached outside the repo): a BN
/// epsilon planted deep in the network is located and named, and the
/// diagnosis adds little to the run. `cargo test --test diagnose -- --ignored`.
#[test]
#[ignore = "needs ~/.cache/thaw/zoo (harness/gen_zoo.py)"]
fn mobilenet_v2_planted_epsilon() {
    let home = std::env::var("HOME").unwrap();
    let pb = format!("{home}/.cache/thaw/zoo/mobilenet_v2_tk/model.pb");
    let out = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        model: PathBuf::from(&pb),
        out_dir: out.path().to_path_buf(),
        convert: ConvertOptions::default(),
        samples: 2,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    let graph = Graph::load(&opts.model).unwrap();
    let mut conv = convert(&graph, &opts.convert).unwrap();
    let t = Instant::now();
    let clean =
        verify_conversion(&opts, &graph, &conv, Timings::default(), Instant::now()).unwrap();
    let clean_ms = t.elapsed().as_millis();
    assert_eq!(clean.verdict, Verdict::Pass);
    let l = conv
        .model
        .layers
        .iter_mut()
        .filter(|l| matches!(l.kind, LayerKind::BatchNormalization { .. }))
        .nth(20)
        .unwrap();
    if let LayerKind::BatchNormalization { epsilon, .. } = &mut l.kind {
        *epsilon = if *epsilon > 1e-4 { 1e-5 } else { 1e-3 };
    }
    let broken = l.name.clone();
    let t = Instant::now();
    let r = verify_conversion(&opts, &graph, &conv, Timings::default(), Instant::now()).unwrap();
    let faulty_ms = t.elapsed().as_millis();
    let d = r.first_divergence.as_ref().unwrap();
    assert_eq!(d.layer, broken);
    assert_eq!(d.causes[0].kind, CauseKind::BnEpsilon, "{:?}", d.causes);
    eprintln!(
        "{} layers; clean run {clean_ms} ms, with diagnosis {faulty_ms} ms",
        r.layers.len()
    );
}

/// Issue 10: a zeroed bias inside an LSTM that returns only its last step
/// (`lstm_back`, LSTM(4): 4·4 biases). The verified samples (2 here) give
/// too few equations to fit the biases; the diagnosis reads the graph on
/// `DIAGNOSIS_RUNS` more seeded input sets, so the fit is determined and the
/// bias is named, in the converted mode and with `--keras`.
#[test]
fn zeroed_bias_of_a_last_step_lstm_is_a_bias() {
    let (r, broken, keras) = verify_both("k3_rnn_back", |m| {
        let l = m
            .layers
            .iter_mut()
            .find(|l| {
                matches!(
                    l.kind,
                    LayerKind::Lstm {
                        return_sequences: false,
                        ..
                    }
                )
            })
            .expect("a last-step LSTM");
        let b = l.weights.iter_mut().find(|w| w.name == "bias").unwrap();
        assert!(b.value.iter().any(|&v| v != 0.0));
        b.value.fill(0.0);
        l.name.clone()
    });
    for (mode, r) in [("converted", &r), ("--keras", &keras)] {
        assert_eq!(r.verdict, Verdict::Fail, "{mode}: {}", r.to_table());
        let d = r.first_divergence.as_ref().expect("a divergence");
        assert_eq!(d.layer, broken, "{mode}");
        assert!(
            d.causes.iter().any(|c| c.kind == CauseKind::Bias),
            "{mode}: {:?}",
            d.causes
        );
    }
}

/// Issue 10: a capped ReLU replaced by a plain one where no value reaches 6
/// computes the graph's numbers on every seeded sample (the numeric checks
/// pass), yet the graph's op for that tensor is `Relu6`: in thaw's own
/// conversion that is a finding of kind `activation` and the verdict fails
/// (`src/verify/witness.rs`); with `--keras` the config diff names it.
#[test]
fn capped_relu_no_value_reaches_is_an_activation_finding() {
    let (r, broken, keras) = verify_both("k3_bn_depthwise_relu6", |m| {
        let l = m
            .layers
            .iter_mut()
            .find(|l| {
                matches!(
                    l.kind,
                    LayerKind::ReLU {
                        max_value: Some(_),
                        ..
                    }
                )
            })
            .expect("a capped ReLU");
        if let LayerKind::ReLU { max_value, .. } = &mut l.kind {
            *max_value = None;
        }
        l.name.clone()
    });
    for (mode, r) in [("converted", &r), ("--keras", &keras)] {
        assert_eq!(r.verdict, Verdict::Fail, "{mode}: {}", r.to_table());
        assert!(
            r.findings
                .iter()
                .any(|f| f.layer == broken && f.kind == CauseKind::Activation),
            "{mode}: {:?}",
            r.findings
        );
    }
}
