//! Keras 3's recorded masks: the mask operations a Keras 3 functional config
//! holds as layers of their own, and the `mask=` arguments that hand them on.
//!
//! Building a functional model, Keras 3 runs each layer's `compute_mask` on
//! symbolic tensors, so the config it saves (`.keras` or `.h5`) records the
//! mask computation as operation layers (module `keras.src.ops.numpy`):
//! `Embedding(mask_zero=True)`'s `NotEqual(ids, 0)` on the ids the Embedding
//! reads, `Masking(v)`'s `Any(NotEqual(x, v), axis=-1)` on the Masking
//! layer's input; and every layer whose `call` takes a mask (LSTM, GRU,
//! SimpleRNN, Bidirectional, Softmax, ...) is called with it as the `mask=`
//! keyword argument of its inbound node
//! (`{"args": [x], "kwargs": {"mask": {"class_name": "__keras_tensor__", …}}}`),
//! the same mask tensor all along a chain of layers that carry it on.
//! tf-keras records neither (its layers find the mask on their input).
//!
//! thaw computes masks itself, by Keras's rules
//! ([`super::layers::mask`]), so both are redundant when they compute exactly
//! the mask Keras's own propagation gives, and the reader drops them:
//! - [`MaskOps::find`] picks the op layers read as mask computations: a
//!   `NotEqual(tensor, number)` or `Any(tensor, axis: int, keepdims)` ([`Op`])
//!   whose output reaches other layers only through `mask=` arguments,
//!   directly or through another such op (never a model output or a
//!   positional argument of a layer);
//! - [`MaskOps::check`] compares every `mask=` argument, as an expression
//!   ([`MaskExpr`]) over the tensors it is computed from, with the expression
//!   Keras's `compute_mask` gives for the mask thaw propagates to that input
//!   ([`mask_makers`]). Any other mask is refused naming the layer: one built
//!   by hand, with another comparison value or axis, on another tensor, or
//!   passed where no `Embedding(mask_zero=True)`/`Masking` mask reaches the
//!   input. A mask that differs is never dropped silently: the model Keras
//!   loads would compute something else than what thaw verifies.
//!
//! Not read (refused, naming the layer): other op classes in a `mask=`
//! argument (`LogicalAnd` of a merge's masks, `Cast`, ...), and
//! MultiHeadAttention's `query_mask`/`value_mask`/`key_mask` (refused by its
//! own inbound reader).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::Value;

use super::cfg::entry;
use super::inbound::collect_keras_tensors;
use super::ir::{Layer, LayerKind, Model};
use super::layers::mask::mask_makers;

/// One mask operation layer of a Keras 3 config, its input by tensor name.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// `keras.ops.not_equal(x, value)`.
    NotEqual { x: String, value: f32 },
    /// `keras.ops.any(x, axis, keepdims)`.
    Any {
        x: String,
        axis: i64,
        keepdims: bool,
    },
}

/// A mask as an expression over the tensors it is computed from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MaskExpr {
    /// A tensor that is no mask operation: a layer's output or a model input.
    Tensor(String),
    NotEqual {
        x: Box<MaskExpr>,
        value: f32,
    },
    Any {
        x: Box<MaskExpr>,
        axis: i64,
        keepdims: bool,
    },
}

