//! Fully connected: the Keras class `Dense`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21): `y = activation(x · kernel + bias)`
//! with `kernel` of shape `(in, units)` and `bias` `(units)`. On inputs of
//! rank 3 or more Dense works on the LAST axis only (Keras uses `matmul`,
//! which broadcasts over the leading axes), so `(b, t, in)` → `(b, t, units)`.
//!
//! Not handled yet: `EinsumDense`, LoRA-enabled Dense, quantized kernels.

use ndarray::{ArrayD, IxDyn};

use super::{LayerError, activation, input_error, weight};
use crate::keras::{Layer, LayerKind};

/// The Keras `Dense` layer (weights `kernel`, `bias`).
pub fn dense_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::Dense {
        units,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a Dense".into()));
    };
    if x.ndim() < 2 {
        return Err(input_error(
            0,
            x,
            "Dense needs rank >= 2 (batch, ..., features)",
        ));
    }
    let features = x.shape()[x.ndim() - 1];
    let kernel = layer
        .weight("kernel")
        .ok_or_else(|| LayerError::MissingWeight("kernel".into()))?;
    if kernel.ndim() != 2 || kernel.shape()[1] != *units {
        return Err(LayerError::WeightShape {
            weight: "kernel".into(),
            got: kernel.shape().to_vec(),
            expected: vec![features, *units],
        });
    }
    if kernel.shape()[0] != features {
        return Err(input_error(
            0,
            x,
            format!(
                "has {features} features on its last axis but the kernel expects {}",
                kernel.shape()[0]
            ),
        ));
    }
    let bias = if *use_bias {
        Some(weight(layer, "bias", &[*units])?)
    } else {
        None
    };

    let rows = x.len() / features.max(1);
    let x2 = x
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((rows, features))
        .map_err(|e| input_error(0, x, format!("cannot view as a matrix: {e}")))?;
    let k2 = kernel
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| LayerError::Config(format!("kernel: {e}")))?;
    let mut y = x2.dot(&k2);
    if let Some(b) = bias {
        let b1 = b
            .view()
            .into_dimensionality::<ndarray::Ix1>()
            .map_err(|e| LayerError::Config(format!("bias: {e}")))?;
        y += &b1;
    }
    let mut shape = x.shape().to_vec();
    if let Some(last) = shape.last_mut() {
        *last = *units;
    }
    let y = y
        .into_shape_with_order(IxDyn(&shape))
        .map_err(|e| LayerError::Config(format!("output reshape: {e}")))?;
    Ok(activation::apply(*activation, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, Weight};

    fn arr(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    fn layer(kernel: ArrayD<f32>, bias: Option<Vec<f32>>, activation: Activation) -> Layer {
        let units = kernel.shape()[1];
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
            name: "fc".into(),
            kind: LayerKind::Dense {
                units,
                use_bias: bias.is_some(),
                activation,
            },
            inbound: vec!["x".into()],
            weights,
        }
    }

    #[test]
    fn dense_2d_with_bias_and_relu() {
        // x = [[1, 2]], kernel [[1, -1, 0], [2, 0, -1]] -> [5, -1, -2]; bias [0, 3, 1] -> [5, 2, -1]; relu -> [5, 2, 0].
        let l = layer(
            arr(&[2, 3], vec![1.0, -1.0, 0.0, 2.0, 0.0, -1.0]),
            Some(vec![0.0, 3.0, 1.0]),
            Activation::Relu,
        );
        let y = dense_layer(&l, &arr(&[1, 2], vec![1.0, 2.0])).unwrap();
        assert_eq!(y.shape(), &[1, 3]);
        assert_eq!(y.as_slice().unwrap(), &[5.0, 2.0, 0.0]);
    }

    #[test]
    fn dense_on_rank_3_uses_last_axis() {
        // x (1, 2, 2) = [[1, 0], [0, 1]]; kernel (2, 1) = [[3], [4]] -> [[3], [4]].
        let l = layer(arr(&[2, 1], vec![3.0, 4.0]), None, Activation::Linear);
        let y = dense_layer(&l, &arr(&[1, 2, 2], vec![1.0, 0.0, 0.0, 1.0])).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[3.0, 4.0]);
    }

    #[test]
    fn dense_errors() {
        let l = layer(arr(&[2, 1], vec![3.0, 4.0]), None, Activation::Linear);
        let e = dense_layer(&l, &arr(&[1, 3], vec![0.0; 3]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("has 3 features"), "{e}");
        assert!(dense_layer(&l, &arr(&[3], vec![0.0; 3])).is_err());
        let mut bad = l.clone();
        bad.weights[0].value = arr(&[2, 2], vec![0.0; 4]); // units says 1
        assert!(matches!(
            dense_layer(&bad, &arr(&[1, 2], vec![0.0; 2])),
            Err(LayerError::WeightShape { .. })
        ));
    }
}
