//! Keras `model_config` JSON that both Keras 3 and tf-keras load (this file:
//! the model-level writing), and the entry points callers use for the rest:
//! [`model_from_config`] (reading, `read.rs`), [`keras_layer_order`]
//! (`order.rs`), [`validate`] (`validate.rs`), and per class
//! [`written_class_name`], [`weight_names`], [`check_weight_shapes`]
//! (the class registry, `layers/`).
//!
//! # The dialect thaw writes
//!
//! Found empirically with Keras 3.15.1 and tf-keras 2.21.0 (see
//! `src/keras/testdata/load_check.py`, which loads thaw's output in both):
//!
//! * Neither framework's own `.h5` loads in the other. tf-keras rejects a Keras 3
//!   file at the first `InputLayer` (`batch_shape` is an unexpected keyword), and
//!   the Keras 3 `inbound_nodes` form (`{"args": [{"class_name": "__keras_tensor__",
//!   …}]}`) and `DTypePolicy` objects are Keras 3 only. Keras 3 rejects a tf-keras
//!   file at the first `DepthwiseConv2D`, whose config carries `"groups": 1`
//!   (Keras 3's `DepthwiseConv2D.__init__` has no `groups`).
//! * Keras 3 does read the tf-keras (legacy) dialect otherwise: `batch_input_shape`
//!   in `InputLayer`, `"dtype": "float32"` as a plain string, legacy
//!   `inbound_nodes` `[[["src", 0, 0, {}], …]]`, and `input_layers` /
//!   `output_layers` as lists of `[name, 0, 0]`.
//!
//! * Keras 3 cannot load its own MobileNetV3 `.h5` ("Only input tensors may be
//!   passed as positional arguments … 3.0"): hard-sigmoid's `x + 3.0` is saved as
//!   an `Add` layer node whose args are `(tensor, 3.0)`. thaw only writes layers
//!   called on tensors, so its files never contain such a node (and
//!   [`model_from_config`] refuses one rather than reading a one-input `Add`).
//! * Both loaders assign weights to `model.layers` by position, and rebuild that
//!   order from the graph, not from the config: see [`keras_layer_order`].
//! * `MultiHeadAttention` has no plain config both load: thaw writes it as the
//!   shim class `ThawMultiHeadAttention` called on positional tensors (see
//!   [`super::layers::attention`]). The IR and reports keep `MultiHeadAttention`.
//!
//! So thaw writes the tf-keras dialect, **minus `groups` on DepthwiseConv2D**,
//! and only the keys that change what the layer computes (no initializers,
//! regularizers or constraints: both frameworks default them):
//!
//! ```json
//! {"class_name": "Functional", "config": {"name": "m", "trainable": true,
//!   "layers": [
//!     {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
//!      "config": {"name": "x", "batch_input_shape": [null, 8, 8, 3], "dtype": "float32",
//!                 "sparse": false, "ragged": false}},
//!     {"class_name": "Conv2D", "name": "c", "inbound_nodes": [[["x", 0, 0, {}]]],
//!      "config": {"name": "c", "trainable": true, "dtype": "float32", "filters": 4, …}}],
//!   "input_layers": [["x", 0, 0]], "output_layers": [["c", 0, 0]]}}
//! ```
//!
//! `input_layers`/`output_layers` are always lists of `[name, 0, 0]`, even for
//! one input/output (tf-keras's form; both frameworks also read Keras 3's flat
//! `["x", 0, 0]`, and both still return a plain array from `predict` for a
//! one-output model written as a one-element list).
//! Floats are written by their shortest f32 spelling (`1e-3`, not
//! `0.0010000000474974513`).
//!
//! Each class's own keys, and its dialect quirks, are in its family file under
//! [`super::layers`].

use serde_json::{Map, Value, json};

use super::ir::{Input, Layer, Model};
use super::layers::{ConfigOut, info};

pub use super::layers::attention::MHA_SHIM_CLASS;
pub use super::layers::{check_weight_shapes, weight_names, written_class_name};
pub use super::order::keras_layer_order;
pub use super::read::model_from_config;
pub use super::validate::validate;

