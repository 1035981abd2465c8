//! The fallback class `ThawTfOp`: one TF op with no Keras equivalent, run by
//! `tf.raw_ops` in a custom layer that the generated `thaw_fallbacks.py`
//! defines (`src/keras/pymodule.rs` owns its config keys, weight names
//! `const_<i>` and the Python; this file plugs it into the registry).
//!
//! Weight shapes are checked against the shapes recorded in its config.
//! Not handled yet: see `pymodule.rs`'s header for the ops it covers.

use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats};
use crate::keras::ir::{Layer, LayerKind};
use crate::keras::pymodule;

pub(crate) static THAW_TF_OP: ClassInfo = ClassInfo {
    family: "fallback",
    class: "ThawTfOp",
    written: "ThawTfOp",
    aliases: &[],
    read: read_tf_op,
    write: write_tf_op,
    weight_names: tf_op_names,
    check_shapes: check_tf_op,
    floats: no_floats,
};

fn read_tf_op(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::TfOp(
        pymodule::tf_op_from_config(c.e.config).map_err(|m| c.err(m))?,
    ))
}

fn write_tf_op(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::TfOp(op) = &layer.kind {
        pymodule::put_config(op, &mut |k: &str, v| c.put(k, v));
    }
}

fn tf_op_names(kind: &LayerKind) -> Vec<&'static str> {
    match kind {
        LayerKind::TfOp(op) => pymodule::weight_names(op),
        _ => Vec::new(),
    }
}

fn check_tf_op(
    kind: &LayerKind,
    names: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let LayerKind::TfOp(op) = kind else {
        return Ok(());
    };
    for ((name, want), got) in names.iter().zip(op.weight_shapes()).zip(shapes) {
        if want != *got {
            return bad_shape(name, format!("{want:?} (its config's shape)"), got);
        }
    }
    Ok(())
}
