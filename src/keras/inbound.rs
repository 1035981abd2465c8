//! A layer's inbound nodes, in the legacy (`[[["src", 0, 0, {}], …]]`) and
//! Keras 3 (`[{"args": […], "kwargs": {}}]`) forms, and the number of tensors
//! each class is called on. MultiHeadAttention's keyword tensors are read by
//! [`super::layers::attention::mha_inbound`].
//!
//! A reference to output `k` ≥ 1 of a layer (a recurrent layer's state) is
//! read as [`output_name`]`(layer, k)`.
//!
//! A Keras 3 node's `mask=` keyword argument (the mask Keras 3 hands a layer
//! whose `call` takes one) is returned apart, in [`Inbound::masks`], for
//! [`super::mask_ops`] to check against the mask thaw propagates.
//!
//! Refused with the layer's name: shared layers (called more than once),
//! tensors passed as other keyword arguments, a `mask` in a legacy node
//! (tf-keras records only a mask passed by hand), constant
//! positional arguments (Keras 3's `x + 3.0` recorded as an `Add`).

use serde_json::Value;

use super::cfg::Entry;
use super::ir::{LayerKind, output_name};
use super::layers::attention::{is_mha_class, mha_inbound};

/// A layer's inbound tensors, and the masks a Keras 3 node passes it.
pub(crate) struct Inbound {
    /// The tensors feeding the layer, in argument order ([`output_name`]s).
    pub(crate) tensors: Vec<String>,
    /// The `mask=` argument: one entry per tensor (`None` where Keras wrote
    /// null), or empty when no mask is passed (tf-keras never writes one).
    pub(crate) masks: Vec<Option<String>>,
}

/// The names of the layers feeding this one, from legacy
/// (`[[["src", 0, 0, {}], …]]`) or Keras 3 (`[{"args": […], "kwargs": {}}]`)
/// nodes, and the masks a Keras 3 node passes as `mask=`.
pub(crate) fn inbound_from_config(e: &Entry) -> Result<Inbound, String> {
    let at = |m: String| format!("layer '{}' ({}): {m}", e.name, e.class);
    let nodes = match e.raw.get("inbound_nodes") {
        Some(Value::Array(n)) => n,
        None | Some(Value::Null) => return Err(at("no inbound_nodes".to_string())),
        Some(_) => return Err(at("inbound_nodes is not a list".to_string())),
    };
    match nodes.len() {
        0 => {
            return Err(at(
                "not connected to anything (empty inbound_nodes)".to_string()
            ));
        }
        1 => {}
        n => return Err(at(format!("shared layer called {n} times: not supported"))),
    }
    if is_mha_class(e.class) {
        return Ok(Inbound {
            tensors: mha_inbound(&nodes[0]).map_err(at)?,
            masks: Vec::new(),
        });
    }
    let mut out = Vec::new();
    let mut masks = Vec::new();
    match &nodes[0] {
        // Legacy: a list of [name, node_index, tensor_index, kwargs].
        Value::Array(refs) => {
            for r in refs {
                let a = r
                    .as_array()
                    .filter(|a| a.first().is_some_and(Value::is_string));
                let a = a.ok_or_else(|| at(format!("unexpected inbound entry {r}")))?;
                push_ref(a, &mut out).map_err(at)?;
                // tf-keras records a mask only when it was passed by hand
                // (`layer(x, mask=m)`): its own masks are found on the input.
                if let Some(m) = a
                    .get(3)
                    .and_then(|kw| kw.get("mask"))
                    .filter(|m| !m.is_null())
                {
                    return Err(at(format!(
                        "called with mask={m}, a mask made by hand (not supported: thaw \
                         computes the masks of Embedding(mask_zero=True) and Masking itself)"
                    )));
                }
            }
        }
        // Keras 3: {"args": [...], "kwargs": {...}} with __keras_tensor__ leaves.
        Value::Object(node) => {
            if let Some(args) = node.get("args") {
                collect_keras_tensors(args, false, &mut out).map_err(at)?;
            }
            let mut in_kwargs = Vec::new();
            match node.get("kwargs") {
                Some(Value::Object(kwargs)) => {
                    for (key, v) in kwargs {
                        if key == "mask" {
                            masks = mask_refs(v).map_err(at)?;
                        } else {
                            collect_keras_tensors(v, true, &mut in_kwargs).map_err(at)?;
                        }
                    }
                }
                Some(other) => collect_keras_tensors(other, true, &mut in_kwargs).map_err(at)?,
                None => {}
            }
            if !in_kwargs.is_empty() {
                return Err(at(format!(
                    "tensors passed as keyword arguments ({}) are not supported",
                    in_kwargs.join(", ")
                )));
            }
        }
        other => return Err(at(format!("unexpected inbound node {other}"))),
    }
    if out.is_empty() {
        return Err(at("no inbound tensors".to_string()));
    }
    Ok(Inbound {
        tensors: out,
        masks,
    })
}

