//! Merging: the Keras classes `Add`, `Multiply`, `Subtract`, `Maximum`,
//! `Minimum`, `Average` and `Concatenate`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21):
//! - `Add` sums n >= 1 inputs of the same rank. Like Keras's merge-shape check
//!   (`_compute_elemwise_op_output_shape`) it broadcasts an axis of size 1
//!   against any size; other differing sizes are an error naming both shapes.
//!   The batch axis must agree exactly (Keras: "Cannot merge tensors with
//!   different batch sizes"). `Multiply`, `Maximum` and `Minimum` are the
//!   same with product / element-wise max / min; `Subtract` takes exactly 2
//!   inputs and returns `inputs[0] - inputs[1]` (Keras: "A `Subtract` layer
//!   should be called on exactly 2 inputs"). `Average` is the sum divided
//!   by the number of inputs (Keras: `add(...) / len(inputs)`).
//! - `Concatenate(axis)` joins inputs of the same rank along `axis` (negative
//!   counts from the end); every other axis must match.
//!
//! Not handled yet: inputs of different ranks for `Add` (Keras expands the
//! smaller ones at axis 1), Dot, masks.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use super::{LayerError, input_error, resolve_axis};

/// The Keras `Add` layer.
pub fn add(inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    fold(inputs, |a, b| a + b)
}

/// The Keras `Multiply` layer.
pub fn multiply(inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    fold(inputs, |a, b| a * b)
}

/// The Keras `Maximum` layer.
pub fn maximum(inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    fold(inputs, f32::max)
}

/// The Keras `Minimum` layer.
pub fn minimum(inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    fold(inputs, f32::min)
}

/// The Keras `Average` layer: the sum, then divided by the input count.
pub fn average(inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    Ok(add(inputs)? / inputs.len() as f32)
}

/// The Keras `Subtract` layer: exactly two inputs, `inputs[0] - inputs[1]`.
pub fn subtract(inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    if inputs.len() != 2 {
        return Err(LayerError::InputCount {
            expected: "exactly 2".into(),
            got: inputs.len(),
        });
    }
    fold(inputs, |a, b| a - b)
}

/// Folds `op` over the inputs, left to right, after Keras's merge-shape check
/// (see the module header).
fn fold(inputs: &[&ArrayD<f32>], op: impl Fn(f32, f32) -> f32) -> Result<ArrayD<f32>, LayerError> {
    let (first, rest) = inputs.split_first().ok_or_else(|| LayerError::InputCount {
        expected: "at least 1".into(),
        got: 0,
    })?;
    // Output shape: axis-wise broadcast of size-1 axes.
    let mut shape = first.shape().to_vec();
    for (i, x) in rest.iter().enumerate() {
        let idx = i + 1;
        if x.ndim() != shape.len() {
            return Err(input_error(
                idx,
                x,
                format!(
                    "rank {} differs from input 0's rank {}",
                    x.ndim(),
                    first.ndim()
                ),
            ));
        }
        for (ax, (s, &d)) in shape.iter_mut().zip(x.shape()).enumerate() {
            if *s == d {
                continue;
            }
            if ax > 0 && (*s == 1 || d == 1) {
                *s = (*s).max(d);
            } else {
                return Err(input_error(
                    idx,
                    x,
                    format!("cannot be added to input 0 of shape {:?}", first.shape()),
                ));
            }
        }
    }
    let mut y = first
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| input_error(0, first, format!("cannot broadcast to {shape:?}")))?
        .to_owned();
    for (i, x) in rest.iter().enumerate() {
        let b = x
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| input_error(i + 1, x, format!("cannot broadcast to {shape:?}")))?;
        y.zip_mut_with(&b, |a, &b| *a = op(*a, b));
    }
    Ok(y)
}

