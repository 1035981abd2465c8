//! Keras output shapes: the shared pieces of every class's shape rule
//! ([`super::ClassInfo::output_shape`], written in the class's family file).
//!
//! A shape is batch first, `None` where unknown (the batch, or a size the
//! graph leaves open). Conversion tracks them to read shape-dependent patterns
//! (Flatten vs Reshape, concat axes, grouped convolutions) and to refuse a
//! layer whose config does not fit its inputs before writing it.

use crate::keras::ir::{LayerKind, Padding, Weight};

/// A Keras shape: batch first, `None` where unknown.
pub type Shape = Vec<Option<usize>>;

/// TF's output length of a window (convolution or pooling) along one axis:
/// SAME is `ceil(len / s)`, VALID is `(len - ((k-1)*d + 1)) / s + 1`.
pub(crate) fn conv_out(
    len: Option<usize>,
    k: usize,
    s: usize,
    d: usize,
    p: Padding,
) -> Result<Option<usize>, String> {
    if k == 0 || s == 0 || d == 0 {
        return Err(format!(
            "window {k}, stride {s}, dilation {d}: none may be 0"
        ));
    }
    let eff = (k - 1)
        .checked_mul(d)
        .and_then(|e| e.checked_add(1))
        .ok_or_else(|| format!("window {k} with dilation {d} is too large"))?;
    let Some(len) = len else { return Ok(None) };
    Ok(Some(match p {
        Padding::Same => len.div_ceil(s),
        Padding::Valid if len >= eff => (len - eff) / s + 1,
        Padding::Valid => return Err(format!("window {eff} is larger than the input ({len})")),
    }))
}

/// The two spatial output sizes of a 2-D window over an NHWC input.
pub(crate) fn conv_out_2d(
    first: &Shape,
    kernel_size: [usize; 2],
    strides: [usize; 2],
    dilation_rate: [usize; 2],
    padding: Padding,
) -> Result<[Option<usize>; 2], String> {
    Ok([
        conv_out(
            first[1],
            kernel_size[0],
            strides[0],
            dilation_rate[0],
            padding,
        )?,
        conv_out(
            first[2],
            kernel_size[1],
            strides[1],
            dilation_rate[1],
            padding,
        )?,
    ])
}

pub(crate) fn rank4(s: &Shape) -> Result<(), String> {
    if s.len() == 4 {
        Ok(())
    } else {
        Err(format!("expects a rank-4 NHWC input, got rank {}", s.len()))
    }
}

pub(crate) fn rank3(s: &Shape) -> Result<(), String> {
    if s.len() == 3 {
        Ok(())
    } else {
        Err(format!(
            "expects a rank-3 (batch, steps, channels) input, got rank {}",
            s.len()
        ))
    }
}

/// Size `axis` of weight `name` (e.g. a kernel's filter count).
pub(crate) fn kernel_dim(weights: &[Weight], name: &str, axis: usize) -> Result<usize, String> {
    weights
        .iter()
        .find(|w| w.name == name)
        .and_then(|w| w.value.shape().get(axis).copied())
        .ok_or_else(|| format!("missing weight '{name}'"))
}

pub(crate) fn positive_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| format!("axis {axis} is out of range for rank {rank}"))
}

/// For classes whose output has their (first) input's shape.
pub(crate) fn same_shape(
    _: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    Ok(first.clone())
}

/// The message of a shape rule handed another class's kind (the registry
/// routes by kind, so this only shows a registry bug).
pub(crate) fn wrong_kind(kind: &LayerKind) -> String {
    format!("{} reached another class's shape rule", kind.class_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_output_sizes() {
        // SAME: ceil(in / s); VALID: (in - ((k-1)*d + 1)) / s + 1.
        assert_eq!(conv_out(Some(7), 3, 2, 1, Padding::Same), Ok(Some(4)));
        assert_eq!(conv_out(Some(7), 3, 2, 1, Padding::Valid), Ok(Some(3)));
        assert_eq!(conv_out(Some(9), 3, 1, 2, Padding::Valid), Ok(Some(5)));
        assert_eq!(conv_out(None, 3, 1, 1, Padding::Same), Ok(None));
    }

    #[test]
    fn hostile_windows_are_errors() {
        assert!(conv_out(Some(7), 0, 1, 1, Padding::Valid).is_err());
        assert!(conv_out(Some(7), 3, 0, 1, Padding::Same).is_err());
        assert!(conv_out(Some(7), usize::MAX, 1, 2, Padding::Valid).is_err());
        assert!(conv_out(Some(2), 3, 1, 1, Padding::Valid).is_err());
    }
}
