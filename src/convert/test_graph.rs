//! (Tests only.) A fluent builder for small `GraphDef`s, so conversion tests
//! state the graph they need in a few lines instead of protobuf literals:
//!
//! ```ignore
//! let g = GraphBuilder::new()
//!     .placeholder("x", &[-1, 8])
//!     .const_f32("m/dense/w", &[8, 4], &[0.5; 32])
//!     .op("MatMul", "m/dense/MatMul", &["x", "m/dense/w"])
//!     .build();
//! ```
//!
//! Every op gets `T = DT_FLOAT`; `.attr_*` set an attribute on the node added
//! last.

use crate::graph::pb::{self, attr_value::ListValue, attr_value::Value};
use crate::graph::{Graph, pb::DataType};

#[derive(Default)]
pub(crate) struct GraphBuilder {
    nodes: Vec<pb::NodeDef>,
}

fn shape_proto(dims: &[i64]) -> pb::TensorShapeProto {
    pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|&size| pb::tensor_shape_proto::Dim {
                size,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn attr(v: Value) -> pb::AttrValue {
    pb::AttrValue { value: Some(v) }
}

impl GraphBuilder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &str, op: &str, inputs: &[&str]) -> Self {
        self.nodes.push(pb::NodeDef {
            name: name.into(),
            op: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        });
        self
    }

    fn set(mut self, key: &str, v: Value) -> Self {
        let n = self.nodes.last_mut().expect("an attribute needs a node");
        n.attr.insert(key.into(), attr(v));
        self
    }

    /// A float `Placeholder` of shape `dims` (-1 = unknown).
    pub(crate) fn placeholder(self, name: &str, dims: &[i64]) -> Self {
        self.push(name, "Placeholder", &[])
            .set("dtype", Value::Type(DataType::DtFloat as i32))
            .set("shape", Value::Shape(shape_proto(dims)))
    }

    /// A float `Const` of shape `dims` holding `values` (row-major).
    pub(crate) fn const_f32(self, name: &str, dims: &[i64], values: &[f32]) -> Self {
        let t = pb::TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(shape_proto(dims)),
            float_val: values.to_vec(),
            ..Default::default()
        };
        self.push(name, "Const", &[])
            .set("dtype", Value::Type(DataType::DtFloat as i32))
            .set("value", Value::Tensor(t))
    }

    /// An int32 `Const` of shape `dims` (shapes, axes).
    pub(crate) fn const_i32(self, name: &str, dims: &[i64], values: &[i32]) -> Self {
        let t = pb::TensorProto {
            dtype: DataType::DtInt32 as i32,
            tensor_shape: Some(shape_proto(dims)),
            int_val: values.to_vec(),
            ..Default::default()
        };
        self.push(name, "Const", &[])
            .set("dtype", Value::Type(DataType::DtInt32 as i32))
            .set("value", Value::Tensor(t))
    }

    /// Node `name` running `op` on `inputs` (`"n"`, `"n:1"`, `"^ctl"`), float.
    pub(crate) fn op(self, op: &str, name: &str, inputs: &[&str]) -> Self {
        self.push(name, op, inputs)
            .set("T", Value::Type(DataType::DtFloat as i32))
    }

    pub(crate) fn attr_str(self, key: &str, v: &str) -> Self {
        self.set(key, Value::S(v.as_bytes().to_vec()))
    }

    pub(crate) fn attr_ints(self, key: &str, v: &[i64]) -> Self {
        self.set(
            key,
            Value::List(ListValue {
                i: v.to_vec(),
                ..Default::default()
            }),
        )
    }

    pub(crate) fn attr_bool(self, key: &str, v: bool) -> Self {
        self.set(key, Value::B(v))
    }

    pub(crate) fn build_def(self) -> pb::GraphDef {
        pb::GraphDef {
            node: self.nodes,
            ..Default::default()
        }
    }

    /// The indexed graph (panics on a graph the index refuses: a test bug).
    pub(crate) fn build(self) -> Graph {
        Graph::new(self.build_def()).expect("test graph indexes")
    }
}
