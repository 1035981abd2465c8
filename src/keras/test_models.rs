//! Small IR models for the `keras/` tests (and the real-Keras load check):
//! one holding every [`LayerKind`] variant, one with two inputs and two
//! outputs, and a one-in/one-out CNN. Weights are deterministic pseudo-random
//! values so a test failure reproduces.

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

use super::config::weight_names;
use super::ir::{
    Activation as Act, DType, IdentityClass, Input, Layer, LayerKind, Model, Padding, TfArg,
    TfArgValue, TfOp, Weight,
};

/// Deterministic values in [-1, 1) (xorshift64*), seeded per weight.
pub fn pseudo_random(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let x = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
            (x as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("shape product matches data length")
}

/// Builds a layer with pseudo-random weights of the given shapes (in
/// [`weight_names`] order); moving variances are made positive.
pub fn layer(name: &str, kind: LayerKind, inbound: &[&str], shapes: &[&[usize]]) -> Layer {
    let names = weight_names(&kind);
    assert_eq!(names.len(), shapes.len(), "test model bug in layer {name}");
    let seed0 = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let weights = names
        .iter()
        .zip(shapes)
        .enumerate()
        .map(|(i, (n, s))| {
            let mut value = pseudo_random(s, seed0.wrapping_add(i as u64));
            if *n == "moving_variance" {
                value.mapv_inplace(|v| v.abs() + 0.5);
            }
            Weight {
                name: n.to_string(),
                value,
            }
        })
        .collect();
    Layer {
        name: name.to_string(),
        kind,
        inbound: inbound.iter().map(|s| s.to_string()).collect(),
        weights,
    }
}

pub fn input(name: &str, shape: &[usize]) -> Input {
    Input {
        name: name.to_string(),
        shape: shape.iter().map(|d| Some(*d)).collect(),
        dtype: DType::F32,
    }
}

/// Every `LayerKind` variant (several twice, with other config values), every
/// activation, two outputs. Shapes are in the comments.
pub fn every_layer_model() -> Model {
    use LayerKind::*;
    let layers = vec![
        // 8x8x3 -> 9x9x3
        layer(
            "zp",
            ZeroPadding2D {
                padding: [[1, 0], [0, 1]],
            },
            &["image"],
            &[],
        ),
        // -> 5x5x4
        layer(
            "c1",
            Conv2D {
                filters: 4,
                kernel_size: [3, 3],
                strides: [2, 2],
                padding: Padding::Same,
                dilation_rate: [1, 1],
                groups: 1,
                use_bias: true,
                activation: Act::Relu,
            },
            &["zp"],
            &[&[3, 3, 3, 4], &[4]],
        ),
        // grouped, dilated, no bias -> 5x5x4
        layer(
            "c2",
            Conv2D {
                filters: 4,
                kernel_size: [3, 2],
                strides: [1, 1],
                padding: Padding::Same,
                dilation_rate: [2, 1],
                groups: 2,
                use_bias: false,
                activation: Act::Linear,
            },
            &["c1"],
            &[&[3, 2, 2, 4]],
        ),
        layer(
            "bn",
            BatchNormalization {
                axis: -1,
                epsilon: 1e-3,
                center: true,
                scale: true,
            },
            &["c2"],
            &[&[4], &[4], &[4], &[4]],
        ),
        // -> 3x3x8
        layer(
            "dw",
            DepthwiseConv2D {
                kernel_size: [3, 3],
                strides: [2, 2],
                padding: Padding::Same,
                depth_multiplier: 2,
                dilation_rate: [1, 1],
                use_bias: true,
                activation: Act::Linear,
            },
            &["bn"],
            &[&[3, 3, 4, 2], &[8]],
        ),
        layer(
            "bn_nocenter",
            BatchNormalization {
                axis: 3,
                epsilon: 1e-5,
                center: false,
                scale: true,
            },
            &["dw"],
            &[&[8], &[8], &[8]],
        ),
        layer(
            "relu6",
            ReLU {
                max_value: Some(6.0),
                negative_slope: 0.0,
                threshold: 0.0,
            },
            &["bn_nocenter"],
            &[],
        ),
        layer(
            "mp",
            MaxPooling2D {
                pool_size: [2, 2],
                strides: [1, 1],
                padding: Padding::Same,
            },
            &["relu6"],
            &[],
        ),
        layer(
            "ap",
            AveragePooling2D {
                pool_size: [2, 2],
                strides: [1, 1],
                padding: Padding::Same,
            },
            &["relu6"],
            &[],
        ),
        layer("add", Add, &["relu6", "mp", "ap"], &[]),
        layer(
            "leaky",
            ReLU {
                max_value: None,
                negative_slope: 0.1,
                threshold: 0.25,
            },
            &["add"],
            &[],
        ),
        // -> 3x3x16
        layer("cat", Concatenate { axis: -1 }, &["leaky", "mp"], &[]),
        layer(
            "sig",
            Activation {
                activation: Act::Sigmoid,
            },
            &["cat"],
            &[],
        ),
        // valid pooling -> 1x1x16
        layer(
            "ap_valid",
            AveragePooling2D {
                pool_size: [2, 2],
                strides: [2, 2],
                padding: Padding::Valid,
            },
            &["sig"],
            &[],
        ),
        layer(
            "gap_keep",
            GlobalAveragePooling2D { keepdims: true },
            &["ap_valid"],
            &[],
        ),
        layer("flat", Flatten, &["gap_keep"], &[]),
        layer(
            "d1",
            Dense {
                units: 6,
                use_bias: true,
                activation: Act::Tanh,
            },
            &["flat"],
            &[&[16, 6], &[6]],
        ),
        layer("softmax", Softmax { axis: -1 }, &["d1"], &[]),
        // -> 16 -> 4x4 -> 4x3
        layer(
            "gap",
            GlobalAveragePooling2D { keepdims: false },
            &["sig"],
            &[],
        ),
        layer(
            "rs",
            Reshape {
                target_shape: vec![4, -1],
            },
            &["gap"],
            &[],
        ),
        layer(
            "d2",
            Dense {
                units: 3,
                use_bias: false,
                activation: Act::Softmax,
            },
            &["rs"],
            &[&[4, 3]],
        ),
        layer(
            "bn_noscale",
            BatchNormalization {
                axis: -1,
                epsilon: 0.01,
                center: true,
                scale: false,
            },
            &["d2"],
            &[&[3], &[3], &[3]],
        ),
        layer(
            "mp_valid",
            MaxPooling2D {
                pool_size: [3, 3],
                strides: [2, 2],
                padding: Padding::Valid,
            },
            &["cat"],
            &[],
        ),
        layer(
            "act_relu",
            Activation {
                activation: Act::Relu,
            },
            &["mp_valid"],
            &[],
        ),
        layer(
            "act_tanh",
            Activation {
                activation: Act::Tanh,
            },
            &["act_relu"],
            &[],
        ),
        layer(
            "act_lin",
            Activation {
                activation: Act::Linear,
            },
            &["act_tanh"],
            &[],
        ),
        layer(
            "act_sm",
            Activation {
                activation: Act::Softmax,
            },
            &["act_lin"],
            &[],
        ),
    ];
    Model {
        name: "every_layer".to_string(),
        inputs: vec![input("image", &[8, 8, 3])],
        layers,
        outputs: vec!["softmax".into(), "bn_noscale".into(), "act_sm".into()],
    }
}

/// Every activation string and the merge / global-max classes added for
/// issue 3: one branch per activation, merged by Multiply, Subtract, Maximum
/// and Minimum (one broadcast from a keepdims global pooling).
pub fn activations_merges_model() -> Model {
    use LayerKind::*;
    let act =
        |name: &str, a: Act, from: &str| layer(name, Activation { activation: a }, &[from], &[]);
    let layers = vec![
        layer(
            "c",
            Conv2D {
                filters: 4,
                kernel_size: [3, 3],
                strides: [1, 1],
                padding: Padding::Same,
                dilation_rate: [1, 1],
                groups: 1,
                use_bias: true,
                activation: Act::Elu,
            },
            &["image"],
            &[&[3, 3, 3, 4], &[4]],
        ),
        act("selu", Act::Selu, "c"),
        act("softplus", Act::Softplus, "c"),
        act("softsign", Act::Softsign, "c"),
        act("exponential", Act::Exponential, "softsign"),
        act("swish", Act::Swish, "c"),
        act("gelu", Act::Gelu, "c"),
        layer("leaky", LeakyReLU { alpha: 0.15 }, &["c"], &[]),
        layer("mul", Multiply, &["selu", "softplus", "exponential"], &[]),
        layer("sub", Subtract, &["mul", "swish"], &[]),
        layer("max", Maximum, &["sub", "gelu"], &[]),
        layer("min", Minimum, &["max", "leaky"], &[]),
        layer("avg", Average, &["min", "leaky"], &[]),
        layer(
            "gmp_keep",
            GlobalMaxPooling2D { keepdims: true },
            &["min"],
            &[],
        ),
        layer("scaled", Multiply, &["avg", "gmp_keep"], &[]),
        layer(
            "gmp",
            GlobalMaxPooling2D { keepdims: false },
            &["scaled"],
            &[],
        ),
        layer(
            "d",
            Dense {
                units: 3,
                use_bias: true,
                activation: Act::Swish,
            },
            &["gmp"],
            &[&[4, 3], &[3]],
        ),
    ];
    Model {
        name: "activations_merges".to_string(),
        inputs: vec![input("image", &[5, 5, 3])],
        layers,
        outputs: vec!["d".into()],
    }
}

/// Two inputs, two outputs, an Add and a Concatenate of both branches.
pub fn two_in_two_out_model() -> Model {
    use LayerKind::*;
    let conv = |filters| Conv2D {
        filters,
        kernel_size: [3, 3],
        strides: [1, 1],
        padding: Padding::Valid,
        dilation_rate: [1, 1],
        groups: 1,
        use_bias: true,
        activation: Act::Relu,
    };
    Model {
        name: "two_in_two_out".to_string(),
        inputs: vec![input("a", &[6, 6, 2]), input("b", &[6, 6, 3])],
        layers: vec![
            layer("ca", conv(4), &["a"], &[&[3, 3, 2, 4], &[4]]),
            layer("cb", conv(4), &["b"], &[&[3, 3, 3, 4], &[4]]),
            layer("sum", Add, &["ca", "cb"], &[]),
            layer("both", Concatenate { axis: -1 }, &["cb", "ca"], &[]),
            layer(
                "pool",
                GlobalAveragePooling2D { keepdims: false },
                &["sum"],
                &[],
            ),
            layer(
                "logits",
                Dense {
                    units: 2,
                    use_bias: true,
                    activation: Act::Linear,
                },
                &["pool"],
                &[&[4, 2], &[2]],
            ),
            layer("flat", Flatten, &["both"], &[]),
        ],
        // Output order differs from layer order on purpose.
        outputs: vec!["flat".into(), "logits".into()],
    }
}

/// One input, one output: the common case.
pub fn small_cnn_model() -> Model {
    use LayerKind::*;
    Model {
        name: "small_cnn".to_string(),
        inputs: vec![input("x", &[5, 5, 1])],
        layers: vec![
            layer(
                "conv",
                Conv2D {
                    filters: 2,
                    kernel_size: [3, 3],
                    strides: [1, 1],
                    padding: Padding::Same,
                    dilation_rate: [1, 1],
                    groups: 1,
                    use_bias: true,
                    activation: Act::Relu,
                },
                &["x"],
                &[&[3, 3, 1, 2], &[2]],
            ),
            layer("flat", Flatten, &["conv"], &[]),
            layer(
                "out",
                Dense {
                    units: 3,
                    use_bias: true,
                    activation: Act::Softmax,
                },
                &["flat"],
                &[&[50, 3], &[3]],
            ),
        ],
        outputs: vec!["out".into()],
    }
}

/// Text-model layers: an int32 token input through Embedding, causal dilated
/// and strided SAME Conv1D, the 1-D poolings (global ones with and without
/// keepdims), Permute and RepeatVector; three outputs.
pub fn text_model() -> Model {
    use super::ir::Padding1D;
    use LayerKind::*;
    Model {
        name: "text".to_string(),
        inputs: vec![Input {
            name: "tokens".to_string(),
            shape: vec![Some(12)],
            dtype: DType::I32,
        }],
        layers: vec![
            // (12,) ids in [0, 7) -> (12, 5)
            layer(
                "embed",
                Embedding {
                    input_dim: 7,
                    output_dim: 5,
                    mask_zero: false,
                },
                &["tokens"],
                &[&[7, 5]],
            ),
            // -> (12, 4)
            layer(
                "conv_causal",
                Conv1D {
                    filters: 4,
                    kernel_size: 3,
                    strides: 1,
                    padding: Padding1D::Causal,
                    dilation_rate: 2,
                    use_bias: true,
                    activation: Act::Relu,
                },
                &["embed"],
                &[&[3, 5, 4], &[4]],
            ),
            // -> (6, 3)
            layer(
                "conv_same",
                Conv1D {
                    filters: 3,
                    kernel_size: 2,
                    strides: 2,
                    padding: Padding1D::Same,
                    dilation_rate: 1,
                    use_bias: false,
                    activation: Act::Tanh,
                },
                &["conv_causal"],
                &[&[2, 4, 3]],
            ),
            // -> (3, 3)
            layer(
                "maxpool",
                MaxPooling1D {
                    pool_size: 2,
                    strides: 2,
                    padding: Padding::Valid,
                },
                &["conv_same"],
                &[],
            ),
            // -> (12, 4)
            layer(
                "avgpool",
                AveragePooling1D {
                    pool_size: 3,
                    strides: 1,
                    padding: Padding::Same,
                },
                &["conv_causal"],
                &[],
            ),
            // -> (4,)
            layer(
                "gap",
                GlobalAveragePooling1D { keepdims: false },
                &["avgpool"],
                &[],
            ),
            // -> (1, 3)
            layer(
                "gmp",
                GlobalMaxPooling1D { keepdims: true },
                &["maxpool"],
                &[],
            ),
            // -> (3, 3), axes swapped
            layer("perm", Permute { dims: vec![2, 1] }, &["maxpool"], &[]),
            // -> (2, 4)
            layer("rep", RepeatVector { n: 2 }, &["gap"], &[]),
        ],
        outputs: vec!["perm".into(), "rep".into(), "gmp".into()],
    }
}

/// Rescaling, Normalization (statistics in the config) and PReLU (shared over
/// H and W, and unshared), as the issue-3 preprocess rules emit them.
pub fn preprocess_model() -> Model {
    use LayerKind::*;
    Model {
        name: "preprocess".to_string(),
        inputs: vec![input("image", &[4, 4, 3])],
        layers: vec![
            layer(
                "rescaling",
                Rescaling {
                    scale: 1.0 / 127.5,
                    offset: -1.0,
                },
                &["image"],
                &[],
            ),
            layer(
                "normalization",
                Normalization {
                    axis: -1,
                    mean: vec![0.1, -0.2, 0.3],
                    variance: vec![0.5, 2.0, 1.5],
                },
                &["rescaling"],
                &[],
            ),
            // 4x4x3 -> 4x4x4
            layer(
                "conv",
                Conv2D {
                    filters: 4,
                    kernel_size: [1, 1],
                    strides: [1, 1],
                    padding: Padding::Valid,
                    dilation_rate: [1, 1],
                    groups: 1,
                    use_bias: true,
                    activation: Act::Linear,
                },
                &["normalization"],
                &[&[1, 1, 3, 4], &[4]],
            ),
            layer(
                "prelu_shared",
                PReLU {
                    shared_axes: vec![1, 2],
                },
                &["conv"],
                &[&[1, 1, 4]],
            ),
            layer(
                "prelu_full",
                PReLU {
                    shared_axes: vec![],
                },
                &["prelu_shared"],
                &[&[4, 4, 4]],
            ),
        ],
        outputs: vec!["prelu_full".into()],
    }
}

/// Conv2DTranspose (same + relu with bias; valid, non-square strides, no bias) and
/// UpSampling2D (nearest (2, 1); bilinear (2, 3)); two outputs.
pub fn upsample_model() -> Model {
    use super::ir::Interpolation;
    use LayerKind::*;
    Model {
        name: "upsample".to_string(),
        inputs: vec![input("image", &[5, 6, 3])],
        layers: vec![
            // -> 10x12x4
            layer(
                "deconv_same",
                Conv2DTranspose {
                    filters: 4,
                    kernel_size: [3, 3],
                    strides: [2, 2],
                    padding: Padding::Same,
                    use_bias: true,
                    activation: Act::Relu,
                },
                &["image"],
                &[&[3, 3, 4, 3], &[4]],
            ),
            // -> 11x24x2 (valid: in*s + max(k - s, 0))
            layer(
                "deconv_valid",
                Conv2DTranspose {
                    filters: 2,
                    kernel_size: [2, 2],
                    strides: [1, 2],
                    padding: Padding::Valid,
                    use_bias: false,
                    activation: Act::Linear,
                },
                &["deconv_same"],
                &[&[2, 2, 2, 4]],
            ),
            // -> 22x24x2
            layer(
                "up_nearest",
                UpSampling2D {
                    size: [2, 1],
                    interpolation: Interpolation::Nearest,
                },
                &["deconv_valid"],
                &[],
            ),
            // -> 10x18x3
            layer(
                "up_bilinear",
                UpSampling2D {
                    size: [2, 3],
                    interpolation: Interpolation::Bilinear,
                },
                &["image"],
                &[],
            ),
        ],
        outputs: vec!["up_nearest".into(), "up_bilinear".into()],
    }
}

/// SeparableConv2D (with and without bias, depth_multiplier 2, dilated) and
/// Cropping2D (NASNet's one-sided crop and a four-sided one).
pub fn separable_crop_model() -> Model {
    use LayerKind::*;
    let sep = |filters, strides, padding, depth_multiplier, dilation_rate, use_bias, activation| {
        SeparableConv2D {
            filters,
            kernel_size: [3, 3],
            strides,
            padding,
            depth_multiplier,
            dilation_rate,
            use_bias,
            activation,
        }
    };
    Model {
        name: "separable_crop".to_string(),
        inputs: vec![input("x", &[11, 11, 3])],
        layers: vec![
            // 11x11x3 -> 11x11x4
            layer(
                "sep_bias_relu",
                sep(4, [1, 1], Padding::Same, 1, [1, 1], true, Act::Relu),
                &["x"],
                &[&[3, 3, 3, 1], &[1, 1, 3, 4], &[4]],
            ),
            // -> 5x5x6
            layer(
                "sep_s2_dm2",
                sep(6, [2, 2], Padding::Valid, 2, [1, 1], false, Act::Linear),
                &["sep_bias_relu"],
                &[&[3, 3, 4, 2], &[1, 1, 8, 6]],
            ),
            // -> 5x5x5
            layer(
                "sep_d2",
                sep(5, [1, 1], Padding::Same, 1, [2, 2], true, Act::Linear),
                &["sep_s2_dm2"],
                &[&[3, 3, 6, 1], &[1, 1, 6, 5], &[5]],
            ),
            // -> 4x4x5
            layer(
                "crop_tl",
                Cropping2D {
                    cropping: [[1, 0], [1, 0]],
                },
                &["sep_d2"],
                &[],
            ),
            // -> 1x2x5
            layer(
                "crop_all",
                Cropping2D {
                    cropping: [[1, 2], [0, 2]],
                },
                &["crop_tl"],
                &[],
            ),
        ],
        outputs: vec!["crop_all".into()],
    }
}

/// LayerNormalization in each form both Kerases must load: the default (center
/// and scale, epsilon 1e-3), center=False (gamma only, epsilon 1e-5),
/// scale=False (beta only, epsilon 0.01), neither (no weights), on a (5, 6)
/// sequence; and the default on a (3, 3, 4) image (axis -1 of a rank-4 input).
/// Two outputs.
pub fn layer_norm_model() -> Model {
    let ln = |epsilon, center, scale| LayerKind::LayerNormalization {
        axis: -1,
        epsilon,
        center,
        scale,
    };
    Model {
        name: "layer_norm".to_string(),
        inputs: vec![input("seq", &[5, 6]), input("image", &[3, 3, 4])],
        layers: vec![
            layer("ln_default", ln(1e-3, true, true), &["seq"], &[&[6], &[6]]),
            layer(
                "ln_no_center",
                ln(1e-5, false, true),
                &["ln_default"],
                &[&[6]],
            ),
            layer(
                "ln_no_scale",
                ln(0.01, true, false),
                &["ln_no_center"],
                &[&[6]],
            ),
            layer("ln_neither", ln(1e-3, false, false), &["ln_no_scale"], &[]),
            layer("ln_image", ln(1e-3, true, true), &["image"], &[&[4], &[4]]),
        ],
        outputs: vec!["ln_neither".into(), "ln_image".into()],
    }
}

/// Layers of the classes the test models lack, with inputs of fitting shapes.
pub fn extra_classes_model() -> Model {
    let input = |name: &str, shape: &[usize]| Input {
        name: name.into(),
        shape: shape.iter().map(|d| Some(*d)).collect(),
        dtype: DType::F32,
    };
    let mut layers = vec![
        layer(
            "lstm",
            LayerKind::Lstm {
                units: 3,
                return_sequences: false,
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Act::Tanh,
                recurrent_activation: Act::Sigmoid,
            },
            &["seq"],
            &[&[5, 12], &[3, 12], &[12]],
        ),
        layer(
            "mha",
            LayerKind::MultiHeadAttention {
                num_heads: 2,
                key_dim: 4,
                value_dim: 4,
                use_bias: true,
                output_shape: None,
            },
            &["q", "v"],
            &[
                &[8, 2, 4],
                &[2, 4],
                &[8, 2, 4],
                &[2, 4],
                &[8, 2, 4],
                &[2, 4],
                &[2, 4, 8],
                &[8],
            ],
        ),
        layer(
            "atan2",
            LayerKind::TfOp(TfOp {
                op: "Atan2".into(),
                args: vec![
                    TfArg {
                        name: "y".into(),
                        value: TfArgValue::Input(0),
                    },
                    TfArg {
                        name: "x".into(),
                        value: TfArgValue::Weight {
                            index: 0,
                            shape: vec![4, 1],
                        },
                    },
                ],
                attrs: Vec::new(),
            }),
            &["x"],
            &[&[4, 1]],
        ),
    ];
    for class in IdentityClass::ALL {
        let kind = LayerKind::InferenceIdentity { class };
        layers.push(layer(class.keras_name(), kind, &["x"], &[]));
    }
    Model {
        name: "extra".into(),
        inputs: vec![
            input("seq", &[7, 5]),
            input("q", &[6, 8]),
            input("v", &[6, 8]),
            input("x", &[4, 1]),
        ],
        outputs: layers.iter().map(|l| l.name.clone()).collect(),
        layers,
    }
}

/// Every test model: together they hold a layer of every registered class
/// (the registry and completeness tests check that).
pub fn all_models() -> Vec<Model> {
    vec![
        every_layer_model(),
        activations_merges_model(),
        two_in_two_out_model(),
        small_cnn_model(),
        text_model(),
        preprocess_model(),
        upsample_model(),
        separable_crop_model(),
        layer_norm_model(),
        extra_classes_model(),
        crate::keras::layers::recurrent::recurrent_model(),
        crate::keras::layers::recurrent::masked_model(),
    ]
}

/// The entry of layer `name` in a `model_config` JSON.
pub fn layer_entry<'a>(cfg: &'a Value, name: &str) -> &'a Value {
    cfg["config"]["layers"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["name"] == name))
        .unwrap_or_else(|| panic!("no layer {name} in config"))
}

/// `m` without its weights (what a config read back gives).
pub fn without_weights(mut m: Model) -> Model {
    for l in &mut m.layers {
        l.weights.clear();
    }
    m
}
