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
        MaskRule::Makes => match (&layer.kind, inputs.first()) {
            (LayerKind::Masking { mask_value }, Some(x)) => Some(kept_steps(x, *mask_value)?),
            (_, ids) => ids.map(|ids| ids.mapv(|v| v != 0.0)),
        },
        MaskRule::Steps { return_sequences } => first.filter(|_| return_sequences).cloned(),
        MaskRule::Keeps => first.cloned(),
        MaskRule::Drops => None,
        MaskRule::Unimplemented => {
            check_unmasked(layer, masks)?;
            None
        }
    })
}

/// `Masking`'s mask: a step is kept when any of its features (the last
/// axis) differs from `mask_value`.
fn kept_steps(x: &ArrayD<f32>, mask_value: f32) -> Result<ArrayD<bool>, LayerError> {
    if x.ndim() < 2 {
        return Err(super::input_error(
            0,
            x,
            "Masking needs a batch and a features axis",
        ));
    }
    let last = ndarray::Axis(x.ndim() - 1);
    Ok(x.map_axis(last, |f| f.iter().any(|&v| v != mask_value)))
}

/// The Keras `Masking` layer: `x` with every masked step (all features equal
/// to `mask_value`) zeroed.
pub(super) fn masking_layer(x: &ArrayD<f32>, mask_value: f32) -> Result<ArrayD<f32>, LayerError> {
    let keep = kept_steps(x, mask_value)?;
    let mut y = x.clone();
    let last = ndarray::Axis(x.ndim() - 1);
    for (mut step, kept) in y.lanes_mut(last).into_iter().zip(keep.iter()) {
        if !kept {
            step.fill(0.0);
        }
    }
    Ok(y)
}

