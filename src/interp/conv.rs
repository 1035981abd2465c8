//! Convolutions: the Keras classes `Conv2D` and `DepthwiseConv2D`, and the
//! TensorFlow padding math shared with pooling ([`tf_same_padding`], [`plan_axis`]).
//!
//! Semantics (Keras 3.15 / tf-keras 2.21 on TensorFlow, channels-last):
//! - input `(batch, h, w, c)`; Conv2D kernel `(kh, kw, c/groups, filters)`
//!   (HWIO, Keras's storage layout), DepthwiseConv2D kernel
//!   `(kh, kw, c, depth_multiplier)` with output channel `c*depth_multiplier + m`;
//! - `strides`, `dilation_rate` (the kernel taps are `dilation` apart);
//! - `valid`: no padding, `out = floor((in - (k-1)*d - 1) / s) + 1`; an input
//!   smaller than the dilated kernel is an error (Keras refuses it too);
//! - `same` (TensorFlow SAME): `out = ceil(in/s)`, total padding
//!   `max((out-1)*s + (k-1)*d + 1 - in, 0)`, `floor(total/2)` before (top/left)
//!   and the extra element after (bottom/right);
//! - `groups` (Conv2D): input channels and filters split into `groups` equal
//!   consecutive blocks, block g of the output sees only block g of the input;
//! - bias added per output channel, then the fused activation.
//!
//! Conv2D lowers to im2col + one matrix multiply per sample and group
//! (ndarray `dot`, i.e. matrixmultiply). DepthwiseConv2D loops over output
//! pixels and kernel taps with the channel vector as the (vectorised) inner loop,
//! which is the cache-friendly order for NHWC.
//!
//! Keras rejects `strides > 1` together with `dilation_rate > 1`; this code
//! computes that case by the definition anyway (TF's conv does the same).
//!
//! Not handled yet: channels-first data format, explicit padding, Conv3D.
//! (Conv1D is in `conv1d.rs`, SeparableConv2D in `separable.rs`,
//! Conv2DTranspose in `conv_transpose.rs`.)

use ndarray::{Array2, ArrayD, ArrayView2, Axis, IxDyn, s};

use super::{LayerError, activation, expect_rank, input_error, weight};
use crate::keras::{Layer, LayerKind, Padding};

/// Output size and padding of one spatial axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisPlan {
    pub out: usize,
    /// Padding before the first element (top / left).
    pub before: usize,
    /// Padding after the last element (bottom / right).
    pub after: usize,
}

/// TensorFlow SAME padding along one axis: `(out, before, after)` with
/// `out = ceil(input/stride)`, total `max((out-1)*stride + (kernel-1)*dilation + 1 - input, 0)`,
/// `before = floor(total/2)`, `after = total - before`.
/// `kernel`, `stride` and `dilation` must be >= 1 (see [`plan_axis`]).
pub fn tf_same_padding(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> (usize, usize, usize) {
    let stride = stride.max(1);
    let out = input.div_ceil(stride);
    let needed = out
        .saturating_sub(1)
        .saturating_mul(stride)
        .saturating_add(effective_kernel(kernel, dilation));
    let total = needed.saturating_sub(input);
    (out, total / 2, total - total / 2)
}

/// `(k-1)*d + 1`: the span of a dilated kernel.
fn effective_kernel(kernel: usize, dilation: usize) -> usize {
    kernel
        .saturating_sub(1)
        .saturating_mul(dilation)
        .saturating_add(1)
}

/// Why a window cannot be placed along an axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The config itself is impossible (zero or absurdly large sizes).
    Config(String),
    /// The input is smaller than a VALID window.
    InputTooSmall(String),
}

