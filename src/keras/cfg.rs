//! Reading one layer entry of a Keras `model_config`, whichever dialect wrote it:
//! [`Entry`] (class, name, config object and the raw entry with its inbound
//! nodes) and [`Cfg`], typed access to the config keys that names the layer on
//! error. The family readers of [`super::layers`] read their classes through it.

use serde_json::{Map, Value};

use super::ir::{Activation, Padding, Padding1D};

/// A layer entry's class, name and config, whichever dialect it is in.
pub(crate) struct Entry<'a> {
    pub(crate) class: &'a str,
    pub(crate) name: String,
    pub(crate) config: &'a Map<String, Value>,
    pub(crate) raw: &'a Value,
}

pub(crate) fn entry(v: &Value, index: usize) -> Result<Entry<'_>, String> {
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

/// `"float32"`, or a Keras 3 `DTypePolicy` object's name.
pub(crate) fn dtype_name(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::String(s) => Some(s),
        Value::Object(o) => o
            .get("config")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str),
        _ => None,
    }
}

/// Typed access to one layer's config that names the layer on error.
pub(crate) struct Cfg<'a> {
    pub(crate) e: &'a Entry<'a>,
}

impl Cfg<'_> {
    pub(crate) fn err(&self, msg: impl std::fmt::Display) -> String {
        format!("layer '{}' ({}): {msg}", self.e.name, self.e.class)
    }

    /// The value of `key`, `None` if absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.e.config.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn usize(&self, key: &str, default: Option<usize>) -> Result<usize, String> {
        match self.get(key) {
            None => default.ok_or_else(|| self.err(format!("missing '{key}'"))),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not a non-negative integer"))),
        }
    }

    pub(crate) fn i64(&self, key: &str, default: i64) -> Result<i64, String> {
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

    pub(crate) fn f32(&self, key: &str, default: f32) -> Result<f32, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not a number"))),
        }
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(format!("'{key}' = {v} is not a boolean"))),
        }
    }

    /// An int `n` (meaning `[n, n]`) or a pair.
    pub(crate) fn pair(
        &self,
        key: &str,
        default: Option<[usize; 2]>,
    ) -> Result<[usize; 2], String> {
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
    pub(crate) fn one(&self, key: &str, default: Option<usize>) -> Result<usize, String> {
        match self.get(key) {
            Some(Value::Array(a)) if a.len() == 1 => a[0]
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.err(format!("'{key}' = {a:?} is not a size"))),
            _ => self.usize(key, default),
        }
    }

    /// Conv1D's padding: valid, same or causal.
    pub(crate) fn padding1d(&self) -> Result<Padding1D, String> {
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

    pub(crate) fn padding(&self) -> Result<Padding, String> {
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

    pub(crate) fn activation(&self, key: &str) -> Result<Activation, String> {
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
    pub(crate) fn channels_last(&self) -> Result<(), String> {
        match self.get("data_format").and_then(Value::as_str) {
            None | Some("channels_last") => Ok(()),
            Some(f) => Err(self.err(format!(
                "data_format '{f}' not supported (channels_last only)"
            ))),
        }
    }

    /// Keys whose non-default values change the maths in a way the IR cannot say.
    pub(crate) fn refuse_if_set(&self, keys: &[&str]) -> Result<(), String> {
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
