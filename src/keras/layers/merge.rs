//! Merge layers, called on a list of tensors: `Add`, `Multiply`, `Subtract`
//! (exactly two), `Maximum`, `Minimum`, `Average`, `Concatenate`.
//!
//! Dialect: no class keys except Concatenate's `axis`; no weights. The number
//! of inbound tensors is checked by the model readers and `validate`
//! ([`LayerKind::is_merge`]). Not handled yet: Keras 3's `Add` called on a
//! tensor and a constant (`x + 3.0`, refused by the inbound-node reader).

use serde_json::json;

use super::{Cfg, ClassInfo, ConfigOut, no_floats, no_shape_check, no_weights, write_nothing};
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
