//! The Keras `Bidirectional` wrapper around an `LSTM`, `GRU` or `SimpleRNN`.
//!
//! Semantics (Keras 3.15 `Bidirectional.call`, tf-keras 2.21 likewise): the
//! wrapped layer runs forwards on `x` (`y`); a copy of it with `go_backwards`
//! flipped and its own weights runs on `x` too (`y_rev`: steps last to first,
//! outputs in that processing order); with `return_sequences` `y_rev` is
//! reversed along the steps axis so that step `t` of both lines up; then
//! `merge_mode` joins them: `concat` (last axis, forward first), `sum`
//! (`y + y_rev`), `mul` (`y * y_rev`), `ave` (`(y + y_rev) / 2`).
//!
//! Weights: the forward layer's under `forward/<name>`, then the backward
//! layer's under `backward/<name>` (each layer's own names and shapes, see
//! [`super::recurrent`]).
//!
//! A mask reaches both directions (each reads it in its own step order), with
//! `zero_output_for_mask` set to `return_sequences`, as both Kerases force it.
//!
//! `merge_mode=None` ([`MergeMode::Separate`]) leaves `y` and the flipped
//! `y_rev` as the first two outputs. With the wrapped layer's `return_state`,
//! the forward layer's final states then the backward layer's follow (each
//! as that layer returns them: LSTM h, c; GRU and SimpleRNN h).

use ndarray::{ArrayD, Axis};

use super::LayerError;
use super::recurrent::StepMask;
use crate::keras::{Layer, LayerKind, MergeMode, Weight};

/// `kind` with `go_backwards` set to `back` (the wrapped classes only).
fn with_direction(kind: &LayerKind, back: bool) -> Result<LayerKind, LayerError> {
    let mut k = kind.clone();
    match &mut k {
        LayerKind::Lstm { go_backwards, .. }
        | LayerKind::Gru { go_backwards, .. }
        | LayerKind::SimpleRnn { go_backwards, .. } => *go_backwards = back,
        other => {
            return Err(LayerError::Config(format!(
                "Bidirectional wraps an LSTM, GRU or SimpleRNN, not a {}",
                other.class_name()
            )));
        }
    }
    Ok(k)
}

/// One direction as a layer of its own: `kind`, the weights under `prefix`.
fn half(layer: &Layer, prefix: &str, kind: LayerKind) -> Layer {
    Layer {
        name: format!("{}/{prefix}", layer.name),
        kind,
        inbound: layer.inbound.clone(),
        weights: layer
            .weights
            .iter()
            .filter_map(|w| {
                w.name.strip_prefix(prefix).map(|n| Weight {
                    name: n.to_string(),
                    value: w.value.clone(),
                })
            })
            .collect(),
    }
}

