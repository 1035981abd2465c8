//! Keras `model_config` JSON → IR: [`model_from_config`] parses a Functional
//! (`Functional`/`Model`) or `Sequential` config from Keras 2.x, tf-keras or
//! Keras 3 into a [`Model`] without weights.
//!
//! Accepted: `batch_input_shape`, `batch_shape` or `input_shape`; legacy or
//! Keras 3 `inbound_nodes` (see [`super::inbound`]); dtypes as strings or
//! `DTypePolicy` objects; layers in any order (sorted topologically). Each
//! layer's class is read by the registry ([`super::layers::read`]). Keras 3's
//! recorded masks (`NotEqual`/`Any` op layers passed on as `mask=`) are
//! checked against thaw's own mask propagation and dropped, or refused when
//! they differ ([`super::mask_ops`]).
//! Not handled yet (clear error naming the layer): any class outside the
//! registry (nested models, custom layers…), shared layers (called more than
//! once), multi-output layers, non-float32 layer dtypes, LoRA-enabled layers,
//! sparse or ragged inputs.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::cfg::{Entry, dtype_name, entry};
use super::error::KerasError;
use super::inbound::{check_arity, inbound_from_config};
use super::ir::{DType, Input, Layer, Model, output_name};
use super::layers::read as layer_kind;
use super::mask_ops::MaskOps;

/// Parses a Keras `model_config` (Functional or Sequential; Keras 2, tf-keras or
/// Keras 3 dialect) into the IR, without weights. Every layer the IR cannot
/// express is reported, each by name, in one [`KerasError::Config`].
pub fn model_from_config(json: &Value) -> Result<Model, KerasError> {
    let fail = |p: String| KerasError::Config {
        file: None,
        problems: vec![p],
    };
    let class = json.get("class_name").and_then(Value::as_str).unwrap_or("");
    let config = json
        .get("config")
        .ok_or_else(|| fail("model config has no \"config\" key".to_string()))?;
    match class {
        "Functional" | "Model" => functional_from_config(config),
        "Sequential" => sequential_from_config(config),
        other => Err(fail(format!(
            "top-level class '{other}' is not a Functional or Sequential model"
        ))),
    }
}

fn model_name(config: &Value) -> String {
    config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("model")
        .to_string()
}

fn layers_array(config: &Value) -> Result<&Vec<Value>, KerasError> {
    // Keras <= 2.2 wrote a Sequential's config as the bare list of layers.
    config
        .as_array()
        .or_else(|| config.get("layers").and_then(Value::as_array))
        .ok_or_else(|| KerasError::Config {
            file: None,
            problems: vec!["model config has no \"layers\" list".to_string()],
        })
}