/// The tensors of a Keras 3 `mask=` argument: one tensor, or (a layer called
/// on a list, such as a merge) a list with one tensor or null per input. Empty
/// when every entry is null (no mask passed).
fn mask_refs(v: &Value) -> Result<Vec<Option<String>>, String> {
    let one = |x: &Value| -> Result<Option<String>, String> {
        match x {
            Value::Null => Ok(None),
            Value::Object(o)
                if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
            {
                let mut t = Vec::new();
                collect_keras_tensors(x, false, &mut t)?;
                Ok(t.pop())
            }
            other => Err(format!("mask = {other} is not a tensor")),
        }
    };
    let masks = match v {
        Value::Array(a) => a.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        x => vec![one(x)?],
    };
    Ok(if masks.iter().all(Option::is_none) {
        Vec::new()
    } else {
        masks
    })
}

/// Merge layers take two or more tensors, MultiHeadAttention 2 or 3 (checked by
/// [`mha_inbound`]), every other class exactly one.
pub(crate) fn check_arity(e: &Entry, kind: &LayerKind, n: usize) -> Result<(), String> {
    if matches!(kind, LayerKind::MultiHeadAttention { .. }) && (2..=3).contains(&n) {
        return Ok(());
    }
    let merge = kind.is_merge();
    if let LayerKind::TfOp(op) = kind {
        return if op.input_count() == n {
            Ok(())
        } else {
            Err(format!(
                "layer '{}' ({}): called on {n} tensor(s), its {} op reads {}",
                e.name,
                e.class,
                op.op,
                op.input_count()
            ))
        };
    }
    if *kind == LayerKind::Subtract && n != 2 {
        return Err(format!(
            "layer '{}' ({}): called on {n} tensor(s), Subtract takes exactly 2",
            e.name, e.class
        ));
    }
    match (merge, n) {
        (true, n) if n >= 2 => Ok(()),
        (false, 1) => Ok(()),
        (true, n) => Err(format!(
            "layer '{}' ({}): a merge of {n} tensor(s) is not supported (needs 2 or more)",
            e.name, e.class
        )),
        (false, n) => Err(format!(
            "layer '{}' ({}): called on {n} tensors, expected 1",
            e.name, e.class
        )),
    }
}

pub(crate) fn push_ref(a: &[Value], out: &mut Vec<String>) -> Result<(), String> {
    let name = a[0].as_str().unwrap_or_default();
    let tensor_index = a.get(2).and_then(Value::as_u64).unwrap_or(0);
    let node_index = a.get(1).and_then(Value::as_u64).unwrap_or(0);
    if node_index != 0 {
        return Err(format!(
            "takes call #{node_index} of '{name}' (shared layers are not supported)"
        ));
    }
    // Output k of a layer with several (checked against the layer's outputs
    // once every layer is read).
    out.push(output_name(name, tensor_index as usize));
    Ok(())
}