/// An error when a mask reaches a layer whose masked maths are not implemented.
pub(super) fn check_unmasked(
    layer: &Layer,
    masks: &[Option<&ArrayD<bool>>],
) -> Result<(), LayerError> {
    if mask_rule(&layer.kind) == MaskRule::Unimplemented && masks.iter().any(Option::is_some) {
        return Err(LayerError::Config(format!(
            "a Keras mask reaches this {} (from an Embedding(mask_zero=True) or a Masking \
             layer upstream): its masked computation is not implemented",
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

#[cfg(test)]
mod tests {
    use super::super::{InterpError, run_all};
    use crate::keras::{Activation, DType, Input, Layer, LayerKind, Model, Weight};
    use ndarray::{ArrayD, IxDyn};

    fn layer(
        name: &str,
        kind: LayerKind,
        inbound: &str,
        weights: Vec<(&str, Vec<usize>)>,
    ) -> Layer {
        Layer {
            name: name.into(),
            kind,
            inbound: vec![inbound.into()],
            weights: weights
                .into_iter()
                .map(|(n, shape)| {
                    let len = shape.iter().product();
                    Weight {
                        name: n.into(),
                        value: ArrayD::from_shape_vec(
                            IxDyn(&shape),
                            (0..len).map(|i| (i as f32 * 0.61).cos()).collect(),
                        )
                        .unwrap(),
                    }
                })
                .collect(),
        }
    }

    /// ids (batch 2, 4 steps) → Embedding(5, 3, mask_zero) → Dense(3) →
    /// `next`; the ids hold padding (0) in both samples.
    fn model(mask_zero: bool, next: Layer) -> (Model, ArrayD<f32>) {
        let m = Model {
            name: "m".into(),
            inputs: vec![Input {
                name: "ids".into(),
                shape: vec![Some(4)],
                dtype: DType::I32,
            }],
            layers: vec![
                layer(
                    "embed",
                    LayerKind::Embedding {
                        input_dim: 5,
                        output_dim: 3,
                        mask_zero,
                    },
                    "ids",
                    vec![("embeddings", vec![5, 3])],
                ),
                layer(
                    "dense",
                    LayerKind::Dense {
                        units: 3,
                        use_bias: false,
                        activation: Activation::Tanh,
                    },
                    "embed",
                    vec![("kernel", vec![3, 3])],
                ),
                next,
            ],
            outputs: vec!["next".into()],
        };
        let ids =
            ArrayD::from_shape_vec(IxDyn(&[2, 4]), vec![0., 3., 1., 0., 2., 4., 0., 0.]).unwrap();
        (m, ids)
    }

    fn gru(return_sequences: bool) -> Layer {
        layer(
            "next",
            LayerKind::Gru {
                units: 2,
                return_sequences,
                return_state: false,
                use_bias: false,
                reset_after: true,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            },
            "dense",
            vec![("kernel", vec![3, 6]), ("recurrent_kernel", vec![2, 6])],
        )
    }

    /// The mask is `ids != 0`, Dense carries it on, the GRU reads it (its
    /// value differs from the unmasked model's) and carries it on only when
    /// it returns sequences.
    #[test]
    fn embedding_makes_dense_keeps_and_the_recurrent_layer_reads_the_mask() {
        let (m, ids) = model(true, gru(true));
        let run = run_all(&m, std::slice::from_ref(&ids)).unwrap();
        let want = ids.mapv(|v| v != 0.0);
        for name in ["embed", "dense", "next"] {
            assert_eq!(run.masks.get(name), Some(&want), "{name}");
        }
        let (plain, _) = model(false, gru(true));
        let unmasked = run_all(&plain, std::slice::from_ref(&ids)).unwrap();
        assert!(unmasked.masks.is_empty());
        assert_ne!(run.values["next"], unmasked.values["next"]);
        let (last, _) = model(true, gru(false));
        let run = run_all(&last, std::slice::from_ref(&ids)).unwrap();
        assert!(!run.masks.contains_key("next"));
    }

    /// `Masking(0.5)` by hand: a step whose features all equal 0.5 is zeroed
    /// and masked; one differing feature keeps the step.
    #[test]
    fn masking_zeroes_and_masks_the_steps_equal_to_mask_value() {
        let x =
            ArrayD::from_shape_vec(IxDyn(&[1, 3, 2]), vec![0.5, 0.5, 0.5, 1.0, -2.0, 0.5]).unwrap();
        let y = super::masking_layer(&x, 0.5).unwrap();
        assert_eq!(
            y.iter().copied().collect::<Vec<f32>>(),
            [0.0, 0.0, 0.5, 1.0, -2.0, 0.5]
        );
        let m = super::kept_steps(&x, 0.5).unwrap();
        assert_eq!(
            m.iter().copied().collect::<Vec<bool>>(),
            [false, true, true]
        );
        assert!(super::masking_layer(&ArrayD::zeros(IxDyn(&[3])), 0.0).is_err());
    }

    /// A layer that drops the mask (Conv1D) runs as usual; one whose masked
    /// maths thaw does not implement (GlobalAveragePooling1D's masked mean)
    /// fails, naming the mask, instead of computing the unmasked value.
    #[test]
    fn a_mask_is_dropped_or_refused_by_class() {
        let conv = layer(
            "next",
            LayerKind::Conv1D {
                filters: 2,
                kernel_size: 1,
                strides: 1,
                padding: crate::keras::Padding1D::Valid,
                dilation_rate: 1,
                use_bias: false,
                activation: Activation::Linear,
            },
            "dense",
            vec![("kernel", vec![1, 3, 2])],
        );
        let (m, ids) = model(true, conv);
        let run = run_all(&m, std::slice::from_ref(&ids)).unwrap();
        assert!(run.values.contains_key("next") && !run.masks.contains_key("next"));
        let pool = layer(
            "next",
            LayerKind::GlobalAveragePooling1D { keepdims: false },
            "dense",
            vec![],
        );
        let (m, ids) = model(true, pool);
        let run = run_all(&m, std::slice::from_ref(&ids)).unwrap();
        match run.failure("next") {
            Some(super::super::LayerFailure::Own(InterpError::Layer { problem, .. })) => {
                assert!(problem.to_string().contains("mask"), "{problem}")
            }
            other => panic!("expected the pooling to fail on the mask, got {other:?}"),
        }
    }
}
