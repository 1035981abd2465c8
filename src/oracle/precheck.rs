//! Node attributes tract's readers would panic on, refused before tract
//! parses the graph (issue 15, found by the oracle fuzz target).
//!
//! tract-tensorflow 0.23's attribute accessors (`tfpb.rs`) unwrap:
//! - `AttrValue.value` (an attribute with no value, which TensorFlow itself
//!   refuses to import) in every `get_attr_*`;
//! - `DataType::try_from(v)` in `get_attr_datum_type` (a dtype number that is
//!   no TensorFlow type);
//! - `T::from_i64(i)` in `get_attr_int` / `get_attr_list_int`, where the
//!   builder reads the value as an unsigned or 32-bit number: a negative
//!   `strides`, `ksize`, `dilations`, `explicit_paddings`, `seed`, `seed2` or
//!   `num_bits`, or an `N`, `num`, `num_split` or `axis` out of the i32 range.
//!
//! tract builds every node whose op it knows, in the outputs' cone or not, so
//! every such node is checked (an unknown op is never built). The first
//! problem found, in graph order then attribute name order, is reported:
//! [`super::OracleError::DamagedAttr`], exit 2.
//!
//! Also refused: a `Transpose` whose Const `perm` is no permutation of
//! `0..n` (tract indexes the input's shape with it unchecked; a perm tract
//! computes is checked after its analysis, [`check_analysed_permutations`]), and a
//! `ksize`, `strides` or `dilations` list without one entry per input axis
//! (4; 5 for the `3D` ops).
//!
//! Not covered: an int attribute of another name that some builder reads as
//! unsigned or 32-bit (tract's `from_i64(..).unwrap()` stays reachable there);
//! the list above holds every such read in tract-tensorflow 0.23.9 and thaw's
//! own builders.

use tract_tensorflow::tfpb::tensorflow::attr_value::Value;
use tract_tensorflow::tfpb::tensorflow::{AttrValue, DataType, GraphDef, NodeDef};

/// Int attributes (scalar or list) tract or thaw reads as unsigned.
const UNSIGNED: &[&str] = &[
    "strides",
    "ksize",
    "dilations",
    "explicit_paddings",
    "seed",
    "seed2",
    "num_bits",
];

/// List attributes with one entry per input axis.
const WINDOW: &[&str] = &["ksize", "strides", "dilations"];

/// Int attributes tract or thaw reads as `i32`.
const INT32: &[&str] = &["N", "num", "num_split", "axis"];

/// One attribute tract cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAttr {
    pub node: String,
    pub op: String,
    pub attr: String,
    /// What is wrong, as a predicate: "has no value", ...
    pub problem: String,
}

/// Checks every node of `graph` whose op `tf` has a builder for.
pub fn check_graph(graph: &GraphDef, tf: &tract_tensorflow::Tensorflow) -> Result<(), BadAttr> {
    graph
        .node
        .iter()
        .filter(|n| tf.op_register.0.contains_key(&n.op))
        .try_for_each(check_node)?;
    check_permutations(graph)
}

/// A `Transpose` whose `perm` is a Const must hold a permutation of
/// `0..n`: tract's shape rule indexes the input's shape with every entry
/// unchecked (`tract-tensorflow` 0.23 `ops/array/transpose.rs`; found by the
/// oracle fuzz campaign: a perm entry of 301989889 panicked in tract).
fn check_permutations(graph: &GraphDef) -> Result<(), BadAttr> {
    let consts: std::collections::HashMap<&str, &NodeDef> = graph
        .node
        .iter()
        .filter(|n| n.op == "Const")
        .map(|n| (n.name.as_str(), n))
        .collect();
    for node in graph.node.iter().filter(|n| n.op == "Transpose") {
        let Some(input) = node.input.get(1) else {
            continue;
        };
        let name = input.split(':').next().unwrap_or(input);
        let Some(konst) = consts.get(name) else {
            continue;
        };
        let Some(Value::Tensor(t)) = konst.attr.get("value").and_then(|a| a.value.as_ref()) else {
            continue;
        };
        let Some(perm) = ints(t) else { continue };
        if !is_permutation(&perm) {
            return Err(BadAttr {
                node: node.name.clone(),
                op: node.op.clone(),
                attr: "perm".into(),
                problem: format!(
                    "(input 1, the Const '{name}') holds {perm:?}, which is no permutation of 0..{}",
                    perm.len()
                ),
            });
        }
    }
    Ok(())
}

/// Every entry of `0..perm.len()` exactly once.
fn is_permutation(perm: &[i64]) -> bool {
    let mut seen = vec![false; perm.len()];
    perm.iter().all(|&p| {
        usize::try_from(p)
            .ok()
            .and_then(|p| seen.get_mut(p))
            .is_some_and(|s| !std::mem::replace(s, true))
    })
}

/// After tract's analysis: a `Transpose` whose `perm` tract computed (a
/// `ConcatV2` of constants, as `Tensordot` builds it) must be a permutation
/// too. Typing the graph wires it with `perm_to_ops`, which on a repeated
/// entry grows a list of axis moves until memory runs out (found by the
/// oracle fuzz campaign: `fuzz_oracle_einsum_memory_open`, a Tensordot's
/// `free` axes mutated to `[1, 1]`, over 4 GB in one allocation).
pub fn check_analysed_permutations(
    model: &tract_tensorflow::tract_hir::internal::InferenceModel,
) -> Result<(), BadAttr> {
    use tract_tensorflow::tract_hir::internal::*;
    for node in model.nodes().iter().filter(|n| n.op.name() == "Transpose") {
        let Some(&outlet) = node.inputs.get(1) else {
            continue;
        };
        let Some(value) = model
            .outlet_fact(outlet)
            .ok()
            .and_then(|f| f.value.concretize())
        else {
            continue;
        };
        let Ok(cast) = value.cast_to::<i64>() else {
            continue;
        };
        let Some(perm) = cast
            .try_as_plain_ram()
            .ok()
            .and_then(|v| v.as_slice::<i64>().ok().map(<[i64]>::to_vec))
        else {
            continue;
        };
        if !is_permutation(&perm) {
            return Err(BadAttr {
                node: node.name.clone(),
                op: "Transpose".into(),
                attr: "perm".into(),
                problem: format!(
                    "(input 1, computed from constants) is {perm:?}, which is no permutation of 0..{}",
                    perm.len()
                ),
            });
        }
    }
    Ok(())
}

