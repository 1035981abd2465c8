//! The generated `model.py`: thaw's Keras model as readable Functional-API
//! source (`thaw convert m.pb -o model.py`, `thaw verify --formats py`).
//!
//! One line per layer: `name = L.Class(args, name="name")(inputs)  # TF: nodes`.
//! The arguments are the layer's config JSON ([`config::model_config`], the
//! `.h5`'s, so the code builds exactly the layers the `.h5` holds) minus the
//! keys every layer has (`name`, `trainable`, `dtype`) and minus values equal to
//! the class's default (the rule is by key, with the few classes whose default
//! differs named in [`is_default`]). Layer names are the `.h5`'s, so
//! `build_model(weights=True)` loads the weights of the `.h5` written beside the
//! module (`model.load_weights`, by position in `model.layers`, which both
//! Kerases order the same way for the same graph).
//!
//! The module picks its Keras at call time: `build_model(keras=tf_keras)`, else
//! `tf_keras` when `TF_USE_LEGACY_KERAS=1`, else Keras 3. Custom classes
//! (`ThawTfOp` fallbacks, `ThawMultiHeadAttention`) come from
//! `thaw_fallbacks.py` beside it, as for the `.h5`. `python model.py` prints
//! the summary.
//!
//! Not handled yet: nested models; layers with several outputs.

use super::config::{self, written_class_name};
use super::error::KerasError;
use super::ir::{Layer, Model, output_name};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Which TF nodes each Keras layer came from (layer name → node names), for
/// the comments; layers missing from it get none.
pub type Origins = BTreeMap<String, Vec<String>>;

/// Config keys every layer has; never spelled out (the name is passed apart).
const ALWAYS_DROPPED: [&str; 3] = ["name", "trainable", "dtype"];

/// How many TF node names a comment lists before "(+N more)".
const MAX_NODES_SHOWN: usize = 4;

/// Writes the module at `path`; its `build_model` loads weights from `weights`
/// (referred to by file name, relative to the module's folder).
pub fn write(
    path: &Path,
    model: &Model,
    weights: &Path,
    origins: &Origins,
) -> Result<(), KerasError> {
    config::validate(model)?;
    let weights_name = weights
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("model.h5");
    let module_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("model.py");
    let source = source(model, module_name, weights_name, origins);
    super::formats::write_atomically(path, source.as_bytes(), "the generated module")
}

