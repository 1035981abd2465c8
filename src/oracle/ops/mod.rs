//! thaw's own TensorFlow op builders, inserted into tract-tensorflow's public op
//! register for ops tract lacks or mishandles. One file per op family; each family
//! lists its `(op name, builder)` pairs in `BUILDERS`, and [`register`] inserts them
//! all (replacing tract's builder of the same name where tract's is wrong).

mod array;
mod block_lstm;
mod conv;
mod deconv;
mod einsum;
mod fallback_math;
mod gather;
mod grouped;
mod konst;
mod lrn;
mod mask;
mod math;
mod norm;
mod pad;
mod passthrough;
mod resize;
mod reverse;
mod s2b;
mod slice;
mod split;
mod tile;

use tract_tensorflow::model::{ParsingContext, TfOpRegister};
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;

/// The signature tract-tensorflow expects of an op builder.
pub type Builder = fn(&ParsingContext, &NodeDef) -> TractResult<Box<dyn InferenceOp>>;

fn families() -> Vec<&'static [(&'static str, Builder)]> {
    vec![
        array::BUILDERS,
        block_lstm::BUILDERS,
        conv::BUILDERS,
        deconv::BUILDERS,
        fallback_math::BUILDERS,
        einsum::BUILDERS,
        gather::BUILDERS,
        konst::BUILDERS,
        lrn::BUILDERS,
        mask::BUILDERS,
        math::BUILDERS,
        norm::BUILDERS,
        pad::BUILDERS,
        resize::BUILDERS,
        reverse::BUILDERS,
        passthrough::BUILDERS,
        s2b::BUILDERS,
        slice::BUILDERS,
        split::BUILDERS,
        tile::BUILDERS,
    ]
}

/// Whether a node's `data_format` attribute says NCHW (TF's default is NHWC).
fn nchw(node: &NodeDef) -> TractResult<bool> {
    Ok(match node.get_attr_opt_raw_str("data_format")? {
        None | Some(b"NHWC") => false,
        Some(b"NCHW") => true,
        Some(other) => bail!("unsupported data_format {}", String::from_utf8_lossy(other)),
    })
}

/// Inserts thaw's builders into tract's register.
pub fn register(reg: &mut TfOpRegister) {
    for family in families() {
        for (name, builder) in family.iter() {
            reg.insert(name, *builder);
        }
    }
}

/// Names of the TF ops thaw registers, sorted.
pub fn thaw_ops() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = families()
        .iter()
        .flat_map(|f| f.iter().map(|(n, _)| *n))
        .collect();
    names.sort_unstable();
    names
}

/// Number of outputs TensorFlow gives a node, for the ops where it is not 1 and thaw
/// knows it; `None` when thaw does not check.
pub fn known_arity(node: &NodeDef) -> Option<usize> {
    match node.op.as_str() {
        "FusedBatchNorm" | "FusedBatchNormV2" => Some(5),
        "FusedBatchNormV3" => Some(6),
        "BlockLSTM" | "BlockLSTMV2" | "LSTMBlockCell" => Some(7),
        "IdentityN" => Some(node.input.iter().filter(|i| !i.starts_with('^')).count()),
        _ => None,
    }
}
