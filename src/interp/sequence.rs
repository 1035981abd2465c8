//! Axis shuffles for sequence models: the Keras classes `Permute` and
//! `RepeatVector`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21):
//! - `Permute(dims)`: `dims` is a permutation of the non-batch axes, 1-based;
//!   output axis `i+1` is input axis `dims[i]` (`Permute((2, 1))` swaps steps
//!   and channels);
//! - `RepeatVector(n)`: `(batch, features)` → `(batch, n, features)`, every
//!   row a copy of the input row.
//!
//! Not handled yet: nothing known.

use ndarray::{ArrayD, Axis};

use super::{LayerError, expect_rank, input_error};

/// The Keras `Permute` layer.
pub fn permute(x: &ArrayD<f32>, dims: &[usize]) -> Result<ArrayD<f32>, LayerError> {
    if x.ndim() != dims.len() + 1 {
        return Err(input_error(
            0,
            x,
            format!("Permute{dims:?} needs rank {}", dims.len() + 1),
        ));
    }
    let mut seen = vec![false; dims.len() + 1];
    for &d in dims {
        if d == 0 || d > dims.len() || std::mem::replace(&mut seen[d], true) {
            return Err(LayerError::Config(format!(
                "dims {dims:?} is not a permutation of 1..={}",
                dims.len()
            )));
        }
    }
    let order: Vec<usize> = std::iter::once(0).chain(dims.iter().copied()).collect();
    Ok(x.view()
        .permuted_axes(order)
        .as_standard_layout()
        .into_owned())
}

/// The Keras `RepeatVector` layer.
pub fn repeat_vector(x: &ArrayD<f32>, n: usize) -> Result<ArrayD<f32>, LayerError> {
    expect_rank(0, x, 2)?;
    let row = x.view().insert_axis(Axis(1));
    let shape = [x.shape()[0], n, x.shape()[1]];
    row.broadcast(shape.as_slice())
        .map(|v| v.as_standard_layout().into_owned())
        .ok_or_else(|| input_error(0, x, format!("cannot repeat {n} times")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn permute_swaps_steps_and_channels() {
        let x = array![[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]].into_dyn(); // (1, 2, 3)
        let y = permute(&x, &[2, 1]).unwrap();
        assert_eq!(
            y,
            array![[[1.0f32, 4.0], [2.0, 5.0], [3.0, 6.0]]].into_dyn()
        );
        assert!(permute(&x, &[1, 1]).is_err());
        assert!(permute(&x, &[0, 1]).is_err());
        assert!(permute(&x, &[1, 2, 3]).is_err());
    }

    #[test]
    fn repeat_vector_copies_rows() {
        let x = array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn();
        let y = repeat_vector(&x, 3).unwrap();
        assert_eq!(y.shape(), &[2, 3, 2]);
        assert_eq!(
            y,
            array![
                [[1.0f32, 2.0], [1.0, 2.0], [1.0, 2.0]],
                [[3.0, 4.0], [3.0, 4.0], [3.0, 4.0]]
            ]
            .into_dyn()
        );
        assert!(repeat_vector(&y, 2).is_err());
    }
}