/// The module's source text.
pub fn source(model: &Model, module_name: &str, weights_name: &str, origins: &Origins) -> String {
    let json = config::model_config(model);
    let configs: HashMap<&str, &Value> = json["config"]["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((l["name"].as_str()?, &l["config"])))
        .collect();
    let mut idents = Idents::default();
    let custom = super::pymodule::needs_module(model);

    let mut s = String::new();
    s.push_str(&format!(
        "\"\"\"Keras model `{}`, converted by thaw {} from a TensorFlow frozen graph.\n\n\
         build_model() rebuilds it with the Functional API and loads the weights of\n\
         {weights_name} beside this file; `python {}` prints its summary. Runs under\n\
         Keras 3, or tf-keras with TF_USE_LEGACY_KERAS=1 or build_model(keras=tf_keras).\n\"\"\"\n\n",
        model.name.replace('"', "'"),
        env!("CARGO_PKG_VERSION"),
        module_name.replace('"', "'"),
    ));
    s.push_str("import os\nimport sys\n\n");
    s.push_str("HERE = os.path.dirname(os.path.abspath(__file__))\n");
    s.push_str(&format!(
        "WEIGHTS = os.path.join(HERE, {})\n\n\n",
        py_str(weights_name)
    ));
    s.push_str(
        "def _keras(keras=None):\n    if keras is not None:\n        return keras\n    \
         if os.environ.get(\"TF_USE_LEGACY_KERAS\") == \"1\":\n        import tf_keras\n\n        \
         return tf_keras\n    import keras\n\n    return keras\n\n\n",
    );
    s.push_str("def build_model(weights=True, keras=None):\n");
    s.push_str("    keras = _keras(keras)\n    L = keras.layers\n");
    if custom {
        s.push_str(
            "    sys.path.insert(0, HERE)\n    import thaw_fallbacks\n\n    \
             custom = thaw_fallbacks.custom_objects(keras)\n",
        );
    }
    for input in &model.inputs {
        let var = idents.bind(&input.name);
        let shape: Vec<String> = input
            .shape
            .iter()
            .map(|d| d.map_or("None".to_string(), |d| d.to_string()))
            .collect();
        s.push_str(&format!(
            "    {var} = keras.Input(shape={}, dtype={}, name={})\n",
            py_tuple(&shape),
            py_str(input.dtype.keras_name()),
            py_str(&input.name)
        ));
    }
    for layer in &model.layers {
        s.push_str(&layer_line(
            layer,
            configs.get(layer.name.as_str()).copied(),
            &mut idents,
            origins,
        ));
    }
    let list = |names: Vec<&str>, idents: &Idents| -> String {
        let v: Vec<String> = names.iter().map(|n| idents.get(n)).collect();
        format!("[{}]", v.join(", "))
    };
    s.push_str(&format!(
        "    model = keras.Model(inputs={}, outputs={}, name={})\n",
        list(
            model.inputs.iter().map(|i| i.name.as_str()).collect(),
            &idents
        ),
        list(model.outputs.iter().map(String::as_str).collect(), &idents),
        py_str(&model.name)
    ));
    s.push_str("    if weights:\n        model.load_weights(WEIGHTS)\n    return model\n\n\n");
    s.push_str("if __name__ == \"__main__\":\n    build_model().summary()\n");
    s
}

fn layer_line(
    layer: &Layer,
    config: Option<&Value>,
    idents: &mut Idents,
    origins: &Origins,
) -> String {
    let class = written_class_name(&layer.kind);
    let callee = if class.starts_with("Thaw") {
        format!("custom[{}]", py_str(class))
    } else {
        format!("L.{class}")
    };
    let mut args: Vec<String> = config
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, v)| !ALWAYS_DROPPED.contains(&k.as_str()) && !is_default(class, k, v))
        .map(|(k, v)| format!("{k}={}", py_value(v)))
        .collect();
    args.push(format!("name={}", py_str(&layer.name)));
    let inputs: Vec<String> = layer.inbound.iter().map(|n| idents.get(n)).collect();
    let call = if inputs.len() == 1 {
        inputs[0].clone()
    } else {
        format!("[{}]", inputs.join(", "))
    };
    // A layer of several outputs (a recurrent layer's states) is unpacked.
    let vars: Vec<String> = (0..layer.kind.outputs())
        .map(|k| idents.bind(&output_name(&layer.name, k)))
        .collect();
    let mut line = format!(
        "    {} = {callee}({})({call})",
        vars.join(", "),
        args.join(", ")
    );
    if let Some(nodes) = origins.get(&layer.name).filter(|n| !n.is_empty()) {
        let shown: Vec<&str> = nodes
            .iter()
            .take(MAX_NODES_SHOWN)
            .map(String::as_str)
            .collect();
        line.push_str(&format!("  # TF: {}", shown.join(", ")));
        if nodes.len() > MAX_NODES_SHOWN {
            line.push_str(&format!(" (+{} more)", nodes.len() - MAX_NODES_SHOWN));
        }
    }
    line.push('\n');
    line
}

/// Whether `value` is what `class` uses when `key` is not given, in both Keras
/// 3.15 and tf-keras 2.21. By key: a value is only dropped when it is the
/// default of every class thaw writes that has the key, except the classes
/// named here whose default differs (pooling's `strides` default to the pool
/// size; LSTM's `activation` is tanh; `Activation` needs its argument).
fn is_default(class: &str, key: &str, value: &Value) -> bool {
    let all_ones = || {
        value
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|v| v.as_f64() == Some(1.0)))
    };
    match key {
        "activation" => match class {
            "Activation" => false,
            "LSTM" | "GRU" | "SimpleRNN" => value == "tanh",
            _ => value == "linear",
        },
        "recurrent_activation" => value == "sigmoid",
        "strides" => !class.contains("Pooling") && all_ones(),
        "dilation_rate" => all_ones(),
        "padding" => value == "valid",
        "data_format" => value == "channels_last",
        "use_bias" | "center" | "scale" | "unit_forget_bias" => value == true,
        "sparse" | "ragged" | "keepdims" | "return_sequences" => value == false,
        "groups" | "depth_multiplier" => value.as_f64() == Some(1.0),
        "axis" => value.as_f64() == Some(-1.0),
        "epsilon" => value.as_f64() == Some(0.001),
        "momentum" => value.as_f64() == Some(0.99),
        "negative_slope" | "threshold" | "dropout" | "recurrent_dropout" => {
            value.as_f64() == Some(0.0)
        }
        "max_value" | "output_padding" | "attention_axes" | "output_shape" => value.is_null(),
        "interpolation" => class.starts_with("UpSampling") && value == "nearest",
        // The shapes are for from_config (tf-keras builds from them); a layer
        // built in code takes them from its first call.
        "query_shape" | "key_shape" | "value_shape" => class == "ThawMultiHeadAttention",
        _ => false,
    }
}