impl fmt::Display for MaskExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaskExpr::Tensor(t) => write!(f, "'{t}'"),
            MaskExpr::NotEqual { x, value } => write!(f, "NotEqual({x}, {value:?})"),
            MaskExpr::Any { x, axis, keepdims } => {
                write!(f, "Any({x}, axis={axis}")?;
                if *keepdims {
                    write!(f, ", keepdims=True")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// The mask a mask-making layer gives its output, as the expression Keras 3's
/// `compute_mask` records: `Embedding(mask_zero=True)`: `NotEqual(ids, 0)`,
/// `Masking(v)`: `Any(NotEqual(x, v), axis=-1)`.
fn made_by(maker: &Layer) -> Option<MaskExpr> {
    let x = Box::new(MaskExpr::Tensor(maker.inbound.first()?.clone()));
    match &maker.kind {
        LayerKind::Embedding {
            mask_zero: true, ..
        } => Some(MaskExpr::NotEqual { x, value: 0.0 }),
        LayerKind::Masking { mask_value } => Some(MaskExpr::Any {
            x: Box::new(MaskExpr::NotEqual {
                x,
                value: *mask_value,
            }),
            axis: -1,
            keepdims: false,
        }),
        _ => None,
    }
}

/// The mask operation layers of one Keras 3 config (see the module header).
#[derive(Debug, Default)]
pub(crate) struct MaskOps {
    ops: HashMap<String, Op>,
}

impl MaskOps {
    /// The op layers of `layers` (a Functional config's layer entries) read
    /// as mask computations; `outputs` are the model's output tensors.
    pub(crate) fn find(layers: &[Value], outputs: &[String]) -> MaskOps {
        let names: Vec<String> = layers
            .iter()
            .enumerate()
            .filter_map(|(i, v)| entry(v, i).ok().map(|e| e.name))
            .collect();
        let unique = |n: &String| names.iter().filter(|m| *m == n).count() == 1;
        // (A name two entries share is read as layers, and refused there.)
        let mut ops: HashMap<String, Op> = layers
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let e = entry(v, i).ok()?;
                let op = parse_op(e.class, v)?;
                unique(&e.name).then_some((e.name, op))
            })
            .collect();
        if ops.is_empty() {
            return MaskOps::default();
        }
        let uses = uses(layers, outputs);
        // Drop, until none is left to drop, every candidate used other than
        // as a mask: by a model output, a non-mask argument of a layer, or a
        // candidate already dropped.
        loop {
            let keep = |name: &String| {
                uses.get(name).is_some_and(|u| {
                    !u.is_empty()
                        && u.iter().all(|u| match u {
                            Use::Mask => true,
                            Use::ArgOf(consumer) => ops.contains_key(consumer),
                            Use::Other => false,
                        })
                })
            };
            let dropped: Vec<String> = ops.keys().filter(|n| !keep(n)).cloned().collect();
            if dropped.is_empty() {
                break;
            }
            for n in dropped {
                ops.remove(&n);
            }
        }
        MaskOps { ops }
    }

    /// Whether the layer entry `name` is a mask operation (not read as a layer).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.ops.contains_key(name)
    }

    /// The expression of tensor `t`, through the mask operations it comes from.
    fn expr(&self, t: &str) -> MaskExpr {
        self.expr_at(t, self.ops.len())
    }

    fn expr_at(&self, t: &str, depth: usize) -> MaskExpr {
        let op = self.ops.get(t).filter(|_| depth > 0);
        match op {
            None => MaskExpr::Tensor(t.to_string()),
            Some(Op::NotEqual { x, value }) => MaskExpr::NotEqual {
                x: Box::new(self.expr_at(x, depth - 1)),
                value: *value,
            },
            Some(Op::Any { x, axis, keepdims }) => MaskExpr::Any {
                x: Box::new(self.expr_at(x, depth - 1)),
                axis: *axis,
                keepdims: *keepdims,
            },
        }
    }

    /// Checks every `mask=` argument of `passed` (layer name, one mask per
    /// inbound tensor) against the mask thaw propagates to that tensor; one
    /// problem per mismatch, naming the layer. `model` is the model read
    /// without the mask operations, in topological order.
    pub(crate) fn check(
        &self,
        model: &Model,
        passed: &[(String, Vec<Option<String>>)],
    ) -> Vec<String> {
        let makers = mask_makers(model);
        let mut problems = Vec::new();
        for (name, masks) in passed {
            let Some(layer) = model.layer(name) else {
                continue;
            };
            let at = |m: String| format!("layer '{name}' ({}): {m}", layer.kind.class_name());
            if masks.len() != layer.inbound.len() {
                problems.push(at(format!(
                    "called with {} mask(s) for {} input tensor(s)",
                    masks.len(),
                    layer.inbound.len()
                )));
                continue;
            }
            for (input, mask) in layer.inbound.iter().zip(masks) {
                let Some(mask) = mask else { continue };
                let passed = self.expr(mask);
                let maker = makers.get(input);
                match maker.and_then(|m| made_by(m)) {
                    Some(expected) if expected == passed => {}
                    Some(expected) => {
                        let maker = maker.map_or(String::new(), |m| {
                            format!(" (made by {} '{}')", m.kind.class_name(), m.name)
                        });
                        problems.push(at(format!(
                            "its mask= argument {passed} differs from the mask its input \
                             '{input}' carries by Keras's rules, {expected}{maker}: a mask made \
                             by hand is not supported (thaw computes the masks itself)"
                        )))
                    }
                    None => problems.push(at(format!(
                        "its mask= argument {passed} is a mask made by hand (not supported): \
                         by Keras's rules no Embedding(mask_zero=True) or Masking mask reaches \
                         its input '{input}'"
                    ))),
                }
            }
        }
        problems
    }
}

