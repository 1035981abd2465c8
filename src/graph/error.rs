use thiserror::Error;

/// Everything that can go wrong reading or interpreting a graph. Every
/// variant names the file or the node it is about.
#[derive(Debug, Error)]
pub enum GraphError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a TensorFlow GraphDef ({detail})")]
    NotAGraph { file: String, detail: String },
    #[error("node '{node}' ({op}): {msg}")]
    Node {
        node: String,
        op: String,
        msg: String,
    },
    #[error("node '{node}' refers to '{input}', which is not a node of the graph")]
    DanglingInput { node: String, input: String },
    #[error("the graph has a cycle through node '{node}'")]
    Cycle { node: String },
    #[error("duplicate node name '{0}'")]
    Duplicate(String),
}

impl GraphError {
    pub(crate) fn node(node: &super::pb::NodeDef, msg: impl Into<String>) -> Self {
        GraphError::Node {
            node: node.name.clone(),
            op: node.op.clone(),
            msg: msg.into(),
        }
    }
}