/// The Functional `model_config` (the JSON stored in the `.h5` root attribute)
/// in the dialect both Keras 3 and tf-keras load (see the module header).
pub fn model_config(model: &Model) -> Value {
    let mut layers: Vec<Value> = model.inputs.iter().map(input_layer_config).collect();
    for layer in &model.layers {
        // MultiHeadAttention's inbound [query, value(, key)] are positional entries too:
        // its class is the loading shim `ThawMultiHeadAttention` (see the module header).
        let inbound: Vec<Value> = layer
            .inbound
            .iter()
            .map(|src| json!([src, 0, 0, {}]))
            .collect();
        layers.push(json!({
            "class_name": written_class_name(&layer.kind),
            "name": layer.name,
            "config": layer_config(layer),
            "inbound_nodes": [inbound],
        }));
    }
    let input_layers: Vec<Value> = model.inputs.iter().map(|i| json!([i.name, 0, 0])).collect();
    let output_layers: Vec<Value> = model.outputs.iter().map(|o| json!([o, 0, 0])).collect();
    json!({
        "class_name": "Functional",
        "config": {
            "name": model.name,
            "trainable": true,
            "layers": layers,
            "input_layers": input_layers,
            "output_layers": output_layers,
        }
    })
}
fn input_layer_config(input: &Input) -> Value {
    let mut batch_shape = vec![Value::Null];
    batch_shape.extend(input.shape.iter().map(|d| match d {
        Some(n) => json!(n),
        None => Value::Null,
    }));
    json!({
        "class_name": "InputLayer",
        "name": input.name,
        "config": {
            "name": input.name,
            "batch_input_shape": batch_shape,
            "dtype": input.dtype.keras_name(),
            "sparse": false,
            "ragged": false,
        },
        "inbound_nodes": [],
    })
}

