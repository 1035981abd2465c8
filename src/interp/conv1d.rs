//! Sequence layers over `(batch, steps, channels)`: the Keras classes `Conv1D`,
//! `MaxPooling1D`, `AveragePooling1D`, `GlobalMaxPooling1D` and
//! `GlobalAveragePooling1D`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21 on TensorFlow, channels-last):
//! - Conv1D kernel `(kernel_size, in, filters)`; `valid` and `same` are the
//!   TensorFlow rules of [`super::conv`] on the steps axis; `causal` pads
//!   `(kernel_size - 1) * dilation_rate` zeros before the first step and none
//!   after, then runs `valid` (so `out[t]` only sees steps `<= t*stride`);
//!   bias per filter, then the fused activation;
//! - pooling windows as in the 2-D classes (SAME average divides by the number
//!   of valid steps in the window, as TensorFlow does);
//! - global pooling reduces the steps axis; `keepdims` keeps it as size 1.
//!
//! Each 1-D layer runs as its 2-D counterpart on `(batch, 1, steps, channels)`,
//! which is how both Kerases lower them too (`ExpandDims` → 2-D op → `Squeeze`);
//! a height of 1 with window height 1 adds no padding and changes no value.
//!
//! Not handled yet: `groups > 1`, channels-first, Conv1DTranspose, 3-D layers.

use ndarray::{ArrayD, Axis, IxDyn};

use super::conv::conv2d;
use super::pool::{avg_pool2d, max_pool2d};
use super::{LayerError, activation, expect_rank, input_error, weight};
use crate::keras::{Layer, LayerKind, Padding, Padding1D};

/// `(n, steps, c)` → `(n, 1, steps, c)`.
fn to_2d(x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 3)?;
    let s = x.shape();
    x.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&[s[0], 1, s[1], s[2]]))
        .map_err(|e| input_error(0, x, format!("reshape to 2-D: {e}")))
}

/// `(n, 1, steps, c)` → `(n, steps, c)`.
fn from_2d(y: ArrayD<f32>) -> ArrayD<f32> {
    y.remove_axis(Axis(1))
}

/// Conv1D without bias or activation: `x` (n, steps, in), `kernel` (k, in, filters).
pub fn conv1d(
    x: &ArrayD<f32>,
    kernel: &ArrayD<f32>,
    stride: usize,
    dilation: usize,
    padding: Padding1D,
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 3)?;
    if kernel.ndim() != 3 {
        return Err(LayerError::Config(format!(
            "kernel must have rank 3 (kernel_size, in, filters), got shape {:?}",
            kernel.shape()
        )));
    }
    let k = kernel.shape()[0];
    let padding2d = match padding {
        Padding1D::Valid => Padding::Valid,
        Padding1D::Same => Padding::Same,
        Padding1D::Causal => Padding::Valid,
    };
    let x = if padding == Padding1D::Causal {
        let left = k
            .saturating_sub(1)
            .checked_mul(dilation)
            .ok_or_else(|| LayerError::Config("causal padding overflows".into()))?;
        let (n, steps, c) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let mut padded = ArrayD::<f32>::zeros(IxDyn(&[n, steps + left, c]));
        padded.slice_mut(ndarray::s![.., left.., ..]).assign(
            &x.view()
                .into_dimensionality::<ndarray::Ix3>()
                .map_err(|e| input_error(0, x, format!("{e}")))?,
        );
        padded
    } else {
        x.clone()
    };
    let kernel2d = kernel
        .as_standard_layout()
        .into_owned()
        .insert_axis(Axis(0));
    let y = conv2d(
        &to_2d(&x)?,
        &kernel2d,
        [1, stride],
        [1, dilation],
        padding2d,
        1,
    )?;
    Ok(from_2d(y))
}

/// The Keras `Conv1D` layer (weights `kernel`, `bias`).
pub fn conv1d_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::Conv1D {
        filters,
        kernel_size,
        strides,
        padding,
        dilation_rate,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a Conv1D".into()));
    };
    expect_rank(0, x, 3)?;
    let cin = x.shape()[2];
    let kernel = weight(layer, "kernel", &[*kernel_size, cin, *filters])?;
    let mut y = conv1d(x, kernel, *strides, *dilation_rate, *padding)?;
    if *use_bias {
        y += weight(layer, "bias", &[*filters])?;
    }
    Ok(activation::apply(*activation, y))
}

/// The Keras `MaxPooling1D` layer.
pub fn max_pool1d(
    x: &ArrayD<f32>,
    pool_size: usize,
    strides: usize,
    padding: Padding,
) -> Result<ArrayD<f32>, LayerError> {
    Ok(from_2d(max_pool2d(
        &to_2d(x)?,
        [1, pool_size],
        [1, strides],
        padding,
    )?))
}

/// The Keras `AveragePooling1D` layer (SAME divides by the valid count).
pub fn avg_pool1d(
    x: &ArrayD<f32>,
    pool_size: usize,
    strides: usize,
    padding: Padding,
) -> Result<ArrayD<f32>, LayerError> {
    Ok(from_2d(avg_pool2d(
        &to_2d(x)?,
        [1, pool_size],
        [1, strides],
        padding,
    )?))
}

fn keep(y: ArrayD<f32>, keepdims: bool) -> ArrayD<f32> {
    if keepdims { y.insert_axis(Axis(1)) } else { y }
}