/// Output size and padding along one spatial axis for Keras `padding`.
pub fn plan_axis(
    padding: Padding,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Result<AxisPlan, PlanError> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return Err(PlanError::Config(format!(
            "kernel size, stride and dilation must be >= 1, got {kernel}, {stride}, {dilation}"
        )));
    }
    // Reject sizes whose window arithmetic would overflow (only absurd configs).
    let span = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|v| v.checked_add(1))
        .and_then(|eff| {
            input
                .div_ceil(stride)
                .saturating_sub(1)
                .checked_mul(stride)?
                .checked_add(eff)
        });
    if span.is_none() {
        return Err(PlanError::Config(format!(
            "kernel size {kernel}, stride {stride} and dilation {dilation} are too large"
        )));
    }
    match padding {
        Padding::Same => {
            let (out, before, after) = tf_same_padding(input, kernel, stride, dilation);
            Ok(AxisPlan { out, before, after })
        }
        Padding::Valid => {
            let eff = effective_kernel(kernel, dilation);
            if input < eff {
                return Err(PlanError::InputTooSmall(format!(
                    "spatial size {input} is smaller than the (dilated) window {eff} with padding 'valid'"
                )));
            }
            Ok(AxisPlan {
                out: (input - eff) / stride + 1,
                before: 0,
                after: 0,
            })
        }
    }
}

/// Plans both spatial axes of an NHWC input; errors name input 0.
pub(crate) fn plan_2d(
    x: &ArrayD<f32>,
    padding: Padding,
    kernel: [usize; 2],
    strides: [usize; 2],
    dilation: [usize; 2],
) -> Result<[AxisPlan; 2], LayerError> {
    let mut plans = [AxisPlan {
        out: 0,
        before: 0,
        after: 0,
    }; 2];
    for (i, plan) in plans.iter_mut().enumerate() {
        *plan = plan_axis(
            padding,
            x.shape()[1 + i],
            kernel[i],
            strides[i],
            dilation[i],
        )
        .map_err(|e| match e {
            PlanError::Config(m) => LayerError::Config(m),
            PlanError::InputTooSmall(m) => input_error(0, x, m),
        })?;
    }
    Ok(plans)
}

/// Geometry of a 2-D sliding window over an NHWC input.
#[derive(Clone, Copy, Debug)]
struct Window {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    py: AxisPlan,
    px: AxisPlan,
}

impl Window {
    /// Input coordinate for output `o` and tap `k` along an axis, if inside the input.
    #[inline]
    fn src(o: usize, k: usize, s: usize, d: usize, before: usize, size: usize) -> Option<usize> {
        (o * s + k * d).checked_sub(before).filter(|&i| i < size)
    }
    fn iy(&self, oy: usize, ky: usize) -> Option<usize> {
        Self::src(oy, ky, self.sh, self.dh, self.py.before, self.h)
    }
    fn ix(&self, ox: usize, kx: usize) -> Option<usize> {
        Self::src(ox, kx, self.sw, self.dw, self.px.before, self.w)
    }
}

