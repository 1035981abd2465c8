//! Keras `model_config` JSON that both Keras 3 and tf-keras load, and the
//! reverse: any Keras 2 / tf-keras / Keras 3 model config parsed into the IR.
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
//! * `MultiHeadAttention` has no plain config both load. It is called as
//!   `mha(query, value=…)`: tf-keras reads keyword tensors from the legacy node
//!   `[["q", 0, 0, {"value": ["v", 0, 0]}]]` and its `from_config` requires
//!   `query_shape`/`key_shape`/`value_shape`; Keras 3 passes legacy keyword
//!   arguments on as raw lists (so `value` is not a tensor) and rejects those
//!   three keys, and tf-keras cannot read Keras 3's `{"args", "kwargs"}` nodes.
//!   thaw writes class `ThawMultiHeadAttention` (MultiHeadAttention's config,
//!   shapes included) called on positional entries
//!   `[["q", 0, 0, {}], ["v", 0, 0, {}]]`: a thin subclass of each Keras's own
//!   `MultiHeadAttention`, defined in the generated `thaw_fallbacks.py`
//!   (`src/keras/pymodule.rs`), takes that list and drops the shape keys in
//!   Keras 3. It loads in both; the IR and reports keep `MultiHeadAttention`.
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
//! # What [`model_from_config`] accepts
//!
//! `Functional`/`Model` and `Sequential` configs from Keras 2.x, tf-keras and
//! Keras 3: `batch_input_shape`, `batch_shape` or `input_shape`; legacy or Keras 3
//! `inbound_nodes`; activations as strings or Keras 3 serialized functions;
//! dtypes as strings or `DTypePolicy` objects; ints or pairs for sizes.
//! Not handled yet (clear error naming the layer): any class outside
//! [`LayerKind`] (nested models, custom layers, recurrent layers…),
//! shared layers (called more than once), multi-output layers, `channels_first`,
//! non-float32 layer dtypes, LoRA-enabled layers, activations other than
//! linear/relu/sigmoid/tanh/softmax/elu/selu/softplus/softsign/exponential/
//! swish (silu)/gelu (exact; `approximate=True` is not a string activation).
//!
//! Dropout, SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout,
//! ActivityRegularization and Identity are read as [`LayerKind::InferenceIdentity`]
//! (the identity at inference, keeping the user's class name for reports).
//!
//! `LeakyReLU` is written with `alpha` (tf-keras's key; Keras 3 reads it as its
//! `negative_slope`) and read from either. `hard_sigmoid` is deliberately not an
//! activation thaw writes: tf-keras computes `clip(0.2x + 0.5)`, Keras 3
//! `relu6(x + 3) / 6`, so the same string means two functions.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::error::KerasError;
use super::ir::Padding1D;
use super::ir::{
    Activation, DType, IdentityClass, Input, Interpolation, Layer, LayerKind, Model, Padding,
};

// ----------------------------------------------------------------------------
// IR -> JSON
// ----------------------------------------------------------------------------

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

/// The class name thaw writes: the IR's, except `MultiHeadAttention`, written as
/// the shim `ThawMultiHeadAttention` of the generated module (see the module header).
pub fn written_class_name(kind: &LayerKind) -> &'static str {
    match kind {
        LayerKind::MultiHeadAttention { .. } => MHA_SHIM_CLASS,
        other => other.class_name(),
    }
}

/// The class `thaw_fallbacks.py` defines to load `MultiHeadAttention` in both Kerases.
pub const MHA_SHIM_CLASS: &str = "ThawMultiHeadAttention";

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