/// How a tensor is used.
#[derive(Debug)]
enum Use {
    /// As the `mask=` argument of a layer.
    Mask,
    /// As a positional argument of the layer named.
    ArgOf(String),
    /// Any other way (another keyword argument, a legacy node, a model output).
    Other,
}

/// Every use of every layer's output, by layer name.
fn uses(layers: &[Value], outputs: &[String]) -> HashMap<String, Vec<Use>> {
    let mut out: HashMap<String, Vec<Use>> = HashMap::new();
    let mut add = |v: &Value, what: &dyn Fn() -> Use| {
        let mut names = HashSet::new();
        referenced_layers(v, &mut names);
        for n in names {
            out.entry(n).or_default().push(what());
        }
    };
    for (i, v) in layers.iter().enumerate() {
        let Ok(e) = entry(v, i) else { continue };
        let Some(Value::Array(nodes)) = v.get("inbound_nodes") else {
            continue;
        };
        for node in nodes {
            let Value::Object(node) = node else {
                add(node, &|| Use::Other);
                continue;
            };
            for (key, value) in node {
                match key.as_str() {
                    "args" => add(value, &|| Use::ArgOf(e.name.clone())),
                    "kwargs" => match value {
                        Value::Object(kwargs) => {
                            for (k, x) in kwargs {
                                add(x, &|| if k == "mask" { Use::Mask } else { Use::Other });
                            }
                        }
                        other => add(other, &|| Use::Other),
                    },
                    _ => add(value, &|| Use::Other),
                }
            }
        }
    }
    for o in outputs {
        let layer = o.rsplit_once(':').map_or(o.as_str(), |(l, _)| l);
        out.entry(layer.to_string()).or_default().push(Use::Other);
    }
    out
}

/// The layers a node's value refers to: `__keras_tensor__` histories and
/// legacy `["name", node, tensor, {…}]` references.
fn referenced_layers(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(o)
            if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
        {
            let name = o
                .get("config")
                .and_then(|c| c.get("keras_history"))
                .and_then(|h| h.get(0))
                .and_then(Value::as_str);
            out.extend(name.map(str::to_string));
        }
        Value::Object(o) => o.values().for_each(|x| referenced_layers(x, out)),
        Value::Array(a) => {
            if let Some(name) = a.first().and_then(Value::as_str) {
                out.insert(name.to_string());
            }
            a.iter().for_each(|x| referenced_layers(x, out));
        }
        _ => {}
    }
}

