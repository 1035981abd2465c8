//! The Keras class `SeparableConv2D` (channels-last).
//!
//! Semantics (Keras 3.15 and tf-keras 2.21 both call `tf.nn.separable_conv2d`):
//! 1. a depthwise convolution with `depthwise_kernel` `(kh, kw, c, depth_multiplier)`,
//!    the layer's `strides`, `padding` and `dilation_rate` (output channel
//!    `ci*depth_multiplier + m`, exactly [`conv::depthwise_conv2d`]);
//! 2. a pointwise 1x1 convolution, stride 1, with `pointwise_kernel`
//!    `(1, 1, c*depth_multiplier, filters)`;
//! 3. `bias` (filters) if `use_bias`, then the fused `activation`.
//!
//! There is no bias or activation between the two convolutions.
//!
//! Not handled yet: channels-first data format.

use ndarray::ArrayD;

use super::{LayerError, activation, conv, expect_rank, weight};
use crate::keras::{Layer, LayerKind, Padding};

/// The Keras `SeparableConv2D` layer (weights `depthwise_kernel`,
/// `pointwise_kernel`, `bias`).
pub fn separable_conv2d_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::SeparableConv2D {
        filters,
        kernel_size,
        strides,
        padding,
        depth_multiplier,
        dilation_rate,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a SeparableConv2D".into()));
    };
    expect_rank(0, x, 4)?;
    let c = x.shape()[3];
    let mid = c
        .checked_mul(*depth_multiplier)
        .ok_or_else(|| LayerError::Config("depth_multiplier is too large".into()))?;
    let dk = weight(
        layer,
        "depthwise_kernel",
        &[kernel_size[0], kernel_size[1], c, *depth_multiplier],
    )?;
    let pk = weight(layer, "pointwise_kernel", &[1, 1, mid, *filters])?;
    let y = conv::depthwise_conv2d(x, dk, *strides, *dilation_rate, *padding)?;
    let mut y = conv::conv2d(&y, pk, [1, 1], [1, 1], Padding::Valid, 1)?;
    if *use_bias {
        y += weight(layer, "bias", &[*filters])?;
    }
    Ok(activation::apply(*activation, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, Weight};
    use ndarray::IxDyn;

    fn arr(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    fn layer(use_bias: bool, activation: Activation, weights: Vec<(&str, ArrayD<f32>)>) -> Layer {
        Layer {
            name: "sep".into(),
            kind: LayerKind::SeparableConv2D {
                filters: 1,
                kernel_size: [2, 2],
                strides: [1, 1],
                padding: Padding::Valid,
                depth_multiplier: 1,
                dilation_rate: [1, 1],
                use_bias,
                activation,
            },
            inbound: vec!["x".into()],
            weights: weights
                .into_iter()
                .map(|(n, v)| Weight {
                    name: n.into(),
                    value: v,
                })
                .collect(),
        }
    }

    #[test]
    fn depthwise_then_pointwise_then_bias_and_relu() {
        // x (1, 2, 2, 2): channel 0 = [[1, 2], [3, 4]], channel 1 = [[10, 20], [30, 40]].
        let x = arr(&[1, 2, 2, 2], vec![1., 10., 2., 20., 3., 30., 4., 40.]);
        // Depthwise 2x2, VALID: channel 0 taps all 1 -> 1+2+3+4 = 10;
        // channel 1 taps [[1, 0], [0, -1]] -> 10 - 40 = -30.
        let dk = arr(&[2, 2, 2, 1], vec![1., 1., 1., 0., 1., 0., 1., -1.]);
        // Pointwise: 2*10 + 1*(-30) = -10; bias 3 -> -7; relu -> 0.
        let pk = arr(&[1, 1, 2, 1], vec![2., 1.]);
        let b = arr(&[1], vec![3.]);
        let l = layer(
            true,
            Activation::Relu,
            vec![
                ("depthwise_kernel", dk.clone()),
                ("pointwise_kernel", pk.clone()),
                ("bias", b),
            ],
        );
        let y = separable_conv2d_layer(&l, &x).unwrap();
        assert_eq!(y.shape(), &[1, 1, 1, 1]);
        assert_eq!(y.as_slice().unwrap(), &[0.0]);
        // Linear, no bias: -10 exactly.
        let l = layer(
            false,
            Activation::Linear,
            vec![("depthwise_kernel", dk), ("pointwise_kernel", pk)],
        );
        let y = separable_conv2d_layer(&l, &x).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-10.0]);
    }

    #[test]
    fn wrong_pointwise_shape_names_the_weight() {
        let x = ArrayD::zeros(IxDyn(&[1, 2, 2, 2]));
        let l = layer(
            false,
            Activation::Linear,
            vec![
                ("depthwise_kernel", ArrayD::zeros(IxDyn(&[2, 2, 2, 1]))),
                // in-channels 3, but the depthwise output has 2
                ("pointwise_kernel", ArrayD::zeros(IxDyn(&[1, 1, 3, 1]))),
            ],
        );
        let e = separable_conv2d_layer(&l, &x).unwrap_err().to_string();
        assert!(e.contains("pointwise_kernel"), "{e}");
    }

    #[test]
    fn matches_depthwise_then_conv_by_definition() {
        // Stride 2, SAME, depth_multiplier 2 on a 5x5x3 input: the layer must equal
        // the two convolutions run separately (each is unit-tested in conv.rs).
        let x = arr(
            &[1, 5, 5, 3],
            (0..75).map(|v| ((v * 7) % 11) as f32 - 5.0).collect(),
        );
        let dk = arr(
            &[3, 3, 3, 2],
            (0..54).map(|v| ((v * 5) % 7) as f32 - 3.0).collect(),
        );
        let pk = arr(
            &[1, 1, 6, 4],
            (0..24).map(|v| (v % 5) as f32 - 2.0).collect(),
        );
        let l = Layer {
            name: "sep".into(),
            kind: LayerKind::SeparableConv2D {
                filters: 4,
                kernel_size: [3, 3],
                strides: [2, 2],
                padding: Padding::Same,
                depth_multiplier: 2,
                dilation_rate: [1, 1],
                use_bias: false,
                activation: Activation::Linear,
            },
            inbound: vec!["x".into()],
            weights: vec![
                Weight {
                    name: "depthwise_kernel".into(),
                    value: dk.clone(),
                },
                Weight {
                    name: "pointwise_kernel".into(),
                    value: pk.clone(),
                },
            ],
        };
        let y = separable_conv2d_layer(&l, &x).unwrap();
        let d = conv::depthwise_conv2d(&x, &dk, [2, 2], [1, 1], Padding::Same).unwrap();
        let want = conv::conv2d(&d, &pk, [1, 1], [1, 1], Padding::Valid, 1).unwrap();
        assert_eq!(y.shape(), &[1, 3, 3, 4]);
        assert_eq!(y, want);
    }
}
