//! Layer normalisation: the Keras class `LayerNormalization`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21, `rms_scaling=False`): over the
//! normalised axis, `mean` and the biased variance `var` (divided by n, not
//! n-1), then `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`, with
//! `gamma` (if `scale`) and `beta` (if `center`) of the axis' length. Both
//! frameworks compute it as `x * inv + (beta - mean * inv)` with
//! `inv = rsqrt(var + eps) * gamma`; this file uses the same arrangement, with
//! the moments accumulated in f64.
//!
//! Not handled yet: several axes (`axis=[1, 2, 3]`), `rms_scaling=True`.

use ndarray::{ArrayD, Axis};

use super::{LayerError, input_error, resolve_axis, weight};
use crate::keras::{Layer, LayerKind};

/// The Keras `LayerNormalization` layer (weights `gamma` if `scale`, `beta` if `center`).
pub fn layer_norm_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::LayerNormalization {
        axis,
        epsilon,
        center,
        scale,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a LayerNormalization".into()));
    };
    let a = resolve_axis(*axis, x.ndim())
        .filter(|&a| a > 0)
        .ok_or_else(|| input_error(0, x, format!("axis {axis} is not a feature axis")))?;
    let n = x.shape()[a];
    let gamma = if *scale {
        Some(weight(layer, "gamma", &[n])?)
    } else {
        None
    };
    let beta = if *center {
        Some(weight(layer, "beta", &[n])?)
    } else {
        None
    };
    let mut y = x.as_standard_layout().into_owned();
    for mut lane in y.lanes_mut(Axis(a)) {
        let len = lane.len().max(1) as f64;
        let mean = lane.iter().map(|&v| f64::from(v)).sum::<f64>() / len;
        let var = lane
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / len;
        let rsqrt = 1.0 / (var + f64::from(*epsilon)).sqrt();
        for (k, v) in lane.iter_mut().enumerate() {
            let inv = rsqrt * gamma.map_or(1.0, |g| f64::from(g[k]));
            let shift = beta.map_or(0.0, |b| f64::from(b[k])) - mean * inv;
            *v = (f64::from(*v) * inv + shift) as f32;
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Weight;
    use ndarray::IxDyn;

    fn ln(center: bool, scale: bool, gamma: Vec<f32>, beta: Vec<f32>) -> Layer {
        let mut weights = Vec::new();
        if scale {
            weights.push(Weight {
                name: "gamma".into(),
                value: ArrayD::from_shape_vec(IxDyn(&[gamma.len()]), gamma).unwrap(),
            });
        }
        if center {
            weights.push(Weight {
                name: "beta".into(),
                value: ArrayD::from_shape_vec(IxDyn(&[beta.len()]), beta).unwrap(),
            });
        }
        Layer {
            name: "ln".into(),
            kind: LayerKind::LayerNormalization {
                axis: -1,
                epsilon: 0.0,
                center,
                scale,
            },
            inbound: vec!["x".into()],
            weights,
        }
    }

    #[test]
    fn normalises_the_last_axis_then_scales_and_shifts() {
        // Row [1, 3]: mean 2, var 1 -> [-1, 1]; * gamma [2, 3] -> [-2, 3]; + beta [1, -1] -> [-1, 2].
        // Row [0, 0]: var 0 with epsilon 0 would divide by zero, so use rows with spread:
        // row [5, 9]: mean 7, var 4 -> [-1, 1] -> [-2, 3] -> [-1, 2].
        let l = ln(true, true, vec![2.0, 3.0], vec![1.0, -1.0]);
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2, 2]), vec![1.0, 3.0, 5.0, 9.0]).unwrap();
        let y = layer_norm_layer(&l, &x).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2]);
        assert_eq!(y.as_slice().unwrap(), &[-1.0, 2.0, -1.0, 2.0]);
    }

    #[test]
    fn without_center_and_scale_it_only_standardises() {
        // [0, 2, 4, 6]: mean 3, var (9+1+1+9)/4 = 5 -> (x-3)/sqrt(5).
        let l = ln(false, false, vec![], vec![]);
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 4]), vec![0.0, 2.0, 4.0, 6.0]).unwrap();
        let y = layer_norm_layer(&l, &x).unwrap();
        let s = 5f32.sqrt();
        for (got, want) in y.iter().zip([-3.0 / s, -1.0 / s, 1.0 / s, 3.0 / s]) {
            // f64 moments rounded once to f32: within 1 ulp-ish of the exact value.
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn wrong_gamma_length_and_batch_axis_are_errors() {
        let l = ln(true, true, vec![1.0; 3], vec![0.0; 3]);
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![1.0, 2.0]).unwrap();
        assert!(matches!(
            layer_norm_layer(&l, &x),
            Err(LayerError::WeightShape { .. })
        ));
        let mut b = ln(false, false, vec![], vec![]);
        if let LayerKind::LayerNormalization { axis, .. } = &mut b.kind {
            *axis = 0;
        }
        assert!(layer_norm_layer(&b, &x).is_err());
    }
}