/// A float as JSON by its shortest f32 spelling (`0.001`, not `0.0010000000474974513`).
fn num_f32(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// The layer's `config` object: name, trainable, dtype and the class keys.
fn layer_config(layer: &Layer) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(layer.name));
    c.insert("trainable".into(), json!(true));
    c.insert("dtype".into(), json!("float32"));
    let mut put = |k: &str, v: Value| {
        c.insert(k.to_string(), v);
    };
    match &layer.kind {
        LayerKind::Conv2D {
            filters,
            kernel_size,
            strides,
            padding,
            dilation_rate,
            groups,
            use_bias,
            activation,
        } => {
            put("filters", json!(filters));
            put("kernel_size", json!(kernel_size));
            put("strides", json!(strides));
            put("padding", json!(padding.keras_name()));
            put("data_format", json!("channels_last"));
            put("dilation_rate", json!(dilation_rate));
            put("groups", json!(groups));
            put("activation", json!(activation.keras_name()));
            put("use_bias", json!(use_bias));
        }
        LayerKind::DepthwiseConv2D {
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            dilation_rate,
            use_bias,
            activation,
        } => {
            // No "groups": Keras 3's DepthwiseConv2D rejects it (tf-keras writes it).
            put("kernel_size", json!(kernel_size));
            put("strides", json!(strides));
            put("padding", json!(padding.keras_name()));
            put("data_format", json!("channels_last"));
            put("dilation_rate", json!(dilation_rate));
            put("depth_multiplier", json!(depth_multiplier));
            put("activation", json!(activation.keras_name()));
            put("use_bias", json!(use_bias));
        }
        LayerKind::Dense {
            units,
            use_bias,
            activation,
        } => {
            put("units", json!(units));
            put("activation", json!(activation.keras_name()));
            put("use_bias", json!(use_bias));
        }
        LayerKind::ZeroPadding2D { padding } => {
            put("padding", json!(padding));
            put("data_format", json!("channels_last"));
        }
        LayerKind::Activation { activation } => {
            put("activation", json!(activation.keras_name()));
        }
        LayerKind::ReLU {
            max_value,
            negative_slope,
            threshold,
        } => {
            put("max_value", max_value.map_or(Value::Null, num_f32));
            put("negative_slope", num_f32(*negative_slope));
            put("threshold", num_f32(*threshold));
        }
        LayerKind::Softmax { axis } => put("axis", json!(axis)),
        // tf-keras only knows `alpha`; Keras 3 reads it as `negative_slope`.
        LayerKind::LeakyReLU { alpha } => put("alpha", num_f32(*alpha)),
        LayerKind::MaxPooling2D {
            pool_size,
            strides,
            padding,
        }
        | LayerKind::AveragePooling2D {
            pool_size,
            strides,
            padding,
        } => {
            put("pool_size", json!(pool_size));
            put("strides", json!(strides));
            put("padding", json!(padding.keras_name()));
            put("data_format", json!("channels_last"));
        }
        LayerKind::GlobalAveragePooling2D { keepdims }
        | LayerKind::GlobalMaxPooling2D { keepdims } => {
            put("data_format", json!("channels_last"));
            put("keepdims", json!(keepdims));
        }
        LayerKind::Flatten => put("data_format", json!("channels_last")),
        LayerKind::Reshape { target_shape } => put("target_shape", json!(target_shape)),
        LayerKind::Add
        | LayerKind::Multiply
        | LayerKind::Subtract
        | LayerKind::Maximum
        | LayerKind::Minimum
        | LayerKind::Average => {}
        LayerKind::Concatenate { axis } => put("axis", json!(axis)),
        LayerKind::Conv2DTranspose {
            filters,
            kernel_size,
            strides,
            padding,
            use_bias,
            activation,
        } => {
            // No "groups": neither Kerases' Conv2DTranspose takes it.
            put("filters", json!(filters));
            put("kernel_size", json!(kernel_size));
            put("strides", json!(strides));
            put("padding", json!(padding.keras_name()));
            put("output_padding", Value::Null);
            put("data_format", json!("channels_last"));
            put("dilation_rate", json!([1, 1]));
            put("activation", json!(activation.keras_name()));
            put("use_bias", json!(use_bias));
        }
        LayerKind::UpSampling2D {
            size,
            interpolation,
        } => {
            put("size", json!(size));
            put("data_format", json!("channels_last"));
            put("interpolation", json!(interpolation.keras_name()));
        }
        LayerKind::Embedding {
            input_dim,
            output_dim,
        } => {
            put("input_dim", json!(input_dim));
            put("output_dim", json!(output_dim));
            put("mask_zero", json!(false));
        }
        LayerKind::Conv1D {
            filters,
            kernel_size,
            strides,
            padding,
            dilation_rate,
            use_bias,
            activation,
        } => {
            put("filters", json!(filters));
            put("kernel_size", json!([kernel_size]));
            put("strides", json!([strides]));
            put("padding", json!(padding.keras_name()));
            put("data_format", json!("channels_last"));
            put("dilation_rate", json!([dilation_rate]));
            put("groups", json!(1));
            put("activation", json!(activation.keras_name()));
            put("use_bias", json!(use_bias));
        }
        LayerKind::MaxPooling1D {
            pool_size,
            strides,
            padding,
        }
        | LayerKind::AveragePooling1D {
            pool_size,
            strides,
            padding,
        } => {
            put("pool_size", json!([pool_size]));
            put("strides", json!([strides]));
            put("padding", json!(padding.keras_name()));
            put("data_format", json!("channels_last"));
        }
        LayerKind::GlobalAveragePooling1D { keepdims }
        | LayerKind::GlobalMaxPooling1D { keepdims } => {
            put("data_format", json!("channels_last"));
            put("keepdims", json!(keepdims));
        }
        LayerKind::Lstm {
            units,
            return_sequences,
            use_bias,
        } => {
            put("units", json!(units));
            put("activation", json!("tanh"));
            put("recurrent_activation", json!("sigmoid"));
            put("use_bias", json!(use_bias));
            put("return_sequences", json!(return_sequences));
            put("return_state", json!(false));
            put("go_backwards", json!(false));
            put("stateful", json!(false));
            put("unroll", json!(false));
        }
        LayerKind::Permute { dims } => put("dims", json!(dims)),
        LayerKind::RepeatVector { n } => put("n", json!(n)),
        LayerKind::LayerNormalization {
            axis,
            epsilon,
            center,
            scale,
        } => {
            put("axis", json!(axis));
            put("epsilon", num_f32(*epsilon));
            put("center", json!(center));
            put("scale", json!(scale));
        }
        LayerKind::MultiHeadAttention {
            num_heads,
            key_dim,
            value_dim,
            use_bias,
            output_shape,
        } => {
            put("num_heads", json!(num_heads));
            put("key_dim", json!(key_dim));
            put("value_dim", json!(value_dim));
            put("dropout", json!(0.0));
            put("use_bias", json!(use_bias));
            put("output_shape", json!(output_shape));
            put("attention_axes", Value::Null);
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
                put(key, json!([Value::Null, Value::Null, dim]));
            }
        }
        LayerKind::SeparableConv2D {
            filters,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            dilation_rate,
            use_bias,
            activation,
        } => {
            put("filters", json!(filters));
            put("kernel_size", json!(kernel_size));
            put("strides", json!(strides));
            put("padding", json!(padding.keras_name()));
            put("data_format", json!("channels_last"));
            put("dilation_rate", json!(dilation_rate));
            put("depth_multiplier", json!(depth_multiplier));
            put("activation", json!(activation.keras_name()));
            put("use_bias", json!(use_bias));
        }
        LayerKind::Cropping2D { cropping } => {
            put("cropping", json!(cropping));
            put("data_format", json!("channels_last"));
        }
        LayerKind::BatchNormalization {
            axis,
            epsilon,
            center,
            scale,
        } => {
            put("axis", json!(axis));
            // momentum only matters for training; both frameworks default to 0.99.
            put("momentum", json!(0.99));
            put("epsilon", num_f32(*epsilon));
            put("center", json!(center));
            put("scale", json!(scale));
        }
        LayerKind::Rescaling { scale, offset } => {
            put("scale", num_f32(*scale));
            put("offset", num_f32(*offset));
        }
        LayerKind::Normalization {
            axis,
            mean,
            variance,
        } => {
            // mean/variance in the config (no weights): both Kerases build
            // from them, as for `Normalization(mean=..., variance=...)`.
            put("axis", json!([axis]));
            put("invert", json!(false));
            put(
                "mean",
                Value::Array(mean.iter().map(|v| num_f32(*v)).collect()),
            );
            put(
                "variance",
                Value::Array(variance.iter().map(|v| num_f32(*v)).collect()),
            );
        }
        LayerKind::PReLU { shared_axes } => {
            put(
                "shared_axes",
                if shared_axes.is_empty() {
                    Value::Null
                } else {
                    json!(shared_axes)
                },
            );
        }
        LayerKind::TfOp(op) => super::pymodule::put_config(op, &mut put),
        // Only read from users' models; written at zero strength (the value the
        // user chose is not kept: it changes training only).
        LayerKind::InferenceIdentity { class } => match class {
            IdentityClass::GaussianNoise => put("stddev", json!(0.0)),
            IdentityClass::ActivityRegularization => {
                put("l1", json!(0.0));
                put("l2", json!(0.0));
            }
            IdentityClass::Identity => {}
            _ => put("rate", json!(0.0)),
        },
    }
    // Keras 3's SpatialDropout1D/2D/3D take no `trainable` argument (tf-keras's do).
    if let LayerKind::InferenceIdentity {
        class:
            IdentityClass::SpatialDropout1D
            | IdentityClass::SpatialDropout2D
            | IdentityClass::SpatialDropout3D,
    } = layer.kind
    {
        c.remove("trainable");
    }
    Value::Object(c)
}

