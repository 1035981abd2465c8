//! Preprocessing and parametric element-wise layers: the Keras classes
//! `Rescaling`, `Normalization` and `PReLU`.
//!
//! Semantics (Keras 3.15 and tf-keras 2.21 agree on all three):
//! - `Rescaling(scale, offset)`: `x * scale + offset`, two f32 roundings in
//!   that order (no fused multiply-add), as both Kerases compute it;
//! - `Normalization(axis, mean, variance)`, `invert=False`:
//!   `(x - mean) / max(sqrt(variance), 1e-7)` (1e-7 is `keras.backend.epsilon()`),
//!   `mean`/`variance` holding one value per position of `axis` (or a single
//!   value for every element);
//! - `PReLU`: `relu(x) - alpha * relu(-x)`, i.e. `x` where `x >= 0`, else
//!   `alpha * x` (exact: both products are the same f32 product). `alpha` has
//!   the input's shape without the batch axis, with size 1 along `shared_axes`,
//!   and broadcasts there.
//!
//! Not handled yet: per-channel (vector) `Rescaling` scale/offset,
//! `Normalization` over several axes or with `invert=True`, masks.

use ndarray::{ArrayD, Axis, IxDyn};

use super::{LayerError, input_error, resolve_axis};
use crate::keras::Layer;

/// `x * scale + offset`.
pub fn rescaling(x: &ArrayD<f32>, scale: f32, offset: f32) -> ArrayD<f32> {
    x.mapv(|v| v * scale + offset)
}

/// `(x - mean) / max(sqrt(variance), 1e-7)` along `axis`.
pub fn normalization(
    x: &ArrayD<f32>,
    axis: i64,
    mean: &[f32],
    variance: &[f32],
) -> Result<ArrayD<f32>, LayerError> {
    if mean.len() != variance.len() {
        return Err(LayerError::Config(format!(
            "mean has {} values, variance {}",
            mean.len(),
            variance.len()
        )));
    }
    let denom: Vec<f32> = variance.iter().map(|v| v.sqrt().max(1e-7)).collect();
    let mut y = x.clone();
    if mean.len() == 1 {
        let (m, d) = (mean[0], denom[0]);
        y.mapv_inplace(|v| (v - m) / d);
        return Ok(y);
    }
    let a = resolve_axis(axis, x.ndim()).ok_or_else(|| {
        input_error(
            0,
            x,
            format!("axis {axis} is out of range for rank {}", x.ndim()),
        )
    })?;
    if x.shape()[a] != mean.len() {
        return Err(input_error(
            0,
            x,
            format!(
                "axis {axis} has {} positions, mean/variance {}",
                x.shape()[a],
                mean.len()
            ),
        ));
    }
    for (ci, mut slab) in y.axis_iter_mut(Axis(a)).enumerate() {
        let (m, d) = (mean[ci], denom[ci]);
        slab.mapv_inplace(|v| (v - m) / d);
    }
    Ok(y)
}

/// The Keras `PReLU` layer: weight `alpha` broadcast over the batch axis and
/// the shared axes.
pub fn prelu_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let alpha = layer
        .weight("alpha")
        .ok_or_else(|| LayerError::MissingWeight("alpha".into()))?;
    if x.ndim() == 0 || alpha.ndim() != x.ndim() - 1 {
        return Err(input_error(
            0,
            x,
            format!(
                "alpha has shape {:?}, which does not fit the input without its batch axis",
                alpha.shape()
            ),
        ));
    }
    let mut full = vec![1];
    full.extend_from_slice(alpha.shape());
    let fits = full.iter().zip(x.shape()).all(|(&a, &d)| a == d || a == 1);
    let alpha = alpha
        .view()
        .into_shape_with_order(IxDyn(&full))
        .ok()
        .filter(|_| fits)
        .and_then(|a| a.broadcast(x.raw_dim()).map(|b| b.to_owned()))
        .ok_or_else(|| LayerError::WeightShape {
            weight: "alpha".into(),
            got: layer
                .weight("alpha")
                .map(|a| a.shape().to_vec())
                .unwrap_or_default(),
            expected: x.shape()[1..].to_vec(),
        })?;
    let mut y = x.clone();
    ndarray::Zip::from(&mut y).and(&alpha).for_each(|v, &a| {
        if *v < 0.0 {
            *v *= a;
        }
    });
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{LayerKind, Weight};

    fn arr(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    #[test]
    fn rescaling_is_scale_then_offset() {
        // 1/127.5 and -1 as MobileNetV3 uses: 0 -> -1, 127.5 -> 0, 255 -> 1.
        let y = rescaling(&arr(&[3], vec![0.0, 127.5, 255.0]), 1.0 / 127.5, -1.0);
        assert_eq!(y.as_slice().unwrap(), &[-1.0, 0.0, 1.0]);
    }

    #[test]
    fn normalization_per_channel_and_epsilon_floor() {
        // channel 0: (x - 1) / sqrt(4) = (x - 1) / 2; channel 1: variance 0 -> divide by 1e-7.
        let x = arr(&[1, 2, 2], vec![3.0, 1.0, -1.0, 1.5]);
        let y = normalization(&x, -1, &[1.0, 1.0], &[4.0, 0.0]).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[1.0, 0.0, -1.0, 0.5 / 1e-7]);
    }

    #[test]
    fn normalization_rejects_wrong_channel_count() {
        let x = arr(&[1, 3], vec![0.0; 3]);
        assert!(normalization(&x, -1, &[0.0, 0.0], &[1.0, 1.0]).is_err());
        assert!(normalization(&x, 5, &[0.0, 0.0, 0.0], &[1.0; 3]).is_err());
    }

    fn prelu(alpha: ArrayD<f32>) -> Layer {
        Layer {
            name: "p".into(),
            kind: LayerKind::PReLU {
                shared_axes: vec![1, 2],
            },
            inbound: vec![],
            weights: vec![Weight {
                name: "alpha".into(),
                value: alpha,
            }],
        }
    }

    #[test]
    fn prelu_scales_negatives_per_channel() {
        // NHWC (1, 1, 2, 2), alpha shared over H and W: shape (1, 1, 2).
        let x = arr(&[1, 1, 2, 2], vec![-2.0, -2.0, 3.0, -4.0]);
        let y = prelu_layer(&prelu(arr(&[1, 1, 2], vec![0.5, 0.25])), &x).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-1.0, -0.5, 3.0, -1.0]);
    }

    #[test]
    fn prelu_rejects_alpha_that_does_not_broadcast() {
        let x = arr(&[1, 1, 2, 2], vec![0.0; 4]);
        assert!(prelu_layer(&prelu(arr(&[1, 1, 3], vec![0.0; 3])), &x).is_err());
        assert!(prelu_layer(&prelu(arr(&[2], vec![0.0; 2])), &x).is_err());
    }
}
