//! Conversion: rules that match TensorFlow subgraphs on the consumer graph and
//! emit Keras layers, plus the **layer → TF tensor map** the verifier uses to
//! compare the two sides layer by layer.
//!
//! How it works: nodes are visited in topological order. A node whose data
//! inputs are all either Keras-layer outputs or constants is an *anchor*: the
//! rules registered for its op (see [`rules`]) try, in order, to match the
//! pattern that starts there, following the node's consumers forward (a
//! Conv2D's BiasAdd and fused activation, Keras 3's BatchNormalization
//! arithmetic, …). The first rule that matches emits one or more layers and
//! marks the TF nodes it covered; every refusal is logged at debug level with
//! its reason. Nodes that only compute constants or shapes are skipped: rules
//! read them when they need them. Nothing stops at the first unsupported op:
//! all of them are collected.
//!
//! Files: one per layer family, each exporting its `RULES` with their
//! priorities, gathered in [`rules::registry`] (see [`rules`] for the
//! priority contract):
//! - `conv.rs` (Conv2D, DepthwiseConv2D, dilated conv, ZeroPadding2D),
//!   `conv1d.rs` (Conv1D, 1-D pooling), `conv_transpose.rs`, `separable.rs`;
//! - `dense.rs` (MatMul), `dense_nd.rs` (Dense on rank-3+ inputs);
//! - `norm.rs` (BatchNormalization), `layer_norm.rs`, `layer_scale.rs`;
//! - `activation.rs` (activations, PReLU, swish, gelu, clip), `preprocess.rs`
//!   (Rescaling, Normalization, hard_swish);
//! - `pool.rs`, `upsample.rs`, `crop.rs`, `reshape.rs`, `merge.rs`;
//! - `text.rs` (Embedding, Permute, RepeatVector), `attention.rs`
//!   (MultiHeadAttention), `recurrent.rs` (LSTM loops), `recurrent_tf1.rs`
//!   (TF1 cells in `dynamic_rnn` loops), `static_rnn.rs` (TF1 cells unrolled);
//! - `fallback.rs`: custom layers for ops no rule converts.
//!
//! `rules.rs` is the registry, `ctx.rs` holds the matching context and the
//! conversion loop, `naming.rs` layer names from nested (tf-slim) scopes, `consts.rs` constant and shape folding, `cond.rs` the
//! message for a conditional still in the graph; `test_graph.rs` (tests only)
//! a fluent `GraphDef` builder, used by `ctx_tests.rs`. The Keras output shape of each
//! emitted layer (checked before it is written) is its class's rule in
//! `keras::layers` ([`crate::keras::layers::output_shape`]).

mod activation;
mod attention;
mod bidirectional;
mod block_lstm;
mod cond;
mod consts;
mod conv;
mod conv1d;
mod conv_transpose;
mod crop;
mod ctx;
mod dense;
mod dense_nd;
pub mod fallback;
mod layer_norm;
mod layer_scale;
mod merge;
mod naming;
mod norm;
mod pool;
mod preprocess;
mod recurrent;
mod recurrent_tf1;
mod reshape;
pub mod rules;
mod separable;
mod static_rnn;
#[cfg(test)]
pub(crate) mod test_graph;
mod text;
mod upsample;

use crate::graph::{Graph, TensorId};
use crate::keras::Model;
pub use ctx::{Emit, Match};
use std::collections::HashMap;
use thiserror::Error;

/// Options that the command line can set.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    /// Shapes (batch included) for inputs, by placeholder name; override or
    /// complete what the graph says.
    pub input_shapes: HashMap<String, Vec<usize>>,
    /// Graph outputs (TF tensor names), in the order the Keras model's outputs
    /// should have; empty = every sink of the graph in natural name order.
    pub outputs: Vec<String>,
    /// Name of the Keras model (defaults to the graph's root scope or "model").
    pub model_name: Option<String>,
    /// Placeholder values (`--set NAME=VALUE`) applied when the graph is
    /// prepared (see `graph::resolve_conditionals`); the oracle gets the same.
    pub bindings: Vec<crate::graph::Binding>,
}

/// Which TF tensor holds a Keras layer's output.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTensor {
    /// Keras layer (or input) name; `layer:k` for output `k` ≥ 1 of a layer
    /// with several ([`crate::keras::output_name`]).
    pub layer: String,
    pub class_name: String,
    /// The TF tensor with the same value, e.g. `model/conv1/Relu:0`.
    pub tensor: TensorId,
    /// The TF nodes this layer stands for.
    pub nodes: Vec<String>,
}

/// A TF node no rule could convert.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsupported {
    pub node: String,
    pub op: String,
    /// Why: no rule for the op, or why each rule refused.
    pub reason: String,
}

/// A converted graph.
#[derive(Clone, Debug)]
pub struct Conversion {
    pub model: Model,
    /// For every input and layer output of `model`, in model order (a
    /// layer's outputs after its first follow it).
    pub tensors: Vec<LayerTensor>,
    /// Nodes that could not be converted (empty when the model is complete).
    pub unsupported: Vec<Unsupported>,
}

impl Conversion {
    /// Layer name → the TF nodes it stands for (for the comments of `model.py`).
    pub fn origins(&self) -> crate::keras::pycode::Origins {
        self.tensors
            .iter()
            .map(|t| (t.layer.clone(), t.nodes.clone()))
            .collect()
    }

    pub fn tensor_of(&self, layer: &str) -> Option<&TensorId> {
        self.tensors
            .iter()
            .find(|t| t.layer == layer)
            .map(|t| &t.tensor)
    }
}

/// Errors that stop conversion altogether (as opposed to unsupported nodes,
/// which are collected).
#[derive(Debug, Error)]
pub enum ConvertError {
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error("input '{input}': {msg}")]
    Input { input: String, msg: String },
    #[error("--output-tensor {output}: {msg}")]
    Output { output: String, msg: String },
    #[error("the graph has no Placeholder input")]
    NoInputs,
    #[error("the graph has no output (no node carries data that nothing consumes)")]
    NoOutputs,
}

/// Converts a graph into a Keras model. Unsupported nodes do not fail the
/// conversion; they are listed in [`Conversion::unsupported`] and the model is
/// then incomplete.
pub fn convert(graph: &Graph, opts: &ConvertOptions) -> Result<Conversion, ConvertError> {
    ctx::Ctx::new(graph, opts)?.run()
}

/// Input and output tensors of a graph with their shapes, as conversion sees
/// them (for `thaw inspect` and the verifier).
pub fn graph_io(
    graph: &Graph,
    opts: &ConvertOptions,
) -> Result<(Vec<(String, Vec<Option<usize>>)>, Vec<TensorId>), ConvertError> {
    let inputs = ctx::input_specs(graph, opts)?;
    Ok((
        inputs.into_iter().map(|i| (i.name, i.shape)).collect(),
        ctx::output_tensors(graph, opts)?,
    ))
}
