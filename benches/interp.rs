//! Criterion benchmarks of the Rust reference interpreter (`thaw::interp`).
//!
//! - `conv2d_3x3_64to64_56x56`: Conv2D 3x3, 64 -> 64 filters, SAME, on 1x56x56x64;
//! - `depthwise_3x3_56x56x64`: DepthwiseConv2D 3x3, SAME, on 1x56x56x64;
//! - `mobilenetv2_a035_96`: a whole MobileNetV2 (alpha 0.35, 96x96x3, 10
//!   classes, unfused BatchNormalization + ReLU(6)) built as thaw IR with
//!   random weights, one sample; the architecture thaw verifies on every commit.
//!
//! Run: `cargo bench --bench interp`.

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{ArrayD, IxDyn};
use std::hint::black_box;
use thaw::interp::{run, run_layer};
use thaw::keras::{Activation, DType, Input, Layer, LayerKind, Model, Padding, Weight};

/// Deterministic pseudo-random values in [-0.5, 0.5) (an LCG; quality is irrelevant here).
fn random(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    })
}

fn w(name: &str, shape: &[usize], seed: u64) -> Weight {
    Weight {
        name: name.into(),
        value: random(shape, seed),
    }
}

fn conv_layer(
    name: &str,
    inbound: &str,
    cin: usize,
    filters: usize,
    k: usize,
    stride: usize,
    seed: u64,
) -> Layer {
    Layer {
        name: name.into(),
        kind: LayerKind::Conv2D {
            filters,
            kernel_size: [k, k],
            strides: [stride, stride],
            padding: Padding::Same,
            dilation_rate: [1, 1],
            groups: 1,
            use_bias: false,
            activation: Activation::Linear,
        },
        inbound: vec![inbound.into()],
        weights: vec![w("kernel", &[k, k, cin, filters], seed)],
    }
}

fn depthwise_layer(name: &str, inbound: &str, c: usize, stride: usize, seed: u64) -> Layer {
    Layer {
        name: name.into(),
        kind: LayerKind::DepthwiseConv2D {
            kernel_size: [3, 3],
            strides: [stride, stride],
            padding: Padding::Same,
            depth_multiplier: 1,
            dilation_rate: [1, 1],
            use_bias: false,
            activation: Activation::Linear,
        },
        inbound: vec![inbound.into()],
        weights: vec![w("depthwise_kernel", &[3, 3, c, 1], seed)],
    }
}

/// Keras's `_make_divisible(v, 8)`.
fn make_divisible(v: f32) -> usize {
    let new = ((v + 4.0) as usize / 8 * 8).max(8);
    if (new as f32) < 0.9 * v { new + 8 } else { new }
}