/// A `NotEqual(tensor, number)` or `Any(tensor)` (axis an integer) entry,
/// called once with no keyword tensors; `None` for anything else.
fn parse_op(class: &str, v: &Value) -> Option<Op> {
    let [Value::Object(node)] = v.get("inbound_nodes")?.as_array()?.as_slice() else {
        return None;
    };
    let no_kwargs = match node.get("kwargs") {
        None | Some(Value::Null) => true,
        Some(Value::Object(k)) => k.is_empty(),
        Some(_) => false,
    };
    if !no_kwargs {
        return None;
    }
    let args = node.get("args")?.as_array()?;
    let tensor = |x: &Value| {
        let mut t = Vec::new();
        x.is_object()
            .then(|| collect_keras_tensors(x, false, &mut t).ok())??;
        t.pop()
    };
    let config = v.get("config")?;
    match (class, args.as_slice()) {
        ("NotEqual", [x, value]) => Some(Op::NotEqual {
            x: tensor(x)?,
            value: value.as_f64()? as f32,
        }),
        ("Any", [x]) => Some(Op::Any {
            x: tensor(x)?,
            axis: config.get("axis")?.as_i64()?,
            keepdims: match config.get("keepdims") {
                None | Some(Value::Null) => false,
                Some(k) => k.as_bool()?,
            },
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::keras::ir::LayerKind;
    use crate::keras::read::model_from_config;
    use serde_json::{Value, json};

    fn kt(name: &str) -> Value {
        json!({"class_name": "__keras_tensor__",
               "config": {"shape": [null, 6], "keras_history": [name, 0, 0]}})
    }

    fn layer(class: &str, name: &str, config: Value, args: Value, kwargs: Value) -> Value {
        let mut config = config;
        config["name"] = json!(name);
        json!({"module": "keras.layers", "class_name": class, "name": name, "config": config,
               "inbound_nodes": [{"args": args, "kwargs": kwargs}]})
    }

    fn model(layers: Vec<Value>, input: Value, out: &str) -> Value {
        let mut all = vec![input];
        all.extend(layers);
        json!({"module": "keras", "class_name": "Functional", "config": {"name": "m",
               "layers": all, "input_layers": [["in", 0, 0]], "output_layers": [[out, 0, 0]]}})
    }

    fn ids_input() -> Value {
        json!({"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
               "config": {"name": "in", "batch_shape": [null, 6], "dtype": "int32"}})
    }

    /// `Embedding(mask_zero)` → LSTM(sequences) → Dense → GRU, as Keras 3.15
    /// saves it (trimmed from `fixtures/k3_mask_zero_rnn`'s model re-saved by
    /// Keras 3, see harness/faults.py): the mask `NotEqual(ids, 0)` is an op
    /// layer handed to both recurrent layers as `mask=` (the Dense's call takes
    /// no mask, Keras carries it on). `ne_value` is the NotEqual's constant,
    /// `mask_zero` the Embedding's.
    fn embedding_model(ne_value: Value, mask_zero: bool) -> Value {
        let m = json!({"training": false, "mask": kt("not_equal")});
        model(
            vec![
                layer(
                    "Embedding",
                    "embed",
                    json!({"input_dim": 5, "output_dim": 3, "mask_zero": mask_zero}),
                    json!([kt("in")]),
                    json!({}),
                ),
                json!({"module": "keras.src.ops.numpy", "class_name": "NotEqual",
                       "name": "not_equal", "config": {"name": "not_equal"},
                       "inbound_nodes": [{"args": [kt("in"), ne_value], "kwargs": {}}]}),
                layer(
                    "LSTM",
                    "lstm",
                    json!({"units": 4, "return_sequences": true}),
                    json!([kt("embed")]),
                    m.clone(),
                ),
                layer(
                    "Dense",
                    "mix",
                    json!({"units": 4}),
                    json!([kt("lstm")]),
                    json!({}),
                ),
                layer("GRU", "gru", json!({"units": 2}), json!([kt("mix")]), m),
            ],
            ids_input(),
            "gru",
        )
    }

    /// `Masking(0.5)` → GRU with Keras 3's `Any(NotEqual(x, 0.5), axis=-1)`
    /// on the Masking layer's input (order and form as Keras 3.15 saves
    /// `fixtures/k3_masking_rnn`'s model). `value` is the NotEqual's constant.
    fn masking_model(value: f64, axis: i64) -> Value {
        let input = json!({"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
                           "config": {"name": "in", "batch_shape": [null, 6, 3]}});
        model(
            vec![
                json!({"module": "keras.src.ops.numpy", "class_name": "NotEqual",
                       "name": "not_equal", "config": {"name": "not_equal"},
                       "inbound_nodes": [{"args": [kt("in"), value], "kwargs": {}}]}),
                layer(
                    "Masking",
                    "mask",
                    json!({"mask_value": 0.5}),
                    json!([kt("in")]),
                    json!({}),
                ),
                json!({"module": "keras.src.ops.numpy", "class_name": "Any", "name": "any",
                       "config": {"name": "any", "axis": axis, "keepdims": false},
                       "inbound_nodes": [{"args": [kt("not_equal")], "kwargs": {}}]}),
                layer(
                    "GRU",
                    "gru",
                    json!({"units": 2}),
                    json!([kt("mask")]),
                    json!({"training": false, "mask": kt("any")}),
                ),
            ],
            input,
            "gru",
        )
    }

    fn refusal(cfg: &Value) -> String {
        model_from_config(cfg)
            .expect_err("a mask that is not Keras's own must be refused")
            .to_string()
    }

    #[test]
    fn keras3_masks_equal_to_the_propagated_ones_are_dropped() {
        for ne in [json!(0), json!(0.0)] {
            let m = model_from_config(&embedding_model(ne, true)).unwrap();
            let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
            assert_eq!(names, ["embed", "lstm", "mix", "gru"]);
            assert_eq!(m.layer("lstm").unwrap().inbound, ["embed"]);
            assert_eq!(m.layer("gru").unwrap().inbound, ["mix"]);
        }
        let m = model_from_config(&masking_model(0.5, -1)).unwrap();
        let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["mask", "gru"]);
        assert_eq!(m.layer("gru").unwrap().inbound, ["mask"]);
        assert_eq!(
            m.layer("mask").unwrap().kind,
            LayerKind::Masking { mask_value: 0.5 }
        );
    }

    #[test]
    fn a_mask_that_differs_from_the_propagated_one_is_refused_by_layer() {
        // Another comparison value: the Embedding masks id 0, this mask id 1.
        let err = refusal(&embedding_model(json!(1), true));
        for needle in [
            "layer 'lstm' (LSTM): its mask= argument NotEqual('in', 1.0) differs from the mask \
             its input 'embed' carries by Keras's rules, NotEqual('in', 0.0) (made by Embedding \
             'embed')",
            "layer 'gru' (GRU): its mask= argument NotEqual('in', 1.0)",
        ] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
        // No mask reaches the layer in Keras's propagation (mask_zero=False):
        // the mask was passed by hand.
        let err = refusal(&embedding_model(json!(0), false));
        assert!(
            err.contains(
                "layer 'lstm' (LSTM): its mask= argument NotEqual('in', 0.0) is a mask made by hand \
                 (not supported): by Keras's rules no Embedding(mask_zero=True) or Masking mask \
                 reaches its input 'embed'"
            ),
            "{err}"
        );
        // Masking: another value, another axis.
        let err = refusal(&masking_model(0.0, -1));
        assert!(
            err.contains(
                "layer 'gru' (GRU): its mask= argument Any(NotEqual('in', 0.0), axis=-1) differs \
                 from the mask its input 'mask' carries by Keras's rules, Any(NotEqual('in', 0.5), \
                 axis=-1) (made by Masking 'mask')"
            ),
            "{err}"
        );
        let err = refusal(&masking_model(0.5, 1));
        assert!(
            err.contains("Any(NotEqual('in', 0.5), axis=1) differs"),
            "{err}"
        );
    }

    #[test]
    fn a_mask_on_another_tensor_or_also_used_as_a_value_is_refused() {
        // The NotEqual on the Embedding's output instead of its ids.
        let mut cfg = embedding_model(json!(0), true);
        cfg["config"]["layers"][2]["inbound_nodes"][0]["args"][0] = kt("embed");
        let err = refusal(&cfg);
        assert!(
            err.contains("'lstm' (LSTM): its mask= argument NotEqual('embed', 0.0) differs"),
            "{err}"
        );
        // A plain tensor (a model input) as the mask.
        let mut cfg = embedding_model(json!(0), true);
        cfg["config"]["layers"][3]["inbound_nodes"][0]["kwargs"]["mask"] = kt("in");
        let err = refusal(&cfg);
        assert!(
            err.contains("'lstm' (LSTM): its mask= argument 'in' differs"),
            "{err}"
        );
        // The NotEqual also feeds a layer as a value (here: is a model
        // output): not a mask computation, so it is read as a layer, which
        // thaw does not support.
        let mut cfg = embedding_model(json!(0), true);
        cfg["config"]["output_layers"] = json!([["gru", 0, 0], ["not_equal", 0, 0]]);
        let err = refusal(&cfg);
        assert!(
            err.contains("layer 'not_equal' (NotEqual): class 'NotEqual' is not supported"),
            "{err}"
        );
        // A mask= that is no tensor.
        let mut cfg = embedding_model(json!(0), true);
        cfg["config"]["layers"][3]["inbound_nodes"][0]["kwargs"]["mask"] = json!(true);
        let err = refusal(&cfg);
        assert!(
            err.contains("layer 'lstm' (LSTM): mask = true is not a tensor"),
            "{err}"
        );
    }
}