/// Keras's weight names for a layer of this class, in `layer.weights` order
/// (the order both frameworks' `.h5` loaders assign values in).
pub fn weight_names(kind: &LayerKind) -> Vec<&'static str> {
    match kind {
        LayerKind::Lstm { use_bias, .. } => {
            if *use_bias {
                vec!["kernel", "recurrent_kernel", "bias"]
            } else {
                vec!["kernel", "recurrent_kernel"]
            }
        }
        LayerKind::Conv2D { use_bias, .. }
        | LayerKind::Dense { use_bias, .. }
        | LayerKind::Conv2DTranspose { use_bias, .. } => {
            if *use_bias {
                vec!["kernel", "bias"]
            } else {
                vec!["kernel"]
            }
        }
        LayerKind::DepthwiseConv2D { use_bias, .. } => {
            if *use_bias {
                vec!["depthwise_kernel", "bias"]
            } else {
                vec!["depthwise_kernel"]
            }
        }
        LayerKind::Embedding { .. } => vec!["embeddings"],
        LayerKind::Conv1D { use_bias, .. } => {
            if *use_bias {
                vec!["kernel", "bias"]
            } else {
                vec!["kernel"]
            }
        }
        LayerKind::LayerNormalization { center, scale, .. } => {
            let mut v = Vec::new();
            if *scale {
                v.push("gamma");
            }
            if *center {
                v.push("beta");
            }
            v
        }
        LayerKind::MultiHeadAttention { use_bias, .. } => {
            let mut v = Vec::new();
            for part in ["query", "key", "value", "attention_output"] {
                let (kernel, bias) = match part {
                    "query" => ("query/kernel", "query/bias"),
                    "key" => ("key/kernel", "key/bias"),
                    "value" => ("value/kernel", "value/bias"),
                    _ => ("attention_output/kernel", "attention_output/bias"),
                };
                v.push(kernel);
                if *use_bias {
                    v.push(bias);
                }
            }
            v
        }
        LayerKind::SeparableConv2D { use_bias, .. } => {
            if *use_bias {
                vec!["depthwise_kernel", "pointwise_kernel", "bias"]
            } else {
                vec!["depthwise_kernel", "pointwise_kernel"]
            }
        }
        LayerKind::BatchNormalization { center, scale, .. } => {
            let mut v = Vec::new();
            if *scale {
                v.push("gamma");
            }
            if *center {
                v.push("beta");
            }
            v.extend(["moving_mean", "moving_variance"]);
            v
        }
        LayerKind::TfOp(op) => super::pymodule::weight_names(op),
        LayerKind::PReLU { .. } => vec!["alpha"],
        _ => Vec::new(),
    }
}

