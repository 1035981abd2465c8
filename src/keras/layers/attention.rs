//! Attention: `MultiHeadAttention`, written as the loading shim
//! `ThawMultiHeadAttention` and read under `MultiHeadAttention`,
//! `ThawMultiHeadAttention` and `thaw>ThawMultiHeadAttention` (the name a
//! Keras gives the shim when it re-saves thaw's file).
//!
//! # Why a shim
//!
//! `MultiHeadAttention` has no plain config both Kerases load. It is called as
//! `mha(query, value=…)`: tf-keras reads keyword tensors from the legacy node
//! `[["q", 0, 0, {"value": ["v", 0, 0]}]]` and its `from_config` requires
//! `query_shape`/`key_shape`/`value_shape`; Keras 3 passes legacy keyword
//! arguments on as raw lists (so `value` is not a tensor) and rejects those
//! three keys, and tf-keras cannot read Keras 3's `{"args", "kwargs"}` nodes.
//! thaw writes class `ThawMultiHeadAttention` (MultiHeadAttention's config,
//! shapes included) called on positional entries
//! `[["q", 0, 0, {}], ["v", 0, 0, {}]]`: a thin subclass of each Keras's own
//! `MultiHeadAttention`, defined in the generated `thaw_fallbacks.py`
//! (`src/keras/pymodule.rs`), takes that list and drops the shape keys in
//! Keras 3. It loads in both; the IR and reports keep `MultiHeadAttention`.
//!
//! Reading accepts both Kerases' native nodes too ([`mha_inbound`]).
//! Weights: `query`, `key`, `value`, `attention_output`, each `kernel` then
//! `bias` (if `use_bias`).
//!
//! Not handled yet (refused when read): `attention_axes` other than the
//! sequence axis, Keras 3's `use_gate` and `sliding_window`, masks,
//! `use_causal_mask`, `return_attention_scores`; dropout is written as 0.

use serde_json::{Map, Value, json};

use super::shape::{Shape, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats};
use crate::keras::inbound::{collect_keras_tensors, push_ref};
use crate::keras::ir::Weight;
use crate::keras::ir::{Layer, LayerKind};

/// The class `thaw_fallbacks.py` defines to load `MultiHeadAttention` in both Kerases.
pub const MHA_SHIM_CLASS: &str = "ThawMultiHeadAttention";

pub(crate) static MULTI_HEAD_ATTENTION: ClassInfo = ClassInfo {
    family: "attention",
    class: "MultiHeadAttention",
    written: MHA_SHIM_CLASS,
    aliases: &["thaw>ThawMultiHeadAttention"],
    read: read_mha,
    write: write_mha,
    weight_names: mha_names,
    check_shapes: check_mha,
    floats: no_floats,
    output_shape: mha_shape,
};

/// Whether `class` is read as [`LayerKind::MultiHeadAttention`].
pub(crate) fn is_mha_class(class: &str) -> bool {
    MULTI_HEAD_ATTENTION.reads(class)
}

fn read_mha(c: &Cfg) -> Result<LayerKind, String> {
    // Both Kerases save the built default for (batch, seq, features) inputs, [1]:
    // the only case the interpreter handles (its rank-3 check names the layer).
    match c.get("attention_axes") {
        None => {}
        Some(v) if *v == json!([1]) || *v == json!(1) => {}
        Some(v) => {
            return Err(c.err(format!(
                "attention_axes = {v} is not supported yet (only the sequence axis, [1])"
            )));
        }
    }
    // Keras 3 only: a sigmoid gate and a sliding-window mask change the output.
    c.refuse_if_set(&["use_gate", "sliding_window"])?;
    let key_dim = c.usize("key_dim", None)?;
    let output_shape = match c.get("output_shape") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| {
                    v.as_array()
                        .filter(|a| a.len() == 1)
                        .and_then(|a| a[0].as_u64())
                })
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| c.err(format!("output_shape = {v} is not one size")))?,
        ),
    };
    Ok(LayerKind::MultiHeadAttention {
        num_heads: c.usize("num_heads", None)?,
        key_dim,
        value_dim: match c.get("value_dim") {
            None | Some(Value::Null) => key_dim,
            Some(_) => c.usize("value_dim", None)?,
        },
        use_bias: c.bool("use_bias", true)?,
        output_shape,
    })
}