/// Collects the `__keras_tensor__` leaves of a Keras 3 node's args/kwargs. With
/// `constants_ok == false` (positional args) any other leaf is an error: Keras 3
/// records `x + 3.0` as an `Add` called with `(x, 3.0)` (its own MobileNetV3 has
/// these), which the IR's `Add` cannot express.
pub(crate) fn collect_keras_tensors(
    v: &Value,
    constants_ok: bool,
    out: &mut Vec<String>,
) -> Result<(), String> {
    match v {
        Value::Object(o)
            if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
        {
            let hist = o
                .get("config")
                .and_then(|c| c.get("keras_history"))
                .and_then(Value::as_array)
                .filter(|a| a.first().is_some_and(Value::is_string))
                .ok_or_else(|| "a __keras_tensor__ without keras_history".to_string())?;
            push_ref(hist, out)
        }
        Value::Array(a) => a
            .iter()
            .try_for_each(|x| collect_keras_tensors(x, constants_ok, out)),
        Value::Object(o) if constants_ok => o
            .values()
            .try_for_each(|x| collect_keras_tensors(x, constants_ok, out)),
        Value::Null => Ok(()),
        _ if constants_ok => Ok(()),
        other => Err(format!(
            "called with the constant argument {other} (like `x + 3.0`): not supported"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::keras::read::model_from_config;
    use serde_json::json;

    /// A layer's output k ≥ 1 (an LSTM's states) referenced in both
    /// dialects (legacy `["lstm", 0, 2, {}]`, Keras 3 `keras_history`) and in
    /// `output_layers` reads as `lstm:k`; a reference past the layer's
    /// outputs is refused, naming it.
    #[test]
    fn references_to_a_layers_other_outputs() {
        let kt = |name: &str, k: u64| {
            json!({"class_name": "__keras_tensor__",
                  "config": {"keras_history": [name, 0, k]}})
        };
        let lstm = json!({"class_name": "LSTM", "name": "lstm",
            "config": {"name": "lstm", "units": 2, "return_state": true},
            "inbound_nodes": [[["x", 0, 0, {}]]]});
        let model = |cat_inbound: serde_json::Value, outputs: serde_json::Value| {
            json!({"class_name": "Functional", "config": {"name": "f", "layers": [
                {"class_name": "InputLayer", "name": "x",
                 "config": {"name": "x", "batch_shape": [null, 5, 3]}, "inbound_nodes": []},
                lstm.clone(),
                {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat"},
                 "inbound_nodes": cat_inbound}],
                "input_layers": [["x", 0, 0]], "output_layers": outputs}})
        };
        let legacy = model(
            json!([[["lstm", 0, 1, {}], ["lstm", 0, 2, {}]]]),
            json!([["cat", 0, 0], ["lstm", 0, 2]]),
        );
        let keras3 = model(
            json!([{"args": [[kt("lstm", 1), kt("lstm", 2)]], "kwargs": {}}]),
            json!([["cat", 0, 0], ["lstm", 0, 2]]),
        );
        for f in [legacy, keras3] {
            let m = model_from_config(&f).unwrap();
            assert_eq!(m.layers[1].inbound, ["lstm:1", "lstm:2"]);
            assert_eq!(m.outputs, ["cat", "lstm:2"]);
            let (l, k) = m.producer("lstm:2").unwrap();
            assert_eq!((l.name.as_str(), k), ("lstm", 2));
            assert!(m.producer("lstm:3").is_none());
        }
        let past = model(
            json!([[["lstm", 0, 1, {}], ["lstm", 0, 3, {}]]]),
            json!([["cat", 0, 0]]),
        );
        let err = model_from_config(&past).unwrap_err().to_string();
        assert!(err.contains("'lstm:3'"), "{err}");
    }

    /// Keras 3's own MobileNetV3 h5 holds `Add` called as `(x, 3.0)` (Keras 3
    /// cannot load it either); it must not parse as a one-input Add.
    #[test]
    fn constant_arguments_are_refused() {
        let kt = |name: &str| {
            json!({"class_name": "__keras_tensor__",
                  "config": {"keras_history": [name, 0, 0]}})
        };
        let f = json!({"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "name": "x",
             "config": {"name": "x", "batch_shape": [null, 4]}, "inbound_nodes": []},
            {"class_name": "Add", "name": "plus3", "config": {"name": "plus3"},
             "inbound_nodes": [{"args": [kt("x"), 3.0], "kwargs": {}}]},
            {"class_name": "Add", "name": "lonely", "config": {"name": "lonely"},
             "inbound_nodes": [{"args": [[kt("x")]], "kwargs": {}}]}],
            "input_layers": [["x", 0, 0]], "output_layers": [["plus3", 0, 0]]}});
        let err = model_from_config(&f).unwrap_err().to_string();
        assert!(
            err.contains("'plus3' (Add): called with the constant argument 3.0"),
            "{err}"
        );
        assert!(
            err.contains("'lonely' (Add): a merge of 1 tensor(s)"),
            "{err}"
        );
    }

    /// tf-keras writes a node's `mask` only when it was passed by hand
    /// (`LSTM(4)(e, mask=m)`: `[["e", 0, 0, {"mask": ["m", 0, 0]}]]`, checked
    /// with tf-keras 2.21); ignoring it would verify a model Keras runs with
    /// another mask. Refused, naming the layer.
    #[test]
    fn a_legacy_mask_argument_is_refused() {
        let f = json!({"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "name": "ids",
             "config": {"name": "ids", "batch_input_shape": [null, 5], "dtype": "int32"},
             "inbound_nodes": []},
            {"class_name": "Embedding", "name": "e",
             "config": {"name": "e", "input_dim": 4, "output_dim": 2, "mask_zero": true},
             "inbound_nodes": [[["ids", 0, 0, {}]]]},
            {"class_name": "LSTM", "name": "lstm", "config": {"name": "lstm", "units": 2},
             "inbound_nodes": [[["e", 0, 0, {"mask": ["ids", 0, 0]}]]]}],
            "input_layers": [["ids", 0, 0]], "output_layers": [["lstm", 0, 0]]}});
        let err = model_from_config(&f).unwrap_err().to_string();
        assert!(
            err.contains(
                "layer 'lstm' (LSTM): called with mask=[\"ids\",0,0], a mask made by hand"
            ),
            "{err}"
        );
        // A null mask is no mask.
        let mut f = f;
        f["config"]["layers"][2]["inbound_nodes"] = json!([[["e", 0, 0, {"mask": null}]]]);
        assert!(model_from_config(&f).is_ok());
    }
}
