//! Pooling: `MaxPool` → `MaxPooling2D`, `AvgPool` → `AveragePooling2D`,
//! `Mean` over H and W → `GlobalAveragePooling2D` (`keep_dims` → `keepdims`).
//!
//! TF's AvgPool with SAME padding divides by the number of valid elements in
//! each window, which is also what Keras's AveragePooling2D does.
//!
//! Not handled yet: 1-D and 3-D pooling, `MaxPoolV2` (ksize as input),
//! global max pooling (`Max`), NCHW.

use super::conv::padding;
use super::ctx::{Ctx, Emit, Match};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
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
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind,
        weights: vec![],
        inputs: vec![x],
        output: TensorId::new(node.name.clone(), 0),
        nodes: vec![node.name.clone()],
    }))
}

pub fn mean(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
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
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: LayerKind::GlobalAveragePooling2D {
            keepdims: node.attr_bool("keep_dims").unwrap_or(false),
        },
        weights: vec![],
        inputs: vec![x],
        output: TensorId::new(node.name.clone(), 0),
        nodes: vec![node.name.clone()],
    }))
}