/// The values of an int32/int64 tensor proto, from its repeated fields or
/// its little-endian content (`None` for other dtypes).
fn ints(t: &tract_tensorflow::tfpb::tensorflow::TensorProto) -> Option<Vec<i64>> {
    let content = &t.tensor_content;
    match DataType::try_from(t.dtype).ok()? {
        DataType::DtInt32 if !content.is_empty() => Some(
            content
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ),
        DataType::DtInt32 => Some(t.int_val.iter().map(|&v| i64::from(v)).collect()),
        DataType::DtInt64 if !content.is_empty() => Some(
            content
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        DataType::DtInt64 => Some(t.int64_val.clone()),
        _ => None,
    }
}

/// Checks one node's attributes, in name order.
pub fn check_node(node: &NodeDef) -> Result<(), BadAttr> {
    let mut names: Vec<&String> = node.attr.keys().collect();
    names.sort();
    for name in names {
        let attr = &node.attr[name];
        if let Some(problem) = problem(name, attr).or_else(|| window_length(&node.op, name, attr)) {
            return Err(BadAttr {
                node: node.name.clone(),
                op: node.op.clone(),
                attr: name.clone(),
                problem,
            });
        }
    }
    Ok(())
}

/// Window attributes (`ksize`, `strides`, `dilations`) hold one entry per
/// axis of the input: 4 (5 for the `3D` ops). tract indexes and subtracts
/// with them unchecked (found by the oracle fuzz smoke run: a `MaxPool`
/// with an empty `ksize` underflowed in tract's data-format shape).
fn window_length(op: &str, name: &str, attr: &AttrValue) -> Option<String> {
    if !WINDOW.contains(&name) {
        return None;
    }
    let Some(Value::List(list)) = &attr.value else {
        return None;
    };
    let want = if op.ends_with("3D") { 5 } else { 4 };
    (list.i.len() != want).then(|| {
        format!(
            "holds {} entries ({:?}), where {op} takes one per input axis, {want}",
            list.i.len(),
            list.i
        )
    })
}

fn problem(name: &str, attr: &AttrValue) -> Option<String> {
    let dtype = |t: i32| {
        DataType::try_from(t)
            .is_err()
            .then(|| format!("holds the type number {t}, which is no TensorFlow type"))
    };
    let int = |i: i64| {
        if UNSIGNED.contains(&name) && i < 0 {
            Some(format!(
                "holds {i}, where only non-negative values make sense"
            ))
        } else if INT32.contains(&name) && i32::try_from(i).is_err() {
            Some(format!("holds {i}, out of the 32-bit range"))
        } else {
            None
        }
    };
    match &attr.value {
        None => Some("has no value".to_string()),
        Some(Value::Type(t)) => dtype(*t),
        Some(Value::I(i)) => int(*i),
        Some(Value::List(list)) => list
            .r#type
            .iter()
            .find_map(|t| dtype(*t))
            .or_else(|| list.i.iter().find_map(|i| int(*i))),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_tensorflow::tfpb::tensorflow::attr_value::ListValue;

    fn node(attrs: &[(&str, Option<Value>)]) -> NodeDef {
        let mut n = NodeDef {
            name: "n".into(),
            op: "Conv2D".into(),
            ..Default::default()
        };
        for (k, v) in attrs {
            n.attr.insert(k.to_string(), AttrValue { value: v.clone() });
        }
        n
    }

    #[test]
    fn refuses_what_tract_would_unwrap() {
        let float = Some(Value::Type(DataType::DtFloat as i32));
        assert!(check_node(&node(&[("T", float.clone())])).is_ok());
        let e = check_node(&node(&[("T", float.clone()), ("padding", None)])).unwrap_err();
        assert_eq!(
            (e.attr.as_str(), e.problem.as_str()),
            ("padding", "has no value")
        );
        let e = check_node(&node(&[("T", Some(Value::Type(9999)))])).unwrap_err();
        assert!(e.problem.contains("9999"), "{e:?}");
        let strides = |i: Vec<i64>| {
            Some(Value::List(ListValue {
                i,
                ..Default::default()
            }))
        };
        assert!(check_node(&node(&[("strides", strides(vec![1, 2, 2, 1]))])).is_ok());
        let e = check_node(&node(&[("strides", strides(vec![1, -2, 2, 1]))])).unwrap_err();
        assert!(e.problem.contains("-2"), "{e:?}");
        let e = check_node(&node(&[("N", Some(Value::I(1 << 40)))])).unwrap_err();
        assert!(e.problem.contains("32-bit"), "{e:?}");
        // A negative axis is ordinary (counted from the end).
        assert!(check_node(&node(&[("axis", Some(Value::I(-1)))])).is_ok());
        // Window lists hold one entry per input axis.
        let e = check_node(&node(&[("strides", strides(vec![]))])).unwrap_err();
        assert!(e.problem.contains("holds 0 entries"), "{e:?}");
        assert!(check_node(&node(&[("dilations", strides(vec![1, 1, 1, 1]))])).is_ok());
    }
}
