//! Recurrent layers: `LSTM`, `GRU`, `SimpleRNN`, and the `Bidirectional`
//! wrapper around one of them.
//!
//! Dialect: `activation` (default `tanh`) and, for LSTM and GRU,
//! `recurrent_activation` (default `sigmoid`), read as `Dense`'s
//! `activation` is (both Kerases' forms) and written by name;
//! `go_backwards` and `return_state` as converted (with `return_state` the
//! final states are outputs 1 and on, see [`LayerKind::outputs`]), and
//! `stateful`, `unroll` false; weights
//! - LSTM: `kernel [in, 4u]`, `recurrent_kernel [u, 4u]`, `bias [4u]` (if
//!   `use_bias`), gates in Keras's i, f, c, o order;
//! - GRU: `kernel [in, 3u]`, `recurrent_kernel [u, 3u]`, `bias [2, 3u]` with
//!   `reset_after` (input bias, then recurrent bias), `[3u]` without, gates
//!   z, r, h; `reset_after` is always written (the default differs between
//!   Keras versions: true in Keras 3 and tf-keras 2, false in Keras 1) and
//!   read as true when absent;
//! - SimpleRNN: `kernel [in, u]`, `recurrent_kernel [u, u]`, `bias [u]`;
//! - Bidirectional: `layer` (the wrapped class and its config, written as
//!   above; both Kerases make the backward layer from it, so no
//!   `backward_layer` is written, and one that is read must be `layer` with
//!   `go_backwards` flipped) and `merge_mode` (concat, sum, mul, ave, or
//!   `null`: the two directions as two outputs); weights
//!   the forward layer's then the backward layer's (`forward/…`,
//!   `backward/…`), the order both Kerases' `.h5` loaders assign them in.
//!
//! Not handled yet (refused when read): a softmax (not elementwise)
//! `activation` or `recurrent_activation`, `stateful`; `Bidirectional` with
//! another backward layer.

use serde_json::json;

use super::shape::{Shape, rank3, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats, with_bias};
use crate::keras::cfg::entry;
use crate::keras::ir::Weight;
use crate::keras::ir::{Activation, MergeMode};
use crate::keras::ir::{Layer, LayerKind};

pub(crate) static LSTM: ClassInfo = ClassInfo {
    family: "recurrent",
    class: "LSTM",
    written: "LSTM",
    aliases: &[],
    read: read_lstm,
    write: write_rnn,
    weight_names: rnn_names,
    check_shapes: check_rnn,
    floats: no_floats,
    output_shape: rnn_shape,
};

pub(crate) static GRU: ClassInfo = ClassInfo {
    family: "recurrent",
    class: "GRU",
    written: "GRU",
    aliases: &[],
    read: read_gru,
    write: write_rnn,
    weight_names: rnn_names,
    check_shapes: check_rnn,
    floats: no_floats,
    output_shape: rnn_shape,
};

pub(crate) static SIMPLE_RNN: ClassInfo = ClassInfo {
    family: "recurrent",
    class: "SimpleRNN",
    written: "SimpleRNN",
    aliases: &[],
    read: read_simple_rnn,
    write: write_rnn,
    weight_names: rnn_names,
    check_shapes: check_rnn,
    floats: no_floats,
    output_shape: rnn_shape,
};

/// A recurrent layer's `key` activation (`default` when absent), read as
/// `Dense`'s `activation` is; refuses softmax, which is not elementwise.
fn read_activation(
    c: &Cfg,
    class: &str,
    key: &str,
    default: Activation,
) -> Result<Activation, String> {
    if c.get(key).is_none() {
        return Ok(default);
    }
    let a = c.activation(key)?;
    if a == Activation::Softmax {
        return Err(c.err(format!(
            "{class} {key} softmax is not supported yet (only elementwise activations)"
        )));
    }
    Ok(a)
}

/// The activations of a recurrent class: `(activation, recurrent_activation)`
/// (Keras's defaults tanh and sigmoid).
fn read_activations(c: &Cfg, class: &str) -> Result<(Activation, Activation), String> {
    Ok((
        read_activation(c, class, "activation", Activation::Tanh)?,
        read_activation(c, class, "recurrent_activation", Activation::Sigmoid)?,
    ))
}

/// The keys every recurrent class shares; refuses flags thaw does not model
/// yet.
struct Common {
    units: usize,
    return_sequences: bool,
    return_state: bool,
    use_bias: bool,
    go_backwards: bool,
}

