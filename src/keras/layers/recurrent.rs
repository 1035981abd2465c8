//! Recurrent layers: `LSTM`.
//!
//! Dialect: written with its default activations (`tanh`, `sigmoid`) and
//! `return_state`, `go_backwards`, `stateful`, `unroll` all false; weights
//! `kernel [in, 4u]`, `recurrent_kernel [u, 4u]`, `bias [4u]` (if `use_bias`),
//! gates in Keras's i, f, c, o order.
//!
//! Not handled yet (refused when read): other activations, `return_state`,
//! `go_backwards`, `stateful`; `GRU`, `SimpleRNN`, `Bidirectional`.

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
    write: write_lstm,
    weight_names: lstm_names,
    check_shapes: check_lstm,
    floats: no_floats,
    output_shape: lstm_shape,
};

fn read_lstm(c: &Cfg) -> Result<LayerKind, String> {
    for (key, want) in [("activation", "tanh"), ("recurrent_activation", "sigmoid")] {
        if let Some(v) = c.get(key)
            && v.as_str() != Some(want)
        {
            return Err(c.err(format!("LSTM {key} {v} is not supported yet (only {want})")));
        }
    }
    for key in ["return_state", "go_backwards", "stateful"] {
        if c.bool(key, false)? {
            return Err(c.err(format!("LSTM with {key} is not supported yet")));
        }
    }
    Ok(LayerKind::Lstm {
        units: c.usize("units", None)?,
        return_sequences: c.bool("return_sequences", false)?,
        use_bias: c.bool("use_bias", true)?,
    })
}

fn write_lstm(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Lstm {
        units,
        return_sequences,
        use_bias,
    } = &layer.kind
    else {
        return;
    };
    c.put("units", json!(units));
    c.put("activation", json!("tanh"));
    c.put("recurrent_activation", json!("sigmoid"));
    c.put("use_bias", json!(use_bias));
    c.put("return_sequences", json!(return_sequences));
    c.put("return_state", json!(false));
    c.put("go_backwards", json!(false));
    c.put("stateful", json!(false));
    c.put("unroll", json!(false));
}

fn lstm_names(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = matches!(kind, LayerKind::Lstm { use_bias: true, .. });
    with_bias(&["kernel", "recurrent_kernel"], use_bias)
}

fn check_lstm(kind: &LayerKind, _: &[&'static str], shapes: &[&[usize]]) -> Result<(), String> {
    let LayerKind::Lstm { units, .. } = kind else {
        return Ok(());
    };
    let g = 4 * units;
    if shapes[0].len() != 2 || shapes[0][1] != g {
        return bad_shape("kernel", format!("[in, {g}]"), shapes[0]);
    }
    if shapes[1] != [*units, g] {
        return bad_shape("recurrent_kernel", format!("[{units}, {g}]"), shapes[1]);
    }
    if let Some(b) = shapes.get(2)
        && *b != [g]
    {
        return bad_shape("bias", format!("[{g}]"), b);
    }
    Ok(())
}

/// Output shape: (batch, steps, units) with `return_sequences`, else (batch, units).
fn lstm_shape(kind: &LayerKind, _: &[Weight], first: &Shape, _: &[Shape]) -> Result<Shape, String> {
    let LayerKind::Lstm {
        units,
        return_sequences,
        ..
    } = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank3(first)?;
    Ok(if *return_sequences {
        vec![first[0], first[1], Some(*units)]
    } else {
        vec![first[0], Some(*units)]
    })
}
