//! Sequence input layers: `Embedding`, `Masking` (`mask_value`, no weights).
//!
//! Dialect: `mask_zero` written as the layer has it (both Kerases read it); weight `embeddings`
//! `[input_dim, output_dim]`. (`Conv1D` and the 1-D poolings live with their
//! 2-D kin in `conv.rs` and `pool.rs`; `LSTM` in `recurrent.rs`.)

use serde_json::json;

use super::shape::{Shape, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats};
use crate::keras::ir::Weight;
use crate::keras::ir::{Layer, LayerKind};

pub(crate) static EMBEDDING: ClassInfo = ClassInfo {
    family: "sequence",
    class: "Embedding",
    written: "Embedding",
    aliases: &[],
    read: read_embedding,
    write: write_embedding,
    weight_names: embedding_names,
    check_shapes: check_embedding,
    floats: no_floats,
    output_shape: embedding_shape,
};

pub(crate) static MASKING: ClassInfo = ClassInfo {
    family: "sequence",
    class: "Masking",
    written: "Masking",
    aliases: &[],
    read: read_masking,
    write: write_masking,
    weight_names: super::no_weights,
    check_shapes: super::no_shape_check,
    floats: masking_floats,
    output_shape: super::shape::same_shape,
};

fn read_masking(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Masking {
        mask_value: c.f32("mask_value", 0.0)?,
    })
}

fn write_masking(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Masking { mask_value } = &layer.kind {
        c.put("mask_value", json!(mask_value));
    }
}

fn masking_floats(kind: &LayerKind) -> Vec<(&'static str, f32)> {
    match kind {
        LayerKind::Masking { mask_value } => vec![("mask_value", *mask_value)],
        _ => vec![],
    }
}

fn read_embedding(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Embedding {
        input_dim: c.usize("input_dim", None)?,
        output_dim: c.usize("output_dim", None)?,
        mask_zero: c.bool("mask_zero", false)?,
    })
}

fn write_embedding(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Embedding {
        input_dim,
        output_dim,
        mask_zero,
    } = &layer.kind
    else {
        return;
    };
    c.put("input_dim", json!(input_dim));
    c.put("output_dim", json!(output_dim));
    c.put("mask_zero", json!(mask_zero));
}

fn embedding_names(_: &LayerKind) -> Vec<&'static str> {
    vec!["embeddings"]
}

fn check_embedding(
    kind: &LayerKind,
    _: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    match kind {
        LayerKind::Embedding {
            input_dim,
            output_dim,
            ..
        } if shapes[0] != [*input_dim, *output_dim] => bad_shape(
            "embeddings",
            format!("[{input_dim}, {output_dim}]"),
            shapes[0],
        ),
        _ => Ok(()),
    }
}

/// Output shape: the indices' shape plus `output_dim`.
fn embedding_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Embedding { output_dim, .. } = kind else {
        return Err(wrong_kind(kind));
    };
    let mut s = first.clone();
    s.push(Some(*output_dim));
    Ok(s)
}
