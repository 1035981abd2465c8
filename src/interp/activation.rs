//! Activations: the Keras classes `Activation`, `ReLU` and `Softmax`, and the
//! fused `activation=` argument of Conv2D / DepthwiseConv2D / Dense.
//!
//! Semantics (Keras 3.15 `keras.activations`, identical in tf-keras 2.21):
//! - `linear` is the identity; `relu` is `max(x, 0)`; `tanh` is `tanh(x)`;
//! - `sigmoid` is `1 / (1 + exp(-x))`, computed without overflow for large |x|;
//! - `softmax` (activation) works on the last axis; the `Softmax` layer on its
//!   `axis` (negative counts from the end). Both subtract the maximum first, so
//!   large logits do not overflow (as `tf.nn.softmax` does);
//! - `ReLU(max_value, negative_slope, threshold)` follows
//!   `keras.activations.relu` exactly: the positive part is `x` where
//!   `x > threshold` (strictly, when threshold != 0) and 0 elsewhere, clipped to
//!   `[0, max_value]`; then `negative_slope * max(threshold - x, 0)` is
//!   subtracted. This is the documented
//!   `f(x) = max_value if x >= max_value; x if threshold <= x < max_value;
//!   negative_slope * (x - threshold) otherwise`, except at exactly
//!   `x == threshold != 0`, where Keras (and so this code) gives 0.
//!   Negative `max_value`, `negative_slope` or `threshold` are rejected, as
//!   Keras's `ReLU.__init__` rejects them.
//!
//! - `elu` (alpha 1) is `x` for `x > 0`, else `exp(x) - 1`; `selu` is
//!   `scale * elu(x, alpha)` with Keras's constants alpha = 1.67326324,
//!   scale = 1.05070098; `softplus` is `log(1 + exp(x))` computed as
//!   `max(x, 0) + log1p(exp(-|x|))` (no overflow); `softsign` is `x / (1 + |x|)`;
//!   `exponential` is `exp(x)`; `swish` (Keras 3's silu) is `x * sigmoid(x)`;
//!   `gelu` is the exact form `0.5 * x * (1 + erf(x / sqrt 2))`, with `erf` from
//!   Abramowitz & Stegun 7.1.26 in f64 (absolute error <= 1.5e-7, below f32
//!   resolution of the result for |x| < 1 and far below compare tolerances);
//! - `LeakyReLU(alpha)` is `x` for `x >= 0`, else `alpha * x`.
//!
//! Not handled yet: gelu `approximate=True`, hard_sigmoid / hard_swish (the two
//! Kerases disagree on hard_sigmoid), PReLU, a tuple of axes for `Softmax`, masks.

use ndarray::{ArrayD, Axis, Zip};

use super::{LayerError, resolve_axis};
use crate::keras::Activation;

/// Applies a Keras activation function (softmax over the last axis).
pub fn apply(activation: Activation, mut x: ArrayD<f32>) -> ArrayD<f32> {
    match activation {
        Activation::Linear => {}
        Activation::Softmax => {
            if x.ndim() > 0 {
                let last = Axis(x.ndim() - 1);
                softmax_inplace(&mut x, last);
            }
        }
        elementwise => x.mapv_inplace(|v| scalar(elementwise, v)),
    }
    x
}

/// One element of an elementwise Keras activation (the recurrent layers'
/// `activation` / `recurrent_activation`); `None` for softmax, which needs
/// the whole last axis.
pub fn elementwise(activation: Activation) -> Option<impl Fn(f32) -> f32 + Copy> {
    (activation != Activation::Softmax).then_some(move |v| scalar(activation, v))
}