fn functional_from_config(config: &Value) -> Result<Model, KerasError> {
    let mut problems = Vec::new();
    let mut inputs = Vec::new();
    let mut pending: Vec<Layer> = Vec::new();
    let mut input_names = HashSet::new();
    let entries = layers_array(config)?;
    let output_tensors =
        tensor_refs(config.get("output_layers"), "output_layers").unwrap_or_default();
    let mask_ops = MaskOps::find(entries, &output_tensors);
    // (layer, its `mask=` argument): checked once the model is read.
    let mut passed_masks = Vec::new();
    for (i, v) in entries.iter().enumerate() {
        let e = match entry(v, i) {
            Ok(e) => e,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if mask_ops.contains(&e.name) {
            continue;
        }
        if e.class == "InputLayer" {
            match input_from_config(&e) {
                Ok(input) => {
                    input_names.insert(input.name.clone());
                    inputs.push(input);
                }
                Err(p) => problems.push(p),
            }
            continue;
        }
        let kind = layer_kind(&e);
        let inbound = inbound_from_config(&e);
        match (kind, inbound) {
            (Ok(kind), Ok(inbound)) => {
                if let Err(p) = check_arity(&e, &kind, inbound.tensors.len()) {
                    problems.push(p);
                    continue;
                }
                if !inbound.masks.is_empty() {
                    passed_masks.push((e.name.clone(), inbound.masks));
                }
                pending.push(Layer {
                    name: e.name,
                    kind,
                    inbound: inbound.tensors,
                    weights: Vec::new(),
                })
            }
            (k, i) => problems.extend(k.err().into_iter().chain(i.err())),
        }
    }
    let input_order = tensor_refs(config.get("input_layers"), "input_layers");
    let outputs = tensor_refs(config.get("output_layers"), "output_layers");
    let (input_order, outputs) = match (input_order, outputs) {
        (Ok(i), Ok(o)) => (i, o),
        (i, o) => {
            problems.extend(i.err().into_iter().chain(o.err()));
            (Vec::new(), Vec::new())
        }
    };
    if !problems.is_empty() {
        return Err(KerasError::Config {
            file: None,
            problems,
        });
    }
    // Inputs in the model's argument order (input_layers), not config order.
    let mut ordered = Vec::new();
    for name in &input_order {
        match inputs.iter().position(|i: &Input| &i.name == name) {
            Some(p) => ordered.push(inputs.remove(p)),
            None => problems.push(format!(
                "input_layers names '{name}', which is not an InputLayer"
            )),
        }
    }
    let layers = topological(pending, &input_names, &mut problems);
    let model = Model {
        name: model_name(config),
        inputs: ordered,
        layers,
        outputs,
    };
    for out in &model.outputs {
        if model.producer(out).is_none() && !input_names.contains(out) {
            problems.push(format!(
                "output_layers names '{out}', which is not a layer's output"
            ));
        }
    }
    if problems.is_empty() {
        problems.extend(mask_ops.check(&model, &passed_masks));
    }
    if problems.is_empty() {
        Ok(model)
    } else {
        Err(KerasError::Config {
            file: None,
            problems,
        })
    }
}

/// Orders layers so that each comes after its inbound layers (stable: an
/// already ordered config is kept as is).
fn topological(
    mut pending: Vec<Layer>,
    inputs: &HashSet<String>,
    problems: &mut Vec<String>,
) -> Vec<Layer> {
    // A layer's every output (`name`, `name:1`, …: see `output_name`).
    let outputs = |l: &Layer| {
        (0..l.kind.outputs())
            .map(|k| output_name(&l.name, k))
            .collect::<Vec<_>>()
    };
    let all: HashSet<String> = pending.iter().flat_map(outputs).collect();
    let mut done: HashSet<String> = inputs.clone();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for layer in pending {
            if layer.inbound.iter().all(|s| done.contains(s)) {
                done.extend(outputs(&layer));
                out.push(layer);
            } else {
                rest.push(layer);
            }
        }
        pending = rest;
        if pending.len() == before {
            for layer in &pending {
                let missing: Vec<&str> = layer
                    .inbound
                    .iter()
                    .filter(|s| !done.contains(*s))
                    .map(String::as_str)
                    .collect();
                let why = if missing.iter().all(|m| all.contains(*m)) {
                    "is part of a cycle"
                } else {
                    "is not a layer of the model"
                };
                problems.push(format!(
                    "layer '{}': inbound '{}' {why}",
                    layer.name,
                    missing.join("', '")
                ));
            }
            break;
        }
    }
    out
}