/// The Keras `Bidirectional` layer (see the module header).
pub fn bidirectional_layer(
    layer: &Layer,
    x: &ArrayD<f32>,
    mask: Option<StepMask>,
) -> Result<Vec<ArrayD<f32>>, LayerError> {
    let LayerKind::Bidirectional {
        layer: inner,
        merge_mode,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a Bidirectional".into()));
    };
    let forward_back = crate::keras::layers::recurrent::go_backwards(inner);
    let forward = half(layer, "forward/", with_direction(inner, forward_back)?);
    let backward = half(layer, "backward/", with_direction(inner, !forward_back)?);
    // Each half reads the mask with the wrapper's `zero_output` (which the
    // one dispatcher would set for a plain layer), so it is called directly.
    let run = |half: &Layer| match half.kind {
        LayerKind::Lstm { .. } => super::recurrent::lstm_layer(half, x, mask),
        LayerKind::Gru { .. } => super::recurrent::gru_layer(half, x, mask),
        LayerKind::SimpleRnn { .. } => super::recurrent::simple_rnn_layer(half, x, mask),
        ref other => Err(LayerError::Config(format!(
            "Bidirectional wraps an LSTM, GRU or SimpleRNN, not a {}",
            other.class_name()
        ))),
    };
    // Each direction's output, then its final states (with return_state).
    let mut fwd = run(&forward)?.into_iter();
    let mut bwd = run(&backward)?.into_iter();
    let (Some(y), Some(mut y_rev)) = (fwd.next(), bwd.next()) else {
        return Err(LayerError::Config("a direction returned no output".into()));
    };
    if y_rev.ndim() == 3 {
        // return_sequences: step t of the backward output is input step
        // steps - 1 - t; flip it back.
        y_rev.invert_axis(Axis(1));
    }
    let last = Axis(y.ndim() - 1);
    let mut outputs = match merge_mode {
        MergeMode::Concat => vec![
            ndarray::concatenate(last, &[y.view(), y_rev.view()])
                .map_err(|e| LayerError::Config(e.to_string()))?,
        ],
        MergeMode::Sum => vec![&y + &y_rev],
        MergeMode::Mul => vec![&y * &y_rev],
        MergeMode::Ave => vec![(&y + &y_rev).mapv(|v| v / 2.0)],
        MergeMode::Separate => vec![y, y_rev],
    };
    outputs.extend(fwd);
    outputs.extend(bwd);
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Activation;

    /// SimpleRNN(1) both ways over 3 steps, weights by hand, every merge
    /// mode, with and without `return_sequences`; the expected values are the
    /// recurrences written out in f64.
    #[test]
    fn merges_the_forward_and_the_flipped_backward_outputs() {
        let xs = [0.5f64, -1.0, 0.25];
        let x =
            ArrayD::from_shape_vec(vec![1, 3, 1], xs.iter().map(|v| *v as f32).collect()).unwrap();
        // forward: h = tanh(0.8 x - 0.3 h + 0.1); backward: h = tanh(-0.6 x + 0.5 h).
        let run = |xs: &mut dyn Iterator<Item = f64>, k: f64, r: f64, b: f64| {
            let mut h = 0.0f64;
            xs.map(|x| {
                h = (k * x + r * h + b).tanh();
                h
            })
            .collect::<Vec<f64>>()
        };
        let fwd = run(&mut xs.iter().copied(), 0.8, -0.3, 0.1);
        let mut bwd = run(&mut xs.iter().rev().copied(), -0.6, 0.5, 0.0);
        let bwd_last = *bwd.last().unwrap();
        bwd.reverse(); // aligned with the input steps
        let w = |name: &str, v: f32| Weight {
            name: name.into(),
            value: ArrayD::from_shape_vec(
                if name.ends_with("bias") {
                    vec![1]
                } else {
                    vec![1, 1]
                },
                vec![v],
            )
            .unwrap(),
        };
        for return_sequences in [true, false] {
            for mode in [
                MergeMode::Concat,
                MergeMode::Sum,
                MergeMode::Mul,
                MergeMode::Ave,
            ] {
                let layer = Layer {
                    name: "bi".into(),
                    kind: LayerKind::Bidirectional {
                        layer: Box::new(LayerKind::SimpleRnn {
                            units: 1,
                            return_sequences,
                            return_state: false,
                            use_bias: true,
                            go_backwards: false,
                            activation: Activation::Tanh,
                        }),
                        merge_mode: mode,
                    },
                    inbound: vec!["x".into()],
                    weights: vec![
                        w("forward/kernel", 0.8),
                        w("forward/recurrent_kernel", -0.3),
                        w("forward/bias", 0.1),
                        w("backward/kernel", -0.6),
                        w("backward/recurrent_kernel", 0.5),
                        w("backward/bias", 0.0),
                    ],
                };
                let y = bidirectional_layer(&layer, &x, None).unwrap().remove(0);
                let pairs: Vec<(f64, f64)> = if return_sequences {
                    fwd.iter().copied().zip(bwd.iter().copied()).collect()
                } else {
                    vec![(fwd[2], bwd_last)]
                };
                let want: Vec<f64> = pairs
                    .iter()
                    .flat_map(|&(f, b)| match mode {
                        MergeMode::Concat => vec![f, b],
                        MergeMode::Sum => vec![f + b],
                        MergeMode::Mul => vec![f * b],
                        MergeMode::Ave => vec![(f + b) / 2.0],
                        MergeMode::Separate => unreachable!("not in this loop"),
                    })
                    .collect();
                let width = if mode == MergeMode::Concat { 2 } else { 1 };
                let shape: Vec<usize> = if return_sequences {
                    vec![1, 3, width]
                } else {
                    vec![1, width]
                };
                assert_eq!(y.shape(), shape.as_slice(), "{mode:?}");
                for (got, want) in y.iter().zip(&want) {
                    // f32 against f64 over three steps of O(1) values.
                    assert!(
                        (*got as f64 - want).abs() < 1e-6,
                        "{mode:?} rs={return_sequences}: {y:?} vs {want:?}"
                    );
                }
            }
        }
    }

    /// merge_mode=None and return_state on the same hand-written recurrences:
    /// the forward output, the flipped backward output, then each
    /// direction's final h (the backward one's after its last processed
    /// step, input step 0), as Keras returns them.
    #[test]
    fn separate_outputs_and_states_in_keras_order() {
        let xs = [0.5f64, -1.0, 0.25];
        let x =
            ArrayD::from_shape_vec(vec![1, 3, 1], xs.iter().map(|v| *v as f32).collect()).unwrap();
        let run = |xs: &mut dyn Iterator<Item = f64>, k: f64, r: f64| {
            let mut h = 0.0f64;
            xs.map(|x| {
                h = (k * x + r * h).tanh();
                h
            })
            .collect::<Vec<f64>>()
        };
        let fwd = run(&mut xs.iter().copied(), 0.8, -0.3);
        let mut bwd = run(&mut xs.iter().rev().copied(), -0.6, 0.5);
        let bwd_last = *bwd.last().unwrap();
        bwd.reverse();
        let w = |name: &str, v: f32| Weight {
            name: name.into(),
            value: ArrayD::from_shape_vec(vec![1, 1], vec![v]).unwrap(),
        };
        for (mode, return_state) in [
            (MergeMode::Separate, false),
            (MergeMode::Separate, true),
            (MergeMode::Sum, true),
        ] {
            let kind = LayerKind::Bidirectional {
                layer: Box::new(LayerKind::SimpleRnn {
                    units: 1,
                    return_sequences: true,
                    return_state,
                    use_bias: false,
                    go_backwards: false,
                    activation: Activation::Tanh,
                }),
                merge_mode: mode,
            };
            let layer = Layer {
                name: "bi".into(),
                inbound: vec!["x".into()],
                weights: vec![
                    w("forward/kernel", 0.8),
                    w("forward/recurrent_kernel", -0.3),
                    w("backward/kernel", -0.6),
                    w("backward/recurrent_kernel", 0.5),
                ],
                kind,
            };
            let ys = bidirectional_layer(&layer, &x, None).unwrap();
            let mut want: Vec<(Vec<usize>, Vec<f64>)> = match mode {
                MergeMode::Separate => {
                    vec![(vec![1, 3, 1], fwd.clone()), (vec![1, 3, 1], bwd.clone())]
                }
                _ => vec![(
                    vec![1, 3, 1],
                    fwd.iter().zip(&bwd).map(|(f, b)| f + b).collect(),
                )],
            };
            if return_state {
                want.push((vec![1, 1], vec![fwd[2]]));
                want.push((vec![1, 1], vec![bwd_last]));
            }
            assert_eq!(ys.len(), layer.kind.outputs(), "{mode:?} {return_state}");
            assert_eq!(ys.len(), want.len(), "{mode:?} {return_state}");
            for (k, (y, (shape, values))) in ys.iter().zip(&want).enumerate() {
                assert_eq!(
                    y.shape(),
                    shape.as_slice(),
                    "{mode:?} {return_state} output {k}"
                );
                for (got, want) in y.iter().zip(values) {
                    assert!(
                        (*got as f64 - want).abs() < 1e-6,
                        "{mode:?} {return_state} output {k}: {y:?} vs {values:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn wraps_only_recurrent_layers() {
        let layer = Layer {
            name: "bi".into(),
            kind: LayerKind::Bidirectional {
                layer: Box::new(LayerKind::Flatten),
                merge_mode: MergeMode::Sum,
            },
            inbound: vec!["x".into()],
            weights: vec![],
        };
        let e = bidirectional_layer(&layer, &ArrayD::zeros(vec![1, 2, 1]), None).unwrap_err();
        assert!(e.to_string().contains("LSTM, GRU or SimpleRNN"), "{e}");
    }
}
