//! Shape layers: the Keras classes `ZeroPadding2D`, `Flatten` and `Reshape`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21, channels-last):
//! - `ZeroPadding2D(padding=[[top, bottom], [left, right]])` pads height and
//!   width of an NHWC tensor with zeros;
//! - `Flatten` is a row-major (C order) flatten of every axis but the batch, so
//!   an NHWC tensor flattens in (h, w, c) order; `(n,)` becomes `(n, 1)`;
//! - `Reshape(target_shape)` excludes the batch axis, allows one `-1` that is
//!   inferred, and keeps row-major element order; a size mismatch is an error.
//!
//! Not handled yet: channels-first data format. (Cropping2D is in `crop.rs`,
//! Permute and RepeatVector in `sequence.rs`.)

use ndarray::{ArrayD, IxDyn, s};

use super::{LayerError, expect_rank, input_error};

/// The Keras `ZeroPadding2D` layer.
pub fn zero_padding2d(
    x: &ArrayD<f32>,
    padding: [[usize; 2]; 2],
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let [[top, bottom], [left, right]] = padding;
    let oh = h
        .checked_add(top)
        .and_then(|v| v.checked_add(bottom))
        .ok_or_else(|| LayerError::Config(format!("padding {padding:?} is too large")))?;
    let ow = w
        .checked_add(left)
        .and_then(|v| v.checked_add(right))
        .ok_or_else(|| LayerError::Config(format!("padding {padding:?} is too large")))?;
    // The padding comes from a user's file: check the size before allocating
    // (a hostile graph pads by 2^30; found by tests/hostile.rs).
    crate::budget::elements(&[n, oh, ow, c])
        .map_err(|e| LayerError::Config(format!("padding {padding:?}: {e}")))?;
    let mut y = ArrayD::zeros(IxDyn(&[n, oh, ow, c]));
    y.slice_mut(s![.., top..top + h, left..left + w, ..])
        .assign(x);
    Ok(y)
}

/// Row-major copy of `x` with a new shape of the same size.
fn relayout(x: &ArrayD<f32>, shape: Vec<usize>) -> Result<ArrayD<f32>, LayerError> {
    let data: Vec<f32> = x.iter().copied().collect(); // logical (row-major) order
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .map_err(|e| input_error(0, x, format!("cannot reshape to {shape:?}: {e}")))
}

/// The Keras `Flatten` layer.
pub fn flatten(x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    if x.ndim() == 0 {
        return Err(input_error(0, x, "Flatten needs a batch axis"));
    }
    let rest = x.shape()[1..].iter().product::<usize>();
    relayout(x, vec![x.shape()[0], rest])
}

/// The Keras `Reshape` layer.
pub fn reshape(x: &ArrayD<f32>, target_shape: &[i64]) -> Result<ArrayD<f32>, LayerError> {
    if x.ndim() == 0 {
        return Err(input_error(0, x, "Reshape needs a batch axis"));
    }
    let have = x.shape()[1..].iter().product::<usize>();
    let mut unknown = None;
    let mut known = 1usize;
    let mut dims = Vec::with_capacity(target_shape.len() + 1);
    dims.push(x.shape()[0]);
    for (i, &d) in target_shape.iter().enumerate() {
        if d == -1 {
            if unknown.replace(i + 1).is_some() {
                return Err(LayerError::Config(format!(
                    "target_shape {target_shape:?} has more than one -1"
                )));
            }
            dims.push(0);
        } else {
            let d = usize::try_from(d).ok().filter(|&d| d > 0).ok_or_else(|| {
                LayerError::Config(format!(
                    "target_shape {target_shape:?} has {d}; dimensions must be positive or a single -1"
                ))
            })?;
            known = known.checked_mul(d).ok_or_else(|| {
                LayerError::Config(format!("target_shape {target_shape:?} is too large"))
            })?;
            dims.push(d);
        }
    }
    let mismatch = || {
        input_error(
            0,
            x,
            format!("its {have} elements per sample do not fit target_shape {target_shape:?}"),
        )
    };
    match unknown {
        Some(i) => {
            if have % known != 0 {
                return Err(mismatch());
            }
            dims[i] = have / known;
        }
        None if known != have => return Err(mismatch()),
        None => {}
    }
    relayout(x, dims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iota(shape: &[usize]) -> ArrayD<f32> {
        let len = shape.iter().product::<usize>();
        ArrayD::from_shape_vec(IxDyn(shape), (0..len).map(|v| v as f32).collect()).unwrap()
    }

    #[test]
    fn zero_padding_asymmetric() {
        // x (1,1,2,1) = [[0, 1]], padding [[1, 0], [0, 2]]: out (1,2,4,1) =
        // [[0,0,0,0],[0,1,0,0]].
        let y = zero_padding2d(&iota(&[1, 1, 2, 1]), [[1, 0], [0, 2]]).unwrap();
        assert_eq!(y.shape(), &[1, 2, 4, 1]);
        assert_eq!(
            y.as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        );
        assert!(zero_padding2d(&iota(&[1, 2]), [[1, 1], [1, 1]]).is_err());
    }

    #[test]
    fn flatten_is_nhwc_row_major_even_for_transposed_views() {
        let x = iota(&[2, 2, 2, 3]);
        let y = flatten(&x).unwrap();
        assert_eq!(y.shape(), &[2, 12]);
        // Sample 1 starts at element 12; order (h, w, c).
        assert_eq!(y[[1, 0]], 12.0);
        assert_eq!(y[[0, 5]], 5.0);
        // A non-standard-layout input still flattens in its logical order.
        let t = iota(&[1, 2, 2]).permuted_axes(IxDyn(&[0, 2, 1])); // [[0,2],[1,3]]
        assert_eq!(
            flatten(&t).unwrap().as_slice().unwrap(),
            &[0.0, 2.0, 1.0, 3.0]
        );
        assert_eq!(flatten(&iota(&[3])).unwrap().shape(), &[3, 1]);
    }

    #[test]
    fn reshape_infers_one_dim_and_rejects_mismatch() {
        let x = iota(&[2, 6]);
        let y = reshape(&x, &[3, -1]).unwrap();
        assert_eq!(y.shape(), &[2, 3, 2]);
        assert_eq!(y[[1, 2, 1]], 11.0);
        assert_eq!(reshape(&x, &[2, 3]).unwrap().shape(), &[2, 2, 3]);
        assert!(reshape(&x, &[4, -1]).is_err()); // 6 not divisible by 4
        assert!(reshape(&x, &[5]).is_err());
        assert!(reshape(&x, &[-1, -1]).is_err());
        assert!(reshape(&x, &[0, 6]).is_err());
        assert!(reshape(&x, &[-2, 3]).is_err());
    }
}