fn read_common(c: &Cfg, class: &str) -> Result<Common, String> {
    if c.bool("stateful", false)? {
        return Err(c.err(format!("{class} with stateful is not supported yet")));
    }
    Ok(Common {
        units: c.usize("units", None)?,
        return_sequences: c.bool("return_sequences", false)?,
        return_state: c.bool("return_state", false)?,
        use_bias: c.bool("use_bias", true)?,
        go_backwards: c.bool("go_backwards", false)?,
    })
}

fn read_lstm(c: &Cfg) -> Result<LayerKind, String> {
    let Common {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
    } = read_common(c, "LSTM")?;
    let (activation, recurrent_activation) = read_activations(c, "LSTM")?;
    Ok(LayerKind::Lstm {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
        activation,
        recurrent_activation,
    })
}

fn read_gru(c: &Cfg) -> Result<LayerKind, String> {
    let Common {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
    } = read_common(c, "GRU")?;
    let (activation, recurrent_activation) = read_activations(c, "GRU")?;
    Ok(LayerKind::Gru {
        units,
        return_sequences,
        return_state,
        use_bias,
        reset_after: c.bool("reset_after", true)?,
        go_backwards,
        activation,
        recurrent_activation,
    })
}

fn read_simple_rnn(c: &Cfg) -> Result<LayerKind, String> {
    let Common {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
    } = read_common(c, "SimpleRNN")?;
    Ok(LayerKind::SimpleRnn {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
        activation: read_activation(c, "SimpleRNN", "activation", Activation::Tanh)?,
    })
}

pub(crate) static BIDIRECTIONAL: ClassInfo = ClassInfo {
    family: "recurrent",
    class: "Bidirectional",
    written: "Bidirectional",
    aliases: &[],
    read: read_bidirectional,
    write: write_bidirectional,
    weight_names: bidirectional_names,
    check_shapes: check_bidirectional,
    floats: no_floats,
    output_shape: bidirectional_shape,
};

/// The wrapped kind of a `Bidirectional`'s `layer` or `backward_layer` entry.
fn read_wrapped(c: &Cfg, key: &str) -> Result<Option<LayerKind>, String> {
    let Some(v) = c.get(key) else {
        return Ok(None);
    };
    let e = entry(v, 0).map_err(|m| c.err(format!("'{key}': {m}")))?;
    let kind = super::read(&e).map_err(|m| c.err(format!("'{key}': {m}")))?;
    match kind {
        LayerKind::Lstm { .. } | LayerKind::Gru { .. } | LayerKind::SimpleRnn { .. } => {
            Ok(Some(kind))
        }
        other => Err(c.err(format!(
            "wraps a {} ('{key}'): only LSTM, GRU and SimpleRNN are supported",
            other.class_name()
        ))),
    }
}

/// `kind` (a recurrent kind) with `go_backwards` flipped.
fn reversed(kind: &LayerKind) -> LayerKind {
    let mut k = kind.clone();
    if let LayerKind::Lstm { go_backwards, .. }
    | LayerKind::Gru { go_backwards, .. }
    | LayerKind::SimpleRnn { go_backwards, .. } = &mut k
    {
        *go_backwards = !*go_backwards;
    }
    k
}

fn read_bidirectional(c: &Cfg) -> Result<LayerKind, String> {
    let layer = read_wrapped(c, "layer")?.ok_or_else(|| c.err("missing 'layer'"))?;
    // Keras 3 writes the backward layer it made; one that is not the forward
    // one run the other way (other units, weights layout) is not modelled.
    if let Some(back) = read_wrapped(c, "backward_layer")?
        && back != reversed(&layer)
    {
        return Err(c.err(
            "a backward_layer that is not the forward layer with go_backwards flipped is not \
             supported",
        ));
    }
    let merge_mode = match c.get("merge_mode") {
        None => MergeMode::Separate,
        Some(v) => v
            .as_str()
            .and_then(MergeMode::from_keras_name)
            .filter(|m| *m != MergeMode::Separate)
            .ok_or_else(|| {
                c.err(format!(
                    "merge_mode {v} is not concat, sum, mul, ave or null"
                ))
            })?,
    };
    Ok(LayerKind::Bidirectional {
        layer: Box::new(layer),
        merge_mode,
    })
}

