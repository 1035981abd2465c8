//! Keras output shapes (batch first, `None` where unknown) for every layer
//! class the converter emits. Conversion tracks them to read shape-dependent
//! patterns (Flatten vs Reshape, concat axes, grouped convolutions) and to
//! refuse a layer whose config does not fit its inputs before writing it.

use super::ctx::Shape;
use crate::keras::{LayerKind, Padding, Padding1D, Weight};

fn conv_out(
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

fn rank4(s: &Shape) -> Result<(), String> {
    if s.len() == 4 {
        Ok(())
    } else {
        Err(format!("expects a rank-4 NHWC input, got rank {}", s.len()))
    }
}

fn rank3(s: &Shape) -> Result<(), String> {
    if s.len() == 3 {
        Ok(())
    } else {
        Err(format!(
            "expects a rank-3 (batch, steps, channels) input, got rank {}",
            s.len()
        ))
    }
}

fn kernel_dim(weights: &[Weight], name: &str, axis: usize) -> Result<usize, String> {
    weights
        .iter()
        .find(|w| w.name == name)
        .and_then(|w| w.value.shape().get(axis).copied())
        .ok_or_else(|| format!("missing weight '{name}'"))
}

fn positive_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| format!("axis {axis} is out of range for rank {rank}"))
}

