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
//! A layer's output `k` ≥ 1 (a recurrent layer's state, see
//! [`super::ir::output_name`]) is referenced as `[name, 0, k]`.
//! `input_layers`/`output_layers` are always lists of `[name, 0, k]`, even for
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
pub use super::layers::{bind_weights, check_weight_shapes, weight_names, written_class_name};
pub use super::order::keras_layer_order;
pub use super::read::model_from_config;
pub use super::validate::validate;

/// The Functional `model_config` (the JSON stored in the `.h5` root attribute)
/// in the dialect both Keras 3 and tf-keras load (see the module header).
pub fn model_config(model: &Model) -> Value {
    let mut layers: Vec<Value> = model.inputs.iter().map(input_layer_config).collect();
    let refs = model.tensor_refs();
    // `[layer, 0, k]` of a tensor name (an input's is its own name, k 0).
    let reference = |t: &str| -> (String, usize) {
        refs.get(t)
            .map_or((t.to_string(), 0), |&(l, k)| (l.to_string(), k))
    };
    for layer in &model.layers {
        // MultiHeadAttention's inbound [query, value(, key)] are positional entries too:
        // its class is the loading shim `ThawMultiHeadAttention` (see the module header).
        let inbound: Vec<Value> = layer
            .inbound
            .iter()
            .map(|src| {
                let (layer, k) = reference(src);
                json!([layer, 0, k, {}])
            })
            .collect();
        layers.push(json!({
            "class_name": written_class_name(&layer.kind),
            "name": layer.name,
            "config": layer_config(layer),
            "inbound_nodes": [inbound],
        }));
    }
    let input_layers: Vec<Value> = model.inputs.iter().map(|i| json!([i.name, 0, 0])).collect();
    let output_layers: Vec<Value> = model
        .outputs
        .iter()
        .map(|o| {
            let (layer, k) = reference(o);
            json!([layer, 0, k])
        })
        .collect();
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
    use crate::keras::ir::{IdentityClass, LayerKind};
    use crate::keras::test_models::{
        every_layer_model, layer_entry, small_cnn_model, two_in_two_out_model, without_weights,
    };

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
}