fn sequential_from_config(config: &Value) -> Result<Model, KerasError> {
    let mut problems = Vec::new();
    let entries = layers_array(config)?;
    let name = model_name(config);
    let mut input: Option<Input> = None;
    let mut layers: Vec<Layer> = Vec::new();
    for (i, v) in entries.iter().enumerate() {
        let e = match entry(v, i) {
            Ok(e) => e,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if e.class == "InputLayer" {
            if i == 0 {
                match input_from_config(&e) {
                    Ok(x) => input = Some(x),
                    Err(p) => problems.push(p),
                }
            } else {
                problems.push(format!(
                    "layer '{}': InputLayer in the middle of a Sequential",
                    e.name
                ));
            }
            continue;
        }
        if i == 0 {
            // tf-keras / Keras 2: the input shape rides on the first layer and the
            // implicit InputLayer is called "<first layer>_input".
            match shape_from(e.config, &e.name) {
                Ok(Some(shape)) => {
                    input = Some(Input {
                        name: format!("{}_input", e.name),
                        shape,
                        dtype: DType::F32,
                    })
                }
                Ok(None) => {}
                Err(p) => problems.push(p),
            }
        }
        let inbound = match layers.last() {
            Some(prev) => vec![prev.name.clone()],
            None => input.iter().map(|x| x.name.clone()).collect(),
        };
        match layer_kind(&e) {
            Ok(kind) => layers.push(Layer {
                name: e.name,
                kind,
                inbound,
                weights: Vec::new(),
            }),
            Err(p) => problems.push(p),
        }
    }
    if input.is_none() {
        // Keras 3 Sequential built without an InputLayer records build_input_shape.
        match config.get("build_input_shape").and_then(Value::as_array) {
            Some(dims) if !dims.is_empty() => match dims_from(&dims[1..]) {
                Ok(shape) => {
                    let x = Input {
                        name: format!("{name}_input"),
                        shape,
                        dtype: DType::F32,
                    };
                    if let Some(first) = layers.first_mut() {
                        first.inbound = vec![x.name.clone()];
                    }
                    input = Some(x);
                }
                Err(p) => problems.push(format!("build_input_shape: {p}")),
            },
            _ => problems.push(
                "Sequential model has no input shape (no InputLayer, batch_input_shape or \
                 build_input_shape: was the model built before saving?)"
                    .to_string(),
            ),
        }
    }
    let (Some(input), true) = (input, problems.is_empty()) else {
        return Err(KerasError::Config {
            file: None,
            problems,
        });
    };
    let outputs = vec![
        layers
            .last()
            .map_or_else(|| input.name.clone(), |l| l.name.clone()),
    ];
    Ok(Model {
        name,
        inputs: vec![input],
        layers,
        outputs,
    })
}

fn input_from_config(e: &Entry) -> Result<Input, String> {
    let shape = shape_from(e.config, &e.name)?.ok_or_else(|| {
        format!(
            "InputLayer '{}': no batch_shape / batch_input_shape / shape",
            e.name
        )
    })?;
    let dtype = match dtype_name(e.config.get("dtype")) {
        None | Some("float32") => DType::F32,
        Some("int32") => DType::I32,
        Some(other) => {
            return Err(format!(
                "InputLayer '{}': dtype '{other}' not supported (float32, int32)",
                e.name
            ));
        }
    };
    if e.config.get("sparse").and_then(Value::as_bool) == Some(true)
        || e.config.get("ragged").and_then(Value::as_bool) == Some(true)
    {
        return Err(format!(
            "InputLayer '{}': sparse/ragged inputs not supported",
            e.name
        ));
    }
    Ok(Input {
        name: e.name.clone(),
        shape,
        dtype,
    })
}

/// The per-sample shape from `batch_shape`/`batch_input_shape` (batch axis
/// dropped) or `input_shape`/`shape` (no batch axis); `None` if none is present.
fn shape_from(
    config: &Map<String, Value>,
    layer: &str,
) -> Result<Option<Vec<Option<usize>>>, String> {
    for key in ["batch_shape", "batch_input_shape"] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            let dims = v
                .as_array()
                .filter(|d| !d.is_empty())
                .ok_or_else(|| format!("layer '{layer}': {key} is not a non-empty list"))?;
            return dims_from(&dims[1..])
                .map(Some)
                .map_err(|p| format!("layer '{layer}': {key}: {p}"));
        }
    }
    for key in ["input_shape", "shape"] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            let dims = v
                .as_array()
                .ok_or_else(|| format!("layer '{layer}': {key} is not a list"))?;
            return dims_from(dims)
                .map(Some)
                .map_err(|p| format!("layer '{layer}': {key}: {p}"));
        }
    }
    Ok(None)
}