pub fn output_shape(
    kind: &LayerKind,
    weights: &[Weight],
    inputs: &[Shape],
) -> Result<Shape, String> {
    let first = inputs.first().ok_or("has no input")?;
    Ok(match kind {
        LayerKind::Conv2D {
            kernel_size,
            strides,
            padding,
            dilation_rate,
            ..
        } => {
            rank4(first)?;
            let filters = kernel_dim(weights, "kernel", 3)?;
            vec![
                first[0],
                conv_out(
                    first[1],
                    kernel_size[0],
                    strides[0],
                    dilation_rate[0],
                    *padding,
                )?,
                conv_out(
                    first[2],
                    kernel_size[1],
                    strides[1],
                    dilation_rate[1],
                    *padding,
                )?,
                Some(filters),
            ]
        }
        LayerKind::DepthwiseConv2D {
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            dilation_rate,
            ..
        } => {
            rank4(first)?;
            vec![
                first[0],
                conv_out(
                    first[1],
                    kernel_size[0],
                    strides[0],
                    dilation_rate[0],
                    *padding,
                )?,
                conv_out(
                    first[2],
                    kernel_size[1],
                    strides[1],
                    dilation_rate[1],
                    *padding,
                )?,
                first[3].map(|c| c * depth_multiplier),
            ]
        }
        LayerKind::Dense { units, .. } => {
            let mut s = first.clone();
            *s.last_mut().ok_or("expects an input of rank >= 2")? = Some(*units);
            s
        }
        LayerKind::ZeroPadding2D { padding } => {
            rank4(first)?;
            vec![
                first[0],
                first[1].map(|h| h + padding[0][0] + padding[0][1]),
                first[2].map(|w| w + padding[1][0] + padding[1][1]),
                first[3],
            ]
        }
        LayerKind::MaxPooling2D {
            pool_size,
            strides,
            padding,
        }
        | LayerKind::AveragePooling2D {
            pool_size,
            strides,
            padding,
        } => {
            rank4(first)?;
            vec![
                first[0],
                conv_out(first[1], pool_size[0], strides[0], 1, *padding)?,
                conv_out(first[2], pool_size[1], strides[1], 1, *padding)?,
                first[3],
            ]
        }
        LayerKind::GlobalAveragePooling2D { keepdims }
        | LayerKind::GlobalMaxPooling2D { keepdims } => {
            rank4(first)?;
            if *keepdims {
                vec![first[0], Some(1), Some(1), first[3]]
            } else {
                vec![first[0], first[3]]
            }
        }
        LayerKind::InferenceIdentity { .. } => first.clone(),
        LayerKind::Flatten => {
            let rest: Option<usize> = first.iter().skip(1).copied().product();
            vec![first[0], rest]
        }
        LayerKind::Reshape { target_shape } => {
            let total: Option<usize> = first.iter().skip(1).copied().product();
            let known: usize = target_shape
                .iter()
                .filter(|&&d| d >= 0)
                .map(|&d| d as usize)
                .product();
            let mut s = vec![first[0]];
            for &d in target_shape {
                s.push(if d >= 0 {
                    Some(d as usize)
                } else {
                    total.map(|t| t / known.max(1))
                });
            }
            if let Some(t) = total {
                let prod: Option<usize> = s.iter().skip(1).copied().product();
                if prod != Some(t) {
                    return Err(format!("cannot reshape {t} elements to {target_shape:?}"));
                }
            }
            s
        }
        LayerKind::Add
        | LayerKind::Multiply
        | LayerKind::Subtract
        | LayerKind::Maximum
        | LayerKind::Minimum
        | LayerKind::Average => {
            if inputs.iter().any(|s| s.len() != first.len()) {
                return Err("inputs have different ranks".into());
            }
            // Size-1 axes broadcast (Keras's merge-shape rule).
            let mut out = first.clone();
            for s in &inputs[1..] {
                for (o, d) in out.iter_mut().zip(s) {
                    if *o == Some(1) {
                        *o = *d;
                    }
                }
            }
            out
        }
        LayerKind::Conv2DTranspose {
            kernel_size,
            strides,
            padding,
            ..
        } => {
            rank4(first)?;
            let filters = kernel_dim(weights, "kernel", 2)?;
            let out = |len: Option<usize>, k: usize, s: usize| -> Result<Option<usize>, String> {
                if k == 0 || s == 0 {
                    return Err(format!("kernel {k} and stride {s} must be >= 1"));
                }
                let Some(len) = len else { return Ok(None) };
                let base = len.checked_mul(s);
                match padding {
                    Padding::Same => base,
                    Padding::Valid => base.and_then(|b| b.checked_add(k.saturating_sub(s))),
                }
                .map(Some)
                .ok_or_else(|| format!("output of {len} x stride {s} overflows"))
            };
            vec![
                first[0],
                out(first[1], kernel_size[0], strides[0])?,
                out(first[2], kernel_size[1], strides[1])?,
                Some(filters),
            ]
        }
        LayerKind::UpSampling2D { size, .. } => {
            rank4(first)?;
            if size.contains(&0) {
                return Err(format!("size {size:?} must be >= 1"));
            }
            let up = |d: Option<usize>, f: usize| {
                d.map(|d| d.checked_mul(f))
                    .map(|v| v.ok_or("size overflows"))
                    .transpose()
            };
            vec![
                first[0],
                up(first[1], size[0])?,
                up(first[2], size[1])?,
                first[3],
            ]
        }
        LayerKind::Concatenate { axis } => {
            let a = positive_axis(*axis, first.len())?;
            let mut s = first.clone();
            s[a] = inputs.iter().map(|s| s.get(a).copied().flatten()).sum();
            s
        }
        LayerKind::Embedding { output_dim, .. } => {
            let mut s = first.clone();
            s.push(Some(*output_dim));
            s
        }
        LayerKind::Conv1D {
            kernel_size,
            strides,
            padding,
            dilation_rate,
            ..
        } => {
            rank3(first)?;
            let filters = kernel_dim(weights, "kernel", 2)?;
            let (len, pad) = match padding {
                Padding1D::Valid => (first[1], Padding::Valid),
                Padding1D::Same => (first[1], Padding::Same),
                // Causal: (k-1)*d zeros in front, then valid.
                Padding1D::Causal => (
                    first[1].map(|l| l + kernel_size.saturating_sub(1) * dilation_rate),
                    Padding::Valid,
                ),
            };
            vec![
                first[0],
                conv_out(len, *kernel_size, *strides, *dilation_rate, pad)?,
                Some(filters),
            ]
        }
        LayerKind::MaxPooling1D {
            pool_size,
            strides,
            padding,
        }
        | LayerKind::AveragePooling1D {
            pool_size,
            strides,
            padding,
        } => {
            rank3(first)?;
            vec![
                first[0],
                conv_out(first[1], *pool_size, *strides, 1, *padding)?,
                first[2],
            ]
        }
        LayerKind::Lstm {
            units,
            return_sequences,
            ..
        }
        | LayerKind::Gru {
            units,
            return_sequences,
            ..
        }
        | LayerKind::SimpleRnn {
            units,
            return_sequences,
            ..
        } => {
            rank3(first)?;
            if *return_sequences {
                vec![first[0], first[1], Some(*units)]
            } else {
                vec![first[0], Some(*units)]
            }
        }
        LayerKind::GlobalAveragePooling1D { keepdims }
        | LayerKind::GlobalMaxPooling1D { keepdims } => {
            rank3(first)?;
            if *keepdims {
                vec![first[0], Some(1), first[2]]
            } else {
                vec![first[0], first[2]]
            }
        }
        LayerKind::Permute { dims } => {
            let mut sorted = dims.clone();
            sorted.sort_unstable();
            if first.len() != dims.len() + 1 || !sorted.iter().enumerate().all(|(i, &d)| d == i + 1)
            {
                return Err(format!(
                    "dims {dims:?} is not a permutation of the {} non-batch axes",
                    first.len().saturating_sub(1)
                ));
            }
            std::iter::once(first[0])
                .chain(dims.iter().map(|&d| first[d]))
                .collect()
        }
        LayerKind::RepeatVector { n } => {
            if first.len() != 2 {
                return Err(format!(
                    "expects (batch, features), got rank {}",
                    first.len()
                ));
            }
            vec![first[0], Some(*n), first[1]]
        }
        LayerKind::SeparableConv2D {
            filters,
            kernel_size,
            strides,
            padding,
            dilation_rate,
            ..
        } => {
            rank4(first)?;
            vec![
                first[0],
                conv_out(
                    first[1],
                    kernel_size[0],
                    strides[0],
                    dilation_rate[0],
                    *padding,
                )?,
                conv_out(
                    first[2],
                    kernel_size[1],
                    strides[1],
                    dilation_rate[1],
                    *padding,
                )?,
                Some(*filters),
            ]
        }
        LayerKind::Cropping2D { cropping } => {
            rank4(first)?;
            let crop = |len: Option<usize>, [a, b]: [usize; 2]| match len {
                None => Ok(None),
                Some(n) => a
                    .checked_add(b)
                    .filter(|&s| s < n)
                    .map(|s| Some(n - s))
                    .ok_or_else(|| format!("cropping {cropping:?} leaves nothing of {n}")),
            };
            vec![
                first[0],
                crop(first[1], cropping[0])?,
                crop(first[2], cropping[1])?,
                first[3],
            ]
        }
        LayerKind::Activation { .. }
        | LayerKind::ReLU { .. }
        | LayerKind::LeakyReLU { .. }
        | LayerKind::Softmax { .. }
        | LayerKind::BatchNormalization { .. }
        | LayerKind::LayerNormalization { .. }
        | LayerKind::Rescaling { .. }
        | LayerKind::Normalization { .. }
        | LayerKind::PReLU { .. } => first.clone(),
        LayerKind::MultiHeadAttention { output_shape, .. } => {
            if first.len() != 3 {
                return Err(format!("expects (batch, seq, features), got {first:?}"));
            }
            let mut s = first.clone();
            if let Some(e) = output_shape {
                s[2] = Some(*e);
            }
            s
        }
        LayerKind::TfOp(op) => super::fallback::output_shape(op, inputs)?,
    })
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
