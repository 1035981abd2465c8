//! Pooling: the Keras classes `MaxPooling2D`, `AveragePooling2D` and
//! `GlobalAveragePooling2D` (channels-last).
//!
//! Semantics (TensorFlow's MaxPool / AvgPool, which Keras 3 and tf-keras call):
//! - window `pool_size`, `strides`; output size and SAME padding as for
//!   convolutions (see [`super::conv::plan_axis`]);
//! - SAME max pooling ignores the padded positions (as if they were -inf);
//! - SAME average pooling divides by the number of VALID (non-padded)
//!   elements in each window, not by `pool_h * pool_w`;
//! - `GlobalAveragePooling2D` is the mean over height and width, shape
//!   `(n, c)` or `(n, 1, 1, c)` with `keepdims`; an empty spatial extent
//!   yields NaN, like `reduce_mean`;
//! - `GlobalMaxPooling2D` is the maximum over height and width (same shapes);
//!   an empty spatial extent yields -inf, like `reduce_max`.
//!
//! Not handled yet: channels-first, 1-D/3-D pooling.

use ndarray::{Array4, ArrayD, Axis, IxDyn};

use super::conv::plan_2d;
use super::{LayerError, expect_rank};
use crate::keras::Padding;

#[derive(Clone, Copy)]
enum Reduce {
    Max,
    Mean,
}

/// Shared window walk: for each output pixel, combines the channel vectors of
/// the valid (non-padded) window positions.
fn pool(
    x: &ArrayD<f32>,
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    reduce: Reduce,
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    let [py, px] = plan_2d(x, padding, pool_size, strides, [1, 1])?;
    let x = x
        .view()
        .into_dimensionality::<ndarray::Ix4>()
        .map_err(|e| LayerError::Config(format!("input: {e}")))?;
    let (n, h, w, c) = x.dim();
    let init = match reduce {
        Reduce::Max => f32::NEG_INFINITY,
        Reduce::Mean => 0.0,
    };
    let mut out = Array4::<f32>::from_elem((n, py.out, px.out, c), init);
    for b in 0..n {
        for oy in 0..py.out {
            // Valid input rows of this window: [y0, y1).
            let y0 = (oy * strides[0]).saturating_sub(py.before);
            let y1 = (oy * strides[0] + pool_size[0])
                .saturating_sub(py.before)
                .min(h);
            for ox in 0..px.out {
                let x0 = (ox * strides[1]).saturating_sub(px.before);
                let x1 = (ox * strides[1] + pool_size[1])
                    .saturating_sub(px.before)
                    .min(w);
                let mut acc = out.slice_mut(ndarray::s![b, oy, ox, ..]);
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let v = x.slice(ndarray::s![b, iy, ix, ..]);
                        match reduce {
                            Reduce::Max => acc.zip_mut_with(&v, |a, &v| *a = a.max(v)),
                            Reduce::Mean => acc += &v,
                        }
                    }
                }
                if let Reduce::Mean = reduce {
                    let count = (y1.saturating_sub(y0) * x1.saturating_sub(x0)) as f32;
                    acc /= count;
                }
            }
        }
    }
    Ok(out.into_dyn())
}

/// The Keras `MaxPooling2D` layer.
pub fn max_pool2d(
    x: &ArrayD<f32>,
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
) -> Result<ArrayD<f32>, LayerError> {
    pool(x, pool_size, strides, padding, Reduce::Max)
}

/// The Keras `AveragePooling2D` layer (SAME divides by the valid count).
pub fn avg_pool2d(
    x: &ArrayD<f32>,
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
) -> Result<ArrayD<f32>, LayerError> {
    pool(x, pool_size, strides, padding, Reduce::Mean)
}

/// The Keras `GlobalAveragePooling2D` layer.
pub fn global_avg_pool2d(x: &ArrayD<f32>, keepdims: bool) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    let (n, c) = (x.shape()[0], x.shape()[3]);
    let count = (x.shape()[1] * x.shape()[2]) as f32;
    let sum = x.sum_axis(Axis(1)).sum_axis(Axis(1));
    let mean = sum / count;
    if keepdims {
        mean.into_shape_with_order(IxDyn(&[n, 1, 1, c]))
            .map_err(|e| LayerError::Config(format!("output reshape: {e}")))
    } else {
        Ok(mean)
    }
}

