//! Transposed convolution: the Keras class `Conv2DTranspose` (channels-last).
//!
//! Semantics (Keras 3.15 / tf-keras 2.21 on TensorFlow, which call
//! `Conv2DBackpropInput` with the output size Keras computes):
//! - input `(batch, h, w, c)`, kernel `(kh, kw, filters, c)` — output channels
//!   *before* input channels, as Keras stores it (TF's forward-conv HWIO of the
//!   convolution this one transposes);
//! - output size per axis (`deconv_output_length`, no `output_padding`,
//!   dilation 1): `same` → `in * s`; `valid` → `in * s + max(k - s, 0)`;
//! - every input pixel `iy` spreads `x[iy] · kernel[ky]` to output row
//!   `iy*s + ky - before`, where `before` is TensorFlow's SAME padding of the
//!   forward convolution over the output (`floor(max(k - s, 0) / 2)` for
//!   `same`, 0 for `valid`); contributions outside the output are dropped,
//!   output pixels no tap reaches stay 0 (then bias);
//! - bias added per output channel, then the fused activation.
//!
//! Computed as one matrix product per kernel tap, `(n*h*w, c) · (c, filters)`,
//! scattered into the output.
//!
//! Not handled yet: `output_padding`, `dilation_rate > 1`, channels-first,
//! `groups`, Conv1DTranspose/Conv3DTranspose.

use ndarray::{Array4, ArrayD, Axis, Ix2, s};

use super::{LayerError, activation, expect_rank, input_error, weight};
use crate::keras::{Layer, LayerKind, Padding};

/// Output length and padding before the first element along one axis.
pub fn transpose_axis(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
) -> Result<(usize, usize), LayerError> {
    if kernel == 0 || stride == 0 {
        return Err(LayerError::Config(format!(
            "kernel size and stride must be >= 1, got {kernel} and {stride}"
        )));
    }
    let over = kernel.saturating_sub(stride);
    let out = input
        .checked_mul(stride)
        .and_then(|v| match padding {
            Padding::Same => Some(v),
            Padding::Valid => v.checked_add(over),
        })
        .ok_or_else(|| {
            LayerError::Config(format!("output of {input} x stride {stride} overflows"))
        })?;
    let before = match padding {
        Padding::Same => over / 2,
        Padding::Valid => 0,
    };
    Ok((out, before))
}

/// Conv2DTranspose without bias or activation: `x` (n, h, w, c), `kernel`
/// (kh, kw, filters, c) → (n, oh, ow, filters).
pub fn conv2d_transpose(
    x: &ArrayD<f32>,
    kernel: &ArrayD<f32>,
    strides: [usize; 2],
    padding: Padding,
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    let &[kh, kw, f, kc] = kernel.shape() else {
        return Err(LayerError::Config(format!(
            "kernel must have rank 4 (kh, kw, filters, in), got shape {:?}",
            kernel.shape()
        )));
    };
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    if kc != c {
        return Err(input_error(
            0,
            x,
            format!("has {c} channels but the kernel expects {kc}"),
        ));
    }
    let (oh, by) = transpose_axis(h, kh, strides[0], padding)?;
    let (ow, bx) = transpose_axis(w, kw, strides[1], padding)?;
    if [n, oh, ow, f]
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none_or(|t| t > crate::budget::max_elements())
    {
        return Err(LayerError::Config(format!(
            "strides {strides:?} on a {h}x{w} input make an output too large to compute"
        )));
    }
    let xm = x
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n * h * w, c))
        .map_err(|e| LayerError::Config(format!("input reshape: {e}")))?;
    let mut out = Array4::<f32>::zeros((n, oh, ow, f));
    for ky in 0..kh {
        for kx in 0..kw {
            // (f, c) for this tap → contributions (n*h*w, f).
            let tap = kernel
                .slice(s![ky, kx, .., ..])
                .into_dimensionality::<Ix2>()
                .map_err(|e| LayerError::Config(format!("kernel tap: {e}")))?;
            let t = xm.dot(&tap.t());
            for (row, contrib) in t.axis_iter(Axis(0)).enumerate() {
                let (b, iy, ix) = (row / (h * w), (row / w) % h, row % w);
                let Some(oy) = (iy * strides[0] + ky).checked_sub(by).filter(|&v| v < oh) else {
                    continue;
                };
                let Some(ox) = (ix * strides[1] + kx).checked_sub(bx).filter(|&v| v < ow) else {
                    continue;
                };
                let mut acc = out.slice_mut(s![b, oy, ox, ..]);
                acc += &contrib;
            }
        }
    }
    Ok(out.into_dyn())
}

