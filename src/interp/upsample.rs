//! Resizing: the Keras class `UpSampling2D` (channels-last), both interpolations.
//!
//! Semantics (Keras 3.15 and tf-keras 2.21 on TensorFlow):
//! - output `(n, h*sy, w*sx, c)` for integer `size = (sy, sx)`;
//! - `nearest`: every pixel repeated `sy` times down and `sx` times across
//!   (Keras 3 freezes it as `Tile`/`Reshape` repeats, tf-keras as
//!   `ResizeNearestNeighbor` with half-pixel centres; for integer factors both
//!   pick source `floor(o / s)`);
//! - `bilinear`: `tf.image.resize` (`ResizeBilinear`, `half_pixel_centers`,
//!   no `align_corners`, no antialias): source coordinate
//!   `(o + 0.5) / s - 0.5`, lower index clamped at 0, upper at `in - 1`, weight
//!   the fractional part; computed in f32 in TensorFlow's order
//!   (`top + (bottom - top) * y_lerp` of `left + (right - left) * x_lerp`).
//!
//! Not handled yet: `bicubic`, `lanczos*`, `area`, channels-first,
//! UpSampling1D/3D, the `Resizing` layer with arbitrary output sizes.

use ndarray::{Array4, ArrayD, Ix4, s};

use super::{LayerError, expect_rank};
use crate::keras::Interpolation;

/// One output index's interpolation along an axis: `lo`, `hi` and the weight of `hi`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lerp {
    lo: usize,
    hi: usize,
    frac: f32,
}

/// TensorFlow's half-pixel-centre bilinear coordinates for `out = input * factor`.
fn lerps(input: usize, out: usize) -> Vec<Lerp> {
    // TF: scale = in / out as float; src = (o + 0.5) * scale - 0.5.
    let scale = input as f32 / out as f32;
    (0..out)
        .map(|o| {
            let src = (o as f32 + 0.5) * scale - 0.5;
            let floor = src.floor();
            Lerp {
                lo: (floor.max(0.0) as usize).min(input - 1),
                hi: (src.ceil().max(0.0) as usize).min(input - 1),
                frac: src - floor,
            }
        })
        .collect()
}

/// `UpSampling2D(size, interpolation)` on an NHWC input.
pub fn upsampling2d(
    x: &ArrayD<f32>,
    size: [usize; 2],
    interpolation: Interpolation,
) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    if size.contains(&0) {
        return Err(LayerError::Config(format!("size {size:?} must be >= 1")));
    }
    let x = x
        .view()
        .into_dimensionality::<Ix4>()
        .map_err(|e| LayerError::Config(format!("input: {e}")))?;
    let (n, h, w, c) = x.dim();
    let (oh, ow) = (h.saturating_mul(size[0]), w.saturating_mul(size[1]));
    if [n, oh, ow, c]
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none_or(|t| t > crate::budget::max_elements())
    {
        return Err(LayerError::Config(format!(
            "size {size:?} on a {h}x{w} input makes an output too large to compute"
        )));
    }
    let mut out = Array4::<f32>::zeros((n, oh, ow, c));
    if h == 0 || w == 0 {
        return Ok(out.into_dyn());
    }
    match interpolation {
        Interpolation::Nearest => {
            for oy in 0..oh {
                for ox in 0..ow {
                    out.slice_mut(s![.., oy, ox, ..]).assign(&x.slice(s![
                        ..,
                        oy / size[0],
                        ox / size[1],
                        ..
                    ]));
                }
            }
        }
        Interpolation::Bilinear => {
            let (ys, xs) = (lerps(h, oh), lerps(w, ow));
            for b in 0..n {
                for (oy, ly) in ys.iter().enumerate() {
                    for (ox, lx) in xs.iter().enumerate() {
                        for ch in 0..c {
                            let at = |iy: usize, ix: usize| x[[b, iy, ix, ch]];
                            let top =
                                at(ly.lo, lx.lo) + (at(ly.lo, lx.hi) - at(ly.lo, lx.lo)) * lx.frac;
                            let bottom =
                                at(ly.hi, lx.lo) + (at(ly.hi, lx.hi) - at(ly.hi, lx.lo)) * lx.frac;
                            out[[b, oy, ox, ch]] = top + (bottom - top) * ly.frac;
                        }
                    }
                }
            }
        }
    }
    Ok(out.into_dyn())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    fn arr(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    #[test]
    fn nearest_repeats_pixels() {
        // 2x2 → size (2, 3): each value fills a 2x3 block.
        let x = arr(&[1, 2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]);
        let y = upsampling2d(&x, [2, 3], Interpolation::Nearest).unwrap();
        assert_eq!(y.shape(), &[1, 4, 6, 1]);
        let row0 = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
        let row2 = [3.0, 3.0, 3.0, 4.0, 4.0, 4.0];
        let v = y.as_slice().unwrap();
        assert_eq!(&v[0..6], &row0);
        assert_eq!(&v[6..12], &row0);
        assert_eq!(&v[12..18], &row2);
        assert_eq!(&v[18..24], &row2);
    }

    #[test]
    fn bilinear_half_pixel_by_hand() {
        // 1-D [0, 4] upsampled by 2: sources (o + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25
        // → clamp: 0, then 0*0.75 + 4*0.25 = 1, 0*0.25 + 4*0.75 = 3, then clamp: 4.
        let x = arr(&[1, 1, 2, 1], vec![0.0, 4.0]);
        let y = upsampling2d(&x, [1, 2], Interpolation::Bilinear).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[0.0, 1.0, 3.0, 4.0]);
        // Factor 3 on [0, 3]: sources -1/3, 0, 1/3, 2/3, 1, 4/3 → 0, 0, 1, 2, 3, 3.
        let x = arr(&[1, 2, 1, 1], vec![0.0, 3.0]);
        let y = upsampling2d(&x, [3, 1], Interpolation::Bilinear).unwrap();
        let want = [0.0, 0.0, 1.0, 2.0, 3.0, 3.0];
        for (g, w) in y.iter().zip(want) {
            // 1/3 is inexact in f32: a few ULPs of 3.
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn bilinear_mixes_both_axes_per_channel() {
        // 2x2, two channels: channel 1 is channel 0 times -1; output (1,1) of a 4x4 result has
        // sources (0.25, 0.25): 0.75*0.75*a + 0.75*0.25*b + 0.25*0.75*c + 0.25*0.25*d.
        let x = arr(
            &[1, 2, 2, 2],
            vec![1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 5.0, -5.0],
        );
        let y = upsampling2d(&x, [2, 2], Interpolation::Bilinear).unwrap();
        assert_eq!(y.shape(), &[1, 4, 4, 2]);
        let want = 0.5625 * 1.0 + 0.1875 * 2.0 + 0.1875 * 3.0 + 0.0625 * 5.0;
        assert!((y[[0, 1, 1, 0]] - want).abs() < 1e-6);
        assert!((y[[0, 1, 1, 1]] + want).abs() < 1e-6);
        // Corners are the input corners (clamped sources).
        assert_eq!(y[[0, 0, 0, 0]], 1.0);
        assert_eq!(y[[0, 3, 3, 0]], 5.0);
    }

    #[test]
    fn bad_configs_are_errors() {
        let x = arr(&[1, 1, 1, 1], vec![1.0]);
        assert!(upsampling2d(&x, [0, 2], Interpolation::Nearest).is_err());
        assert!(upsampling2d(&x, [usize::MAX, 2], Interpolation::Nearest).is_err());
        let flat = arr(&[1, 1], vec![1.0]);
        assert!(upsampling2d(&flat, [2, 2], Interpolation::Bilinear).is_err());
    }
}
