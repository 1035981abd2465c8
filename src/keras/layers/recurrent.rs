//! Recurrent layers: `LSTM`, `GRU`, `SimpleRNN`.
//!
//! Dialect: written with their default activations (`tanh`, and `sigmoid`
//! for the gates of LSTM and GRU) and `return_state`, `go_backwards`,
//! `stateful`, `unroll` all false; weights
//! - LSTM: `kernel [in, 4u]`, `recurrent_kernel [u, 4u]`, `bias [4u]` (if
//!   `use_bias`), gates in Keras's i, f, c, o order;
//! - GRU: `kernel [in, 3u]`, `recurrent_kernel [u, 3u]`, `bias [2, 3u]` with
//!   `reset_after` (input bias, then recurrent bias), `[3u]` without, gates
//!   z, r, h; `reset_after` is always written (the default differs between
//!   Keras versions: true in Keras 3 and tf-keras 2, false in Keras 1) and
//!   read as true when absent;
//! - SimpleRNN: `kernel [in, u]`, `recurrent_kernel [u, u]`, `bias [u]`.
//!
//! Not handled yet (refused when read): other activations, `return_state`,
//! `go_backwards`, `stateful`; `Bidirectional`.

use serde_json::json;

use super::shape::{Shape, rank3, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats, with_bias};
use crate::keras::ir::Weight;
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

/// The keys every recurrent class shares: `(units, return_sequences,
/// use_bias)`; refuses activations and flags thaw does not model yet.
fn read_common(c: &Cfg, class: &str, gated: bool) -> Result<(usize, bool, bool), String> {
    let mut fixed = vec![("activation", "tanh")];
    if gated {
        fixed.push(("recurrent_activation", "sigmoid"));
    }
    for (key, want) in fixed {
        if let Some(v) = c.get(key)
            && v.as_str() != Some(want)
        {
            return Err(c.err(format!(
                "{class} {key} {v} is not supported yet (only {want})"
            )));
        }
    }
    for key in ["return_state", "go_backwards", "stateful"] {
        if c.bool(key, false)? {
            return Err(c.err(format!("{class} with {key} is not supported yet")));
        }
    }
    Ok((
        c.usize("units", None)?,
        c.bool("return_sequences", false)?,
        c.bool("use_bias", true)?,
    ))
}

fn read_lstm(c: &Cfg) -> Result<LayerKind, String> {
    let (units, return_sequences, use_bias) = read_common(c, "LSTM", true)?;
    Ok(LayerKind::Lstm {
        units,
        return_sequences,
        use_bias,
    })
}

fn read_gru(c: &Cfg) -> Result<LayerKind, String> {
    let (units, return_sequences, use_bias) = read_common(c, "GRU", true)?;
    Ok(LayerKind::Gru {
        units,
        return_sequences,
        use_bias,
        reset_after: c.bool("reset_after", true)?,
    })
}

fn read_simple_rnn(c: &Cfg) -> Result<LayerKind, String> {
    let (units, return_sequences, use_bias) = read_common(c, "SimpleRNN", false)?;
    Ok(LayerKind::SimpleRnn {
        units,
        return_sequences,
        use_bias,
    })
}

/// `(units, return_sequences, use_bias, gate blocks, bias rows)` of a
/// recurrent kind: bias rows 2 for a GRU with `reset_after`, else 1.
fn shape_of(kind: &LayerKind) -> Option<(usize, bool, bool, usize, usize)> {
    match kind {
        LayerKind::Lstm {
            units,
            return_sequences,
            use_bias,
        } => Some((*units, *return_sequences, *use_bias, 4, 1)),
        LayerKind::Gru {
            units,
            return_sequences,
            use_bias,
            reset_after,
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
        } => Some((*units, *return_sequences, *use_bias, 1, 1)),
        _ => None,
    }
}

fn write_rnn(layer: &Layer, c: &mut ConfigOut) {
    let Some((units, return_sequences, use_bias, gates, _)) = shape_of(&layer.kind) else {
        return;
    };
    c.put("units", json!(units));
    c.put("activation", json!("tanh"));
    if gates > 1 {
        c.put("recurrent_activation", json!("sigmoid"));
    }
    c.put("use_bias", json!(use_bias));
    c.put("return_sequences", json!(return_sequences));
    c.put("return_state", json!(false));
    c.put("go_backwards", json!(false));
    c.put("stateful", json!(false));
    c.put("unroll", json!(false));
    if let LayerKind::Gru { reset_after, .. } = &layer.kind {
        c.put("reset_after", json!(reset_after));
    }
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
    let gru = |return_sequences, reset_after| LayerKind::Gru {
        units: 3,
        return_sequences,
        use_bias: true,
        reset_after,
    };
    crate::keras::Model {
        name: "recurrent".to_string(),
        inputs: vec![input("seq", &[5, 4])],
        layers: vec![
            layer(
                "gru_seq",
                gru(true, true),
                &["seq"],
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
                    use_bias: true,
                },
                &["gru_v1"],
                &[&[3, 2], &[2, 2], &[2]],
            ),
            layer(
                "lstm",
                LayerKind::Lstm {
                    units: 2,
                    return_sequences: false,
                    use_bias: true,
                },
                &["rnn_seq"],
                &[&[2, 8], &[2, 8], &[8]],
            ),
            layer(
                "gru_nobias",
                LayerKind::Gru {
                    units: 2,
                    return_sequences: false,
                    use_bias: false,
                    reset_after: true,
                },
                &["rnn_seq"],
                &[&[2, 6], &[2, 6]],
            ),
        ],
        outputs: vec!["lstm".into(), "gru_nobias".into()],
    }
}