/// Python identifiers for layer names: unique, not keywords.
#[derive(Default)]
struct Idents {
    of: HashMap<String, String>,
    used: HashSet<String>,
}

impl Idents {
    fn bind(&mut self, name: &str) -> String {
        let mut base: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert(0, '_');
        }
        const RESERVED: [&str; 46] = [
            "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
            "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
            "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
            "return", "try", "while", "with", "yield", "keras", "L", "custom", "model", "weights",
            "input", "os", "sys", "HERE", "WEIGHTS", "type",
        ];
        if RESERVED.contains(&base.as_str()) {
            base.push('_');
        }
        let mut ident = base.clone();
        let mut n = 1;
        while self.used.contains(&ident) {
            ident = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(ident.clone());
        self.of.insert(name.to_string(), ident.clone());
        ident
    }

    fn get(&self, name: &str) -> String {
        // validate() guarantees every inbound name is bound before use.
        self.of
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("_missing_{}", self.used.len()))
    }
}

/// A Python string literal (JSON's escapes are Python's).
fn py_str(s: &str) -> String {
    Value::from(s).to_string()
}

fn py_tuple(items: &[String]) -> String {
    match items.len() {
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

/// A JSON value as a Python literal: lists as tuples, objects as dicts; a
/// nested layer (`{"class_name": C, "config": {...}}` with perhaps `module`
/// and `registered_name`, Bidirectional's `layer`) as the call
/// `L.C(key=value, ...)`.
fn py_value(v: &Value) -> String {
    let nested_layer = v.as_object().is_some_and(|o| {
        o.keys().all(|k| {
            matches!(
                k.as_str(),
                "class_name" | "config" | "module" | "registered_name"
            )
        })
    });
    if let (true, Some(Value::String(class)), Some(Value::Object(cfg))) =
        (nested_layer, v.get("class_name"), v.get("config"))
    {
        let args: Vec<String> = cfg
            .iter()
            .filter(|(k, _)| k.as_str() == "name" || !ALWAYS_DROPPED.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={}", py_value(v)))
            .collect();
        return format!("L.{class}({})", args.join(", "));
    }
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => py_tuple(&a.iter().map(py_value).collect::<Vec<_>>()),
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::test_models;

    #[test]
    fn defaults_are_dropped_only_where_they_are_defaults() {
        let ones = serde_json::json!([1, 1]);
        assert!(is_default("Conv2D", "strides", &ones));
        // MaxPooling2D(strides=None) means strides = pool_size.
        assert!(!is_default("MaxPooling2D", "strides", &ones));
        assert!(is_default("Dense", "activation", &Value::from("linear")));
        assert!(!is_default("LSTM", "activation", &Value::from("linear")));
        assert!(!is_default(
            "Activation",
            "activation",
            &Value::from("linear")
        ));
        assert!(!is_default("Dense", "units", &Value::from(1)));
    }

    #[test]
    fn literals_and_identifiers_are_python() {
        assert_eq!(
            py_value(&serde_json::json!([[1, 2], [0, 1]])),
            "((1, 2), (0, 1))"
        );
        assert_eq!(py_value(&serde_json::json!([3])), "(3,)");
        assert_eq!(
            py_value(&serde_json::json!({"a": null, "b": true})),
            "{\"a\": None, \"b\": True}"
        );
        let mut ids = Idents::default();
        assert_eq!(ids.bind("block1/conv:0"), "block1_conv_0");
        assert_eq!(ids.bind("block1_conv:0"), "block1_conv_0_1");
        assert_eq!(ids.bind("3x3"), "_3x3");
        assert_eq!(ids.bind("lambda"), "lambda_");
        assert_eq!(ids.get("block1/conv:0"), "block1_conv_0");
    }

    #[test]
    fn one_line_per_layer_with_its_nodes() {
        let model = test_models::small_cnn_model();
        let mut origins = Origins::new();
        let first = &model.layers[0].name;
        origins.insert(first.clone(), vec!["a/b".into(), "a/c".into()]);
        let src = source(&model, "m.py", "m.h5", &origins);
        for layer in &model.layers {
            let lines = src
                .lines()
                .filter(|l| l.contains(&format!("name={}", py_str(&layer.name))))
                .count();
            assert_eq!(lines, 1, "layer {} in\n{src}", layer.name);
        }
        assert!(src.contains("# TF: a/b, a/c"), "{src}");
        assert!(src.contains("os.path.join(HERE, \"m.h5\")"), "{src}");
        assert!(!src.contains("trainable="), "{src}");
    }
}
