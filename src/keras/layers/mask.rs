//! Keras masks: which layers make one, use one, carry one on or drop it.
//!
//! A Keras mask is a bool tensor attached to a layer's output, `true` for the
//! steps that are real. `Embedding(mask_zero=True)` makes one (`ids != 0`), and
//! `Masking(mask_value)` (`any(x != mask_value)` over a step's features);
//! every layer whose class "supports masking" with Keras's default
//! `compute_mask` carries its input's mask on unchanged; the recurrent layers
//! use it on their steps (a masked step keeps the states and repeats the
//! previous output) and carry it on only with `return_sequences`; every other
//! layer drops it (Keras 3; tf-keras refuses to build such a model). Read from
//! Keras 3.15's `supports_masking` / `compute_mask` and tf-keras 2.21's, which
//! agree on every class below.
//!
//! [`mask_rule`] is an exhaustive `match` over [`LayerKind`]: a new class does
//! not compile until it says what it does with a mask. The interpreter
//! ([`crate::interp`]) follows these rules; a class whose maths would use a
//! mask in a way thaw does not implement ([`MaskRule::Unimplemented`]) makes
//! the layer fail when a mask reaches it, never a silent unmasked value.
//! [`mask_makers`] applies the same rules to a model's graph, without values:
//! which layer's mask each tensor carries (the config reader checks Keras 3's
//! recorded `mask=` arguments against it, see `src/keras/mask_ops.rs`).

use std::collections::HashMap;

use crate::keras::ir::{Layer, LayerKind, Model, output_name};

/// What a layer does with the mask of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskRule {
    /// Makes its output's mask from its input (`Embedding(mask_zero)`, `Masking`); a
    /// layer of the class that does not (`mask_zero=False`) is [`Self::Drops`].
    Makes,
    /// Uses the mask on its steps; its output carries it on when it returns
    /// sequences (LSTM, GRU, SimpleRNN, Bidirectional).
    Steps { return_sequences: bool },
    /// Carries it on unchanged; its maths ignore it.
    Keeps,
    /// Its maths would use it (masked means, attention masks, merged masks):
    /// not implemented, so a mask reaching it is an error.
    Unimplemented,
    /// Neither uses it nor carries it on.
    Drops,
}

/// See the module header.
pub fn mask_rule(kind: &LayerKind) -> MaskRule {
    use LayerKind as K;
    match kind {
        K::Embedding {
            mask_zero: true, ..
        }
        | K::Masking { .. } => MaskRule::Makes,
        K::Lstm {
            return_sequences, ..
        }
        | K::Gru {
            return_sequences, ..
        }
        | K::SimpleRnn {
            return_sequences, ..
        } => MaskRule::Steps {
            return_sequences: *return_sequences,
        },
        K::Bidirectional { layer, .. } => match mask_rule(layer) {
            MaskRule::Steps { return_sequences } => MaskRule::Steps { return_sequences },
            _ => MaskRule::Unimplemented,
        },
        K::Dense { .. }
        | K::Activation { .. }
        | K::ReLU { .. }
        | K::LeakyReLU { .. }
        | K::PReLU { .. }
        | K::Rescaling { .. }
        | K::Normalization { .. }
        | K::BatchNormalization { .. }
        | K::LayerNormalization { .. }
        | K::InferenceIdentity { .. } => MaskRule::Keeps,
        K::Softmax { .. }
        | K::GlobalAveragePooling1D { .. }
        | K::MultiHeadAttention { .. }
        | K::Add
        | K::Multiply
        | K::Subtract
        | K::Maximum
        | K::Minimum
        | K::Average
        | K::Concatenate { .. } => MaskRule::Unimplemented,
        K::Embedding {
            mask_zero: false, ..
        }
        | K::Conv2D { .. }
        | K::DepthwiseConv2D { .. }
        | K::ZeroPadding2D { .. }
        | K::MaxPooling2D { .. }
        | K::AveragePooling2D { .. }
        | K::GlobalAveragePooling2D { .. }
        | K::GlobalMaxPooling2D { .. }
        | K::Flatten
        | K::Reshape { .. }
        | K::Conv2DTranspose { .. }
        | K::UpSampling2D { .. }
        | K::SeparableConv2D { .. }
        | K::Cropping2D { .. }
        | K::Conv1D { .. }
        | K::MaxPooling1D { .. }
        | K::AveragePooling1D { .. }
        | K::GlobalMaxPooling1D { .. }
        | K::Permute { .. }
        | K::RepeatVector { .. }
        | K::TfOp(_) => MaskRule::Drops,
    }
}

/// The layer whose mask (`Embedding(mask_zero=True)` or `Masking`) each tensor
/// of `model` carries, by the rules of [`mask_rule`] as the interpreter
/// applies them (a layer's output mask comes from its first input's; see
/// [`LayerKind::output_carries_mask`] for the outputs of multi-output layers).
/// Tensors without a mask are absent. `model.layers` must be in topological
/// order.
pub fn mask_makers(model: &Model) -> HashMap<String, &Layer> {
    let mut makers: HashMap<String, &Layer> = HashMap::new();
    for layer in &model.layers {
        let first = layer.inbound.first().and_then(|t| makers.get(t)).copied();
        let made = match mask_rule(&layer.kind) {
            MaskRule::Makes => Some(layer),
            MaskRule::Steps { return_sequences } => first.filter(|_| return_sequences),
            MaskRule::Keeps => first,
            MaskRule::Drops | MaskRule::Unimplemented => None,
        };
        if let Some(maker) = made {
            for k in (0..layer.kind.outputs()).filter(|&k| layer.kind.output_carries_mask(k)) {
                makers.insert(output_name(&layer.name, k), maker);
            }
        }
    }
    makers
}