/// `layer`: the forward layer's class and config (both Kerases make the
/// backward one from it, named `forward_<name>`/`backward_<name>`); no
/// `backward_layer`.
fn write_bidirectional(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Bidirectional {
        layer: inner,
        merge_mode,
    } = &layer.kind
    else {
        return;
    };
    let class = inner.class_name();
    let mut cfg = serde_json::Map::new();
    cfg.insert("name".into(), json!(class.to_ascii_lowercase()));
    cfg.insert("trainable".into(), json!(true));
    cfg.insert("dtype".into(), json!("float32"));
    let wrapped = Layer {
        name: class.to_ascii_lowercase(),
        kind: (**inner).clone(),
        inbound: vec![],
        weights: vec![],
    };
    write_rnn(&wrapped, &mut ConfigOut(&mut cfg));
    // Keras 3 resolves a nested layer only with its `module` (without it:
    // "Could not locate class 'LSTM'"); tf-keras accepts the same object.
    c.put(
        "layer",
        json!({"module": "keras.layers", "class_name": class, "config": cfg, "registered_name": null}),
    );
    match merge_mode {
        MergeMode::Separate => c.put("merge_mode", serde_json::Value::Null),
        m => c.put("merge_mode", json!(m.keras_name())),
    }
}

fn bidirectional_names(kind: &LayerKind) -> Vec<&'static str> {
    let LayerKind::Bidirectional { layer, .. } = kind else {
        return vec![];
    };
    let with = shape_of(layer).is_some_and(|s| s.2);
    let mut v = vec!["forward/kernel", "forward/recurrent_kernel"];
    if with {
        v.push("forward/bias");
    }
    v.extend(["backward/kernel", "backward/recurrent_kernel"]);
    if with {
        v.push("backward/bias");
    }
    v
}

fn check_bidirectional(
    kind: &LayerKind,
    names: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let LayerKind::Bidirectional { layer, .. } = kind else {
        return Ok(());
    };
    let half = shapes.len() / 2;
    for (prefix, part) in [("forward", &shapes[..half]), ("backward", &shapes[half..])] {
        check_rnn(layer, &names[..half], part).map_err(|m| format!("{prefix} layer: {m}"))?;
    }
    Ok(())
}

/// The wrapped layer's output shape, its last axis doubled by `concat`.
fn bidirectional_shape(
    kind: &LayerKind,
    w: &[Weight],
    first: &Shape,
    all: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Bidirectional { layer, merge_mode } = kind else {
        return Err(wrong_kind(kind));
    };
    let mut shape = rnn_shape(layer, w, first, all)?;
    if *merge_mode == MergeMode::Concat
        && let Some(Some(d)) = shape.last_mut()
    {
        *d *= 2;
    }
    Ok(shape)
}

/// `(units, return_sequences, use_bias, gate blocks, bias rows)` of a
/// recurrent kind: bias rows 2 for a GRU with `reset_after`, else 1.
fn shape_of(kind: &LayerKind) -> Option<(usize, bool, bool, usize, usize)> {
    match kind {
        LayerKind::Lstm {
            units,
            return_sequences,
            use_bias,
            ..
        } => Some((*units, *return_sequences, *use_bias, 4, 1)),
        LayerKind::Gru {
            units,
            return_sequences,
            use_bias,
            reset_after,
            ..
        } => Some((
            *units,
            *return_sequences,
            *use_bias,
            3,
            if *reset_after { 2 } else { 1 },
        )),
        LayerKind::SimpleRnn {
            units,
            return_sequences,
            use_bias,
            ..
        } => Some((*units, *return_sequences, *use_bias, 1, 1)),
        _ => None,
    }
}

fn write_rnn(layer: &Layer, c: &mut ConfigOut) {
    let (
        Some((units, return_sequences, use_bias, gates, _)),
        Some((activation, recurrent_activation)),
    ) = (shape_of(&layer.kind), activations(&layer.kind))
    else {
        return;
    };
    c.put("units", json!(units));
    c.put("activation", json!(activation.keras_name()));
    if gates > 1 {
        c.put(
            "recurrent_activation",
            json!(recurrent_activation.keras_name()),
        );
    }
    c.put("use_bias", json!(use_bias));
    c.put("return_sequences", json!(return_sequences));
    c.put("return_state", json!(return_state(&layer.kind)));
    c.put("go_backwards", json!(go_backwards(&layer.kind)));
    c.put("stateful", json!(false));
    c.put("unroll", json!(false));
    if let LayerKind::Gru { reset_after, .. } = &layer.kind {
        c.put("reset_after", json!(reset_after));
    }
}

