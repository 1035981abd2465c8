//! Function-call inlining: `PartitionedCall` / `StatefulPartitionedCall` nodes
//! (and nodes whose op is the name of a library function) are replaced by the
//! function's body before anything else looks at the graph, so rules and the
//! oracle see one flat GraphDef.
//!
//! For a call node `C` of function `F`:
//! - every body node `n` becomes `C/n` (TensorFlow's own inliner names them the
//!   same way), its data inputs rewired: a function argument → the call's k-th
//!   data input; `node:out_arg:i` (FunctionDef's output-argument spelling) →
//!   `C/node:flat_slot`; control inputs keep being control inputs;
//! - `C` itself becomes an `IdentityN` over the function's return values, so
//!   every consumer of `C:k` (and `^C`) is untouched;
//! - body nodes no return value needs (through data or control edges) and
//!   that have no side effect are dropped, as TensorFlow prunes a function
//!   body it instantiates (left in, each would become a graph output).
//!
//! Functional loops (`While`/`StatelessWhile`) are lowered to TF1 control flow
//! in the same rounds ([`super::lower_while`]), their `cond`/`body` functions
//! instantiated in the frame by [`expand`] like a call's.
//!
//! Nested calls (and loops) are inlined in turn (at most [`MAX_DEPTH`] levels, so a
//! recursive library cannot loop). An output argument name becomes a flat slot
//! through a table of the multi-output ops frozen graphs hold; any other op is
//! taken to have one output argument (possibly a list), and a body that names
//! two different output arguments of such an op is refused rather than guessed.
//!
//! Not handled (refused with the node named): functions with list-typed input
//! arguments, attribute placeholders (`$T`) in bodies.

use std::collections::{HashMap, HashSet};

use super::GraphError;
use super::pb::{self, NodeDef, attr_value};

/// Nesting depth beyond which a library is taken to be recursive.
pub const MAX_DEPTH: usize = 32;

/// Most nodes a graph may have once its calls are inlined: depth alone does
/// not bound the work (30 functions each calling the next twice inline to
/// 2^30 copies), so the total is bounded too.
pub const MAX_INLINED_NODES: usize = 1_000_000;

const CALL_OPS: &[&str] = &["PartitionedCall", "StatefulPartitionedCall"];

/// Output arguments, in order, of the multi-output ops frozen graphs contain
/// (each a single tensor).
fn output_args(op: &str) -> Option<&'static [&'static str]> {
    const BN: &[&str] = &[
        "y",
        "batch_mean",
        "batch_variance",
        "reserve_space_1",
        "reserve_space_2",
        "reserve_space_3",
    ];
    Some(match op {
        "FusedBatchNorm" | "FusedBatchNormV2" => &BN[..5],
        "FusedBatchNormV3" => BN,
        "Switch" | "RefSwitch" => &["output_false", "output_true"],
        "Merge" | "RefMerge" => &["output", "value_index"],
        "TopK" | "TopKV2" => &["values", "indices"],
        "Unique" => &["y", "idx"],
        "MaxPoolWithArgmax" => &["output", "argmax"],
        _ => return None,
    })
}

/// The library function a node calls, if it is a call.
fn called<'a>(
    node: &NodeDef,
    library: &'a HashMap<&str, &pb::FunctionDef>,
) -> Option<&'a pb::FunctionDef> {
    let name = if CALL_OPS.contains(&node.op.as_str()) {
        match node.attr.get("f").and_then(|a| a.value.as_ref()) {
            Some(attr_value::Value::Func(f)) => f.name.as_str(),
            _ => return None,
        }
    } else {
        node.op.as_str()
    };
    library.get(name).copied()
}

/// Inlines every function call of `def` in place. Returns how many call
/// nodes were inlined (0 leaves `def` untouched).
pub fn inline_calls(def: &mut pb::GraphDef) -> Result<usize, GraphError> {
    inline_calls_bounded(def, MAX_INLINED_NODES)
}