/// MobileNetV2 as Keras builds it (SAME padding instead of ZeroPadding2D + VALID,
/// which costs the same), with BN and ReLU6 as separate layers.
fn mobilenet_v2(alpha: f32, size: usize, classes: usize) -> Model {
    let mut layers = Vec::new();
    let mut seed = 1u64;
    let mut next = |layers: &mut Vec<Layer>, mut l: Layer| -> String {
        seed += 1;
        for wt in &mut l.weights {
            wt.value = random(wt.value.shape(), seed);
        }
        let name = l.name.clone();
        layers.push(l);
        name
    };
    let bn_relu = |layers: &mut Vec<Layer>,
                   next: &mut dyn FnMut(&mut Vec<Layer>, Layer) -> String,
                   x: String,
                   c: usize,
                   relu: bool|
     -> String {
        let mut var = random(&[c], 7);
        var.mapv_inplace(|v| v + 1.0);
        let bn = Layer {
            name: format!("{x}_bn"),
            kind: LayerKind::BatchNormalization {
                axis: -1,
                epsilon: 1e-3,
                center: true,
                scale: true,
            },
            inbound: vec![x],
            weights: vec![
                w("gamma", &[c], 1),
                w("beta", &[c], 2),
                w("moving_mean", &[c], 3),
                Weight {
                    name: "moving_variance".into(),
                    value: var,
                },
            ],
        };
        let mut y = next(layers, bn);
        if relu {
            let r = Layer {
                name: format!("{y}_relu"),
                kind: LayerKind::ReLU {
                    max_value: Some(6.0),
                    negative_slope: 0.0,
                    threshold: 0.0,
                },
                inbound: vec![y],
                weights: vec![],
            };
            y = next(layers, r);
        }
        y
    };
    let first = make_divisible(32.0 * alpha);
    let mut x = next(&mut layers, conv_layer("stem", "input", 3, first, 3, 2, 0));
    x = bn_relu(&mut layers, &mut next, x, first, true);
    let mut cin = first;
    let blocks = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut id = 0;
    for (t, c, n, s) in blocks {
        let cout = make_divisible(c as f32 * alpha);
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let block_in = x.clone();
            let mut y = x.clone();
            let hidden = cin * t;
            if t != 1 {
                y = next(
                    &mut layers,
                    conv_layer(&format!("b{id}_expand"), &y, cin, hidden, 1, 1, 0),
                );
                y = bn_relu(&mut layers, &mut next, y, hidden, true);
            }
            y = next(
                &mut layers,
                depthwise_layer(&format!("b{id}_dw"), &y, hidden, stride, 0),
            );
            y = bn_relu(&mut layers, &mut next, y, hidden, true);
            y = next(
                &mut layers,
                conv_layer(&format!("b{id}_project"), &y, hidden, cout, 1, 1, 0),
            );
            y = bn_relu(&mut layers, &mut next, y, cout, false);
            if stride == 1 && cin == cout {
                y = next(
                    &mut layers,
                    Layer {
                        name: format!("b{id}_add"),
                        kind: LayerKind::Add,
                        inbound: vec![block_in, y],
                        weights: vec![],
                    },
                );
            }
            x = y;
            cin = cout;
            id += 1;
        }
    }
    x = next(&mut layers, conv_layer("head", &x, cin, 1280, 1, 1, 0));
    x = bn_relu(&mut layers, &mut next, x, 1280, true);
    x = next(
        &mut layers,
        Layer {
            name: "gap".into(),
            kind: LayerKind::GlobalAveragePooling2D { keepdims: false },
            inbound: vec![x],
            weights: vec![],
        },
    );
    let fc = Layer {
        name: "predictions".into(),
        kind: LayerKind::Dense {
            units: classes,
            use_bias: true,
            activation: Activation::Softmax,
        },
        inbound: vec![x],
        weights: vec![w("kernel", &[1280, classes], 0), w("bias", &[classes], 0)],
    };
    let out = next(&mut layers, fc);
    Model {
        name: "mobilenetv2".into(),
        inputs: vec![Input {
            name: "input".into(),
            shape: vec![Some(size), Some(size), Some(3)],
            dtype: DType::F32,
        }],
        layers,
        outputs: vec![out],
    }
}

fn benches(c: &mut Criterion) {
    let x = random(&[1, 56, 56, 64], 1);
    let conv = conv_layer("conv", "x", 64, 64, 3, 1, 2);
    c.bench_function("conv2d_3x3_64to64_56x56", |b| {
        b.iter(|| run_layer(black_box(&conv), &[&x]).expect("conv runs"))
    });
    let dw = depthwise_layer("dw", "x", 64, 1, 3);
    c.bench_function("depthwise_3x3_56x56x64", |b| {
        b.iter(|| run_layer(black_box(&dw), &[&x]).expect("depthwise runs"))
    });
    let model = mobilenet_v2(0.35, 96, 10);
    let input = random(&[1, 96, 96, 3], 4);
    c.bench_function("mobilenetv2_a035_96", |b| {
        b.iter(|| run(black_box(&model), std::slice::from_ref(&input)).expect("model runs"))
    });
}

criterion_group!(interp, benches);
criterion_main!(interp);