/// `(activation, recurrent_activation)` of a recurrent kind (SimpleRNN has
/// no gates: sigmoid, unused); None for any other kind.
pub(crate) fn activations(kind: &LayerKind) -> Option<(Activation, Activation)> {
    match kind {
        LayerKind::Lstm {
            activation,
            recurrent_activation,
            ..
        }
        | LayerKind::Gru {
            activation,
            recurrent_activation,
            ..
        } => Some((*activation, *recurrent_activation)),
        LayerKind::SimpleRnn { activation, .. } => Some((*activation, Activation::Sigmoid)),
        _ => None,
    }
}

/// Whether a recurrent kind returns its final states.
pub(crate) fn return_state(kind: &LayerKind) -> bool {
    matches!(
        kind,
        LayerKind::Lstm {
            return_state: true,
            ..
        } | LayerKind::Gru {
            return_state: true,
            ..
        } | LayerKind::SimpleRnn {
            return_state: true,
            ..
        }
    )
}

/// The shapes of a recurrent layer's (or a `Bidirectional`'s) outputs after
/// the first (`first`): a non-merged `Bidirectional`'s backward sequence (as
/// the forward one), then each final state (batch, units). Empty for a
/// single-output layer.
pub(crate) fn more_output_shapes(kind: &LayerKind, first: &Shape, input: &Shape) -> Vec<Shape> {
    let (inner, separate) = match kind {
        LayerKind::Bidirectional { layer, merge_mode } => {
            (&**layer, *merge_mode == MergeMode::Separate)
        }
        other => (other, false),
    };
    let Some((units, ..)) = shape_of(inner) else {
        return vec![];
    };
    let mut v = Vec::new();
    if separate {
        v.push(first.clone());
    }
    let state = vec![input.first().copied().flatten(), Some(units)];
    while v.len() + 1 < kind.outputs() {
        v.push(state.clone());
    }
    v
}

/// Whether a recurrent kind runs its steps last to first.
pub(crate) fn go_backwards(kind: &LayerKind) -> bool {
    matches!(
        kind,
        LayerKind::Lstm {
            go_backwards: true,
            ..
        } | LayerKind::Gru {
            go_backwards: true,
            ..
        } | LayerKind::SimpleRnn {
            go_backwards: true,
            ..
        }
    )
}

fn rnn_names(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = shape_of(kind).is_some_and(|s| s.2);
    with_bias(&["kernel", "recurrent_kernel"], use_bias)
}