/// The Keras `Concatenate` layer.
pub fn concatenate(inputs: &[&ArrayD<f32>], axis: i64) -> Result<ArrayD<f32>, LayerError> {
    let first = inputs.first().ok_or_else(|| LayerError::InputCount {
        expected: "at least 1".into(),
        got: 0,
    })?;
    let a = resolve_axis(axis, first.ndim()).ok_or_else(|| {
        input_error(
            0,
            first,
            format!("axis {axis} is out of range for rank {}", first.ndim()),
        )
    })?;
    for (i, x) in inputs.iter().enumerate().skip(1) {
        let fits = x.ndim() == first.ndim()
            && x.shape()
                .iter()
                .zip(first.shape())
                .enumerate()
                .all(|(ax, (p, q))| ax == a || p == q);
        if !fits {
            return Err(input_error(
                i,
                x,
                format!(
                    "does not match input 0 of shape {:?} outside concatenation axis {a}",
                    first.shape()
                ),
            ));
        }
    }
    let views: Vec<ArrayViewD<f32>> = inputs.iter().map(|x| x.view()).collect();
    ndarray::concatenate(Axis(a), &views)
        .map_err(|e| input_error(0, first, format!("concatenate: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    #[test]
    fn add_three_and_broadcast_size_one() {
        let a = arr(&[1, 2], vec![1.0, 2.0]);
        let b = arr(&[1, 2], vec![10.0, 20.0]);
        let c = arr(&[1, 1], vec![100.0]);
        // [1,2] + [10,20] + [100] broadcast = [111, 122].
        assert_eq!(
            add(&[&a, &b, &c]).unwrap().as_slice().unwrap(),
            &[111.0, 122.0]
        );
        let bad = arr(&[1, 3], vec![0.0; 3]);
        let e = add(&[&a, &bad]).unwrap_err().to_string();
        assert!(e.contains("input 1 has shape [1, 3]"), "{e}");
        // Batch sizes must agree exactly.
        assert!(add(&[&a, &arr(&[2, 2], vec![0.0; 4])]).is_err());
        assert!(add(&[&a, &arr(&[2], vec![0.0; 2])]).is_err());
        assert!(add(&[]).is_err());
    }

    #[test]
    fn multiply_subtract_maximum_minimum() {
        let a = arr(&[1, 3], vec![1.0, -2.0, 3.0]);
        let b = arr(&[1, 3], vec![4.0, 5.0, -6.0]);
        let c = arr(&[1, 1], vec![-1.0]);
        // [1,-2,3] * [4,5,-6] * [-1] broadcast = [-4, 10, 18].
        assert_eq!(
            multiply(&[&a, &b, &c]).unwrap().as_slice().unwrap(),
            &[-4.0, 10.0, 18.0]
        );
        // Order matters for Subtract: [1-4, -2-5, 3+6].
        assert_eq!(
            subtract(&[&a, &b]).unwrap().as_slice().unwrap(),
            &[-3.0, -7.0, 9.0]
        );
        assert_eq!(
            subtract(&[&b, &a]).unwrap().as_slice().unwrap(),
            &[3.0, 7.0, -9.0]
        );
        assert!(subtract(&[&a, &b, &c]).is_err());
        assert!(subtract(&[&a]).is_err());
        assert_eq!(
            maximum(&[&a, &b, &c]).unwrap().as_slice().unwrap(),
            &[4.0, 5.0, 3.0]
        );
        assert_eq!(
            minimum(&[&a, &b, &c]).unwrap().as_slice().unwrap(),
            &[-1.0, -2.0, -6.0]
        );
        assert!(maximum(&[&a, &arr(&[1, 2], vec![0.0; 2])]).is_err());
        // (a + b + c) / 3 = [4, 2, -4] / 3.
        let avg = average(&[&a, &b, &c]).unwrap();
        for (g, w) in avg.iter().zip([4.0f32 / 3.0, 2.0 / 3.0, -4.0 / 3.0]) {
            assert!((g - w).abs() < 1e-6, "{avg}");
        }
    }

    #[test]
    fn concatenate_channels_and_axis_1() {
        // (1,1,2) ++ (1,1,1) on -1 -> [[[1,2,3]]]; on axis 1 shapes must match elsewhere.
        let a = arr(&[1, 1, 2], vec![1.0, 2.0]);
        let b = arr(&[1, 1, 1], vec![3.0]);
        let y = concatenate(&[&a, &b], -1).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3]);
        assert_eq!(y.as_slice().unwrap(), &[1.0, 2.0, 3.0]);
        assert!(concatenate(&[&a, &b], 1).is_err());
        let y = concatenate(&[&a, &a], 1).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2]);
        assert!(concatenate(&[&a, &b], 3).is_err());
    }
}