/// `activation` of one element (softmax: of a one-element axis, 1; callers
/// take softmax over the whole axis instead).
fn scalar(activation: Activation, v: f32) -> f32 {
    match activation {
        Activation::Linear => v,
        Activation::Relu => v.max(0.0),
        Activation::Sigmoid => sigmoid(v),
        Activation::Tanh => v.tanh(),
        Activation::Softmax => 1.0,
        Activation::Elu => elu(v),
        Activation::Selu => SELU_SCALE * if v > 0.0 { v } else { SELU_ALPHA * v.exp_m1() },
        Activation::Softplus => v.max(0.0) + (-v.abs()).exp().ln_1p(),
        Activation::Softsign => v / (1.0 + v.abs()),
        Activation::Exponential => v.exp(),
        Activation::Swish => v * sigmoid(v),
        Activation::Gelu => gelu(v),
    }
}

/// `keras.activations.selu`'s constants.
pub const SELU_ALPHA: f32 = 1.673_263_2;
pub const SELU_SCALE: f32 = 1.050_701;

fn elu(v: f32) -> f32 {
    if v > 0.0 { v } else { v.exp_m1() }
}

/// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`, evaluated in f64.
fn gelu(v: f32) -> f32 {
    let x = f64::from(v);
    (0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))) as f32
}

/// Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7 for every x.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

/// The Keras `LeakyReLU` layer: `x` where `x >= 0`, `alpha * x` elsewhere.
pub fn leaky_relu_layer(x: &ArrayD<f32>, alpha: f32) -> Result<ArrayD<f32>, LayerError> {
    if !alpha.is_finite() {
        return Err(LayerError::Config(format!(
            "alpha must be finite, got {alpha}"
        )));
    }
    Ok(x.mapv(|v| if v >= 0.0 { v } else { alpha * v }))
}

/// `1 / (1 + e^-x)` in a form that never computes `e^` of a large positive number.
fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// Numerically stable softmax along `axis`, in place.
fn softmax_inplace(x: &mut ArrayD<f32>, axis: Axis) {
    for mut lane in x.lanes_mut(axis) {
        let max = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        lane.mapv_inplace(|v| (v - max).exp());
        let sum = lane.sum();
        lane.mapv_inplace(|v| v / sum);
    }
}

/// The Keras `Softmax` layer: softmax along `axis` (negative from the end).
pub fn softmax_layer(x: &ArrayD<f32>, axis: i64) -> Result<ArrayD<f32>, LayerError> {
    let a = resolve_axis(axis, x.ndim()).ok_or_else(|| {
        super::input_error(
            0,
            x,
            format!("axis {axis} is out of range for rank {}", x.ndim()),
        )
    })?;
    let mut y = x.clone();
    softmax_inplace(&mut y, Axis(a));
    Ok(y)
}

/// The Keras `ReLU` layer; see the module header for the exact semantics.
pub fn relu_layer(
    x: &ArrayD<f32>,
    max_value: Option<f32>,
    negative_slope: f32,
    threshold: f32,
) -> Result<ArrayD<f32>, LayerError> {
    // NaN is rejected too (it would make `clamp` panic).
    if max_value.is_some_and(|m| m < 0.0 || m.is_nan()) {
        return Err(LayerError::Config(format!(
            "max_value must be >= 0, got {max_value:?}"
        )));
    }
    if negative_slope < 0.0 || negative_slope.is_nan() {
        return Err(LayerError::Config(format!(
            "negative_slope must be >= 0, got {negative_slope}"
        )));
    }
    if threshold < 0.0 || threshold.is_nan() {
        return Err(LayerError::Config(format!(
            "threshold must be >= 0, got {threshold}"
        )));
    }
    let mut y = x.clone();
    Zip::from(&mut y).for_each(|v| *v = relu(*v, max_value, negative_slope, threshold));
    Ok(y)
}