fn write_mha(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::MultiHeadAttention {
        num_heads,
        key_dim,
        value_dim,
        use_bias,
        output_shape,
    } = &layer.kind
    else {
        return;
    };
    c.put("num_heads", json!(num_heads));
    c.put("key_dim", json!(key_dim));
    c.put("value_dim", json!(value_dim));
    c.put("dropout", json!(0.0));
    c.put("use_bias", json!(use_bias));
    c.put("output_shape", json!(output_shape));
    c.put("attention_axes", Value::Null);
    // tf-keras's from_config requires these (rank 3, feature size from the kernels);
    // Keras 3 rejects them: see the module header.
    for (key, kernel) in [
        ("query_shape", "query/kernel"),
        ("key_shape", "key/kernel"),
        ("value_shape", "value/kernel"),
    ] {
        let dim = layer
            .weight(kernel)
            .and_then(|k| k.shape().first().copied());
        c.put(key, json!([Value::Null, Value::Null, dim]));
    }
}

fn mha_names(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = matches!(kind, LayerKind::MultiHeadAttention { use_bias: true, .. });
    let mut v = Vec::new();
    for (kernel, bias) in [
        ("query/kernel", "query/bias"),
        ("key/kernel", "key/bias"),
        ("value/kernel", "value/bias"),
        ("attention_output/kernel", "attention_output/bias"),
    ] {
        v.push(kernel);
        if use_bias {
            v.push(bias);
        }
    }
    v
}

