//! Shape changes → `Flatten` or `Reshape`.
//!
//! - `Reshape(x, [B, -1])` or `[B, prod]` on a rank > 2 input → `Flatten`
//!   (tf-keras freezes the target as `Const [-1, N]`; Keras 3 as
//!   `Pack(StridedSlice(Shape(x), 0, 1), N)`; both fold here);
//! - any other `Reshape` that keeps the batch axis first → `Reshape(rest)`
//!   (TF1's `tf.reshape(x, [-1, ...])` included);
//! - `Squeeze` (TF1 after a 1x1 spatial map) and `ExpandDims` → `Reshape`.
//!
//! A graph frozen with a fixed batch has it folded into the target
//! (`[2, 48]`); [`Ctx::const_shape`] reads that leading entry as the batch.
//!
//! Flatten is row-major over H, W, C, as TensorFlow's Reshape is, so a
//! Flatten in front of a Dense keeps the kernel's row order.
//!
//! Not handled yet: reshapes that move the batch axis, `Permute` (Transpose).

use super::consts::BATCH;
use super::ctx::{Ctx, Emit, Match, Shape};
use super::rules::{GENERIC, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::LayerKind;

fn input_shape(ctx: &Ctx, x: &TensorId) -> Result<Shape, String> {
    ctx.shape(x)
        .cloned()
        .ok_or_else(|| "input shape unknown".to_string())
}

fn emit(ctx: &Ctx, node: &NodeDef, x: TensorId, kind: LayerKind) -> Match {
    Match::one(Emit::single(ctx, node, kind, vec![x]))
}

/// Keras `Reshape` target for a non-batch shape with known dims.
fn target(dims: &[Option<usize>]) -> Result<Vec<i64>, String> {
    dims.iter()
        .map(|d| {
            d.map(|d| d as i64)
                .ok_or_else(|| "a dimension is unknown".to_string())
        })
        .collect()
}

pub fn reshape(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let in_shape = input_shape(ctx, &x)?;
    let t = ctx.const_shape(node, 1)?;
    let Some((&first, rest)) = t.split_first() else {
        return Err("reshapes to a scalar".into());
    };
    if first != BATCH && first != -1 {
        return Err(format!("target {t:?} does not keep the batch axis first"));
    }
    if rest.iter().any(|&d| d == BATCH || d < -1) || (first == -1 && rest.contains(&-1)) {
        return Err(format!(
            "target {t:?} is not a reshape of the non-batch axes"
        ));
    }
    let total = crate::budget::product_known(in_shape.iter().skip(1).copied());
    // Without a -1 the rest must hold exactly one sample's elements, else the
    // leading entry is not the batch (a fixed-batch graph's [B*T, D]).
    if !rest.contains(&-1)
        && let Some(total) = total
        && rest.iter().try_fold(1i64, |a, &d| a.checked_mul(d)) != Some(total as i64)
    {
        return Err(format!(
            "target {t:?} does not keep one sample's {total} elements per batch entry"
        ));
    }
    let flat =
        rest.len() == 1 && in_shape.len() > 2 && (rest[0] == -1 || total == Some(rest[0] as usize));
    let kind = if flat {
        LayerKind::Flatten
    } else {
        LayerKind::Reshape {
            target_shape: rest.to_vec(),
        }
    };
    Ok(emit(ctx, node, x, kind))
}

pub fn squeeze(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let s = input_shape(ctx, &x)?;
    let rank = s.len() as i64;
    let dims: Vec<i64> = node
        .attr_ints("squeeze_dims")
        .unwrap_or_default()
        .into_iter()
        .map(|a| if a < 0 { a + rank } else { a })
        .collect();
    if dims.contains(&0) {
        return Err("squeezes the batch axis".into());
    }
    let kept: Vec<Option<usize>> = s
        .iter()
        .enumerate()
        .skip(1)
        .filter(|&(i, d)| {
            let listed = dims.is_empty() || dims.contains(&(i as i64));
            !(listed && *d == Some(1))
        })
        .map(|(_, d)| *d)
        .collect();
    Ok(emit(
        ctx,
        node,
        x,
        LayerKind::Reshape {
            target_shape: target(&kept)?,
        },
    ))
}

pub fn expand_dims(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let s = input_shape(ctx, &x)?;
    let axis = *ctx.const_ints(node, 1)?.first().ok_or("no axis")?;
    let rank = s.len() as i64 + 1;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis < 1 || axis >= rank {
        return Err(format!("axis {axis} would move the batch axis"));
    }
    let mut kept: Vec<Option<usize>> = s[1..].to_vec();
    kept.insert(axis as usize - 1, Some(1));
    Ok(emit(
        ctx,
        node,
        x,
        LayerKind::Reshape {
            target_shape: target(&kept)?,
        },
    ))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Reshape", "flatten / reshape", GENERIC, reshape),
    RuleEntry::new("Squeeze", "reshape (Squeeze)", GENERIC, squeeze),
    RuleEntry::new("ExpandDims", "reshape (ExpandDims)", GENERIC, expand_dims),
];
