//! Merge layers, called on a list of tensors: `Add`, `Multiply`, `Subtract`
//! (exactly two), `Maximum`, `Minimum`, `Average`, `Concatenate`.
//!
//! Dialect: no class keys except Concatenate's `axis`; no weights. The number
//! of inbound tensors is checked by the model readers and `validate`
//! ([`LayerKind::is_merge`]). Not handled yet: Keras 3's `Add` called on a
//! tensor and a constant (`x + 3.0`, refused by the inbound-node reader).

use serde_json::json;

use super::shape::{Shape, positive_axis, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, no_floats, no_shape_check, no_weights, write_nothing};
use crate::keras::ir::Weight;
use crate::keras::ir::{Layer, LayerKind};

/// A merge class without config keys.
macro_rules! merge_class {
    ($class:literal, $read:ident) => {
        ClassInfo {
            family: "merge",
            class: $class,
            written: $class,
            aliases: &[],
            read: $read,
            write: write_nothing,
            weight_names: no_weights,
            check_shapes: no_shape_check,
            floats: no_floats,
            output_shape: elementwise_shape,
        }
    };
}

pub(crate) static ADD: ClassInfo = merge_class!("Add", read_add);
pub(crate) static MULTIPLY: ClassInfo = merge_class!("Multiply", read_multiply);
pub(crate) static SUBTRACT: ClassInfo = merge_class!("Subtract", read_subtract);
pub(crate) static MAXIMUM: ClassInfo = merge_class!("Maximum", read_maximum);
pub(crate) static MINIMUM: ClassInfo = merge_class!("Minimum", read_minimum);
pub(crate) static AVERAGE: ClassInfo = merge_class!("Average", read_average);

pub(crate) static CONCATENATE: ClassInfo = ClassInfo {
    family: "merge",
    class: "Concatenate",
    written: "Concatenate",
    aliases: &[],
    read: read_concatenate,
    write: write_concatenate,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: no_floats,
    output_shape: concatenate_shape,
};

fn read_add(_: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Add)
}

fn read_multiply(_: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Multiply)
}

fn read_subtract(_: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Subtract)
}

fn read_maximum(_: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Maximum)
}

fn read_minimum(_: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Minimum)
}

fn read_average(_: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Average)
}

fn read_concatenate(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Concatenate {
        axis: c.i64("axis", -1)?,
    })
}

fn write_concatenate(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Concatenate { axis } = &layer.kind {
        c.put("axis", json!(axis));
    }
}

/// Output shape of the element-wise merges: the first input's, where size-1
/// axes broadcast (Keras's merge-shape rule); ranks must agree.
fn elementwise_shape(
    _: &LayerKind,
    _: &[Weight],
    first: &Shape,
    inputs: &[Shape],
) -> Result<Shape, String> {
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
    Ok(out)
}

/// Output shape: the first input's, the `axis` size summed over the inputs.
fn concatenate_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    inputs: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Concatenate { axis } = kind else {
        return Err(wrong_kind(kind));
    };
    let a = positive_axis(*axis, first.len())?;
    let mut s = first.clone();
    s[a] = inputs.iter().map(|s| s.get(a).copied().flatten()).sum();
    Ok(s)
}