/// The Keras `GlobalMaxPooling2D` layer.
pub fn global_max_pool2d(x: &ArrayD<f32>, keepdims: bool) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    let (n, c) = (x.shape()[0], x.shape()[3]);
    let max = x
        .fold_axis(Axis(1), f32::NEG_INFINITY, |m, &v| m.max(v))
        .fold_axis(Axis(1), f32::NEG_INFINITY, |m, &v| m.max(v));
    if keepdims {
        max.into_shape_with_order(IxDyn(&[n, 1, 1, c]))
            .map_err(|e| LayerError::Config(format!("output reshape: {e}")))
    } else {
        Ok(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_max_pool_over_h_and_w() {
        // x[0, h, w, c] = iota: channel 0 holds 0,2,4,6,8,10, channel 1 holds 1,3,..,11
        // over a 2x3 grid; the maxima are 10 and 11. A negative-only input keeps its sign.
        let x = iota(&[1, 2, 3, 2]);
        let y = global_max_pool2d(&x, false).unwrap();
        assert_eq!(y.shape(), &[1, 2]);
        assert_eq!(y.as_slice().unwrap(), &[10.0, 11.0]);
        let y = global_max_pool2d(&x.mapv(|v| -v - 1.0), true).unwrap();
        assert_eq!(y.shape(), &[1, 1, 1, 2]);
        assert_eq!(y.as_slice().unwrap(), &[-1.0, -2.0]);
        assert!(global_max_pool2d(&iota(&[2, 3]), false).is_err());
    }

    fn iota(shape: &[usize]) -> ArrayD<f32> {
        let len = shape.iter().product::<usize>();
        ArrayD::from_shape_vec(IxDyn(shape), (0..len).map(|v| v as f32).collect()).unwrap()
    }

    #[test]
    fn avg_pool_same_divides_by_valid_count_at_borders() {
        // x (1,3,3,1) = [[0,1,2],[3,4,5],[6,7,8]], 2x2 pool, stride 2, SAME: pad (0,1) per axis.
        // windows: {0,1,3,4} -> 2; {2,5} -> 3.5; {6,7} -> 6.5; {8} -> 8.
        // (Dividing by 4 everywhere would give 2, 1.75, 3.25, 2.)
        let y = avg_pool2d(&iota(&[1, 3, 3, 1]), [2, 2], [2, 2], Padding::Same).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[2.0, 3.5, 6.5, 8.0]);
    }

    #[test]
    fn avg_pool_same_3x3_stride1_corner() {
        // x (1,3,3,1) iota, 3x3 pool, stride 1, SAME: pad (1,1).
        // corner (0,0): {0,1,3,4} / 4 = 2; centre: 36/9 = 4; edge (0,1): {0,1,2,3,4,5}/6 = 2.5.
        let y = avg_pool2d(&iota(&[1, 3, 3, 1]), [3, 3], [1, 1], Padding::Same).unwrap();
        assert_eq!(y[[0, 0, 0, 0]], 2.0);
        assert_eq!(y[[0, 1, 1, 0]], 4.0);
        assert_eq!(y[[0, 0, 1, 0]], 2.5);
    }

    #[test]
    fn max_pool_same_ignores_padding() {
        // Negative input so that a zero-padded max would wrongly give 0.
        // x = -(iota) on 3x3, 2x2 pool stride 2 SAME: windows {0,-1,-3,-4} -> 0 (from -0);
        // {-2,-5} -> -2; {-6,-7} -> -6; {-8} -> -8.
        let x = iota(&[1, 3, 3, 1]).mapv(|v| -v - 1.0); // -1..-9 to avoid -0.0
        let y = max_pool2d(&x, [2, 2], [2, 2], Padding::Same).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-1.0, -3.0, -7.0, -9.0]);
    }

    #[test]
    fn pools_work_per_channel_and_valid() {
        // x (1,4,4,2): channel 0 iota*2 (0,2,..,30), channel 1 = -channel 0. 2x2 stride 2 VALID.
        // channel 0 maxima of blocks: [10, 14, 26, 30]; channel 1 maxima: [0, -4, -16, -20].
        let x = ArrayD::from_shape_fn(IxDyn(&[1, 4, 4, 2]), |i| {
            let v = 2.0 * (i[1] * 4 + i[2]) as f32;
            if i[3] == 0 { v } else { -v }
        });
        let y = max_pool2d(&x, [2, 2], [2, 2], Padding::Valid).unwrap();
        let c0: Vec<f32> = y.slice(ndarray::s![0, .., .., 0]).iter().copied().collect();
        let c1: Vec<f32> = y.slice(ndarray::s![0, .., .., 1]).iter().copied().collect();
        assert_eq!(c0, vec![10.0, 14.0, 26.0, 30.0]);
        assert_eq!(c1, vec![0.0, -4.0, -16.0, -20.0]);
        // VALID window larger than the input is an error, not a panic.
        assert!(max_pool2d(&x, [5, 1], [1, 1], Padding::Valid).is_err());
        assert!(avg_pool2d(&x, [2, 2], [0, 1], Padding::Same).is_err());
    }

    #[test]
    fn global_average() {
        // x (2,2,2,1): sample 0 = [0,1,2,3] -> 1.5; sample 1 = [4,5,6,7] -> 5.5.
        let x = iota(&[2, 2, 2, 1]);
        let y = global_avg_pool2d(&x, false).unwrap();
        assert_eq!(y.shape(), &[2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[1.5, 5.5]);
        assert_eq!(global_avg_pool2d(&x, true).unwrap().shape(), &[2, 1, 1, 1]);
        assert!(global_avg_pool2d(&iota(&[2, 3]), false).is_err());
    }
}