/// Scalar `keras.activations.relu` (see the module header).
fn relu(x: f32, max_value: Option<f32>, negative_slope: f32, threshold: f32) -> f32 {
    let mut pos = if threshold != 0.0 {
        if x > threshold { x } else { 0.0 }
    } else {
        x.max(0.0)
    };
    if let Some(m) = max_value {
        pos = pos.clamp(0.0, m);
    }
    let neg = if negative_slope != 0.0 {
        negative_slope * (threshold - x).max(0.0)
    } else {
        0.0
    };
    pos - neg
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{IxDyn, arr1, arr2};

    fn d(a: ndarray::Array2<f32>) -> ArrayD<f32> {
        a.into_dyn()
    }

    #[test]
    fn relu6_and_leaky_and_threshold() {
        let x = arr1(&[-2.0f32, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0]).into_dyn();
        // relu6: clip to [0, 6].
        let y = relu_layer(&x, Some(6.0), 0.0, 0.0).unwrap();
        assert_eq!(
            y.as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 0.5, 1.0, 3.0, 6.0, 6.0]
        );
        // leaky 0.1: x<0 -> 0.1x.
        let y = relu_layer(&x, None, 0.1, 0.0).unwrap();
        assert_eq!(
            y.as_slice().unwrap(),
            &[-0.2, -0.05, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0]
        );
        // threshold 1, slope 0.5, max 6: x<1 -> 0.5(x-1); x==1 -> 0 (Keras uses x > threshold);
        // 1<x<6 -> x; x>=6 -> 6.
        // -2 -> -1.5; -0.5 -> -0.75; 0 -> -0.5; 0.5 -> -0.25; 1 -> 0; 3 -> 3; 6 -> 6; 7 -> 6.
        let y = relu_layer(&x, Some(6.0), 0.5, 1.0).unwrap();
        assert_eq!(
            y.as_slice().unwrap(),
            &[-1.5, -0.75, -0.5, -0.25, 0.0, 3.0, 6.0, 6.0]
        );
        assert!(relu_layer(&x, Some(-1.0), 0.0, 0.0).is_err());
        assert!(relu_layer(&x, Some(f32::NAN), 0.0, 0.0).is_err());
        assert!(relu_layer(&x, None, -0.1, 0.0).is_err());
    }

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_logits() {
        // [0, ln 3] -> [1/4, 3/4]; [1000, 1000] -> [1/2, 1/2] (would be inf/inf unshifted).
        let x = d(arr2(&[[0.0f32, 3f32.ln()], [1000.0, 1000.0]]));
        let y = apply(Activation::Softmax, x.clone());
        assert!((y[[0, 0]] - 0.25).abs() < 1e-6 && (y[[0, 1]] - 0.75).abs() < 1e-6);
        assert_eq!(y[[1, 0]], 0.5);
        for row in y.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-6);
        }
        assert_eq!(softmax_layer(&x, -1).unwrap(), y);
    }

    #[test]
    fn softmax_layer_on_axis_1_of_rank_3() {
        // shape (1, 2, 2): softmax over axis 1 pairs x[0,0,c] with x[0,1,c].
        // column c=0: [0, 0] -> [.5, .5]; column c=1: [0, ln 3] -> [.25, .75].
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2, 2]), vec![0.0, 0.0, 0.0, 3f32.ln()]).unwrap();
        let y = softmax_layer(&x, 1).unwrap();
        let want = [0.5, 0.25, 0.5, 0.75];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{y}");
        }
        assert!(softmax_layer(&x, 3).is_err());
        assert!(softmax_layer(&x, -4).is_err());
    }

    #[test]
    fn elu_selu_softplus_softsign_exponential() {
        let x = arr1(&[-2.0f32, -0.5, 0.0, 0.5, 2.0]).into_dyn();
        let close = |got: &ArrayD<f32>, want: [f32; 5]| {
            for (a, b) in got.iter().zip(want) {
                // 1e-6: the hand values below are rounded to 7 significant digits.
                assert!((a - b).abs() < 1e-6, "{got} vs {want:?}");
            }
        };
        // elu: e^-2 - 1 = -0.8646647, e^-0.5 - 1 = -0.3934693, identity for x >= 0.
        close(
            &apply(Activation::Elu, x.clone()),
            [-0.864_664_7, -0.393_469_3, 0.0, 0.5, 2.0],
        );
        // selu = 1.0507010 * (x > 0 ? x : 1.6732632 (e^x - 1)):
        // -2 -> -1.5201665, -0.5 -> -0.6917582, 0.5 -> 0.5253505, 2 -> 2.1014020.
        close(
            &apply(Activation::Selu, x.clone()),
            [-1.520_166_5, -0.691_758_2, 0.0, 0.525_350_5, 2.101_402],
        );
        // softplus = ln(1 + e^x): 0.1269280, 0.4740770, ln 2 = 0.6931472, 0.9740770, 2.1269280.
        close(
            &apply(Activation::Softplus, x.clone()),
            [
                0.126_928,
                0.474_077,
                std::f32::consts::LN_2,
                0.974_077,
                2.126_928,
            ],
        );
        // Large |x| neither overflows nor loses the linear part.
        let big = apply(Activation::Softplus, arr1(&[-200.0f32, 200.0]).into_dyn());
        assert_eq!(big.as_slice().unwrap(), &[0.0, 200.0]);
        // softsign = x / (1 + |x|): -2/3, -1/3, 0, 1/3, 2/3.
        close(
            &apply(Activation::Softsign, x.clone()),
            [-2.0 / 3.0, -1.0 / 3.0, 0.0, 1.0 / 3.0, 2.0 / 3.0],
        );
        // exponential: e^-2 = 0.1353353, e^-0.5 = 0.6065307, 1, 1.6487213, 7.3890561.
        close(
            &apply(Activation::Exponential, x.clone()),
            [0.135_335_3, 0.606_530_7, 1.0, 1.648_721_3, 7.389_056],
        );
    }

    #[test]
    fn swish_gelu_leaky() {
        let x = arr1(&[-2.0f32, -0.5, 0.0, 0.5, 2.0]).into_dyn();
        // swish = x sigmoid(x): sigmoid(2) = 0.8807971, sigmoid(0.5) = 0.6224593.
        // -2 * 0.1192029 = -0.2384058, -0.5 * 0.3775407 = -0.1887703, 0.3112297, 1.7615942.
        let want = [-0.238_405_8, -0.188_770_3, 0.0, 0.311_229_7, 1.761_594_2];
        for (a, b) in apply(Activation::Swish, x.clone()).iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // gelu exact = 0.5 x (1 + erf(x / sqrt 2)) = x * Phi(x), Phi the normal CDF:
        // Phi(-2) = 0.0227501, Phi(-0.5) = 0.3085375, Phi(0.5) = 0.6914625, Phi(2) = 0.9772499.
        // -> -0.0455003, -0.1542688, 0, 0.3457312, 1.9544997.
        let want = [-0.045_500_3, -0.154_268_8, 0.0, 0.345_731_2, 1.954_499_7];
        for (a, b) in apply(Activation::Gelu, x.clone()).iter().zip(want) {
            // 1e-6: erf's A&S error (<= 1.5e-7) times |x|/2, plus the rounding of the hand values.
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // LeakyReLU(0.2): negatives scaled, non-negatives kept.
        let y = leaky_relu_layer(&x, 0.2).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-0.4, -0.1, 0.0, 0.5, 2.0]);
        assert!(leaky_relu_layer(&x, f32::NAN).is_err());
    }

    #[test]
    fn sigmoid_tanh_relu_linear() {
        let x = arr1(&[-100.0f32, -1.0, 0.0, 1.0, 100.0]).into_dyn();
        let s = apply(Activation::Sigmoid, x.clone());
        // sigmoid(±1) = 1/(1+e^∓1) ≈ 0.268941, 0.731059; saturates at 0 / 1 without NaN.
        let want = [0.0, 0.268_941_4, 0.5, 0.731_058_6, 1.0];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s}");
        }
        let t = apply(Activation::Tanh, x.clone());
        assert!((t[1] + 0.761_594_2).abs() < 1e-6);
        assert_eq!(
            apply(Activation::Relu, x.clone()).as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 1.0, 100.0]
        );
        assert_eq!(apply(Activation::Linear, x.clone()), x);
    }
}