/// Conv2D without bias or activation: `x` (n, h, w, c), `kernel`
/// (kh, kw, c/groups, filters) → (n, oh, ow, filters).
pub fn conv2d(
    x: &ArrayD<f32>,
    kernel: &ArrayD<f32>,
    strides: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
    groups: usize,
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    if kernel.ndim() != 4 {
        return Err(LayerError::Config(format!(
            "kernel must have rank 4 (kh, kw, in/groups, filters), got shape {:?}",
            kernel.shape()
        )));
    }
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (kh, kw, cg, f) = (
        kernel.shape()[0],
        kernel.shape()[1],
        kernel.shape()[2],
        kernel.shape()[3],
    );
    if groups == 0 || f % groups != 0 {
        return Err(LayerError::Config(format!(
            "filters {f} must be a multiple of groups {groups}"
        )));
    }
    if cg.checked_mul(groups) != Some(c) {
        return Err(input_error(
            0,
            x,
            format!("has {c} channels but the kernel expects {cg} per group x {groups} group(s)"),
        ));
    }
    let [py, px] = plan_2d(x, padding, [kh, kw], strides, dilation)?;
    let win = Window {
        n,
        h,
        w,
        c,
        kh,
        kw,
        sh: strides[0],
        sw: strides[1],
        dh: dilation[0],
        dw: dilation[1],
        py,
        px,
    };
    let (oh, ow) = (py.out, px.out);
    let fg = f / groups;
    let patch = kh * kw * cg;

    let x = x.as_standard_layout();
    let xs = x
        .as_slice()
        .ok_or_else(|| input_error(0, &x.to_owned(), "not contiguous"))?;
    let kernel = kernel.as_standard_layout();
    let kmat = kernel
        .view()
        .into_shape_with_order((patch, f))
        .map_err(|e| LayerError::Config(format!("kernel reshape: {e}")))?;

    let mut out = Array2::<f32>::zeros((n * oh * ow, f));
    let pointwise = kh == 1 && kw == 1 && win.sh == 1 && win.sw == 1 && groups == 1;
    for b in 0..n {
        let sample = &xs[b * h * w * c..(b + 1) * h * w * c];
        let rows = b * oh * ow..(b + 1) * oh * ow;
        if pointwise {
            // 1x1, stride 1 (padding is then zero either way): the input already is the im2col matrix.
            let cols = ArrayView2::from_shape((h * w, c), sample)
                .map_err(|e| LayerError::Config(format!("input reshape: {e}")))?;
            out.slice_mut(s![rows, ..]).assign(&cols.dot(&kmat));
            continue;
        }
        for g in 0..groups {
            let cols = im2col(sample, &win, g * cg, cg);
            let kg = kmat.slice(s![.., g * fg..(g + 1) * fg]);
            out.slice_mut(s![rows.clone(), g * fg..(g + 1) * fg])
                .assign(&cols.dot(&kg));
        }
    }
    out.into_shape_with_order(IxDyn(&[n, oh, ow, f]))
        .map_err(|e| LayerError::Config(format!("output reshape: {e}")))
}

/// The im2col matrix of one sample: row `oy*ow + ox`, column `(ky*kw + kx)*cg + ci`
/// holds input channel `c0 + ci` under tap (ky, kx) of output pixel (oy, ox),
/// or 0 where the tap falls in the padding. Column order matches the HWIO
/// kernel flattened to `(kh*kw*cg, filters)`.
fn im2col(sample: &[f32], win: &Window, c0: usize, cg: usize) -> Array2<f32> {
    let (oh, ow) = (win.py.out, win.px.out);
    let patch = win.kh * win.kw * cg;
    let mut cols = Array2::<f32>::zeros((oh * ow, patch));
    for (r, mut row) in cols.axis_iter_mut(Axis(0)).enumerate() {
        let (oy, ox) = (r / ow, r % ow);
        let Some(row) = row.as_slice_mut() else {
            continue;
        };
        for ky in 0..win.kh {
            let Some(iy) = win.iy(oy, ky) else { continue };
            for kx in 0..win.kw {
                let Some(ix) = win.ix(ox, kx) else { continue };
                let src = (iy * win.w + ix) * win.c + c0;
                let dst = (ky * win.kw + kx) * cg;
                row[dst..dst + cg].copy_from_slice(&sample[src..src + cg]);
            }
        }
    }
    cols
}