/// Checks that `shapes` (in [`weight_names`] order) fit the layer's config as far
/// as the config alone tells (the input channel count is not known here).
/// Returns a message without the layer name.
pub fn check_weight_shapes(kind: &LayerKind, shapes: &[&[usize]]) -> Result<(), String> {
    let names = weight_names(kind);
    if names.len() != shapes.len() {
        return Err(format!(
            "{} expects {} weight(s) ({}), got {}",
            kind.class_name(),
            names.len(),
            names.join(", "),
            shapes.len()
        ));
    }
    let bad = |name: &str, want: String, got: &[usize]| {
        Err(format!(
            "weight '{name}' should have shape {want}, has {got:?}"
        ))
    };
    match kind {
        LayerKind::Conv2D {
            filters,
            kernel_size,
            groups,
            ..
        } => {
            let k = shapes[0];
            if k.len() != 4 || k[0] != kernel_size[0] || k[1] != kernel_size[1] || k[3] != *filters
            {
                return bad(
                    "kernel",
                    format!(
                        "[{}, {}, in/groups, {filters}]",
                        kernel_size[0], kernel_size[1]
                    ),
                    k,
                );
            }
            if *groups == 0 || filters % groups != 0 {
                return Err(format!(
                    "filters {filters} is not a multiple of groups {groups}"
                ));
            }
            if let Some(b) = shapes.get(1)
                && *b != [*filters]
            {
                return bad("bias", format!("[{filters}]"), b);
            }
        }
        LayerKind::DepthwiseConv2D {
            kernel_size,
            depth_multiplier,
            ..
        } => {
            let k = shapes[0];
            if k.len() != 4
                || k[0] != kernel_size[0]
                || k[1] != kernel_size[1]
                || k[3] != *depth_multiplier
            {
                return bad(
                    "depthwise_kernel",
                    format!(
                        "[{}, {}, in, {depth_multiplier}]",
                        kernel_size[0], kernel_size[1]
                    ),
                    k,
                );
            }
            if let Some(b) = shapes.get(1)
                && *b != [k[2] * k[3]]
            {
                return bad("bias", format!("[{}]", k[2] * k[3]), b);
            }
        }
        LayerKind::Conv2DTranspose {
            filters,
            kernel_size,
            ..
        } => {
            let k = shapes[0];
            if k.len() != 4 || k[0] != kernel_size[0] || k[1] != kernel_size[1] || k[2] != *filters
            {
                return bad(
                    "kernel",
                    format!("[{}, {}, {filters}, in]", kernel_size[0], kernel_size[1]),
                    k,
                );
            }
            if let Some(b) = shapes.get(1)
                && *b != [*filters]
            {
                return bad("bias", format!("[{filters}]"), b);
            }
        }
        LayerKind::Lstm { units, .. } => {
            let g = 4 * units;
            if shapes[0].len() != 2 || shapes[0][1] != g {
                return bad("kernel", format!("[in, {g}]"), shapes[0]);
            }
            if shapes[1] != [*units, g] {
                return bad("recurrent_kernel", format!("[{units}, {g}]"), shapes[1]);
            }
            if let Some(b) = shapes.get(2)
                && *b != [g]
            {
                return bad("bias", format!("[{g}]"), b);
            }
        }
        LayerKind::Dense { units, .. } => {
            let k = shapes[0];
            if k.len() != 2 || k[1] != *units {
                return bad("kernel", format!("[in, {units}]"), k);
            }
            if let Some(b) = shapes.get(1)
                && *b != [*units]
            {
                return bad("bias", format!("[{units}]"), b);
            }
        }
        LayerKind::Embedding {
            input_dim,
            output_dim,
        } if shapes[0] != [*input_dim, *output_dim] => {
            return bad(
                "embeddings",
                format!("[{input_dim}, {output_dim}]"),
                shapes[0],
            );
        }
        LayerKind::Conv1D {
            filters,
            kernel_size,
            ..
        } => {
            let k = shapes[0];
            if k.len() != 3 || k[0] != *kernel_size || k[2] != *filters {
                return bad("kernel", format!("[{kernel_size}, in, {filters}]"), k);
            }
            if let Some(b) = shapes.get(1)
                && *b != [*filters]
            {
                return bad("bias", format!("[{filters}]"), b);
            }
        }
        LayerKind::LayerNormalization { .. } if !shapes.is_empty() => {
            let n = shapes[0].first().copied().unwrap_or(0);
            for (name, s) in names.iter().zip(shapes) {
                if *s != [n] {
                    return bad(name, format!("[{n}] like the first one"), s);
                }
            }
        }
        LayerKind::MultiHeadAttention {
            num_heads,
            key_dim,
            value_dim,
            output_shape,
            ..
        } => {
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
                    return bad(name, format!("heads {n}, key_dim {hk}, value_dim {hv}"), s);
                }
            }
        }
        LayerKind::SeparableConv2D {
            filters,
            kernel_size,
            depth_multiplier,
            ..
        } => {
            let (d, p) = (shapes[0], shapes[1]);
            if d.len() != 4
                || d[0] != kernel_size[0]
                || d[1] != kernel_size[1]
                || d[3] != *depth_multiplier
            {
                return bad(
                    "depthwise_kernel",
                    format!(
                        "[{}, {}, in, {depth_multiplier}]",
                        kernel_size[0], kernel_size[1]
                    ),
                    d,
                );
            }
            if *p != [1, 1, d[2] * d[3], *filters] {
                return bad(
                    "pointwise_kernel",
                    format!("[1, 1, {}, {filters}]", d[2] * d[3]),
                    p,
                );
            }
            if let Some(b) = shapes.get(2)
                && *b != [*filters]
            {
                return bad("bias", format!("[{filters}]"), b);
            }
        }
        LayerKind::BatchNormalization { .. } => {
            let n = shapes[0].first().copied().unwrap_or(0);
            for (name, s) in names.iter().zip(shapes) {
                if *s != [n] {
                    return bad(name, format!("[{n}] like the first one"), s);
                }
            }
        }
        LayerKind::TfOp(op) => {
            for ((name, want), got) in names.iter().zip(op.weight_shapes()).zip(shapes) {
                if want != *got {
                    return bad(name, format!("{want:?} (its config's shape)"), got);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The order Keras gives `model.layers` (inputs included) when it rebuilds this
/// model from its config. Both Keras 3 (`keras.src.ops.function.map_graph`) and
/// tf-keras (`functional._map_graph_network`) compute it the same way: a
/// depth-first walk from the outputs (in order, inbound tensors in argument
/// order) numbers the layers; each layer's depth is the longest path from it to
/// an output; layers are sorted by depth, deepest first, ties by walk number;
/// inputs no output uses come last. Both `.h5` loaders assign the stored weights
/// to `model.layers` **by position**, so `layer_names` must be in this order —
/// the IR's own (topological) order is not enough: a model whose second
/// branch is listed first loads its kernels into the wrong layers.
/// Layers no output depends on are not part of a Keras model and are left out.
pub fn keras_layer_order(model: &Model) -> Vec<&str> {
    let inbound: std::collections::HashMap<&str, Vec<&str>> = model
        .layers
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.inbound.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let parents = |name: &str| inbound.get(name).cloned().unwrap_or_default();

    // Depth-first walk: walk number per layer, and post-order (inputs -> outputs).
    let mut index: Vec<&str> = Vec::new();
    let mut post: Vec<&str> = Vec::new();
    let mut finished: HashSet<&str> = HashSet::new();
    let mut stack: Vec<(&str, usize)> = Vec::new();
    for out in &model.outputs {
        stack.push((out.as_str(), 0));
        while let Some((node, next)) = stack.pop() {
            if next == 0 {
                if finished.contains(node) {
                    continue;
                }
                if !index.contains(&node) {
                    index.push(node);
                }
            }
            let ps = parents(node);
            if next < ps.len() {
                stack.push((node, next + 1));
                if !finished.contains(ps[next]) {
                    stack.push((ps[next], 0));
                }
            } else if finished.insert(node) {
                post.push(node);
            }
        }
    }
    // Depth: 0 at the outputs, parent depth = max(child depth + 1).
    let mut depth: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for node in post.iter().rev() {
        let d = *depth.entry(node).or_insert(0);
        for p in parents(node) {
            let e = depth.entry(p).or_insert(0);
            *e = (*e).max(d + 1);
        }
    }
    let mut order: Vec<&str> = post.clone();
    let walk = |n: &str| index.iter().position(|x| *x == n).unwrap_or(usize::MAX);
    order.sort_by(|a, b| depth[b].cmp(&depth[a]).then(walk(a).cmp(&walk(b))));
    // Unused inputs: depth 0, walk number -1 (first among the depth-0 layers).
    let unused: Vec<&str> = model
        .inputs
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !finished.contains(n))
        .collect();
    if !unused.is_empty() {
        let first_depth0 = order
            .iter()
            .position(|n| depth[n] == 0)
            .unwrap_or(order.len());
        order.splice(first_depth0..first_depth0, unused);
    }
    order
}

/// Everything that would make Keras refuse (or mis-load) the IR model, all at
/// once: empty/duplicate names, names with '/' (an HDF5 path separator, and
/// refused by Keras 3), inbound names that are not an earlier layer or input,
/// wrong input counts, weights that do not fit the class, non-finite floats,
/// layers no output depends on.
pub fn validate(model: &Model) -> Result<(), KerasError> {
    let mut problems = Vec::new();
    let mut known: HashSet<&str> = HashSet::new();
    let check_name = |name: &str, what: &str, problems: &mut Vec<String>| {
        if name.is_empty() {
            problems.push(format!("{what} has an empty name"));
        } else if name.contains('/') {
            problems.push(format!(
                "{what} '{name}': Keras layer names cannot contain '/' (HDF5 path separator)"
            ));
        }
    };
    if model.inputs.is_empty() {
        problems.push("the model has no inputs".to_string());
    }
    if model.outputs.is_empty() {
        problems.push("the model has no outputs".to_string());
    }
    for input in &model.inputs {
        check_name(&input.name, "input", &mut problems);
        if !known.insert(&input.name) {
            problems.push(format!("input '{}': duplicate name", input.name));
        }
    }
    for layer in &model.layers {
        let what = format!("layer ({})", layer.kind.class_name());
        check_name(&layer.name, &what, &mut problems);
        let at = |msg: String| {
            format!(
                "layer '{}' ({}): {msg}",
                layer.name,
                layer.kind.class_name()
            )
        };
        for src in &layer.inbound {
            if !known.contains(src.as_str()) {
                problems.push(at(format!(
                    "inbound '{src}' is not an input or an earlier layer"
                )));
            }
        }
        let merge = layer.kind.is_merge();
        if let LayerKind::TfOp(op) = &layer.kind {
            if layer.inbound.len() != op.input_count() {
                problems.push(at(format!(
                    "its {} op reads {} inbound tensor(s), has {}",
                    op.op,
                    op.input_count(),
                    layer.inbound.len()
                )));
            }
        } else if layer.kind == LayerKind::Subtract && layer.inbound.len() != 2 {
            problems.push(at(format!(
                "Subtract needs exactly 2 inbound tensors, has {}",
                layer.inbound.len()
            )));
        } else if matches!(layer.kind, LayerKind::MultiHeadAttention { .. }) {
            if !(2..=3).contains(&layer.inbound.len()) {
                problems.push(at(format!(
                    "MultiHeadAttention needs 2 (query, value) or 3 (query, value, key) \
                     inbound tensors, has {}",
                    layer.inbound.len()
                )));
            }
        } else if merge && layer.inbound.len() < 2 {
            problems.push(at(format!(
                "a merge layer needs at least 2 inbound tensors, has {}",
                layer.inbound.len()
            )));
        } else if !merge && layer.inbound.len() != 1 {
            problems.push(at(format!(
                "needs exactly 1 inbound tensor, has {}",
                layer.inbound.len()
            )));
        }
        let names: Vec<&str> = layer.weights.iter().map(|w| w.name.as_str()).collect();
        let expected = weight_names(&layer.kind);
        if names != expected {
            problems.push(at(format!(
                "weights are [{}], Keras expects [{}] in this order",
                names.join(", "),
                expected.join(", ")
            )));
        } else {
            let shapes: Vec<&[usize]> = layer.weights.iter().map(|w| w.value.shape()).collect();
            if let Err(e) = check_weight_shapes(&layer.kind, &shapes) {
                problems.push(at(e));
            }
        }
        if let Some(msg) = non_finite(&layer.kind) {
            problems.push(at(msg));
        }
        if !known.insert(&layer.name) {
            problems.push(at("duplicate name".to_string()));
        }
    }
    for out in &model.outputs {
        if !known.contains(out.as_str()) {
            problems.push(format!(
                "output '{out}' is not a layer or input of the model"
            ));
        }
    }
    if problems.is_empty() {
        let used: HashSet<&str> = keras_layer_order(model).into_iter().collect();
        for layer in &model.layers {
            if !used.contains(layer.name.as_str()) {
                problems.push(format!(
                    "layer '{}' ({}): no output depends on it, so Keras would drop it",
                    layer.name,
                    layer.kind.class_name()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(KerasError::InvalidModel {
            model: model.name.clone(),
            problems,
        })
    }
}

fn non_finite(kind: &LayerKind) -> Option<String> {
    let vals: Vec<(&str, f32)> = match kind {
        LayerKind::ReLU {
            max_value,
            negative_slope,
            threshold,
        } => {
            let mut v = vec![
                ("negative_slope", *negative_slope),
                ("threshold", *threshold),
            ];
            if let Some(m) = max_value {
                v.push(("max_value", *m));
            }
            v
        }
        LayerKind::BatchNormalization { epsilon, .. }
        | LayerKind::LayerNormalization { epsilon, .. } => vec![("epsilon", *epsilon)],
        LayerKind::LeakyReLU { alpha } => vec![("alpha", *alpha)],
        LayerKind::Rescaling { scale, offset } => vec![("scale", *scale), ("offset", *offset)],
        LayerKind::Normalization { mean, variance, .. } => mean
            .iter()
            .map(|v| ("mean", *v))
            .chain(variance.iter().map(|v| ("variance", *v)))
            .collect(),
        _ => vec![],
    };
    vals.iter()
        .find(|(_, x)| !x.is_finite())
        .map(|(k, x)| format!("{k} = {x} is not a finite number"))
}

// ----------------------------------------------------------------------------
// JSON -> IR
// ----------------------------------------------------------------------------

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

/// A layer entry's class, name and config, whichever dialect it is in.
struct Entry<'a> {
    class: &'a str,
    name: String,
    config: &'a Map<String, Value>,
    raw: &'a Value,
}

fn entry(v: &Value, index: usize) -> Result<Entry<'_>, String> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let class = v
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("layer #{index}: no \"class_name\""))?;
    let config = match v.get("config") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => EMPTY.get_or_init(Map::new),
        Some(_) => {
            return Err(format!(
                "layer #{index} ({class}): \"config\" is not an object"
            ));
        }
    };
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| config.get("name").and_then(Value::as_str))
        .ok_or_else(|| format!("layer #{index} ({class}): no \"name\""))?
        .to_string();
    Ok(Entry {
        class,
        name,
        config,
        raw: v,
    })
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
    for (i, v) in layers_array(config)?.iter().enumerate() {
        let e = match entry(v, i) {
            Ok(e) => e,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
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
                if let Err(p) = check_arity(&e, &kind, inbound.len()) {
                    problems.push(p);
                    continue;
                }
                pending.push(Layer {
                    name: e.name,
                    kind,
                    inbound,
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
        if model.layer(out).is_none() && !input_names.contains(out) {
            problems.push(format!("output_layers names '{out}', which is not a layer"));
        }
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
    let all: HashSet<String> = pending.iter().map(|l| l.name.clone()).collect();
    let mut done: HashSet<String> = inputs.clone();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for layer in pending {
            if layer.inbound.iter().all(|s| done.contains(s)) {
                done.insert(layer.name.clone());
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

/// `"float32"`, or a Keras 3 `DTypePolicy` object's name.
fn dtype_name(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::String(s) => Some(s),
        Value::Object(o) => o
            .get("config")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str),
        _ => None,
    }
}

/// Tensor references of `input_layers`/`output_layers`: `[name, 0, 0]`, a list
/// of those, or (Keras 3) a dict of those. Returns the layer names.
fn tensor_refs(v: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    fn walk(v: &Value, key: &str, out: &mut Vec<String>) -> Result<(), String> {
        match v {
            Value::Array(a) if a.first().is_some_and(Value::is_string) => {
                let name = a[0].as_str().unwrap_or_default();
                if a.get(2).and_then(Value::as_u64).unwrap_or(0) != 0 {
                    return Err(format!(
                        "{key}: '{name}' output #{} (multi-output layers are not supported)",
                        a[2]
                    ));
                }
                out.push(name.to_string());
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

/// The names of the layers feeding this one, from legacy
/// (`[[["src", 0, 0, {}], …]]`) or Keras 3 (`[{"args": […], "kwargs": {}}]`) nodes.
fn inbound_from_config(e: &Entry) -> Result<Vec<String>, String> {
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
        return mha_inbound(&nodes[0]).map_err(at);
    }
    let mut out = Vec::new();
    match &nodes[0] {
        // Legacy: a list of [name, node_index, tensor_index, kwargs].
        Value::Array(refs) => {
            for r in refs {
                let a = r
                    .as_array()
                    .filter(|a| a.first().is_some_and(Value::is_string));
                let a = a.ok_or_else(|| at(format!("unexpected inbound entry {r}")))?;
                push_ref(a, &mut out).map_err(at)?;
            }
        }
        // Keras 3: {"args": [...], "kwargs": {...}} with __keras_tensor__ leaves.
        Value::Object(node) => {
            if let Some(args) = node.get("args") {
                collect_keras_tensors(args, false, &mut out).map_err(at)?;
            }
            let mut in_kwargs = Vec::new();
            if let Some(kwargs) = node.get("kwargs") {
                collect_keras_tensors(kwargs, true, &mut in_kwargs).map_err(at)?;
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
    Ok(out)
}

/// Whether `class` is read as [`LayerKind::MultiHeadAttention`].
fn is_mha_class(class: &str) -> bool {
    matches!(
        class,
        "MultiHeadAttention" | MHA_SHIM_CLASS | "thaw>ThawMultiHeadAttention"
    )
}

/// MultiHeadAttention's tensors in IR order `[query, value(, key)]` from its
/// one node: positional entries (thaw's shim, Keras 3's `args`) and the keyword
/// tensors `value`/`key` (tf-keras's legacy `{"value": ["v", 0, 0]}`, Keras 3's
/// `kwargs`). Masks, `use_causal_mask` and `return_attention_scores` are refused.
fn mha_inbound(node: &Value) -> Result<Vec<String>, String> {
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

/// Merge layers take two or more tensors, MultiHeadAttention 2 or 3 (checked by
/// [`mha_inbound`]), every other class exactly one.
fn check_arity(e: &Entry, kind: &LayerKind, n: usize) -> Result<(), String> {
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

fn push_ref(a: &[Value], out: &mut Vec<String>) -> Result<(), String> {
    let name = a[0].as_str().unwrap_or_default();
    let tensor_index = a.get(2).and_then(Value::as_u64).unwrap_or(0);
    if tensor_index != 0 {
        return Err(format!(
            "takes output #{tensor_index} of '{name}' (multi-output layers are not supported)"
        ));
    }
    let node_index = a.get(1).and_then(Value::as_u64).unwrap_or(0);
    if node_index != 0 {
        return Err(format!(
            "takes call #{node_index} of '{name}' (shared layers are not supported)"
        ));
    }
    out.push(name.to_string());
    Ok(())
}

/// Collects the `__keras_tensor__` leaves of a Keras 3 node's args/kwargs. With
/// `constants_ok == false` (positional args) any other leaf is an error: Keras 3
/// records `x + 3.0` as an `Add` called with `(x, 3.0)` (its own MobileNetV3 has
/// these), which the IR's `Add` cannot express.
fn collect_keras_tensors(
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

/// Typed access to one layer's config that names the layer on error.
struct Cfg<'a> {
    e: &'a Entry<'a>,
}

impl Cfg<'_> {
    fn err(&self, msg: impl std::fmt::Display) -> String {
        format!("layer '{}' ({}): {msg}", self.e.name, self.e.class)
    }

    /// The value of `key`, `None` if absent or null.
    fn get(&self, key: &str) -> Option<&Value> {
        self.e.config.get(key).filter(|v| !v.is_null())
    }

    fn usize(&self, key: &str, default: Option<usize>) -> Result<usize, String> {
        match self.get(key) {
            None => default.ok_or_else(|| self.err(format!("missing '{key}'"))),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not a non-negative integer"))),
        }
    }

    fn i64(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.get(key) {
            None => Ok(default),
            // BatchNormalization writes axis as [3] in tf-keras.
            Some(Value::Array(a)) if a.len() == 1 => a[0]
                .as_i64()
                .ok_or_else(|| self.err(format!("'{key}' = {a:?} is not an integer"))),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not an integer"))),
        }
    }

    fn f32(&self, key: &str, default: f32) -> Result<f32, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not a number"))),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not a boolean"))),
        }
    }

    /// An int `n` (meaning `[n, n]`) or a pair.
    fn pair(&self, key: &str, default: Option<[usize; 2]>) -> Result<[usize; 2], String> {
        let bad = |v: &Value| self.err(format!("'{key}' = {v} is not an integer or a pair"));
        match self.get(key) {
            None => default.ok_or_else(|| self.err(format!("missing '{key}'"))),
            Some(v) if v.is_u64() => {
                let n = v.as_u64().map_or(0, |n| n as usize);
                Ok([n, n])
            }
            Some(v) => match v.as_array().map(Vec::as_slice) {
                Some([a, b]) => match (a.as_u64(), b.as_u64()) {
                    (Some(a), Some(b)) => Ok([a as usize, b as usize]),
                    _ => Err(bad(v)),
                },
                _ => Err(bad(v)),
            },
        }
    }

    /// A 1-D size: an integer or a one-element list.
    fn one(&self, key: &str, default: Option<usize>) -> Result<usize, String> {
        match self.get(key) {
            Some(Value::Array(a)) if a.len() == 1 => a[0]
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.err(format!("'{key}' = {a:?} is not a size"))),
            _ => self.usize(key, default),
        }
    }

    /// Conv1D's padding: valid, same or causal.
    fn padding1d(&self) -> Result<Padding1D, String> {
        match self
            .get("padding")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("causal") => Ok(Padding1D::Causal),
            _ => Ok(match self.padding()? {
                Padding::Valid => Padding1D::Valid,
                Padding::Same => Padding1D::Same,
            }),
        }
    }

    fn padding(&self) -> Result<Padding, String> {
        match self
            .get("padding")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        {
            None => Ok(Padding::Valid),
            Some(p) if p == "valid" => Ok(Padding::Valid),
            Some(p) if p == "same" => Ok(Padding::Same),
            Some(p) => Err(self.err(format!("padding '{p}' not supported (valid, same)"))),
        }
    }

    fn activation(&self, key: &str) -> Result<Activation, String> {
        let name = match self.get(key) {
            None => return Ok(Activation::Linear),
            Some(Value::String(s)) => s.as_str(),
            // Keras 3: {"module": "keras.activations", "class_name": "function", "config": "relu"}.
            Some(Value::Object(o)) => match (o.get("class_name"), o.get("config")) {
                (Some(Value::String(c)), Some(Value::String(f))) if c == "function" => f.as_str(),
                (Some(Value::String(c)), _) => c.as_str(),
                _ => {
                    return Err(
                        self.err(format!("unreadable '{key}' {}", Value::Object(o.clone())))
                    );
                }
            },
            Some(v) => return Err(self.err(format!("unreadable '{key}' {v}"))),
        };
        match name {
            "linear" | "Linear" => Ok(Activation::Linear),
            "relu" | "ReLU" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            "softmax" => Ok(Activation::Softmax),
            "elu" => Ok(Activation::Elu),
            "selu" => Ok(Activation::Selu),
            "softplus" => Ok(Activation::Softplus),
            "softsign" => Ok(Activation::Softsign),
            "exponential" => Ok(Activation::Exponential),
            "swish" | "silu" => Ok(Activation::Swish),
            "gelu" => Ok(Activation::Gelu),
            other => Err(self.err(format!(
                "activation '{other}' not supported yet (linear, relu, sigmoid, tanh, softmax, \
                 elu, selu, softplus, softsign, exponential, swish/silu, gelu)"
            ))),
        }
    }

    /// Layers thaw models are channels-last only.
    fn channels_last(&self) -> Result<(), String> {
        match self.get("data_format").and_then(Value::as_str) {
            None | Some("channels_last") => Ok(()),
            Some(f) => Err(self.err(format!(
                "data_format '{f}' not supported (channels_last only)"
            ))),
        }
    }

    /// Keys whose non-default values change the maths in a way the IR cannot say.
    fn refuse_if_set(&self, keys: &[&str]) -> Result<(), String> {
        for key in keys {
            match self.get(key) {
                None | Some(Value::Bool(false)) => {}
                Some(Value::Number(n)) if n.as_f64() == Some(0.0) => {}
                Some(v) => return Err(self.err(format!("'{key}' = {v} not supported"))),
            }
        }
        Ok(())
    }
}

fn zero_padding(c: &Cfg) -> Result<[[usize; 2]; 2], String> {
    zero_padding_like(c, "padding")
}

/// `key` (ZeroPadding2D's `padding`, Cropping2D's `cropping`) given as n, [h, w]
/// or [[top, bottom], [left, right]]; ZeroPadding2D defaults to 1, Cropping2D to 0.
fn zero_padding_like(c: &Cfg, key: &str) -> Result<[[usize; 2]; 2], String> {
    let default = if key == "padding" { 1 } else { 0 };
    let v = c.get(key).cloned().unwrap_or(json!(default));
    let bad = || {
        c.err(format!(
            "{key} = {v} is not n, [h, w] or [[top, bottom], [left, right]]"
        ))
    };
    if let Some(n) = v.as_u64() {
        let n = n as usize;
        return Ok([[n, n], [n, n]]);
    }
    let a = v.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let mut out = [[0usize; 2]; 2];
    for (i, item) in a.iter().enumerate() {
        out[i] = if let Some(n) = item.as_u64() {
            [n as usize, n as usize]
        } else {
            match item.as_array().map(Vec::as_slice) {
                Some([x, y]) => [
                    x.as_u64().ok_or_else(bad)? as usize,
                    y.as_u64().ok_or_else(bad)? as usize,
                ],
                _ => return Err(bad()),
            }
        };
    }
    Ok(out)
}

/// `Normalization` with `mean`/`variance` in its config (a layer whose
/// statistics are weights needs them read from the file: not supported yet).
fn normalization_from_config(c: &Cfg) -> Result<LayerKind, String> {
    if c.bool("invert", false)? {
        return Err(c.err("invert=True not supported"));
    }
    let axis = match c.get("axis") {
        None => -1,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| c.err("bad axis"))?,
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_i64().ok_or_else(|| c.err("bad axis"))?,
        Some(v) => return Err(c.err(format!("axis = {v}: only one axis is supported"))),
    };
    let list = |key: &str| -> Result<Vec<f32>, String> {
        match c.get(key) {
            Some(Value::Number(n)) => Ok(vec![n.as_f64().unwrap_or(f64::NAN) as f32]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| c.err(format!("'{key}' is not a flat list of numbers"))),
            _ => Err(c.err(format!(
                "'{key}' is not in the config (adapted statistics stored as weights are not supported yet)"
            ))),
        }
    };
    Ok(LayerKind::Normalization {
        axis,
        mean: list("mean")?,
        variance: list("variance")?,
    })
}

/// The typed config of one (non-Input) layer entry.
fn layer_kind(e: &Entry) -> Result<LayerKind, String> {
    let c = Cfg { e };
    match dtype_name(e.config.get("dtype")) {
        None | Some("float32") => {}
        Some(d) => return Err(c.err(format!("dtype '{d}' not supported (float32 only)"))),
    }
    c.refuse_if_set(&["lora_rank"])?;
    let kind = match e.class {
        "Conv2D" | "Convolution2D" => {
            c.channels_last()?;
            LayerKind::Conv2D {
                filters: c.usize("filters", None)?,
                kernel_size: c.pair("kernel_size", None)?,
                strides: c.pair("strides", Some([1, 1]))?,
                padding: c.padding()?,
                dilation_rate: c.pair("dilation_rate", Some([1, 1]))?,
                groups: c.usize("groups", Some(1))?,
                use_bias: c.bool("use_bias", true)?,
                activation: c.activation("activation")?,
            }
        }
        "DepthwiseConv2D" => {
            c.channels_last()?;
            if c.usize("groups", Some(1))? != 1 {
                return Err(c.err("groups != 1 not supported"));
            }
            LayerKind::DepthwiseConv2D {
                kernel_size: c.pair("kernel_size", None)?,
                strides: c.pair("strides", Some([1, 1]))?,
                padding: c.padding()?,
                depth_multiplier: c.usize("depth_multiplier", Some(1))?,
                dilation_rate: c.pair("dilation_rate", Some([1, 1]))?,
                use_bias: c.bool("use_bias", true)?,
                activation: c.activation("activation")?,
            }
        }
        "Dense" => LayerKind::Dense {
            units: c.usize("units", None)?,
            use_bias: c.bool("use_bias", true)?,
            activation: c.activation("activation")?,
        },
        "ZeroPadding2D" => {
            c.channels_last()?;
            LayerKind::ZeroPadding2D {
                padding: zero_padding(&c)?,
            }
        }
        "Activation" => LayerKind::Activation {
            activation: c.activation("activation")?,
        },
        "ReLU" => LayerKind::ReLU {
            max_value: match c.get("max_value") {
                None => None,
                Some(_) => Some(c.f32("max_value", 0.0)?),
            },
            negative_slope: c.f32("negative_slope", 0.0)?,
            threshold: c.f32("threshold", 0.0)?,
        },
        "Softmax" => LayerKind::Softmax {
            axis: c.i64("axis", -1)?,
        },
        // tf-keras writes `alpha`, Keras 3 `negative_slope`; both default to 0.3.
        "LeakyReLU" => LayerKind::LeakyReLU {
            alpha: if c.get("negative_slope").is_some() {
                c.f32("negative_slope", 0.3)?
            } else {
                c.f32("alpha", 0.3)?
            },
        },
        "MaxPooling2D" | "MaxPool2D" | "AveragePooling2D" | "AvgPool2D" => {
            c.channels_last()?;
            let pool_size = c.pair("pool_size", Some([2, 2]))?;
            let strides = c.pair("strides", Some(pool_size))?;
            let padding = c.padding()?;
            if e.class.starts_with("Max") {
                LayerKind::MaxPooling2D {
                    pool_size,
                    strides,
                    padding,
                }
            } else {
                LayerKind::AveragePooling2D {
                    pool_size,
                    strides,
                    padding,
                }
            }
        }
        "GlobalAveragePooling2D" | "GlobalAvgPool2D" => {
            c.channels_last()?;
            LayerKind::GlobalAveragePooling2D {
                keepdims: c.bool("keepdims", false)?,
            }
        }
        "GlobalMaxPooling2D" | "GlobalMaxPool2D" => {
            c.channels_last()?;
            LayerKind::GlobalMaxPooling2D {
                keepdims: c.bool("keepdims", false)?,
            }
        }
        "Flatten" => {
            c.channels_last()?;
            LayerKind::Flatten
        }
        "Reshape" => {
            let v = c
                .get("target_shape")
                .ok_or_else(|| c.err("missing 'target_shape'"))?;
            let dims = v
                .as_array()
                .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
                .ok_or_else(|| c.err(format!("target_shape = {v} is not a list of integers")))?;
            LayerKind::Reshape { target_shape: dims }
        }
        "Rescaling" => LayerKind::Rescaling {
            scale: c.f32("scale", 1.0)?,
            offset: c.f32("offset", 0.0)?,
        },
        "Normalization" => normalization_from_config(&c)?,
        "PReLU" => LayerKind::PReLU {
            shared_axes: match c.get("shared_axes") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Number(n)) => vec![n.as_i64().ok_or_else(|| c.err("bad shared_axes"))?],
                Some(v) => v
                    .as_array()
                    .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| c.err(format!("shared_axes = {v} is not a list of integers")))?,
            },
        },
        "ThawTfOp" => {
            LayerKind::TfOp(super::pymodule::tf_op_from_config(e.config).map_err(|m| c.err(m))?)
        }
        "Add" => LayerKind::Add,
        "Multiply" => LayerKind::Multiply,
        "Subtract" => LayerKind::Subtract,
        "Maximum" => LayerKind::Maximum,
        "Minimum" => LayerKind::Minimum,
        "Average" => LayerKind::Average,
        "Conv2DTranspose" | "Convolution2DTranspose" => {
            c.channels_last()?;
            if c.pair("dilation_rate", Some([1, 1]))? != [1, 1] {
                return Err(c.err("dilation_rate != 1 not supported"));
            }
            if !matches!(c.get("output_padding"), None | Some(Value::Null)) {
                return Err(c.err("output_padding not supported"));
            }
            if c.usize("groups", Some(1))? != 1 {
                return Err(c.err("groups != 1 not supported"));
            }
            LayerKind::Conv2DTranspose {
                filters: c.usize("filters", None)?,
                kernel_size: c.pair("kernel_size", None)?,
                strides: c.pair("strides", Some([1, 1]))?,
                padding: c.padding()?,
                use_bias: c.bool("use_bias", true)?,
                activation: c.activation("activation")?,
            }
        }
        "UpSampling2D" => {
            c.channels_last()?;
            LayerKind::UpSampling2D {
                size: c.pair("size", Some([2, 2]))?,
                interpolation: match c.get("interpolation").and_then(Value::as_str) {
                    None | Some("nearest") => Interpolation::Nearest,
                    Some("bilinear") => Interpolation::Bilinear,
                    Some(other) => {
                        return Err(c.err(format!(
                            "interpolation '{other}' not supported (nearest, bilinear)"
                        )));
                    }
                },
            }
        }
        "Concatenate" => LayerKind::Concatenate {
            axis: c.i64("axis", -1)?,
        },
        "SeparableConv2D" | "SeparableConvolution2D" => {
            c.channels_last()?;
            LayerKind::SeparableConv2D {
                filters: c.usize("filters", None)?,
                kernel_size: c.pair("kernel_size", None)?,
                strides: c.pair("strides", Some([1, 1]))?,
                padding: c.padding()?,
                depth_multiplier: c.usize("depth_multiplier", Some(1))?,
                dilation_rate: c.pair("dilation_rate", Some([1, 1]))?,
                use_bias: c.bool("use_bias", true)?,
                activation: c.activation("activation")?,
            }
        }
        "Cropping2D" => {
            c.channels_last()?;
            // Same spellings as ZeroPadding2D's `padding`: n, [h, w] or [[t, b], [l, r]].
            LayerKind::Cropping2D {
                cropping: zero_padding_like(&c, "cropping")?,
            }
        }
        "BatchNormalization" => {
            c.refuse_if_set(&["renorm"])?;
            LayerKind::BatchNormalization {
                axis: c.i64("axis", -1)?,
                epsilon: c.f32("epsilon", 1e-3)?,
                center: c.bool("center", true)?,
                scale: c.bool("scale", true)?,
            }
        }
        "Embedding" => {
            c.refuse_if_set(&["mask_zero"])?;
            LayerKind::Embedding {
                input_dim: c.usize("input_dim", None)?,
                output_dim: c.usize("output_dim", None)?,
            }
        }
        "Conv1D" | "Convolution1D" => {
            c.channels_last()?;
            if c.usize("groups", Some(1))? != 1 {
                return Err(c.err("groups != 1 not supported"));
            }
            LayerKind::Conv1D {
                filters: c.usize("filters", None)?,
                kernel_size: c.one("kernel_size", None)?,
                strides: c.one("strides", Some(1))?,
                padding: c.padding1d()?,
                dilation_rate: c.one("dilation_rate", Some(1))?,
                use_bias: c.bool("use_bias", true)?,
                activation: c.activation("activation")?,
            }
        }
        "MaxPooling1D" | "MaxPool1D" | "AveragePooling1D" | "AvgPool1D" => {
            c.channels_last()?;
            let pool_size = c.one("pool_size", Some(2))?;
            let strides = match c.get("strides") {
                None | Some(Value::Null) => pool_size,
                Some(_) => c.one("strides", None)?,
            };
            let padding = c.padding()?;
            if e.class.starts_with("Max") {
                LayerKind::MaxPooling1D {
                    pool_size,
                    strides,
                    padding,
                }
            } else {
                LayerKind::AveragePooling1D {
                    pool_size,
                    strides,
                    padding,
                }
            }
        }
        "GlobalAveragePooling1D" | "GlobalAvgPool1D" => {
            c.channels_last()?;
            LayerKind::GlobalAveragePooling1D {
                keepdims: c.bool("keepdims", false)?,
            }
        }
        "LSTM" => {
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
            LayerKind::Lstm {
                units: c.usize("units", None)?,
                return_sequences: c.bool("return_sequences", false)?,
                use_bias: c.bool("use_bias", true)?,
            }
        }
        "GlobalMaxPooling1D" | "GlobalMaxPool1D" => {
            c.channels_last()?;
            LayerKind::GlobalMaxPooling1D {
                keepdims: c.bool("keepdims", false)?,
            }
        }
        "Permute" => {
            let v = c.get("dims").ok_or_else(|| c.err("missing 'dims'"))?;
            let dims = v
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|d| d.as_u64().map(|d| d as usize))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| c.err(format!("dims = {v} is not a list of axes")))?;
            LayerKind::Permute { dims }
        }
        "RepeatVector" => LayerKind::RepeatVector {
            n: c.usize("n", None)?,
        },
        "LayerNormalization" => {
            c.refuse_if_set(&["rms_scaling"])?;
            let axis = match c.get("axis") {
                Some(Value::Array(a)) if a.len() == 1 => a[0].as_i64(),
                Some(v) => v.as_i64(),
                None => Some(-1),
            }
            .ok_or_else(|| c.err("axis must be one integer"))?;
            LayerKind::LayerNormalization {
                axis,
                epsilon: c.f32("epsilon", 1e-3)?,
                center: c.bool("center", true)?,
                scale: c.bool("scale", true)?,
            }
        }
        // thaw's own loading shim (see the module header), also as Keras re-saves it.
        "MultiHeadAttention" | "ThawMultiHeadAttention" | "thaw>ThawMultiHeadAttention" => {
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
            LayerKind::MultiHeadAttention {
                num_heads: c.usize("num_heads", None)?,
                key_dim,
                value_dim: match c.get("value_dim") {
                    None | Some(Value::Null) => key_dim,
                    Some(_) => c.usize("value_dim", None)?,
                },
                use_bias: c.bool("use_bias", true)?,
                output_shape,
            }
        }
        "Functional" | "Model" | "Sequential" => {
            return Err(c.err("nested models are not supported yet (flatten the model first)"));
        }
        // Dropout and its kin are the identity at inference, whatever their rate.
        other => match IdentityClass::from_keras_name(other) {
            Some(class) => LayerKind::InferenceIdentity { class },
            None => return Err(c.err(format!("class '{other}' is not supported yet"))),
        },
    };
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
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
            {"class_name": "SimpleRNN", "name": "rnn", "config": {"name": "rnn", "units": 2},
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
            "'rnn' (SimpleRNN)",
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