/// The Keras `Conv2DTranspose` layer (weights `kernel`, `bias`).
pub fn conv2d_transpose_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::Conv2DTranspose {
        filters,
        kernel_size,
        strides,
        padding,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a Conv2DTranspose".into()));
    };
    expect_rank(0, x, 4)?;
    let c = x.shape()[3];
    let kernel = weight(
        layer,
        "kernel",
        &[kernel_size[0], kernel_size[1], *filters, c],
    )?;
    let mut y = conv2d_transpose(x, kernel, *strides, *padding)?;
    if *use_bias {
        let b = weight(layer, "bias", &[*filters])?;
        for mut px in y.lanes_mut(Axis(3)) {
            px += b;
        }
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

    #[test]
    fn output_sizes_follow_keras() {
        // deconv_output_length: same → in*s; valid → in*s + max(k - s, 0).
        assert_eq!(transpose_axis(4, 3, 2, Padding::Same).unwrap(), (8, 0));
        assert_eq!(transpose_axis(4, 3, 2, Padding::Valid).unwrap(), (9, 0));
        assert_eq!(transpose_axis(4, 4, 2, Padding::Same).unwrap(), (8, 1));
        assert_eq!(transpose_axis(4, 1, 2, Padding::Valid).unwrap(), (8, 0));
        assert_eq!(transpose_axis(5, 3, 1, Padding::Same).unwrap(), (5, 1));
        assert!(transpose_axis(4, 0, 2, Padding::Same).is_err());
        assert!(transpose_axis(usize::MAX, 3, 2, Padding::Same).is_err());
    }

    #[test]
    fn one_dimensional_by_hand() {
        // 1x3 input [1, 2, 3], kernel 1x3 taps [1, 10, 100], stride 2, one channel.
        // valid: out len 3*2 + 1 = 7; x[i] lands at 2i + k:
        //   o0 = 1*1, o1 = 1*10, o2 = 1*100 + 2*1, o3 = 2*10, o4 = 2*100 + 3*1, o5 = 30, o6 = 300.
        let x = arr(&[1, 1, 3, 1], vec![1.0, 2.0, 3.0]);
        let k = arr(&[1, 3, 1, 1], vec![1.0, 10.0, 100.0]);
        let y = conv2d_transpose(&x, &k, [1, 2], Padding::Valid).unwrap();
        assert_eq!(y.shape(), &[1, 1, 7, 1]);
        assert_eq!(
            y.as_slice().unwrap(),
            &[1.0, 10.0, 102.0, 20.0, 203.0, 30.0, 300.0]
        );
        // same: out len 6, before = floor((3 - 2) / 2) = 0 → the first 6 of the above.
        let y = conv2d_transpose(&x, &k, [1, 2], Padding::Same).unwrap();
        assert_eq!(
            y.as_slice().unwrap(),
            &[1.0, 10.0, 102.0, 20.0, 203.0, 30.0]
        );
        // kernel 4, stride 2, same: before = 1, so the full 8-long result shifted by one.
        // full: o0=1, o1=10, o2=100+2, o3=1000+20, o4=200+3, o5=2000+30, o6=300, o7=3000.
        let k4 = arr(&[1, 4, 1, 1], vec![1.0, 10.0, 100.0, 1000.0]);
        let y = conv2d_transpose(&x, &k4, [1, 2], Padding::Same).unwrap();
        assert_eq!(
            y.as_slice().unwrap(),
            &[10.0, 102.0, 1020.0, 203.0, 2030.0, 300.0]
        );
    }

    #[test]
    fn channels_mix_with_the_kernel_as_keras_stores_it() {
        // 1x1 kernel, stride 2, 2 input channels → 3 filters: kernel[0,0,f,c].
        // Input pixel (0,0) = [1, 2]: output (0,0,f) = k[f,0]*1 + k[f,1]*2; the rest is 0.
        let x = arr(&[1, 1, 1, 2], vec![1.0, 2.0]);
        let k = arr(&[1, 1, 3, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let layer = Layer {
            name: "ct".into(),
            kind: LayerKind::Conv2DTranspose {
                filters: 3,
                kernel_size: [1, 1],
                strides: [2, 2],
                padding: Padding::Valid,
                use_bias: true,
                activation: Activation::Relu,
            },
            inbound: vec!["x".into()],
            weights: vec![
                Weight {
                    name: "kernel".into(),
                    value: k,
                },
                Weight {
                    name: "bias".into(),
                    value: arr(&[3], vec![0.5, -0.5, -5.0]),
                },
            ],
        };
        let y = conv2d_transpose_layer(&layer, &x).unwrap();
        // valid, k=1 < s=2: out 2x2; only (0,0) gets a tap; bias everywhere, then relu.
        assert_eq!(y.shape(), &[1, 2, 2, 3]);
        assert_eq!(
            y.slice(s![0, 0, 0, ..]).to_vec(),
            vec![1.5, 1.5, 0.0] // [1+0.5, 2-0.5, relu(3-5)]
        );
        assert_eq!(y.slice(s![0, 1, 1, ..]).to_vec(), vec![0.5, 0.0, 0.0]);
        // A kernel for the wrong input depth is an error naming the weight.
        let x3 = arr(&[1, 1, 1, 3], vec![1.0; 3]);
        let e = conv2d_transpose_layer(&layer, &x3).unwrap_err().to_string();
        assert!(e.contains("weight 'kernel'"), "{e}");
    }
}