/// DepthwiseConv2D without bias or activation: `x` (n, h, w, c), `kernel`
/// (kh, kw, c, dm) → (n, oh, ow, c*dm), output channel `ci*dm + m`.
pub fn depthwise_conv2d(
    x: &ArrayD<f32>,
    kernel: &ArrayD<f32>,
    strides: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    if kernel.ndim() != 4 {
        return Err(LayerError::Config(format!(
            "depthwise_kernel must have rank 4 (kh, kw, in, depth_multiplier), got shape {:?}",
            kernel.shape()
        )));
    }
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (kh, kw, kc, dm) = (
        kernel.shape()[0],
        kernel.shape()[1],
        kernel.shape()[2],
        kernel.shape()[3],
    );
    if kc != c {
        return Err(input_error(
            0,
            x,
            format!("has {c} channels but the kernel expects {kc}"),
        ));
    }
    let [py, px] = plan_2d(x, padding, [kh, kw], strides, dilation)?;
    let win = Window {
        n,
        h,
        w,
        c,
        kh,
        kw,
        sh: strides[0],
        sw: strides[1],
        dh: dilation[0],
        dw: dilation[1],
        py,
        px,
    };
    let (oh, ow, co) = (py.out, px.out, c * dm);

    let x = x.as_standard_layout();
    let xs = x
        .as_slice()
        .ok_or_else(|| input_error(0, &x.to_owned(), "not contiguous"))?;
    let kernel = kernel.as_standard_layout();
    let ks = kernel
        .as_slice()
        .ok_or_else(|| LayerError::Config("depthwise_kernel is not contiguous".into()))?;
    let mut out = vec![0.0f32; win.n * oh * ow * co];
    if co > 0 {
        for (p, out_px) in out.chunks_exact_mut(co).enumerate() {
            let (b, oy, ox) = (p / (oh * ow), (p / ow) % oh, p % ow);
            for ky in 0..kh {
                let Some(iy) = win.iy(oy, ky) else { continue };
                for kx in 0..kw {
                    let Some(ix) = win.ix(ox, kx) else { continue };
                    let src = ((b * h + iy) * w + ix) * c;
                    let in_px = &xs[src..src + c];
                    let tap = &ks[(ky * kw + kx) * co..(ky * kw + kx + 1) * co];
                    if dm == 1 {
                        for ((o, &v), &k) in out_px.iter_mut().zip(in_px).zip(tap) {
                            *o += v * k;
                        }
                    } else {
                        for ((o, &v), k) in out_px
                            .chunks_exact_mut(dm)
                            .zip(in_px)
                            .zip(tap.chunks_exact(dm))
                        {
                            for (o, &k) in o.iter_mut().zip(k) {
                                *o += v * k;
                            }
                        }
                    }
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[n, oh, ow, co]), out)
        .map_err(|e| LayerError::Config(format!("output shape: {e}")))
}

/// Adds a per-channel bias over the last axis (callers have checked that the
/// bias length equals the last axis, so the broadcast cannot fail).
fn add_bias(y: &mut ArrayD<f32>, bias: &ArrayD<f32>) {
    *y += bias;
}

/// Checks the parts of a 4-D kernel's shape that the config fixes (`None`
/// entries are checked elsewhere against the input).
fn check_kernel<'a>(
    layer: &'a Layer,
    name: &str,
    expected: [Option<usize>; 4],
) -> Result<&'a ArrayD<f32>, LayerError> {
    let k = layer
        .weight(name)
        .ok_or_else(|| LayerError::MissingWeight(name.into()))?;
    let fits = k.ndim() == 4
        && expected
            .iter()
            .zip(k.shape())
            .all(|(e, g)| e.is_none_or(|e| e == *g));
    if !fits {
        // Report the free dimension as whatever the kernel has there (or 0).
        let got = k.shape().to_vec();
        let expected = (0..4)
            .map(|i| expected[i].unwrap_or_else(|| got.get(i).copied().unwrap_or(0)))
            .collect();
        return Err(LayerError::WeightShape {
            weight: name.into(),
            got,
            expected,
        });
    }
    Ok(k)
}

/// The Keras `Conv2D` layer (weights `kernel`, `bias`).
pub fn conv2d_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::Conv2D {
        filters,
        kernel_size,
        strides,
        padding,
        dilation_rate,
        groups,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a Conv2D".into()));
    };
    expect_rank(0, x, 4)?;
    if *groups == 0 {
        return Err(LayerError::Config("groups must be >= 1".into()));
    }
    let kernel = check_kernel(
        layer,
        "kernel",
        [
            Some(kernel_size[0]),
            Some(kernel_size[1]),
            None,
            Some(*filters),
        ],
    )?;
    let mut y = conv2d(x, kernel, *strides, *dilation_rate, *padding, *groups)?;
    if *use_bias {
        add_bias(&mut y, weight(layer, "bias", &[*filters])?);
    }
    Ok(activation::apply(*activation, y))
}