/// The layer's `config` object: name, trainable, dtype and the class keys.
fn layer_config(layer: &Layer) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(layer.name));
    c.insert("trainable".into(), json!(true));
    c.insert("dtype".into(), json!("float32"));
    (info(&layer.kind).write)(layer, &mut ConfigOut(&mut c));
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::error::KerasError;
    use crate::keras::ir::{Activation, DType, IdentityClass, LayerKind, Padding};
    use crate::keras::test_models::{every_layer_model, small_cnn_model, two_in_two_out_model};

    fn layer_entry<'a>(cfg: &'a Value, name: &str) -> &'a Value {
        cfg["config"]["layers"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["name"] == name))
            .unwrap_or_else(|| panic!("no layer {name} in config"))
    }

    #[test]
    fn config_has_the_dialect_both_frameworks_load() {
        let cfg = model_config(&every_layer_model());
        assert_eq!(cfg["class_name"], "Functional");
        let input = layer_entry(&cfg, "image");
        assert_eq!(input["class_name"], "InputLayer");
        assert_eq!(input["config"]["batch_input_shape"], json!([null, 8, 8, 3]));
        assert!(
            input["config"].get("batch_shape").is_none(),
            "tf-keras rejects batch_shape"
        );
        assert_eq!(input["inbound_nodes"], json!([]));
        assert_eq!(cfg["config"]["input_layers"], json!([["image", 0, 0]]));
        assert_eq!(
            cfg["config"]["output_layers"],
            json!([["softmax", 0, 0], ["bn_noscale", 0, 0], ["act_sm", 0, 0]])
        );
        for l in cfg["config"]["layers"].as_array().unwrap() {
            if l["class_name"] != "InputLayer" {
                assert_eq!(l["config"]["dtype"], "float32", "{l}");
                assert_eq!(l["config"]["trainable"], true, "{l}");
                assert_eq!(l["config"]["name"], l["name"], "{l}");
            }
        }
        // Legacy inbound nodes, in argument order.
        assert_eq!(
            layer_entry(&cfg, "add")["inbound_nodes"],
            json!([[["relu6", 0, 0, {}], ["mp", 0, 0, {}], ["ap", 0, 0, {}]]])
        );
    }

    #[test]
    fn class_keys_carry_the_ir_values() {
        let cfg = model_config(&every_layer_model());
        let c = |name: &str| layer_entry(&cfg, name)["config"].clone();
        let c2 = c("c2");
        assert_eq!(layer_entry(&cfg, "c2")["class_name"], "Conv2D");
        assert_eq!(c2["filters"], 4);
        assert_eq!(c2["kernel_size"], json!([3, 2]));
        assert_eq!(c2["dilation_rate"], json!([2, 1]));
        assert_eq!(c2["groups"], 2);
        assert_eq!(c2["use_bias"], false);
        assert_eq!(c2["padding"], "same");
        assert_eq!(c("c1")["strides"], json!([2, 2]));
        assert_eq!(c("c1")["activation"], "relu");
        let dw = c("dw");
        assert_eq!(dw["depth_multiplier"], 2);
        assert!(
            dw.get("groups").is_none(),
            "Keras 3 rejects groups on DepthwiseConv2D"
        );
        assert_eq!(c("zp")["padding"], json!([[1, 0], [0, 1]]));
        assert_eq!(c("relu6")["max_value"], json!(6.0));
        assert_eq!(c("leaky")["max_value"], Value::Null);
        assert_eq!(c("leaky")["negative_slope"], json!(0.1));
        assert_eq!(c("leaky")["threshold"], json!(0.25));
        assert_eq!(c("bn")["epsilon"], json!(0.001), "shortest f32 spelling");
        assert_eq!(c("bn_nocenter")["center"], false);
        assert_eq!(c("bn_nocenter")["axis"], 3);
        assert_eq!(c("bn_noscale")["scale"], false);
        assert_eq!(c("mp_valid")["pool_size"], json!([3, 3]));
        assert_eq!(c("mp_valid")["padding"], "valid");
        assert_eq!(c("ap")["padding"], "same");
        assert_eq!(c("gap_keep")["keepdims"], true);
        assert_eq!(c("rs")["target_shape"], json!([4, -1]));
        assert_eq!(c("cat")["axis"], -1);
        assert_eq!(c("softmax")["axis"], -1);
        assert_eq!(c("d1")["units"], 6);
        assert_eq!(c("d1")["activation"], "tanh");
        assert_eq!(c("d2")["activation"], "softmax");
        assert_eq!(c("sig")["activation"], "sigmoid");
        assert_eq!(c("act_lin")["activation"], "linear");
    }

    fn without_weights(mut m: Model) -> Model {
        for l in &mut m.layers {
            l.weights.clear();
        }
        m
    }

    #[test]
    fn own_config_parses_back_to_the_same_ir() {
        for m in [
            every_layer_model(),
            two_in_two_out_model(),
            small_cnn_model(),
            crate::keras::test_models::separable_crop_model(),
        ] {
            let back = model_from_config(&model_config(&m)).unwrap();
            assert_eq!(back, without_weights(m));
        }
    }

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

    /// issue 4: hand-built models routinely contain Dropout and its kin; `--keras`
    /// reads them as identities that keep the user's class name (both dialects,
    /// Functional and Sequential), whatever their rate.
    #[test]
    fn identity_at_inference_classes_are_read_with_their_class() {
        let mut layers = vec![json!({"class_name": "InputLayer", "name": "x",
            "config": {"name": "x", "batch_shape": [null, 4]}, "inbound_nodes": []})];
        let mut prev = "x".to_string();
        for (i, class) in IdentityClass::ALL.iter().enumerate() {
            let name = format!("l{i}");
            layers.push(json!({"class_name": class.keras_name(), "name": name,
                "config": {"name": name, "rate": 0.5, "stddev": 0.1, "l1": 0.01},
                "inbound_nodes": [[[prev, 0, 0, {}]]]}));
            prev = name;
        }
        let f = json!({"class_name": "Functional", "config": {"name": "f", "layers": layers,
            "input_layers": [["x", 0, 0]], "output_layers": [[prev, 0, 0]]}});
        let m = model_from_config(&f).unwrap();
        let classes: Vec<&str> = m.layers.iter().map(|l| l.kind.class_name()).collect();
        assert_eq!(
            classes,
            IdentityClass::ALL.map(IdentityClass::keras_name).to_vec()
        );
        assert!(m.layers.iter().all(|l| weight_names(&l.kind).is_empty()));
        // A legacy Sequential with a Dropout between two Dense layers.
        let s = json!({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Dense", "config": {"name": "d1", "units": 3,
             "batch_input_shape": [null, 4]}},
            {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.2}},
            {"class_name": "Dense", "config": {"name": "d2", "units": 1}}]}});
        let m = model_from_config(&s).unwrap();
        assert_eq!(
            m.layers[1].kind,
            LayerKind::InferenceIdentity {
                class: IdentityClass::Dropout
            }
        );
        assert_eq!(m.layers[2].inbound, ["drop"]);
        // Written back (zero strength) and read again: the same IR.
        let again = model_from_config(&model_config(&m)).unwrap();
        assert_eq!(again.layers[1].kind, m.layers[1].kind);
        // Keras 3's SpatialDropout1D/2D/3D refuse a `trainable` key (checked with
        // from_config in Keras 3.15.1; thaw-written files with every class load in
        // Keras 3.15.1 and tf-keras 2.21.0).
        let sd = Layer {
            name: "sd".into(),
            kind: LayerKind::InferenceIdentity {
                class: IdentityClass::SpatialDropout2D,
            },
            inbound: vec!["x".into()],
            weights: vec![],
        };
        let cfg = layer_config(&sd);
        assert!(cfg.get("trainable").is_none(), "{cfg}");
        assert_eq!(cfg["rate"], json!(0.0));
    }

    /// Expected orders are `[l.name for l in model.layers]` printed by Keras 3.15.1
    /// after loading thaw's file of the same model (load_check.py checks tf-keras
    /// 2.21 gives the same order); the IR orders differ from them.
    #[test]
    fn layer_order_is_the_one_keras_rebuilds() {
        assert_eq!(
            keras_layer_order(&two_in_two_out_model()),
            [
                "b", "a", "cb", "ca", "sum", "both", "pool", "flat", "logits"
            ]
        );
        assert_eq!(
            keras_layer_order(&every_layer_model()),
            [
                "image",
                "zp",
                "c1",
                "c2",
                "bn",
                "dw",
                "bn_nocenter",
                "relu6",
                "mp",
                "ap",
                "add",
                "leaky",
                "cat",
                "sig",
                "ap_valid",
                "mp_valid",
                "gap_keep",
                "gap",
                "act_relu",
                "flat",
                "rs",
                "act_tanh",
                "d1",
                "d2",
                "act_lin",
                "softmax",
                "bn_noscale",
                "act_sm"
            ]
        );
        // An input no output uses comes first among the depth-0 layers.
        let mut m = small_cnn_model();
        m.inputs.push(Input {
            name: "unused".into(),
            shape: vec![Some(1)],
            dtype: DType::F32,
        });
        assert_eq!(
            keras_layer_order(&m),
            ["x", "conv", "flat", "unused", "out"]
        );
        // A layer no output depends on is refused by validate.
        m.layers.push(m.layers[1].clone());
        m.layers[3].name = "dead".into();
        let err = validate(&m).unwrap_err().to_string();
        assert!(
            err.contains("'dead' (Flatten): no output depends on it"),
            "{err}"
        );
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

    #[test]
    fn validate_reports_every_problem() {
        let mut m = small_cnn_model();
        m.layers[0].name = "conv/1".to_string();
        m.layers[2].weights.pop(); // Dense with use_bias but no bias
        m.layers[1].inbound = vec!["nowhere".into()];
        m.outputs.push("ghost".into());
        let err = validate(&m).unwrap_err().to_string();
        for needle in [
            "'conv/1'",
            "Keras expects [kernel, bias]",
            "'nowhere'",
            "'ghost'",
        ] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
        validate(&every_layer_model()).unwrap();
        validate(&two_in_two_out_model()).unwrap();
    }

    #[test]
    fn weight_shapes_are_checked_against_the_config() {
        let conv = LayerKind::Conv2D {
            filters: 4,
            kernel_size: [3, 3],
            strides: [1, 1],
            padding: Padding::Valid,
            dilation_rate: [1, 1],
            groups: 1,
            use_bias: true,
            activation: Activation::Linear,
        };
        assert!(check_weight_shapes(&conv, &[&[3, 3, 2, 4], &[4]]).is_ok());
        // OIHW (a classic layout mix-up) is refused.
        assert!(check_weight_shapes(&conv, &[&[4, 2, 3, 3], &[4]]).is_err());
        assert!(check_weight_shapes(&conv, &[&[3, 3, 2, 4]]).is_err());
    }
}
