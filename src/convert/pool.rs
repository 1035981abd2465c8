//! Pooling: `MaxPool` → `MaxPooling2D`, `AvgPool` → `AveragePooling2D`,
//! `Mean` over H and W → `GlobalAveragePooling2D`, `Max` over H and W →
//! `GlobalMaxPooling2D` (`keep_dims` → `keepdims`, so the squeeze-and-excitation
//! form `keepdims=True` round-trips; Keras 3 and tf-keras freeze the same op).
//!
//! TF's AvgPool with SAME padding divides by the number of valid elements in
//! each window, which is also what Keras's AveragePooling2D does.
//!
//! Not handled yet: 3-D pooling (1-D pooling is in `conv1d.rs`), `MaxPoolV2` (ksize as input),
//! NCHW, reductions over other axes.

use super::conv::padding;
use super::ctx::{Ctx, Emit, Match};
use super::rules::{LAYER, RuleEntry};
use crate::graph::NodeExt;
use crate::graph::pb::NodeDef;
use crate::keras::LayerKind;

fn window(node: &NodeDef, attr: &str) -> Result<[usize; 2], String> {
    let v = node.attr_ints(attr).map_err(|e| e.to_string())?;
    match v.as_slice() {
        [1, h, w, 1] if *h > 0 && *w > 0 => Ok([*h as usize, *w as usize]),
        _ => Err(format!("{attr} {v:?} must be [1, h, w, 1]")),
    }
}

pub fn pool(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    if node.attr_str("data_format").is_ok_and(|f| f != "NHWC") {
        return Err("only NHWC pooling is supported".into());
    }
    let pool_size = window(node, "ksize")?;
    let strides = window(node, "strides")?;
    let padding = padding(node)?;
    let kind = if node.op == "MaxPool" {
        LayerKind::MaxPooling2D {
            pool_size,
            strides,
            padding,
        }
    } else {
        LayerKind::AveragePooling2D {
            pool_size,
            strides,
            padding,
        }
    };
    Ok(Match::one(Emit::single(ctx, node, kind, vec![x])))
}

/// `Mean` or `Max` over axes 1 and 2 of a rank-4 layer output.
pub fn global(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let rank = ctx.shape(&x).map_or(0, Vec::len) as i64;
    if rank != 4 {
        return Err(format!(
            "mean over a rank-{rank} tensor is not a global pooling"
        ));
    }
    let mut axes: Vec<i64> = ctx
        .const_ints(node, 1)?
        .into_iter()
        .map(|a| if a < 0 { a + rank } else { a })
        .collect();
    axes.sort_unstable();
    if axes != [1, 2] {
        return Err(format!("reduces axes {axes:?}, not H and W"));
    }
    let keepdims = node.attr_bool("keep_dims").unwrap_or(false);
    let kind = match node.op.as_str() {
        "Mean" => LayerKind::GlobalAveragePooling2D { keepdims },
        "Max" => LayerKind::GlobalMaxPooling2D { keepdims },
        other => return Err(format!("{other} is not a global pooling")),
    };
    Ok(Match::one(Emit::single(ctx, node, kind, vec![x])))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("MaxPool", "max_pooling2d", LAYER, pool),
    RuleEntry::new("AvgPool", "average_pooling2d", LAYER, pool),
    RuleEntry::new("Mean", "global_average_pooling2d", LAYER, global),
    RuleEntry::new("Max", "global_max_pooling2d", LAYER, global),
];
