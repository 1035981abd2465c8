//! `thaw inspect MODEL.pb [--json]`: the model's inputs and outputs, its op
//! histogram, which TF nodes became which Keras layer, the fallback layers
//! and the unsupported ops. The facts are gathered once ([`Inspection`]) and
//! printed as text ([`print_text`]) or, with `--json`, serialized as they are,
//! so the two forms cannot hold different facts.
//!
//! JSON fields: `model`; `inputs[]` (`name`, `shape` after the batch axis as
//! Keras's `Input(shape=...)`, `null` for an unknown size, `dtype`);
//! `outputs[]` (`tensor` as given or found, `resolved` after pass-through
//! nodes, `layer`: the Keras layer computing it, `null` if none); `nodes` and
//! `ops` (op → node count); `keras_layers`, `native_layers`; `layers[]`
//! (`name`, `class_name`, `tf_tensor`, `tf_nodes`; inputs aside); `fallback_layers[]`
//! (`layer`, `op`, `node`); `unsupported_ops[]` (`node`, `op`, `reason`).

use serde::Serialize;
use std::collections::BTreeMap;
use thaw::convert::{Conversion, ConvertOptions};
use thaw::graph::{Graph, TensorId};

#[derive(Serialize)]
pub struct Inspection {
    pub model: String,
    pub inputs: Vec<InputFact>,
    pub outputs: Vec<OutputFact>,
    pub nodes: usize,
    pub ops: BTreeMap<String, usize>,
    pub keras_layers: usize,
    pub native_layers: usize,
    pub layers: Vec<LayerFact>,
    pub fallback_layers: Vec<FallbackFact>,
    pub unsupported_ops: Vec<UnsupportedFact>,
}

#[derive(Serialize)]
pub struct InputFact {
    pub name: String,
    pub shape: Vec<Option<usize>>,
    pub dtype: String,
}

#[derive(Serialize)]
pub struct OutputFact {
    pub tensor: String,
    pub resolved: String,
    pub layer: Option<String>,
}

#[derive(Serialize)]
pub struct LayerFact {
    pub name: String,
    pub class_name: String,
    /// The TF tensor holding the layer's output.
    pub tf_tensor: String,
    /// The TF nodes the layer stands for (listed once, with its first output:
    /// a recurrent layer's state `name:k` has none of its own).
    pub tf_nodes: Vec<String>,
}

#[derive(Serialize)]
pub struct FallbackFact {
    pub layer: String,
    pub op: String,
    pub node: String,
}

#[derive(Serialize)]
pub struct UnsupportedFact {
    pub node: String,
    pub op: String,
    pub reason: String,
}

/// The facts of `graph` and its conversion; `outputs` are the graph's output
/// tensors (`convert::graph_io`).
pub fn gather(
    model: &std::path::Path,
    graph: &Graph,
    conv: &Conversion,
    outputs: Vec<TensorId>,
) -> Inspection {
    let inputs = conv
        .model
        .inputs
        .iter()
        .map(|i| InputFact {
            name: i.name.clone(),
            shape: i.shape.clone(),
            dtype: i.dtype.keras_name().to_string(),
        })
        .collect();
    let outputs = outputs
        .into_iter()
        .map(|s| {
            let resolved = graph.resolve(&s);
            let layer = conv
                .tensors
                .iter()
                .find(|t| t.tensor == resolved)
                .map(|t| t.layer.clone());
            OutputFact {
                tensor: s.to_string(),
                resolved: resolved.to_string(),
                layer,
            }
        })
        .collect();
    let mut ops: BTreeMap<String, usize> = BTreeMap::new();
    for n in graph.nodes() {
        *ops.entry(n.op.clone()).or_default() += 1;
    }
    let fallbacks = thaw::convert::fallback::fallback_layers(conv);
    Inspection {
        model: model.display().to_string(),
        inputs,
        outputs,
        nodes: graph.nodes().len(),
        ops,
        keras_layers: conv.model.layers.len(),
        native_layers: conv.model.layers.len() - fallbacks.len(),
        layers: conv
            .tensors
            .iter()
            .filter(|t| t.class_name != "InputLayer")
            .map(|t| LayerFact {
                name: t.layer.clone(),
                class_name: t.class_name.clone(),
                tf_tensor: t.tensor.to_string(),
                tf_nodes: t.nodes.clone(),
            })
            .collect(),
        fallback_layers: fallbacks
            .iter()
            .map(|f| FallbackFact {
                layer: f.layer.clone(),
                op: f.op.clone(),
                node: f.node.clone(),
            })
            .collect(),
        unsupported_ops: conv
            .unsupported
            .iter()
            .map(|u| UnsupportedFact {
                node: u.node.clone(),
                op: u.op.clone(),
                reason: u.reason.clone(),
            })
            .collect(),
    }
}

/// Loads and converts the model of `opts`, as `thaw inspect` does.
pub fn inspect(
    model: &std::path::Path,
    opts: &ConvertOptions,
) -> Result<Inspection, thaw::verify::VerifyError> {
    let (graph, conv) = thaw::verify::load_and_convert(model, opts)?;
    let (_, outputs) = thaw::convert::graph_io(&graph, opts)?;
    Ok(gather(model, &graph, &conv, outputs))
}

/// The text form.
pub fn print_text(v: &Inspection) {
    println!("{}", v.model);
    println!("inputs:");
    for i in &v.inputs {
        let dims: Vec<String> = std::iter::once("batch".to_string())
            .chain(
                i.shape
                    .iter()
                    .map(|d| d.map_or("?".into(), |d| d.to_string())),
            )
            .collect();
        println!("  {} [{}] {}", i.name, dims.join(", "), i.dtype);
    }
    println!("outputs:");
    for o in &v.outputs {
        println!(
            "  {} (= {}, Keras layer {})",
            o.tensor,
            o.resolved,
            o.layer.as_deref().unwrap_or("-")
        );
    }
    println!("ops ({} nodes):", v.nodes);
    for (op, n) in &v.ops {
        println!("  {op:<24} {n}");
    }
    println!(
        "keras layers ({}: {} native, {} fallback):",
        v.keras_layers,
        v.native_layers,
        v.fallback_layers.len()
    );
    for l in &v.layers {
        let from = if l.tf_nodes.is_empty() {
            format!("= {}", l.tf_tensor)
        } else {
            format!("<- {}", l.tf_nodes.join(", "))
        };
        println!("  {:<28} {:<24} {from}", l.name, l.class_name);
    }
    if !v.fallback_layers.is_empty() {
        println!("fallback layers ({}):", v.fallback_layers.len());
        for f in &v.fallback_layers {
            println!("  {:<28} TF op {:<18} node {}", f.layer, f.op, f.node);
        }
    }
    if v.unsupported_ops.is_empty() {
        println!("unsupported ops: none");
    } else {
        println!("unsupported ops ({}):", v.unsupported_ops.len());
        for u in &v.unsupported_ops {
            println!("  {} ({}): {}", u.node, u.op, u.reason);
        }
    }
}