/// The Keras `GlobalAveragePooling1D` layer (mean over the steps axis).
pub fn global_avg_pool1d(x: &ArrayD<f32>, keepdims: bool) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 3)?;
    let y = x
        .mean_axis(Axis(1))
        .ok_or_else(|| input_error(0, x, "has no steps to average"))?;
    Ok(keep(y, keepdims))
}

/// The Keras `GlobalMaxPooling1D` layer (maximum over the steps axis).
pub fn global_max_pool1d(x: &ArrayD<f32>, keepdims: bool) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 3)?;
    if x.shape()[1] == 0 {
        return Err(input_error(0, x, "has no steps to reduce"));
    }
    let y = x.fold_axis(Axis(1), f32::NEG_INFINITY, |m, &v| m.max(v));
    Ok(keep(y, keepdims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// x[b, t, 0] = t + 1 (+10 for the second sample): one channel, 5 steps.
    fn ramp() -> ArrayD<f32> {
        array![
            [[1.0f32], [2.0], [3.0], [4.0], [5.0]],
            [[11.0], [12.0], [13.0], [14.0], [15.0]]
        ]
        .into_dyn()
    }

    /// Kernel [1, 10, 100] (k=3, in=1, filters=1): out[t] = x[t0] + 10 x[t0+d] + 100 x[t0+2d].
    fn taps() -> ArrayD<f32> {
        array![[[1.0f32]], [[10.0]], [[100.0]]].into_dyn()
    }

    fn column(y: &ArrayD<f32>, b: usize) -> Vec<f32> {
        y.index_axis(Axis(0), b).iter().copied().collect()
    }

    #[test]
    fn valid_same_and_causal_padding_by_hand() {
        let x = ramp();
        // valid: [1+20+300, 2+30+400, 3+40+500]
        let y = conv1d(&x, &taps(), 1, 1, Padding1D::Valid).unwrap();
        assert_eq!(column(&y, 0), vec![321.0, 432.0, 543.0]);
        // same: one zero before and after: [0+10+200, 321, 432, 543, 4+50+0]
        let y = conv1d(&x, &taps(), 1, 1, Padding1D::Same).unwrap();
        assert_eq!(column(&y, 0), vec![210.0, 321.0, 432.0, 543.0, 54.0]);
        // causal: two zeros before: [0+0+100, 0+10+200, 1+20+300, ...]
        let y = conv1d(&x, &taps(), 1, 1, Padding1D::Causal).unwrap();
        assert_eq!(column(&y, 0), vec![100.0, 210.0, 321.0, 432.0, 543.0]);
        assert_eq!(y.shape(), &[2, 5, 1]);
    }

    #[test]
    fn dilated_causal_and_strided_valid() {
        let x = ramp();
        // causal, d=2: four zeros before; out[t] = x[t-4] + 10 x[t-2] + 100 x[t].
        let y = conv1d(&x, &taps(), 1, 2, Padding1D::Causal).unwrap();
        assert_eq!(column(&y, 1), vec![1100.0, 1200.0, 1410.0, 1520.0, 1641.0]);
        // valid, stride 2: windows starting at t=0 and t=2.
        let y = conv1d(&x, &taps(), 2, 1, Padding1D::Valid).unwrap();
        assert_eq!(column(&y, 0), vec![321.0, 543.0]);
    }

    #[test]
    fn conv1d_layer_adds_bias_then_activation() {
        let layer = Layer {
            name: "c".into(),
            kind: LayerKind::Conv1D {
                filters: 1,
                kernel_size: 3,
                strides: 1,
                padding: Padding1D::Valid,
                dilation_rate: 1,
                use_bias: true,
                activation: crate::keras::Activation::Relu,
            },
            inbound: vec!["x".into()],
            weights: vec![
                crate::keras::Weight {
                    name: "kernel".into(),
                    value: taps(),
                },
                crate::keras::Weight {
                    name: "bias".into(),
                    value: array![-400.0f32].into_dyn(),
                },
            ],
        };
        let y = conv1d_layer(&layer, &ramp()).unwrap();
        // relu([321, 432, 543] - 400) = [0, 32, 143]
        assert_eq!(column(&y, 0), vec![0.0, 32.0, 143.0]);
        // A 2-channel input does not fit the (3, 1, 1) kernel: the error names the weight.
        let x2 = ArrayD::<f32>::zeros(IxDyn(&[1, 5, 2]));
        let e = conv1d_layer(&layer, &x2).unwrap_err().to_string();
        assert!(e.contains("kernel"), "{e}");
    }

    #[test]
    fn pooling_windows_by_hand() {
        let x = ramp();
        // max, k=2 valid: [2, 4]
        let y = max_pool1d(&x, 2, 2, Padding::Valid).unwrap();
        assert_eq!(column(&y, 0), vec![2.0, 4.0]);
        // avg, k=2 s=2 same on 5 steps: [1.5, 3.5, 5 (one valid step)]
        let y = avg_pool1d(&x, 2, 2, Padding::Same).unwrap();
        assert_eq!(column(&y, 0), vec![1.5, 3.5, 5.0]);
        assert_eq!(y.shape(), &[2, 3, 1]);
    }

    #[test]
    fn global_pooling_reduces_steps() {
        let x = ramp();
        let y = global_avg_pool1d(&x, false).unwrap();
        assert_eq!(y, array![[3.0f32], [13.0]].into_dyn());
        let y = global_max_pool1d(&x, true).unwrap();
        assert_eq!(y, array![[[5.0f32]], [[15.0]]].into_dyn());
        assert!(global_max_pool1d(&ArrayD::zeros(IxDyn(&[1, 2])), false).is_err());
    }
}