fn check_rnn(kind: &LayerKind, _: &[&'static str], shapes: &[&[usize]]) -> Result<(), String> {
    let Some((units, _, _, gates, rows)) = shape_of(kind) else {
        return Ok(());
    };
    let g = gates * units;
    if shapes[0].len() != 2 || shapes[0][1] != g {
        return bad_shape("kernel", format!("[in, {g}]"), shapes[0]);
    }
    if shapes[1] != [units, g] {
        return bad_shape("recurrent_kernel", format!("[{units}, {g}]"), shapes[1]);
    }
    if let Some(b) = shapes.get(2) {
        let ok = if rows == 2 { *b == [2, g] } else { *b == [g] };
        if !ok {
            let want = if rows == 2 {
                format!("[2, {g}]")
            } else {
                format!("[{g}]")
            };
            return bad_shape("bias", want, b);
        }
    }
    Ok(())
}

/// Output shape: (batch, steps, units) with `return_sequences`, else (batch, units).
fn rnn_shape(kind: &LayerKind, _: &[Weight], first: &Shape, _: &[Shape]) -> Result<Shape, String> {
    let Some((units, return_sequences, ..)) = shape_of(kind) else {
        return Err(wrong_kind(kind));
    };
    rank3(first)?;
    Ok(if return_sequences {
        vec![first[0], first[1], Some(units)]
    } else {
        vec![first[0], Some(units)]
    })
}

/// A model with one layer of each recurrent class and setting thaw writes
/// (for `load_check.py` and the round trips).
#[cfg(test)]
pub(crate) fn recurrent_model() -> crate::keras::Model {
    use crate::keras::test_models::{input, layer};
    // The GRU without reset_after has softsign gates.
    let gru = |return_sequences, reset_after| LayerKind::Gru {
        units: 3,
        return_sequences,
        return_state: false,
        use_bias: true,
        reset_after,
        go_backwards: !reset_after,
        activation: Activation::Tanh,
        recurrent_activation: if reset_after {
            Activation::Sigmoid
        } else {
            Activation::Softsign
        },
    };
    crate::keras::Model {
        name: "recurrent".to_string(),
        inputs: vec![input("seq", &[5, 4])],
        layers: vec![
            layer(
                "masking",
                LayerKind::Masking { mask_value: 0.5 },
                &["seq"],
                &[],
            ),
            layer(
                "gru_seq",
                gru(true, true),
                &["masking"],
                &[&[4, 9], &[3, 9], &[2, 9]],
            ),
            layer(
                "gru_v1",
                gru(true, false),
                &["gru_seq"],
                &[&[3, 9], &[3, 9], &[9]],
            ),
            layer(
                "rnn_seq",
                LayerKind::SimpleRnn {
                    units: 2,
                    return_sequences: true,
                    return_state: false,
                    use_bias: true,
                    go_backwards: true,
                    activation: Activation::Relu,
                },
                &["gru_v1"],
                &[&[3, 2], &[2, 2], &[2]],
            ),
            layer(
                "lstm",
                LayerKind::Lstm {
                    units: 2,
                    return_sequences: false,
                    return_state: false,
                    use_bias: true,
                    go_backwards: true,
                    activation: Activation::Tanh,
                    recurrent_activation: Activation::Sigmoid,
                },
                &["rnn_seq"],
                &[&[2, 8], &[2, 8], &[8]],
            ),
            layer(
                "gru_nobias",
                LayerKind::Gru {
                    units: 2,
                    return_sequences: false,
                    return_state: false,
                    use_bias: false,
                    reset_after: true,
                    go_backwards: false,
                    activation: Activation::Tanh,
                    recurrent_activation: Activation::Sigmoid,
                },
                &["rnn_seq"],
                &[&[2, 6], &[2, 6]],
            ),
            layer(
                "bi_concat",
                LayerKind::Bidirectional {
                    layer: Box::new(LayerKind::Lstm {
                        units: 2,
                        return_sequences: true,
                        return_state: false,
                        use_bias: true,
                        go_backwards: false,
                        activation: Activation::Tanh,
                        recurrent_activation: Activation::Sigmoid,
                    }),
                    merge_mode: MergeMode::Concat,
                },
                &["seq"],
                &[&[4, 8], &[2, 8], &[8], &[4, 8], &[2, 8], &[8]],
            ),
            layer(
                "bi_ave",
                LayerKind::Bidirectional {
                    layer: Box::new(LayerKind::Gru {
                        units: 3,
                        return_sequences: false,
                        return_state: false,
                        use_bias: true,
                        reset_after: true,
                        go_backwards: false,
                        activation: Activation::Tanh,
                        recurrent_activation: Activation::Sigmoid,
                    }),
                    merge_mode: MergeMode::Ave,
                },
                &["bi_concat"],
                &[&[4, 9], &[3, 9], &[2, 9], &[4, 9], &[3, 9], &[2, 9]],
            ),
            // Several outputs: an LSTM's sequence, h and c; a non-merged
            // Bidirectional GRU's two sequences and two final h.
            layer(
                "lstm_state",
                LayerKind::Lstm {
                    units: 2,
                    return_sequences: true,
                    return_state: true,
                    use_bias: true,
                    go_backwards: false,
                    activation: Activation::Tanh,
                    recurrent_activation: Activation::Sigmoid,
                },
                &["seq"],
                &[&[4, 8], &[2, 8], &[8]],
            ),
            layer(
                "bi_split",
                LayerKind::Bidirectional {
                    layer: Box::new(LayerKind::Gru {
                        units: 2,
                        return_sequences: true,
                        return_state: true,
                        use_bias: true,
                        reset_after: true,
                        go_backwards: false,
                        activation: Activation::Tanh,
                        recurrent_activation: Activation::Sigmoid,
                    }),
                    merge_mode: MergeMode::Separate,
                },
                &["lstm_state"],
                &[&[2, 6], &[2, 6], &[2, 6], &[2, 6], &[2, 6], &[2, 6]],
            ),
            layer(
                "states",
                LayerKind::Concatenate { axis: -1 },
                &["lstm_state:1", "lstm_state:2", "bi_split:3"],
                &[],
            ),
        ],
        outputs: vec![
            "lstm".into(),
            "gru_nobias".into(),
            "bi_concat".into(),
            "bi_ave".into(),
            "bi_split:1".into(),
            "states".into(),
            "bi_split:2".into(),
        ],
    }
}

/// A padding mask through recurrent layers: int32 ids → `Embedding(mask_zero)`
/// → Dense (carries the mask) → LSTM (sequences) → Bidirectional(GRU) (for
/// `load_check.py`: both Kerases must load the config and agree on the
/// masked predictions).
#[cfg(test)]
pub(crate) fn masked_model() -> crate::keras::Model {
    use crate::keras::test_models::layer;
    crate::keras::Model {
        name: "masked".to_string(),
        inputs: vec![crate::keras::Input {
            name: "ids".to_string(),
            shape: vec![Some(6)],
            dtype: crate::keras::DType::I32,
        }],
        layers: vec![
            layer(
                "embed",
                LayerKind::Embedding {
                    input_dim: 4,
                    output_dim: 3,
                    mask_zero: true,
                },
                &["ids"],
                &[&[4, 3]],
            ),
            layer(
                "mix",
                LayerKind::Dense {
                    units: 3,
                    use_bias: true,
                    activation: Activation::Tanh,
                },
                &["embed"],
                &[&[3, 3], &[3]],
            ),
            layer(
                "lstm_seq",
                LayerKind::Lstm {
                    units: 2,
                    return_sequences: true,
                    return_state: false,
                    use_bias: true,
                    go_backwards: false,
                    activation: Activation::Tanh,
                    recurrent_activation: Activation::Sigmoid,
                },
                &["mix"],
                &[&[3, 8], &[2, 8], &[8]],
            ),
            layer(
                "bi_gru",
                LayerKind::Bidirectional {
                    layer: Box::new(LayerKind::Gru {
                        units: 2,
                        return_sequences: false,
                        return_state: false,
                        use_bias: true,
                        reset_after: true,
                        go_backwards: false,
                        activation: Activation::Tanh,
                        recurrent_activation: Activation::Sigmoid,
                    }),
                    merge_mode: MergeMode::Concat,
                },
                &["lstm_seq"],
                &[&[2, 6], &[2, 6], &[2, 6], &[2, 6], &[2, 6], &[2, 6]],
            ),
        ],
        outputs: vec!["bi_gru".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_class(class: &str, config: serde_json::Value) -> Result<LayerKind, String> {
        let v = json!({"class_name": class, "name": "l", "config": config});
        let e = entry(&v, 0)?;
        super::super::read(&e)
    }

    /// Both Kerases' spellings of an activation are read; softmax (not
    /// elementwise) is refused with the class and key named.
    #[test]
    fn activations_are_read_in_both_dialects_and_softmax_refused() {
        let keras3_relu =
            json!({"module": "keras.activations", "class_name": "function", "config": "relu"});
        let lstm = read_class(
            "LSTM",
            json!({"units": 2, "activation": keras3_relu, "recurrent_activation": "softsign"}),
        )
        .unwrap();
        assert_eq!(
            activations(&lstm),
            Some((Activation::Relu, Activation::Softsign))
        );
        let rnn = read_class("SimpleRNN", json!({"units": 2, "activation": "linear"})).unwrap();
        assert_eq!(activations(&rnn).map(|a| a.0), Some(Activation::Linear));
        let gru = read_class("GRU", json!({"units": 2})).unwrap();
        assert_eq!(
            activations(&gru),
            Some((Activation::Tanh, Activation::Sigmoid))
        );
        let err = read_class(
            "GRU",
            json!({"units": 2, "recurrent_activation": "softmax"}),
        )
        .unwrap_err();
        assert!(
            err.contains("GRU recurrent_activation softmax is not supported yet"),
            "{err}"
        );
        let err =
            read_class("LSTM", json!({"units": 2, "activation": "hard_sigmoid"})).unwrap_err();
        assert!(err.contains("hard_sigmoid"), "{err}");
    }

    /// The activations are written back by name.
    #[test]
    fn activations_are_written_by_name() {
        let layer = Layer {
            name: "l".into(),
            kind: LayerKind::Gru {
                units: 2,
                return_sequences: false,
                return_state: false,
                use_bias: true,
                reset_after: true,
                go_backwards: false,
                activation: Activation::Relu,
                recurrent_activation: Activation::Softsign,
            },
            inbound: vec![],
            weights: vec![],
        };
        let mut cfg = serde_json::Map::new();
        write_rnn(&layer, &mut ConfigOut(&mut cfg));
        assert_eq!(cfg["activation"], "relu");
        assert_eq!(cfg["recurrent_activation"], "softsign");
    }
}
