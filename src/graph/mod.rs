//! Frozen TensorFlow graphs: loading (`.pb`, `.pbtxt`), typed attribute access
//! that names the node on error, `Const` → ndarray, and the graph index
//! (consumers, topological order, pass-through nodes, inputs and outputs), and
//! the batch the graph was frozen with (`Graph::static_batch`).
//!
//! This module imports nothing else from thaw.

mod attr;
mod batch;
mod cond;
mod error;
mod index;
mod inline;
mod load;
mod loops;
mod lower_while;
mod tensor;
mod unroll;

/// prost types generated from `proto/` (package `tensorflow`).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tensorflow.rs"));
}

pub use attr::NodeExt;
pub use cond::{Binding, Resolved, predicate_sources, resolve_conditionals};
pub use error::GraphError;
pub use index::{Graph, TensorId, is_pass_through};
pub use inline::inline_calls;
pub use load::{
    graph_def_from_file_bytes, load_graph_def, node_names, parse_graph_def, read_graph_file,
};
pub use loops::{Loop, LoopForm, is_control_flow};
pub use tensor::Tensor;
pub use unroll::{Entering, stack_steps, stacked_steps, unroll_loops, unroll_loops_with};
