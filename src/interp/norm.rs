//! Normalisation: the Keras class `BatchNormalization`, inference mode.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21, `training=False`):
//! `y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta`
//! along `axis` (negative counts from the end), `gamma = 1` without `scale`,
//! `beta = 0` without `center`. Computed in the same fused form as
//! `tf.nn.batch_normalization`: `inv = gamma / sqrt(var + eps)`,
//! `y = x * inv + (beta - mean * inv)`, so rounding matches TensorFlow's
//! closely.
//!
//! Weights, in Keras order, those that exist: `gamma`, `beta`, `moving_mean`,
//! `moving_variance`, each of shape `(C,)` with `C = x.shape[axis]`.
//!
//! Not handled yet: training mode, `renorm`, several axes, masks,
//! LayerNormalization / GroupNormalization.

use ndarray::{Array1, ArrayD, Axis};

use super::{LayerError, input_error, resolve_axis, weight};
use crate::keras::{Layer, LayerKind};

/// The Keras `BatchNormalization` layer in inference mode.
pub fn batch_norm_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::BatchNormalization {
        axis,
        epsilon,
        center,
        scale,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a BatchNormalization".into()));
    };
    let a = resolve_axis(*axis, x.ndim()).ok_or_else(|| {
        input_error(
            0,
            x,
            format!("axis {axis} is out of range for rank {}", x.ndim()),
        )
    })?;
    let c = x.shape()[a];
    let vector = |name: &str| -> Result<Array1<f32>, LayerError> {
        let w = weight(layer, name, &[c])?;
        Ok(w.iter().copied().collect())
    };
    let mean = vector("moving_mean")?;
    let var = vector("moving_variance")?;
    let gamma = if *scale { Some(vector("gamma")?) } else { None };
    let beta = if *center { Some(vector("beta")?) } else { None };

    // inv = gamma / sqrt(var + eps); shift = beta - mean * inv (per channel).
    let mut inv = var.mapv(|v| 1.0 / (v + epsilon).sqrt());
    if let Some(g) = &gamma {
        inv *= g;
    }
    let mut shift = -(&mean * &inv);
    if let Some(b) = &beta {
        shift += b;
    }

    let mut y = x.clone();
    for (ci, mut slab) in y.axis_iter_mut(Axis(a)).enumerate() {
        let (s, t) = (inv[ci], shift[ci]);
        slab.mapv_inplace(|v| v * s + t);
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Weight;
    use ndarray::IxDyn;

    fn w(name: &str, v: Vec<f32>) -> Weight {
        Weight {
            name: name.into(),
            value: ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).unwrap(),
        }
    }

    fn bn(axis: i64, center: bool, scale: bool, weights: Vec<Weight>) -> Layer {
        Layer {
            name: "bn".into(),
            kind: LayerKind::BatchNormalization {
                axis,
                epsilon: 1e-3,
                center,
                scale,
            },
            inbound: vec!["x".into()],
            weights,
        }
    }

    #[test]
    fn matches_the_formula_on_last_axis() {
        let gamma = [2.0f32, 0.5];
        let beta = [1.0f32, -1.0];
        let mean = [0.5f32, -2.0];
        let var = [4.0f32, 0.25];
        let l = bn(
            -1,
            true,
            true,
            vec![
                w("gamma", gamma.to_vec()),
                w("beta", beta.to_vec()),
                w("moving_mean", mean.to_vec()),
                w("moving_variance", var.to_vec()),
            ],
        );
        let x = ArrayD::from_shape_fn(IxDyn(&[2, 3, 2]), |i| {
            (i[0] * 6 + i[1] * 2 + i[2]) as f32 - 5.0
        });
        let y = batch_norm_layer(&l, &x).unwrap();
        for (i, (&xv, &yv)) in x.iter().zip(y.iter()).enumerate() {
            let c = i % 2;
            // The textbook formula, evaluated in f64.
            let want = gamma[c] as f64 * (xv as f64 - mean[c] as f64)
                / (var[c] as f64 + 1e-3).sqrt()
                + beta[c] as f64;
            // Fused vs textbook order: a few f32 ULPs on values of magnitude <= ~15.
            assert!(
                (yv as f64 - want).abs() < 1e-5,
                "element {i}: {yv} vs {want}"
            );
        }
    }

    #[test]
    fn without_center_and_scale_on_axis_1() {
        // axis 1 of (1, 2, 2): channel = i[1]. mean [1, 0], var [1-eps, 4-eps] so sqrt(var+eps) = [1, 2].
        // x = [[3, 5], [4, 8]] -> channel 0: (3-1)/1, (5-1)/1 = [2, 4]; channel 1: 4/2, 8/2 = [2, 4].
        let l = bn(
            1,
            false,
            false,
            vec![
                w("moving_mean", vec![1.0, 0.0]),
                w("moving_variance", vec![1.0 - 1e-3, 4.0 - 1e-3]),
            ],
        );
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2, 2]), vec![3.0, 5.0, 4.0, 8.0]).unwrap();
        let y = batch_norm_layer(&l, &x).unwrap();
        for (a, b) in y.iter().zip([2.0, 4.0, 2.0, 4.0]) {
            assert!((a - b).abs() < 1e-6, "{y}");
        }
    }

    #[test]
    fn errors() {
        let l = bn(
            -1,
            true,
            true,
            vec![
                w("moving_mean", vec![0.0; 2]),
                w("moving_variance", vec![1.0; 2]),
            ],
        );
        let x = ArrayD::zeros(IxDyn(&[1, 2]));
        assert!(
            matches!(batch_norm_layer(&l, &x), Err(LayerError::MissingWeight(n)) if n == "gamma")
        );
        let x3 = ArrayD::zeros(IxDyn(&[1, 3]));
        assert!(matches!(
            batch_norm_layer(&l, &x3),
            Err(LayerError::WeightShape { .. })
        ));
        assert!(matches!(
            batch_norm_layer(&bn(5, false, false, vec![]), &x),
            Err(LayerError::InputShape { .. })
        ));
    }
}
