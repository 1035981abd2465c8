//! The Keras class `Cropping2D` (channels-last).
//!
//! Semantics (Keras 3.15 and tf-keras 2.21): `cropping = [[top, bottom], [left, right]]`
//! rows/columns are removed from each side of H and W:
//! `y = x[:, top:h-bottom, left:w-right, :]`. Both Kerases refuse a crop that
//! leaves nothing (`top + bottom >= h`); so does this.
//!
//! Not handled yet: channels-first data format.

use ndarray::{ArrayD, s};

use super::{LayerError, expect_rank, input_error};

/// The Keras `Cropping2D` layer.
pub fn cropping2d(x: &ArrayD<f32>, cropping: [[usize; 2]; 2]) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 4)?;
    let [[top, bottom], [left, right]] = cropping;
    let (h, w) = (x.shape()[1], x.shape()[2]);
    let keep = |len: usize, a: usize, b: usize| a.checked_add(b).filter(|&s| s < len);
    if keep(h, top, bottom).is_none() || keep(w, left, right).is_none() {
        return Err(input_error(
            0,
            x,
            format!("cropping {cropping:?} leaves nothing of H={h}, W={w}"),
        ));
    }
    Ok(x.slice(s![.., top..h - bottom, left..w - right, ..])
        .to_owned()
        .into_dyn())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    #[test]
    fn crops_each_side() {
        // x (1, 4, 5, 1) = 0..20 row-major; crop top 1, bottom 2, left 0, right 3:
        // rows 1..2, columns 0..2 -> [5, 6].
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 4, 5, 1]), (0..20).map(|v| v as f32).collect())
            .unwrap();
        let y = cropping2d(&x, [[1, 2], [0, 3]]).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 1]);
        assert_eq!(y.iter().copied().collect::<Vec<_>>(), vec![5.0, 6.0]);
        // NASNet's ((1, 0), (1, 0)) keeps the bottom-right 3x4.
        let y = cropping2d(&x, [[1, 0], [1, 0]]).unwrap();
        assert_eq!(y.shape(), &[1, 3, 4, 1]);
        assert_eq!(y[[0, 0, 0, 0]], 6.0);
        assert_eq!(y[[0, 2, 3, 0]], 19.0);
    }

    #[test]
    fn refuses_cropping_everything() {
        let x = ArrayD::zeros(IxDyn(&[1, 4, 5, 2]));
        let e = cropping2d(&x, [[2, 2], [0, 0]]).unwrap_err().to_string();
        assert!(e.contains("leaves nothing"), "{e}");
        assert!(cropping2d(&x, [[0, 0], [usize::MAX, 1]]).is_err());
        assert!(cropping2d(&ArrayD::zeros(IxDyn(&[4, 5])), [[0, 0], [0, 0]]).is_err());
    }
}
