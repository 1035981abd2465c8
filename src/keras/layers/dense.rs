//! `Dense` (its own family, as in `convert/dense.rs` and `interp/dense.rs`:
//! neither a convolution nor a sequence layer).
//!
//! Dialect: the same keys in both Kerases (`units`, `activation`, `use_bias`).
//! Not handled yet: LoRA-enabled `Dense` (`lora_rank`, refused for every
//! class by [`super::read`]).

use serde_json::json;

use super::shape::{Shape, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats, with_bias};
use crate::keras::ir::Weight;
use crate::keras::ir::{Layer, LayerKind};

pub(crate) static DENSE: ClassInfo = ClassInfo {
    family: "dense",
    class: "Dense",
    written: "Dense",
    aliases: &[],
    read: read_dense,
    write: write_dense,
    weight_names: dense_names,
    check_shapes: check_dense,
    floats: no_floats,
    output_shape: dense_shape,
};

fn read_dense(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Dense {
        units: c.usize("units", None)?,
        use_bias: c.bool("use_bias", true)?,
        activation: c.activation("activation")?,
    })
}

fn write_dense(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Dense {
        units,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return;
    };
    c.put("units", json!(units));
    c.put("activation", json!(activation.keras_name()));
    c.put("use_bias", json!(use_bias));
}

fn dense_names(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = matches!(kind, LayerKind::Dense { use_bias: true, .. });
    with_bias(&["kernel"], use_bias)
}

fn check_dense(kind: &LayerKind, _: &[&'static str], shapes: &[&[usize]]) -> Result<(), String> {
    let LayerKind::Dense { units, .. } = kind else {
        return Ok(());
    };
    let k = shapes[0];
    if k.len() != 2 || k[1] != *units {
        return bad_shape("kernel", format!("[in, {units}]"), k);
    }
    if let Some(b) = shapes.get(1)
        && *b != [*units]
    {
        return bad_shape("bias", format!("[{units}]"), b);
    }
    Ok(())
}

/// Output shape: the input's, last axis `units`.
fn dense_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Dense { units, .. } = kind else {
        return Err(wrong_kind(kind));
    };
    let mut s = first.clone();
    *s.last_mut().ok_or("expects an input of rank >= 2")? = Some(*units);
    Ok(s)
}