fn dims_from(dims: &[Value]) -> Result<Vec<Option<usize>>, String> {
    dims.iter()
        .map(|d| match d {
            Value::Null => Ok(None),
            _ => d
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| format!("dimension {d} is not a non-negative integer or null")),
        })
        .collect()
}
/// Tensor references of `input_layers`/`output_layers`: `[name, 0, 0]`, a list
/// of those, or (Keras 3) a dict of those. Returns the layer names.
fn tensor_refs(v: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    fn walk(v: &Value, key: &str, out: &mut Vec<String>) -> Result<(), String> {
        match v {
            Value::Array(a) if a.first().is_some_and(Value::is_string) => {
                let name = a[0].as_str().unwrap_or_default();
                let k = a.get(2).and_then(Value::as_u64).unwrap_or(0);
                out.push(output_name(name, k as usize));
                Ok(())
            }
            Value::Array(a) => a.iter().try_for_each(|x| walk(x, key, out)),
            Value::Object(o) => o.values().try_for_each(|x| walk(x, key, out)),
            other => Err(format!("{key}: unexpected entry {other}")),
        }
    }
    let v = v.ok_or_else(|| format!("model config has no \"{key}\""))?;
    let mut out = Vec::new();
    walk(v, key, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::ir::{Activation, LayerKind, Padding};
    use serde_json::json;

    /// A Keras 3 style config (as `keras.saving.save_model(m, "x.h5")` writes it,
    /// trimmed): batch_shape, DTypePolicy objects, Keras 3 inbound nodes, a
    /// serialized activation function, flat input_layers.
    #[test]
    fn parses_keras3_functional_config() {
        let policy = json!({"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": "float32"}, "registered_name": null});
        let kt = |name: &str| {
            json!({"class_name": "__keras_tensor__",
                  "config": {"shape": [null, 4, 4, 2], "dtype": "float32",
                             "keras_history": [name, 0, 0]}})
        };
        let cfg = json!({"module": "keras", "class_name": "Functional", "config": {
            "name": "k3", "trainable": true,
            "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "name": "in",
                 "config": {"batch_shape": [null, 4, 4, 2], "dtype": "float32", "name": "in"},
                 "inbound_nodes": []},
                {"module": "keras.layers", "class_name": "Conv2D", "name": "c",
                 "config": {"name": "c", "dtype": policy, "filters": 2, "kernel_size": [1, 1],
                            "strides": [1, 1], "padding": "valid", "data_format": "channels_last",
                            "dilation_rate": [1, 1], "groups": 1, "use_bias": true,
                            "activation": {"module": "keras.activations", "class_name": "function",
                                           "config": "sigmoid", "registered_name": "function"}},
                 "inbound_nodes": [{"args": [kt("in")], "kwargs": {}}]},
                {"module": "keras.layers", "class_name": "Add", "name": "add",
                 "config": {"name": "add", "dtype": policy},
                 "inbound_nodes": [{"args": [[kt("c"), kt("in")]], "kwargs": {}}]},
                {"module": "keras.layers", "class_name": "DepthwiseConv2D", "name": "dw",
                 "config": {"name": "dw", "dtype": policy, "kernel_size": 3, "strides": 1,
                            "padding": "same", "depth_multiplier": 1, "use_bias": false},
                 "inbound_nodes": [{"args": [kt("add")], "kwargs": {"mask": null}}]}
            ],
            "input_layers": ["in", 0, 0],
            "output_layers": ["dw", 0, 0]}});
        let m = model_from_config(&cfg).unwrap();
        assert_eq!(m.inputs[0].shape, vec![Some(4), Some(4), Some(2)]);
        assert_eq!(m.outputs, vec!["dw"]);
        assert_eq!(m.layers[1].inbound, vec!["c", "in"]);
        assert!(matches!(
            m.layers[0].kind,
            LayerKind::Conv2D {
                activation: Activation::Sigmoid,
                ..
            }
        ));
        assert_eq!(
            m.layers[2].kind,
            LayerKind::DepthwiseConv2D {
                kernel_size: [3, 3],
                strides: [1, 1],
                padding: Padding::Same,
                depth_multiplier: 1,
                dilation_rate: [1, 1],
                use_bias: false,
                activation: Activation::Linear,
            }
        );
    }

    /// tf-keras Sequential, input shape on the first layer (Keras 2 style), and
    /// a layer order that is not topological in a Functional config.
    #[test]
    fn parses_leaky_relu_in_both_spellings_and_subtract_arity() {
        // tf-keras writes `alpha`, Keras 3 `negative_slope`; Keras 3 silu is our swish.
        let seq = |leaky: Value| {
            json!({"class_name": "Sequential", "config": {"name": "s", "layers": [
                {"class_name": "Activation", "config": {"name": "a",
                 "batch_input_shape": [null, 5], "activation": "silu"}},
                {"class_name": "LeakyReLU", "config": leaky}]}})
        };
        let m = model_from_config(&seq(json!({"name": "l", "alpha": 0.25}))).unwrap();
        assert_eq!(
            m.layers[0].kind,
            LayerKind::Activation {
                activation: Activation::Swish
            }
        );
        assert_eq!(m.layers[1].kind, LayerKind::LeakyReLU { alpha: 0.25 });
        let m = model_from_config(&seq(json!({"name": "l", "negative_slope": 0.5}))).unwrap();
        assert_eq!(m.layers[1].kind, LayerKind::LeakyReLU { alpha: 0.5 });
        // Keras's default slope is 0.3 in both lines.
        let m = model_from_config(&seq(json!({"name": "l"}))).unwrap();
        assert_eq!(m.layers[1].kind, LayerKind::LeakyReLU { alpha: 0.3 });

        let f = json!({"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "name": "x",
             "config": {"name": "x", "batch_input_shape": [null, 2]}, "inbound_nodes": []},
            {"class_name": "Subtract", "name": "sub", "config": {"name": "sub"},
             "inbound_nodes": [[["x", 0, 0, {}], ["x", 0, 0, {}], ["x", 0, 0, {}]]]}],
            "input_layers": [["x", 0, 0]], "output_layers": [["sub", 0, 0]]}});
        let err = model_from_config(&f).unwrap_err().to_string();
        assert!(err.contains("Subtract takes exactly 2"), "{err}");
    }

    #[test]
    fn parses_legacy_sequential_and_unordered_functional() {
        let seq = json!({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Dense", "config": {"name": "d", "units": 3,
             "batch_input_shape": [null, 5], "activation": "relu"}},
            {"class_name": "Softmax", "config": {"name": "sm", "axis": -1}}]}});
        let m = model_from_config(&seq).unwrap();
        assert_eq!(m.inputs[0].name, "d_input");
        assert_eq!(m.layers[0].inbound, vec!["d_input"]);
        assert_eq!(m.layers[1].inbound, vec!["d"]);
        assert_eq!(m.outputs, vec!["sm"]);

        let f = json!({"class_name": "Model", "config": {"name": "f", "layers": [
            {"class_name": "Flatten", "name": "fl", "config": {"name": "fl"},
             "inbound_nodes": [[["zp", 0, 0, {}]]]},
            {"class_name": "ZeroPadding2D", "name": "zp", "config": {"name": "zp", "padding": [1, 2]},
             "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "InputLayer", "name": "x",
             "config": {"name": "x", "batch_input_shape": [null, 2, 2, 1], "dtype": "int32"},
             "inbound_nodes": []}],
            "input_layers": [["x", 0, 0]], "output_layers": [["fl", 0, 0]]}});
        let m = model_from_config(&f).unwrap();
        assert_eq!(m.inputs[0].dtype, DType::I32);
        assert_eq!(m.layers[0].name, "zp");
        assert_eq!(
            m.layers[0].kind,
            LayerKind::ZeroPadding2D {
                padding: [[1, 1], [2, 2]]
            }
        );
        assert_eq!(m.layers[1].name, "fl");
    }

    #[test]
    fn unsupported_layers_are_all_named_in_one_error() {
        let f = json!({"class_name": "Functional", "config": {"name": "f", "layers": [
            {"class_name": "InputLayer", "name": "x",
             "config": {"name": "x", "batch_shape": [null, 4, 4, 3]}, "inbound_nodes": []},
            {"class_name": "ConvLSTM1D", "name": "rnn", "config": {"name": "rnn", "filters": 2},
             "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "Conv2D", "name": "cf", "config": {"name": "cf", "filters": 1,
             "kernel_size": 1, "data_format": "channels_first"},
             "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "Dense", "name": "hs", "config": {"name": "hs", "units": 1,
             "activation": "hard_sigmoid"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "Dense", "name": "shared", "config": {"name": "shared", "units": 1},
             "inbound_nodes": [[["x", 0, 0, {}]], [["x", 0, 0, {}]]]}],
            "input_layers": [["x", 0, 0]], "output_layers": [["hs", 0, 0]]}});
        let err = model_from_config(&f).unwrap_err();
        let KerasError::Config { problems, .. } = &err else {
            panic!("wrong error {err}")
        };
        assert_eq!(problems.len(), 4, "{err}");
        let text = err.to_string();
        for needle in [
            "'rnn' (ConvLSTM1D)",
            "'cf' (Conv2D): data_format",
            "activation 'hard_sigmoid'",
            "'shared'",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }
}
