//! Keras masks in the interpreter: the mask a layer gives its output, and the
//! mask a recurrent layer reads, by the rules of [`crate::keras::layers::mask`].
//!
//! Masks are kept as `ArrayD<bool>` (the ids' shape for `Embedding(mask_zero)`,
//! (batch, steps) wherever a recurrent layer reads one), next to the values
//! in [`super::Run::masks`], keyed by the layer (or input) whose output they
//! belong to.

use ndarray::{ArrayD, Ix2};

use super::LayerError;
use super::recurrent::StepMask;
use crate::keras::layers::mask::{MaskRule, mask_rule};
use crate::keras::{Layer, LayerKind};

/// The mask `layer`'s output carries, from its inputs' values and masks.
/// A mask reaching a layer whose masked maths thaw does not implement is an
/// error (its value would be the unmasked one).
pub(super) fn output_mask(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    masks: &[Option<&ArrayD<bool>>],
) -> Result<Option<ArrayD<bool>>, LayerError> {
    let first = masks.first().copied().flatten();
    Ok(match mask_rule(&layer.kind) {
        MaskRule::Makes => inputs.first().map(|ids| ids.mapv(|v| v != 0.0)),
        MaskRule::Steps { return_sequences } => first.filter(|_| return_sequences).cloned(),
        MaskRule::Keeps => first.cloned(),
        MaskRule::Drops => None,
        MaskRule::Unimplemented => {
            check_unmasked(layer, masks)?;
            None
        }
    })
}

/// An error when a mask reaches a layer whose masked maths are not implemented.
pub(super) fn check_unmasked(
    layer: &Layer,
    masks: &[Option<&ArrayD<bool>>],
) -> Result<(), LayerError> {
    if mask_rule(&layer.kind) == MaskRule::Unimplemented && masks.iter().any(Option::is_some) {
        return Err(LayerError::Config(format!(
            "a Keras mask reaches this {} (from Embedding(mask_zero=True) upstream): \
             its masked computation is not implemented",
            layer.kind.class_name()
        )));
    }
    Ok(())
}

/// The mask a recurrent layer reads: its input's, as (batch, steps), with
/// `Bidirectional`'s `zero_output_for_mask` (its `return_sequences`).
pub(super) fn step_mask<'a>(
    kind: &LayerKind,
    mask: Option<&'a ArrayD<bool>>,
) -> Result<Option<StepMask<'a>>, LayerError> {
    let Some(m) = mask else {
        return Ok(None);
    };
    let keep = m.view().into_dimensionality::<Ix2>().map_err(|_| {
        LayerError::Config(format!(
            "a recurrent layer's mask must be (batch, steps), got shape {:?}",
            m.shape()
        ))
    })?;
    let zero_output = match kind {
        LayerKind::Bidirectional { layer, .. } => {
            mask_rule(layer)
                == MaskRule::Steps {
                    return_sequences: true,
                }
        }
        _ => false,
    };
    Ok(Some(StepMask { keep, zero_output }))
}