/// [`inline_calls`] with at most `max_nodes` nodes once inlined.
fn inline_calls_bounded(def: &mut pb::GraphDef, max_nodes: usize) -> Result<usize, GraphError> {
    let Some(lib) = def.library.take() else {
        return Ok(0);
    };
    let library: HashMap<&str, &pb::FunctionDef> = lib
        .function
        .iter()
        .filter_map(|f| f.signature.as_ref().map(|s| (s.name.as_str(), f)))
        .collect();
    let mut total = 0;
    for depth in 0.. {
        let pending = (0..def.node.len()).find(|&i| {
            called(&def.node[i], &library).is_some() || super::lower_while::lowerable(&def.node[i])
        });
        let Some(first) = pending else {
            break;
        };
        if depth == MAX_DEPTH {
            let node = &def.node[first];
            return Err(GraphError::node(
                node,
                format!("function calls nest deeper than {MAX_DEPTH} levels (recursive library?)"),
            ));
        }
        let mut names: HashSet<String> = def.node.iter().map(|n| n.name.clone()).collect();
        // Functional loops become TF1 control flow, their functions inlined
        // in the frame; calls and loops inside those are for the next round.
        let before = def.node.len();
        total += super::lower_while::lower_whiles(def, &library, &mut names, max_nodes)?;
        let calls: Vec<usize> = (0..before)
            .filter(|&i| called(&def.node[i], &library).is_some())
            .collect();
        let mut added = Vec::new();
        for &i in &calls {
            let call = def.node[i].clone();
            let Some(f) = called(&call, &library) else {
                continue;
            };
            let (body, identity) = expand(&call, f, &call.name)?;
            if def.node.len() + added.len() + body.len() > max_nodes {
                return Err(GraphError::node(
                    &call,
                    format!(
                        "inlining function calls would make more than {max_nodes} nodes (calls nest {} levels deep)",
                        depth + 1
                    ),
                ));
            }
            for n in &body {
                if !names.insert(n.name.clone()) {
                    return Err(GraphError::node(
                        &call,
                        format!("inlining makes a second node named '{}'", n.name),
                    ));
                }
            }
            def.node[i] = identity;
            added.extend(body);
            total += 1;
        }
        def.node.extend(added);
    }
    // Loops (`While`/`If` nodes) name their body functions by attribute, and
    // `Graph::loops` reads them: keep the library while anything refers to it.
    let referenced = def.node.iter().any(|n| {
        n.attr
            .values()
            .any(|a| matches!(&a.value, Some(attr_value::Value::Func(_))))
    });
    if total == 0 || referenced {
        def.library = Some(lib);
    }
    Ok(total)
}

/// Ops run for their side effect, kept in a function body that nothing
/// reads them from.
fn has_side_effect(op: &str) -> bool {
    matches!(
        op,
        "Assert"
            | "Print"
            | "PrintV2"
            | "SaveV2"
            | "RestoreV2"
            | "Assign"
            | "AssignVariableOp"
            | "AssignAddVariableOp"
            | "AssignSubVariableOp"
    )
}

/// Drops the nodes of an instantiated body that no result (`rets`, data or
/// control, transitively) and no side effect needs, as TensorFlow does when
/// it instantiates a function (`PruneFunctionBody`): inlined, such a node
/// would be read by nothing and become a graph output of its own (Keras 3's
/// GRU without `reset_after` slices a part of its recurrent product it
/// never uses).
fn prune_dead(body: &mut Vec<NodeDef>, rets: &[String]) {
    let at: HashMap<&str, usize> = body
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let node_of = |r: &str| super::TensorId::parse(r.trim_start_matches('^')).node;
    let mut live = vec![false; body.len()];
    let mut todo: Vec<usize> = rets
        .iter()
        .filter_map(|r| at.get(node_of(r).as_str()).copied())
        .chain((0..body.len()).filter(|&i| has_side_effect(&body[i].op)))
        .collect();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut live[i], true) {
            continue;
        }
        todo.extend(
            body[i]
                .input
                .iter()
                .filter_map(|r| at.get(node_of(r).as_str()).copied()),
        );
    }
    let mut k = 0;
    body.retain(|_| {
        k += 1;
        live[k - 1]
    });
}

