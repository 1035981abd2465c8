//! Typed attribute access on `NodeDef`s. Every error names the node, its op
//! and the attribute, in tract's style:
//! `node 'conv/Conv2D' (Conv2D): expected int list attribute 'strides'`.

use super::{GraphError, Tensor, pb};
use pb::attr_value::{ListValue, Value};

/// Attribute accessors for [`pb::NodeDef`].
pub trait NodeExt {
    fn attr(&self, name: &str) -> Option<&Value>;
    fn attr_int(&self, name: &str) -> Result<i64, GraphError>;
    fn attr_float(&self, name: &str) -> Result<f32, GraphError>;
    fn attr_bool(&self, name: &str) -> Result<bool, GraphError>;
    fn attr_str(&self, name: &str) -> Result<String, GraphError>;
    fn attr_ints(&self, name: &str) -> Result<Vec<i64>, GraphError>;
    fn attr_type(&self, name: &str) -> Result<pb::DataType, GraphError>;
    fn attr_tensor(&self, name: &str) -> Result<Tensor, GraphError>;
    /// A shape attribute; `None` for unknown rank, `-1` entries for unknown dims.
    fn attr_shape(&self, name: &str) -> Result<Option<Vec<i64>>, GraphError>;
    /// Data inputs, i.e. `input` entries that are not control edges (`^node`).
    fn data_inputs(&self) -> Vec<&str>;
}

fn expected(node: &pb::NodeDef, kind: &str, name: &str) -> GraphError {
    let msg = match node.attr.get(name) {
        None => format!("missing {kind} attribute '{name}'"),
        Some(_) => format!("expected {kind} attribute '{name}'"),
    };
    GraphError::node(node, msg)
}

fn list<'a>(node: &'a pb::NodeDef, name: &str) -> Option<&'a ListValue> {
    match node.attr.get(name)?.value.as_ref()? {
        Value::List(l) => Some(l),
        _ => None,
    }
}

impl NodeExt for pb::NodeDef {
    fn attr(&self, name: &str) -> Option<&Value> {
        self.attr.get(name)?.value.as_ref()
    }

    fn attr_int(&self, name: &str) -> Result<i64, GraphError> {
        match self.attr(name) {
            Some(Value::I(i)) => Ok(*i),
            _ => Err(expected(self, "int", name)),
        }
    }

    fn attr_float(&self, name: &str) -> Result<f32, GraphError> {
        match self.attr(name) {
            Some(Value::F(f)) => Ok(*f),
            _ => Err(expected(self, "float", name)),
        }
    }

    fn attr_bool(&self, name: &str) -> Result<bool, GraphError> {
        match self.attr(name) {
            Some(Value::B(b)) => Ok(*b),
            _ => Err(expected(self, "bool", name)),
        }
    }

    fn attr_str(&self, name: &str) -> Result<String, GraphError> {
        match self.attr(name) {
            Some(Value::S(s)) => String::from_utf8(s.clone())
                .map_err(|_| GraphError::node(self, format!("attribute '{name}' is not UTF-8"))),
            _ => Err(expected(self, "string", name)),
        }
    }

    fn attr_ints(&self, name: &str) -> Result<Vec<i64>, GraphError> {
        list(self, name)
            .map(|l| l.i.clone())
            .ok_or_else(|| expected(self, "int list", name))
    }

    fn attr_type(&self, name: &str) -> Result<pb::DataType, GraphError> {
        match self.attr(name) {
            Some(Value::Type(t)) => pb::DataType::try_from(*t).map_err(|_| {
                GraphError::node(self, format!("attribute '{name}' holds unknown dtype {t}"))
            }),
            _ => Err(expected(self, "type", name)),
        }
    }

    fn attr_tensor(&self, name: &str) -> Result<Tensor, GraphError> {
        match self.attr(name) {
            Some(Value::Tensor(t)) => {
                Tensor::from_proto(t).map_err(|msg| GraphError::node(self, msg))
            }
            _ => Err(expected(self, "tensor", name)),
        }
    }

    fn attr_shape(&self, name: &str) -> Result<Option<Vec<i64>>, GraphError> {
        match self.attr(name) {
            Some(Value::Shape(s)) if s.unknown_rank => Ok(None),
            Some(Value::Shape(s)) => Ok(Some(s.dim.iter().map(|d| d.size).collect())),
            _ => Err(expected(self, "shape", name)),
        }
    }

    fn data_inputs(&self) -> Vec<&str> {
        self.input
            .iter()
            .map(String::as_str)
            .filter(|i| !i.starts_with('^'))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> pb::NodeDef {
        let mut n = pb::NodeDef {
            name: "conv/Conv2D".into(),
            op: "Conv2D".into(),
            input: vec!["x".into(), "^ctl".into(), "w:0".into()],
            ..Default::default()
        };
        n.attr.insert(
            "strides".into(),
            pb::AttrValue {
                value: Some(Value::List(ListValue {
                    i: vec![1, 2, 2, 1],
                    ..Default::default()
                })),
            },
        );
        n.attr.insert(
            "padding".into(),
            pb::AttrValue {
                value: Some(Value::S(b"SAME".to_vec())),
            },
        );
        n
    }

    #[test]
    fn typed_access() {
        let n = node();
        assert_eq!(n.attr_ints("strides").unwrap(), vec![1, 2, 2, 1]);
        assert_eq!(n.attr_str("padding").unwrap(), "SAME");
        assert_eq!(n.data_inputs(), vec!["x", "w:0"]);
    }

    #[test]
    fn errors_name_node_op_and_attribute() {
        let n = node();
        let e = n.attr_int("strides").unwrap_err().to_string();
        assert_eq!(
            e,
            "node 'conv/Conv2D' (Conv2D): expected int attribute 'strides'"
        );
        let e = n.attr_float("epsilon").unwrap_err().to_string();
        assert_eq!(
            e,
            "node 'conv/Conv2D' (Conv2D): missing float attribute 'epsilon'"
        );
    }
}