fn check_mha(kind: &LayerKind, names: &[&'static str], shapes: &[&[usize]]) -> Result<(), String> {
    let LayerKind::MultiHeadAttention {
        num_heads,
        key_dim,
        value_dim,
        output_shape,
        ..
    } = kind
    else {
        return Ok(());
    };
    let (n, hk, hv) = (*num_heads, *key_dim, *value_dim);
    for (name, s) in names.iter().zip(shapes) {
        let ok = match *name {
            "query/kernel" | "key/kernel" => s.len() == 3 && s[1..] == [n, hk],
            "value/kernel" => s.len() == 3 && s[1..] == [n, hv],
            "query/bias" | "key/bias" => *s == [n, hk],
            "value/bias" => *s == [n, hv],
            "attention_output/kernel" => {
                s.len() == 3 && s[..2] == [n, hv] && output_shape.is_none_or(|e| s[2] == e)
            }
            _ => s.len() == 1 && output_shape.is_none_or(|e| s[0] == e),
        };
        if !ok {
            return bad_shape(name, format!("heads {n}, key_dim {hk}, value_dim {hv}"), s);
        }
    }
    Ok(())
}

/// MultiHeadAttention's tensors in IR order `[query, value(, key)]` from its
/// one node: positional entries (thaw's shim, Keras 3's `args`) and the keyword
/// tensors `value`/`key` (tf-keras's legacy `{"value": ["v", 0, 0]}`, Keras 3's
/// `kwargs`). Masks, `use_causal_mask` and `return_attention_scores` are refused.
pub(crate) fn mha_inbound(node: &Value) -> Result<Vec<String>, String> {
    let mut tensors = Vec::new();
    let mut keywords = Map::new();
    match node {
        Value::Array(refs) => {
            for r in refs {
                let a = r
                    .as_array()
                    .filter(|a| a.first().is_some_and(Value::is_string))
                    .ok_or_else(|| format!("unexpected inbound entry {r}"))?;
                push_ref(a, &mut tensors)?;
                if let Some(Value::Object(kw)) = a.get(3) {
                    keywords.extend(kw.clone());
                }
            }
        }
        Value::Object(n) => {
            if let Some(args) = n.get("args") {
                collect_keras_tensors(args, false, &mut tensors)?;
            }
            if let Some(Value::Object(kw)) = n.get("kwargs") {
                keywords.extend(kw.clone());
            }
        }
        other => return Err(format!("unexpected inbound node {other}")),
    }
    for (position, name) in [(1, "value"), (2, "key")] {
        let Some(v) = keywords.remove(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let mut one = Vec::new();
        match v
            .as_array()
            .filter(|a| a.first().is_some_and(Value::is_string))
        {
            Some(legacy) => push_ref(legacy, &mut one)?,
            None => collect_keras_tensors(&v, false, &mut one)?,
        }
        if one.len() != 1 || tensors.len() != position {
            return Err(format!(
                "MultiHeadAttention called with {name} = {v} after {} positional tensor(s): \
                 expected (query, value, key) in that order",
                tensors.len()
            ));
        }
        tensors.extend(one);
    }
    for (k, v) in &keywords {
        let harmless = v.is_null() || *v == Value::Bool(false) || k == "training";
        if !harmless {
            return Err(format!(
                "MultiHeadAttention called with {k} = {v}: not supported yet"
            ));
        }
    }
    if !(2..=3).contains(&tensors.len()) {
        return Err(format!(
            "MultiHeadAttention called on {} tensor(s), expected query, value and optionally key",
            tensors.len()
        ));
    }
    Ok(tensors)
}

/// Output shape: the query's, features `output_shape` when set.
fn mha_shape(kind: &LayerKind, _: &[Weight], first: &Shape, _: &[Shape]) -> Result<Shape, String> {
    let LayerKind::MultiHeadAttention { output_shape, .. } = kind else {
        return Err(wrong_kind(kind));
    };
    if first.len() != 3 {
        return Err(format!("expects (batch, seq, features), got {first:?}"));
    }
    let mut s = first.clone();
    if let Some(e) = output_shape {
        s[2] = Some(*e);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::config::{model_config, model_from_config};
    use crate::keras::test_models::{layer_entry, without_weights};

    /// MultiHeadAttention is written as the shim class of `thaw_fallbacks.py`
    /// called on positional tensors, with the shape keys tf-keras builds from
    /// (see the module header), and reads back to the same IR.
    #[test]
    fn attention_is_written_as_the_shim_and_parses_back() {
        let m = crate::keras::pymodule::mha_model();
        let cfg = model_config(&m);
        let cross = layer_entry(&cfg, "cross");
        assert_eq!(cross["class_name"], MHA_SHIM_CLASS);
        assert_eq!(
            cross["inbound_nodes"],
            json!([[["q", 0, 0, {}], ["dv", 0, 0, {}], ["dk", 0, 0, {}]]])
        );
        let c = &cross["config"];
        assert_eq!(c["num_heads"], 2);
        assert_eq!(c["key_dim"], 3);
        assert_eq!(c["value_dim"], 5);
        assert_eq!(c["use_bias"], false);
        assert_eq!(c["output_shape"], 4);
        assert_eq!(c["attention_axes"], Value::Null);
        // Feature sizes from the kernels: q 6, k 3, v 4 (mha_model's inputs).
        assert_eq!(c["query_shape"], json!([null, null, 6]));
        assert_eq!(c["key_shape"], json!([null, null, 3]));
        assert_eq!(c["value_shape"], json!([null, null, 4]));
        assert_eq!(
            layer_entry(&cfg, "selfa")["inbound_nodes"],
            json!([[["cross", 0, 0, {}], ["cross", 0, 0, {}]]])
        );
        let back = model_from_config(&cfg).unwrap();
        assert_eq!(back, without_weights(m));
        assert_eq!(back.layers[2].kind.class_name(), "MultiHeadAttention");
    }

    /// The two Kerases' own `MultiHeadAttention` nodes (from `model.save("x.h5")`
    /// of `mha(q, v, key=k)` then `mha(a, a)`, trimmed): tf-keras's legacy
    /// keyword tensors and Keras 3's `args`/`kwargs`, with the `attention_axes`
    /// both save once built (`[1]`), read in `[query, value, key]` order; also
    /// thaw's shim as Keras re-saves it (`thaw>ThawMultiHeadAttention`).
    #[test]
    fn parses_both_kerases_native_attention_nodes() {
        let kt = |name: &str| {
            json!({"class_name": "__keras_tensor__",
                  "config": {"shape": [null, 5, 4], "dtype": "float32",
                             "keras_history": [name, 0, 0]}})
        };
        let mha = |name: &str, class: &str, extra: Value, node: Value| {
            let mut config = json!({"name": name, "num_heads": 2, "key_dim": 3,
                "value_dim": 5, "dropout": 0.0, "use_bias": false, "output_shape": [4],
                "attention_axes": [1], "softmax_robust_masking": false});
            if let (Some(c), Value::Object(x)) = (config.as_object_mut(), extra) {
                c.extend(x);
            }
            json!({"class_name": class, "name": name, "config": config, "inbound_nodes": [node]})
        };
        let model = |layers: Vec<Value>| {
            let mut all: Vec<Value> = ["q", "v", "k"]
                .iter()
                .map(|n| {
                    json!({"class_name": "InputLayer", "name": n, "inbound_nodes": [],
                           "config": {"name": n, "batch_input_shape": [null, 5, 4]}})
                })
                .collect();
            let last = layers.last().map(|l| l["name"].clone());
            all.extend(layers);
            json!({"class_name": "Functional", "config": {"name": "m", "layers": all,
                "input_layers": [["q", 0, 0], ["v", 0, 0], ["k", 0, 0]],
                "output_layers": [[last, 0, 0]]}})
        };
        let tk = model(vec![
            mha(
                "cross",
                "MultiHeadAttention",
                json!({"query_shape": [null, 5, 4], "key_shape": [null, 5, 4],
                       "value_shape": [null, 5, 4]}),
                json!([["q", 0, 0, {"value": ["v", 0, 0], "key": ["k", 0, 0]}]]),
            ),
            // As tf-keras re-saves thaw's shim: registered name, keyword value.
            mha(
                "selfa",
                "thaw>ThawMultiHeadAttention",
                json!({}),
                json!([["cross", 0, 0, {"value": ["cross", 0, 0]}]]),
            ),
        ]);
        let k3 = model(vec![
            mha(
                "cross",
                "MultiHeadAttention",
                json!({"use_gate": false, "sliding_window": null}),
                json!({"args": [kt("q"), kt("v")], "kwargs": {"key": kt("k")}}),
            ),
            mha(
                "selfa",
                "MultiHeadAttention",
                json!({}),
                json!({"args": [kt("cross"), kt("cross")], "kwargs": {}}),
            ),
        ]);
        for (which, cfg) in [("tf-keras", tk), ("Keras 3", k3)] {
            let m = model_from_config(&cfg).unwrap_or_else(|e| panic!("{which}: {e}"));
            assert_eq!(m.layers[0].inbound, ["q", "v", "k"], "{which}");
            assert_eq!(m.layers[1].inbound, ["cross", "cross"], "{which}");
            assert_eq!(
                m.layers[0].kind,
                LayerKind::MultiHeadAttention {
                    num_heads: 2,
                    key_dim: 3,
                    value_dim: 5,
                    use_bias: false,
                    output_shape: Some(4),
                },
                "{which}"
            );
        }
    }

    /// What would change the output is refused, naming the layer: a mask, a
    /// causal mask, Keras 3's gate, other attention axes, a key without a value.
    #[test]
    fn attention_forms_thaw_cannot_compute_are_refused() {
        let cfg = |config_extra: Value, node: Value| {
            let mut config = json!({"name": "att", "num_heads": 1, "key_dim": 2});
            if let (Some(c), Value::Object(x)) = (config.as_object_mut(), config_extra) {
                c.extend(x);
            }
            json!({"class_name": "Functional", "config": {"name": "m", "layers": [
                {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
                 "config": {"name": "x", "batch_input_shape": [null, 3, 2]}},
                {"class_name": "MultiHeadAttention", "name": "att", "config": config,
                 "inbound_nodes": [node]}],
                "input_layers": [["x", 0, 0]], "output_layers": [["att", 0, 0]]}})
        };
        let plain = json!([["x", 0, 0, {"value": ["x", 0, 0]}]]);
        let cases = [
            (
                cfg(
                    json!({}),
                    json!([["x", 0, 0, {"value": ["x", 0, 0], "attention_mask": ["x", 0, 0]}]]),
                ),
                "attention_mask",
            ),
            (
                cfg(
                    json!({}),
                    json!([["x", 0, 0, {"value": ["x", 0, 0], "use_causal_mask": true}]]),
                ),
                "use_causal_mask = true",
            ),
            (
                cfg(json!({"use_gate": true}), plain.clone()),
                "'use_gate' = true",
            ),
            (
                cfg(json!({"attention_axes": [1, 2]}), plain.clone()),
                "attention_axes = [1,2]",
            ),
            (
                cfg(json!({}), json!([["x", 0, 0, {"key": ["x", 0, 0]}]])),
                "with key = [\"x\",0,0] after 1 positional",
            ),
            (
                cfg(json!({}), json!([["x", 0, 0, {}]])),
                "called on 1 tensor(s)",
            ),
        ];
        for (c, want) in cases {
            let err = model_from_config(&c).unwrap_err().to_string();
            assert!(err.contains("layer 'att' (MultiHeadAttention)"), "{err}");
            assert!(err.contains(want), "want {want:?} in: {err}");
        }
    }
}