/// The body of `f` as nodes of the outer graph, each named `prefix/<node>`,
/// and the `IdentityN` that replaces the call node (its data inputs are the
/// function's return values, in order). Errors name `call`.
pub(super) fn expand(
    call: &NodeDef,
    f: &pb::FunctionDef,
    prefix: &str,
) -> Result<(Vec<NodeDef>, NodeDef), GraphError> {
    let sig = f
        .signature
        .as_ref()
        .ok_or_else(|| GraphError::node(call, "called function has no signature"))?;
    let err = |msg: String| GraphError::node(call, format!("function '{}': {msg}", sig.name));
    let data_inputs: Vec<&String> = call.input.iter().filter(|s| !s.starts_with('^')).collect();
    if data_inputs.len() != sig.input_arg.len() {
        return Err(err(format!(
            "called with {} inputs, the function takes {}",
            data_inputs.len(),
            sig.input_arg.len()
        )));
    }
    let mut args: HashMap<&str, &str> = HashMap::new();
    for (a, input) in sig.input_arg.iter().zip(&data_inputs) {
        if !a.number_attr.is_empty() || !a.type_list_attr.is_empty() {
            return Err(err(format!(
                "list-typed argument '{}' is not supported",
                a.name
            )));
        }
        args.insert(a.name.as_str(), input.as_str());
    }
    let ops: HashMap<&str, &str> = f
        .node_def
        .iter()
        .map(|n| (n.name.as_str(), n.op.as_str()))
        .collect();
    let mut arg_names_seen: HashMap<String, String> = HashMap::new();
    // A reference inside the body → a reference in the outer graph.
    let mut outer = |r: &str| -> Result<String, GraphError> {
        if let Some(ctrl) = r.strip_prefix('^') {
            return Ok(if let Some(a) = args.get(ctrl) {
                format!("^{}", super::TensorId::parse(a).node)
            } else {
                format!("^{prefix}/{ctrl}")
            });
        }
        let parts: Vec<&str> = r.split(':').collect();
        match parts.as_slice() {
            [name] => match args.get(name) {
                Some(a) => Ok(a.to_string()),
                None if ops.contains_key(name) => Ok(format!("{prefix}/{name}")),
                None => Err(err(format!("body refers to unknown '{r}'"))),
            },
            [node, arg, idx] => {
                let op = ops
                    .get(node)
                    .ok_or_else(|| err(format!("body refers to unknown node '{node}'")))?;
                let idx: usize = idx
                    .parse()
                    .map_err(|_| err(format!("bad output index in '{r}'")))?;
                let slot = match output_args(op) {
                    Some(names) => {
                        names.iter().position(|n| n == arg).ok_or_else(|| {
                            err(format!("op {op} has no output argument '{arg}' ('{r}')"))
                        })? + idx
                    }
                    None => {
                        if let Some(prev) = arg_names_seen.insert(node.to_string(), arg.to_string())
                            && prev != *arg
                        {
                            return Err(err(format!(
                                "op {op} ('{node}') is used through two output arguments \
                                 ('{prev}', '{arg}'); thaw does not know their order"
                            )));
                        }
                        idx
                    }
                };
                Ok(if slot == 0 {
                    format!("{prefix}/{node}")
                } else {
                    format!("{prefix}/{node}:{slot}")
                })
            }
            _ => Err(err(format!("cannot read the reference '{r}'"))),
        }
    };
    let mut body = Vec::with_capacity(f.node_def.len());
    for n in &f.node_def {
        if n.attr
            .values()
            .any(|a| matches!(&a.value, Some(attr_value::Value::Placeholder(_))))
        {
            return Err(err(format!(
                "node '{}' has an attribute placeholder",
                n.name
            )));
        }
        let mut m = n.clone();
        m.name = format!("{prefix}/{}", n.name);
        m.input = n.input.iter().map(|r| outer(r)).collect::<Result<_, _>>()?;
        body.push(m);
    }
    let mut rets = Vec::with_capacity(sig.output_arg.len());
    for o in &sig.output_arg {
        let r = f
            .ret
            .get(&o.name)
            .ok_or_else(|| err(format!("no return value for output '{}'", o.name)))?;
        rets.push(outer(r)?);
    }
    prune_dead(&mut body, &rets);
    let types = match call.attr.get("Tout").and_then(|a| a.value.clone()) {
        Some(v @ attr_value::Value::List(_)) => v,
        _ => attr_value::Value::List(attr_value::ListValue {
            r#type: sig.output_arg.iter().map(|o| o.r#type).collect(),
            ..Default::default()
        }),
    };
    let identity = NodeDef {
        name: call.name.clone(),
        // a call without results only orders side effects: nothing to compute
        op: if rets.is_empty() { "NoOp" } else { "IdentityN" }.into(),
        input: rets
            .into_iter()
            .chain(call.input.iter().filter(|s| s.starts_with('^')).cloned())
            .collect(),
        attr: [("T".to_string(), pb::AttrValue { value: Some(types) })]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    Ok((body, identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, op: &str, inputs: &[&str]) -> NodeDef {
        NodeDef {
            name: name.into(),
            op: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn call(name: &str, f: &str, inputs: &[&str]) -> NodeDef {
        let mut n = node(name, "PartitionedCall", inputs);
        n.attr.insert(
            "f".into(),
            pb::AttrValue {
                value: Some(attr_value::Value::Func(pb::NameAttrList {
                    name: f.into(),
                    ..Default::default()
                })),
            },
        );
        n
    }

    fn function(
        name: &str,
        args: &[&str],
        outs: &[(&str, &str)],
        body: Vec<NodeDef>,
    ) -> pb::FunctionDef {
        let arg = |n: &&str| pb::op_def::ArgDef {
            name: n.to_string(),
            r#type: pb::DataType::DtFloat as i32,
            ..Default::default()
        };
        pb::FunctionDef {
            signature: Some(pb::OpDef {
                name: name.into(),
                input_arg: args.iter().map(arg).collect(),
                output_arg: outs.iter().map(|(o, _)| arg(o)).collect(),
                ..Default::default()
            }),
            node_def: body,
            ret: outs
                .iter()
                .map(|(o, r)| (o.to_string(), r.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn graph(nodes: Vec<NodeDef>, fns: Vec<pb::FunctionDef>) -> pb::GraphDef {
        pb::GraphDef {
            node: nodes,
            library: Some(pb::FunctionDefLibrary {
                function: fns,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn nested_calls_are_inlined_with_output_arguments_mapped_to_slots() {
        // outer(x) = inner(x) + 1 where inner returns FusedBatchNormV3's `y` and Relu's output
        let inner = function(
            "inner",
            &["t"],
            &[("a", "bn:y:0"), ("b", "r:activations:0")],
            vec![
                node("bn", "FusedBatchNormV3", &["t", "t", "t", "t", "t"]),
                node("r", "Relu", &["bn:batch_mean:0"]),
            ],
        );
        let outer = function(
            "outer",
            &["u"],
            &[("o", "add:z:0")],
            vec![
                call("c", "inner", &["u"]),
                node("add", "AddV2", &["c:output:0", "c:output:1"]),
            ],
        );
        let mut g = graph(
            vec![
                node("x", "Placeholder", &[]),
                call("top", "outer", &["x", "^x"]),
                node("out", "Identity", &["top"]),
            ],
            vec![inner, outer],
        );
        assert_eq!(inline_calls(&mut g).unwrap(), 2);
        let by: HashMap<&str, &NodeDef> = g.node.iter().map(|n| (n.name.as_str(), n)).collect();
        assert_eq!(by["top"].op, "IdentityN");
        assert_eq!(by["top"].input, ["top/add", "^x"]);
        assert_eq!(by["top/add"].input, ["top/c", "top/c:1"]);
        assert_eq!(by["top/c"].op, "IdentityN");
        assert_eq!(by["top/c"].input, ["top/c/bn", "top/c/r"]);
        assert_eq!(
            by["top/c/r"].input,
            ["top/c/bn:1"],
            "batch_mean is FusedBatchNormV3's slot 1"
        );
        assert_eq!(by["top/c/bn"].input, ["x"; 5]);
        assert!(g.library.is_none() || g.library.as_ref().unwrap().function.is_empty());
    }

    /// Regression: Keras 3's GRU(reset_after=False) body slices a part of its
    /// recurrent product it never reads; inlined as such it became a graph
    /// output no layer gives (verify exit 3). TensorFlow prunes what no
    /// result needs when it instantiates a function; so does thaw, keeping
    /// what results read through control edges and side effects.
    #[test]
    fn nodes_no_result_needs_are_pruned_from_inlined_bodies() {
        let f = function(
            "f",
            &["t"],
            &[("o", "tanh:y:0")],
            vec![
                node("read", "Identity", &["t"]),
                node("wait", "NoOp", &["^read"]),
                node("mm", "MatMul", &["t", "t"]),
                node("tanh", "Tanh", &["mm:product:0", "^wait"]),
                // Read by nothing: gone, with what only it reads.
                node("k", "Const", &[]),
                node("unused", "StridedSlice", &["mm:product:0", "k:output:0"]),
                node("unused_too", "Relu", &["unused:output:0"]),
                // A side effect stays, with its inputs.
                node("cond", "Const", &[]),
                node("check", "Assert", &["cond:output:0", "t"]),
            ],
        );
        let mut g = graph(
            vec![
                node("x", "Placeholder", &[]),
                call("c", "f", &["x"]),
                node("out", "Identity", &["c"]),
            ],
            vec![f],
        );
        assert_eq!(inline_calls(&mut g).unwrap(), 1);
        let mut names: Vec<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "c", "c/check", "c/cond", "c/mm", "c/read", "c/tanh", "c/wait", "out", "x"
            ]
        );
    }

    #[test]
    fn recursion_and_ambiguous_output_arguments_are_refused() {
        let rec = function(
            "rec",
            &["t"],
            &[("o", "c:output:0")],
            vec![call("c", "rec", &["t"])],
        );
        let mut g = graph(
            vec![node("x", "Placeholder", &[]), call("top", "rec", &["x"])],
            vec![rec],
        );
        let e = inline_calls(&mut g).unwrap_err().to_string();
        assert!(e.contains("nest deeper"), "{e}");

        let two = function(
            "two",
            &["t"],
            &[("a", "s:left:0"), ("b", "s:right:0")],
            vec![node("s", "SomeUnknownOp", &["t"])],
        );
        let mut g = graph(
            vec![node("x", "Placeholder", &[]), call("top", "two", &["x"])],
            vec![two],
        );
        let e = inline_calls(&mut g).unwrap_err().to_string();
        assert!(
            e.contains("two output arguments") && e.contains("'top'"),
            "{e}"
        );

        let bad = function("bad", &["t", "k"], &[("o", "t")], vec![]);
        let mut g = graph(
            vec![node("x", "Placeholder", &[]), call("top", "bad", &["x"])],
            vec![bad],
        );
        let e = inline_calls(&mut g).unwrap_err().to_string();
        assert!(
            e.contains("called with 1 inputs, the function takes 2"),
            "{e}"
        );
    }

    /// 30 functions each calling the next twice inlined to 2^30 copies and
    /// grew until the machine's memory was gone (issue 15).
    #[test]
    fn nested_functions_doubling_exhausted_memory() {
        let mut fns = vec![function(
            "f29",
            &["t"],
            &[("o", "r:y:0")],
            vec![node("r", "Relu", &["t"])],
        )];
        for d in (0..29).rev() {
            let next = format!("f{}", d + 1);
            fns.push(function(
                &format!("f{d}"),
                &["t"],
                &[("o", "b:output:0")],
                vec![call("a", &next, &["t"]), call("b", &next, &["a:output:0"])],
            ));
        }
        let mut g = graph(
            vec![node("x", "Placeholder", &[]), call("top", "f0", &["x"])],
            fns,
        );
        let e = inline_calls_bounded(&mut g, 10_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 10000 nodes"), "{e}");
    }

    /// A loop whose body runs two loops of the same body: each round of
    /// lowering doubles them; the node budget stops it before memory does.
    #[test]
    fn loops_doubling_in_their_bodies_hit_the_node_budget() {
        let w = |name: &str, input: &str| {
            let mut n = node(name, "While", &[input]);
            for (k, f) in [("cond", "c"), ("body", "b")] {
                n.attr.insert(
                    k.into(),
                    pb::AttrValue {
                        value: Some(attr_value::Value::Func(pb::NameAttrList {
                            name: f.into(),
                            ..Default::default()
                        })),
                    },
                );
            }
            n
        };
        let body = function(
            "b",
            &["t"],
            &[("o", "w2:output:0")],
            vec![w("w1", "t"), w("w2", "w1:output:0")],
        );
        let cond = function(
            "c",
            &["t"],
            &[("ok", "p:y:0")],
            vec![node("p", "IsFinite", &["t"])],
        );
        let mut g = graph(
            vec![node("x", "Placeholder", &[]), w("top", "x")],
            vec![body, cond],
        );
        let e = inline_calls_bounded(&mut g, 10_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 10000 nodes"), "{e}");
    }

    #[test]
    fn a_graph_without_calls_is_untouched() {
        let f = function("unused", &["t"], &[("o", "t")], vec![]);
        let mut g = graph(
            vec![node("x", "Placeholder", &[]), node("y", "Relu", &["x"])],
            vec![f],
        );
        let before = g.clone();
        assert_eq!(inline_calls(&mut g).unwrap(), 0);
        assert_eq!(g, before);
    }
}