/// The Keras `DepthwiseConv2D` layer (weights `depthwise_kernel`, `bias`).
pub fn depthwise_conv2d_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::DepthwiseConv2D {
        kernel_size,
        strides,
        padding,
        depth_multiplier,
        dilation_rate,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a DepthwiseConv2D".into()));
    };
    expect_rank(0, x, 4)?;
    let kernel = check_kernel(
        layer,
        "depthwise_kernel",
        [
            Some(kernel_size[0]),
            Some(kernel_size[1]),
            None,
            Some(*depth_multiplier),
        ],
    )?;
    let mut y = depthwise_conv2d(x, kernel, *strides, *dilation_rate, *padding)?;
    if *use_bias {
        add_bias(
            &mut y,
            weight(layer, "bias", &[x.shape()[3] * depth_multiplier])?,
        );
    }
    Ok(activation::apply(*activation, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, Weight};
    use ndarray::{Array, Array4};
    use proptest::prelude::*;

    fn arr(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    /// 0, 1, 2, … in row-major order.
    fn iota(shape: &[usize]) -> ArrayD<f32> {
        let len = shape.iter().product::<usize>();
        arr(shape, (0..len).map(|v| v as f32).collect())
    }

    #[test]
    fn same_padding_math() {
        // in 3, k 3, s 1: out 3, total (3-1)*1+3-3 = 2 -> (1, 1).
        assert_eq!(tf_same_padding(3, 3, 1, 1), (3, 1, 1));
        // in 3, k 2, s 2: out 2, total (2-1)*2+2-3 = 1 -> (0, 1): the extra one at the end.
        assert_eq!(tf_same_padding(3, 2, 2, 1), (2, 0, 1));
        // in 4, k 2, s 2: out 2, total (2-1)*2+2-4 = 0.
        assert_eq!(tf_same_padding(4, 2, 2, 1), (2, 0, 0));
        // in 5, k 3, d 2 (span 5), s 1: out 5, total 4+5-5 = 4 -> (2, 2).
        assert_eq!(tf_same_padding(5, 3, 1, 2), (5, 2, 2));
        // in 6, k 4, s 1: total 3 -> (1, 2).
        assert_eq!(tf_same_padding(6, 4, 1, 1), (6, 1, 2));
        // in 1, k 1, s 3: out 1, total 0 (never negative).
        assert_eq!(tf_same_padding(1, 1, 3, 1), (1, 0, 0));
        assert_eq!(
            plan_axis(Padding::Valid, 7, 3, 2, 1),
            Ok(AxisPlan {
                out: 3,
                before: 0,
                after: 0
            })
        );
        assert_eq!(plan_axis(Padding::Valid, 7, 3, 1, 3).map(|p| p.out), Ok(1)); // span 7
        assert!(plan_axis(Padding::Valid, 6, 3, 1, 3).is_err()); // span 7 > 6
        assert!(plan_axis(Padding::Same, 6, 3, 0, 1).is_err());
        assert!(plan_axis(Padding::Same, 6, 3, 1, usize::MAX / 2).is_err());
    }

    #[test]
    fn conv_3x3_input_2x2_kernel_stride2_same() {
        // x (1,3,3,1) = [[0,1,2],[3,4,5],[6,7,8]], kernel 2x2 all ones, stride 2, SAME:
        // out 2x2, pad total 1 per axis -> 0 before, 1 after (bottom/right).
        // out[0,0] = 0+1+3+4 = 8; out[0,1] = 2+5 (+pad) = 7; out[1,0] = 6+7 = 13; out[1,1] = 8.
        let x = iota(&[1, 3, 3, 1]);
        let k = arr(&[2, 2, 1, 1], vec![1.0; 4]);
        let y = conv2d(&x, &k, [2, 2], [1, 1], Padding::Same, 1).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[8.0, 7.0, 13.0, 8.0]);
    }

    #[test]
    fn conv_dilation_2() {
        // x (1,5,5,1) = iota, 2x2 kernel [[1,2],[3,4]] with dilation 2 (span 3), VALID: out 3x3.
        // out[0,0] = 1*x[0,0] + 2*x[0,2] + 3*x[2,0] + 4*x[2,2] = 0 + 4 + 30 + 48 = 82;
        // each step right adds (1+2+3+4)*1 = 10, each step down adds 10*5 = 50.
        let x = iota(&[1, 5, 5, 1]);
        let k = arr(&[2, 2, 1, 1], vec![1.0, 2.0, 3.0, 4.0]);
        let y = conv2d(&x, &k, [1, 1], [2, 2], Padding::Valid, 1).unwrap();
        assert_eq!(y.shape(), &[1, 3, 3, 1]);
        assert_eq!(y[[0, 0, 0, 0]], 82.0);
        assert_eq!(y[[0, 0, 2, 0]], 102.0);
        assert_eq!(y[[0, 2, 1, 0]], 192.0);
    }

    #[test]
    fn conv_groups_2() {
        // x (1,1,1,4) = [1,2,3,4], 1x1 kernel (1,1,2,2), groups 2:
        // group 0 sees [1,2] and filters 0,1; group 1 sees [3,4] and filters 2,3.
        // kernel[0,0] = [[1,10],[100,1000]] (rows: in channel within group, cols: filter).
        // out0 = 1*1 + 2*100 = 201, out1 = 1*10 + 2*1000 = 2010,
        // out2 = 3*1 + 4*100 = 403, out3 = 3*10 + 4*1000 = 4030.
        let x = arr(&[1, 1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]);
        let k = arr(
            &[1, 1, 2, 4],
            vec![1.0, 10.0, 1.0, 10.0, 100.0, 1000.0, 100.0, 1000.0],
        );
        let y = conv2d(&x, &k, [1, 1], [1, 1], Padding::Valid, 2).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[201.0, 2010.0, 403.0, 4030.0]);
    }

    #[test]
    fn depthwise_dm2_stride2_same() {
        // x (1,3,3,2): channel 0 = iota 0..8, channel 1 = all 1.
        // kernel 2x2, dm 2: channel 0 filters m0 = all 1, m1 = all 2; channel 1: m0 = all 10, m1 = all -1.
        // Stride 2 SAME on 3: out 2, pad (0, 1) per axis, windows as in the conv test above:
        // sums of channel 0 over windows = [8, 7, 13, 8]; counts of valid taps = [4, 2, 2, 1].
        // out channel order c*dm+m: [c0m0, c0m1, c1m0, c1m1] = [s, 2s, 10n, -n].
        let mut x = Array4::<f32>::ones((1, 3, 3, 2));
        for (i, v) in x.slice_mut(s![0, .., .., 0]).iter_mut().enumerate() {
            *v = i as f32;
        }
        let mut k = Array4::<f32>::zeros((2, 2, 2, 2));
        k.slice_mut(s![.., .., 0, 0]).fill(1.0);
        k.slice_mut(s![.., .., 0, 1]).fill(2.0);
        k.slice_mut(s![.., .., 1, 0]).fill(10.0);
        k.slice_mut(s![.., .., 1, 1]).fill(-1.0);
        let y =
            depthwise_conv2d(&x.into_dyn(), &k.into_dyn(), [2, 2], [1, 1], Padding::Same).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2, 4]);
        let s = [8.0, 7.0, 13.0, 8.0];
        let n = [4.0, 2.0, 2.0, 1.0];
        for p in 0..4 {
            let px = y.slice(s![0, p / 2, p % 2, ..]);
            assert_eq!(
                px.to_vec(),
                vec![s[p], 2.0 * s[p], 10.0 * n[p], -n[p]],
                "pixel {p}"
            );
        }
    }

    fn conv_layer(kernel: ArrayD<f32>, bias: Option<Vec<f32>>, activation: Activation) -> Layer {
        let ks = kernel.shape().to_vec();
        let mut weights = vec![Weight {
            name: "kernel".into(),
            value: kernel,
        }];
        if let Some(b) = &bias {
            weights.push(Weight {
                name: "bias".into(),
                value: arr(&[b.len()], b.clone()),
            });
        }
        Layer {
            name: "c".into(),
            kind: LayerKind::Conv2D {
                filters: ks[3],
                kernel_size: [ks[0], ks[1]],
                strides: [1, 1],
                padding: Padding::Valid,
                dilation_rate: [1, 1],
                groups: 1,
                use_bias: bias.is_some(),
                activation,
            },
            inbound: vec!["x".into()],
            weights,
        }
    }

    #[test]
    fn conv_layer_bias_activation_and_errors() {
        // x (1,1,1,2) = [1,2]; kernel 1x1 (2 -> 2) = [[1,-1],[1,-1]]: raw [3,-3]; bias [1,1] -> [4,-2]; relu -> [4,0].
        let x = arr(&[1, 1, 1, 2], vec![1.0, 2.0]);
        let k = arr(&[1, 1, 2, 2], vec![1.0, -1.0, 1.0, -1.0]);
        let l = conv_layer(k.clone(), Some(vec![1.0, 1.0]), Activation::Relu);
        assert_eq!(
            conv2d_layer(&l, &x).unwrap().as_slice().unwrap(),
            &[4.0, 0.0]
        );
        // Channels not matching the kernel.
        let x3 = arr(&[1, 1, 1, 3], vec![1.0; 3]);
        let e = conv2d_layer(&l, &x3).unwrap_err().to_string();
        assert!(e.contains("has 3 channels"), "{e}");
        // Wrong rank.
        let e = conv2d_layer(&l, &arr(&[1, 2], vec![1.0; 2]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected rank 4"), "{e}");
        // Bias of wrong shape.
        let mut bad = l.clone();
        bad.weights[1].value = arr(&[3], vec![0.0; 3]);
        let e = conv2d_layer(&bad, &x).unwrap_err().to_string();
        assert!(
            e.contains("weight 'bias' has shape [3], expected [2]"),
            "{e}"
        );
        // Kernel not matching kernel_size.
        let mut bad = l.clone();
        bad.weights[0].value = arr(&[1, 2, 2, 2], vec![0.0; 8]);
        assert!(matches!(
            conv2d_layer(&bad, &x),
            Err(LayerError::WeightShape { .. })
        ));
        // Missing bias.
        let mut bad = l.clone();
        bad.weights.pop();
        assert!(matches!(
            conv2d_layer(&bad, &x),
            Err(LayerError::MissingWeight(_))
        ));
        // Input smaller than a VALID kernel.
        let big = conv_layer(arr(&[3, 3, 2, 1], vec![0.0; 18]), None, Activation::Linear);
        assert!(matches!(
            conv2d_layer(&big, &x),
            Err(LayerError::InputShape { .. })
        ));
    }

    /// Direct-definition Conv2D for the property tests: for each output element,
    /// sum over taps and channels of the group, skipping taps in the padding.
    fn naive_conv(
        x: &Array4<f32>,
        k: &Array4<f32>,
        st: [usize; 2],
        dl: [usize; 2],
        pad: Padding,
        groups: usize,
    ) -> Array4<f32> {
        let (n, h, w, _c) = x.dim();
        let (kh, kw, cg, f) = k.dim();
        let py = plan_axis(pad, h, kh, st[0], dl[0]).unwrap();
        let px = plan_axis(pad, w, kw, st[1], dl[1]).unwrap();
        let fg = f / groups;
        Array4::from_shape_fn((n, py.out, px.out, f), |(b, oy, ox, fo)| {
            let g = fo / fg;
            let mut acc = 0.0f64;
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (oy * st[0] + ky * dl[0]) as isize - py.before as isize;
                    let ix = (ox * st[1] + kx * dl[1]) as isize - px.before as isize;
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                        continue;
                    }
                    for ci in 0..cg {
                        acc += (x[[b, iy as usize, ix as usize, g * cg + ci]] * k[[ky, kx, ci, fo]])
                            as f64;
                    }
                }
            }
            acc as f32
        })
    }

    /// Direct-definition DepthwiseConv2D: output channel c*dm+m = sum over taps of x[.., c] * k[.., c, m].
    fn naive_depthwise(
        x: &Array4<f32>,
        k: &Array4<f32>,
        st: [usize; 2],
        dl: [usize; 2],
        pad: Padding,
    ) -> Array4<f32> {
        let (n, h, w, _c) = x.dim();
        let (kh, kw, c, dm) = k.dim();
        let py = plan_axis(pad, h, kh, st[0], dl[0]).unwrap();
        let px = plan_axis(pad, w, kw, st[1], dl[1]).unwrap();
        Array4::from_shape_fn((n, py.out, px.out, c * dm), |(b, oy, ox, co)| {
            let (ci, m) = (co / dm, co % dm);
            let mut acc = 0.0f64;
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (oy * st[0] + ky * dl[0]) as isize - py.before as isize;
                    let ix = (ox * st[1] + kx * dl[1]) as isize - px.before as isize;
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                        continue;
                    }
                    acc += (x[[b, iy as usize, ix as usize, ci]] * k[[ky, kx, ci, m]]) as f64;
                }
            }
            acc as f32
        })
    }

    /// Tolerance for the property tests: the im2col path sums in a different
    /// order (matrixmultiply's blocking) and in f32, the reference in f64, so the
    /// results differ by rounding only: each of the <= 3*3*3 = 27 products is
    /// O(1) and contributes at most one f32 ULP (~1.2e-7 relative) of error, i.e.
    /// well under 1e-5 * max(|value|, 1). A wrong tap or channel changes a value
    /// by O(0.1), far above this.
    fn assert_close(got: &ArrayD<f32>, want: &ArrayD<f32>) -> Result<(), TestCaseError> {
        prop_assert_eq!(got.shape(), want.shape());
        for (i, (a, b)) in got.iter().zip(want.iter()).enumerate() {
            let tol = 1e-5 * b.abs().max(1.0);
            prop_assert!((a - b).abs() <= tol, "element {} got {} want {}", i, a, b);
        }
        Ok(())
    }

    fn random(shape: (usize, usize, usize, usize), seed: u64) -> Array4<f32> {
        // A small LCG: deterministic per proptest case, values in [-1, 1).
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Array::from_shape_simple_fn(shape, || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
    }

    fn padding() -> impl Strategy<Value = Padding> {
        prop_oneof![Just(Padding::Valid), Just(Padding::Same)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn conv2d_matches_definition(
            n in 1usize..3, h in 1usize..9, w in 1usize..9,
            groups in 1usize..3, cg in 1usize..4, fg in 1usize..4,
            kh in 1usize..4, kw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
            dh in 1usize..3, dw in 1usize..3, pad in padding(), seed in any::<u64>(),
        ) {
            let span = |k: usize, d: usize| (k - 1) * d + 1;
            prop_assume!(pad == Padding::Same || (h >= span(kh, dh) && w >= span(kw, dw)));
            let x = random((n, h, w, cg * groups), seed);
            let k = random((kh, kw, cg, fg * groups), seed ^ 0x9e37);
            let want = naive_conv(&x, &k, [sh, sw], [dh, dw], pad, groups).into_dyn();
            let got = conv2d(&x.into_dyn(), &k.into_dyn(), [sh, sw], [dh, dw], pad, groups).unwrap();
            assert_close(&got, &want)?;
        }

        #[test]
        fn depthwise_matches_definition(
            n in 1usize..3, h in 1usize..9, w in 1usize..9, c in 1usize..5, dm in 1usize..3,
            kh in 1usize..4, kw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
            dh in 1usize..3, dw in 1usize..3, pad in padding(), seed in any::<u64>(),
        ) {
            let span = |k: usize, d: usize| (k - 1) * d + 1;
            prop_assume!(pad == Padding::Same || (h >= span(kh, dh) && w >= span(kw, dw)));
            let x = random((n, h, w, c), seed);
            let k = random((kh, kw, c, dm), seed ^ 0x9e37);
            let want = naive_depthwise(&x, &k, [sh, sw], [dh, dw], pad).into_dyn();
            let got = depthwise_conv2d(&x.into_dyn(), &k.into_dyn(), [sh, sw], [dh, dw], pad).unwrap();
            assert_close(&got, &want)?;
        }
    }
}
