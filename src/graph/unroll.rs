//! Loop unrolling: every lowered TF1 loop (`Enter`/`Merge`/`Switch`/
//! `NextIteration`/`Exit`/`LoopCond`, see [`super::loops`]) whose trip count
//! is a constant is replaced by that many copies of its body, so that an
//! engine without control flow (tract) can run the graph. This is a purely
//! structural rewrite, like function-call inlining: no op of the body is
//! interpreted, the copies are the body's own nodes.
//!
//! Per iteration `t`, every body node `n` becomes `n/unroll_t`, its inputs
//! rewired: a `Merge` → the previous iteration's value of that loop variable
//! (the `Enter`'d initial value at `t = 0`); a `Switch` → its data input; a
//! constant `Enter` → the value it carries in; `Identity`/`NoOp` are skipped
//! (references go through them). `TensorList` loop variables are followed
//! symbolically: a list made by `TensorListFromTensor(x)` and read with
//! `TensorListGetItem(list, t)` becomes `GatherV2(x, t, axis 0)`; a list made
//! by `TensorListReserve(shape, n)` and written with `TensorListSetItem`
//! collects its items, and the `TensorListStack` that reads it after the loop
//! becomes a `Pack` of them. Each `Exit` becomes an `Identity` (same name) of
//! the loop variable's last value, so every tensor after the loop keeps its name.
//!
//! TF1's `TensorArray`s (`tf.compat.v1.nn.dynamic_rnn`) are followed the same
//! way through their flow tensors: an array filled by `TensorArrayScatterV3`
//! with indices `Range(0, n, 1)` and read with `TensorArrayReadV3(…, t, flow)`
//! becomes `GatherV2(value, t, axis 0)`; a `TensorArrayV3`'s flow carried by the
//! loop collects the items `TensorArrayWriteV3` writes, and the
//! `TensorArrayGatherV3` of all of them (indices `Range(0, size, 1)`) after the
//! loop becomes their `Pack`.
//!
//! The trip count is found by folding the loop condition on integer scalars
//! (`Const`, `Add`/`AddV2`/`Sub`/`Mul`, `Maximum`/`Minimum`, comparisons,
//! `LogicalAnd`/`Or`/`Not`, and reductions of a scalar, which return it),
//! iteration by iteration; an integer scalar entering the loop that does not
//! fold (TF1's `Minimum(n, Maximum(1, n))` of `n` read from a shape) is asked
//! of the caller ([`Entering`]).
//!
//! Not handled (refused with the node named): functional `While` loops (left
//! untouched; loading lowers those it can, see `lower_while`), nested loops, conditions or list indices that do not fold to
//! constants, other `TensorList`/`TensorArray` ops (`TensorArraySplitV3`,
//! `TensorArrayConcatV3`, reads of an array written in the loop, scatters or
//! gathers of other indices), lists of unknown length, more than
//! [`MAX_TRIPS`] iterations.

use std::collections::{HashMap, HashSet};

use super::pb::{self, NodeDef, attr_value};
use super::{Graph, GraphError, LoopForm, NodeExt, TensorId};

/// Iterations beyond which a loop is refused rather than unrolled.
pub const MAX_TRIPS: usize = 4096;

/// A value flowing through the loop, per iteration.
#[derive(Clone, Debug)]
enum Val {
    /// A tensor of the rewritten graph (`node` or `node:k`), with its value
    /// when it is a known integer (or boolean) scalar.
    T { name: String, known: Option<i64> },
    /// A `TensorListFromTensor(x)` list (or a `TensorArrayScatterV3` of `x`
    /// at `Range(0, n, 1)`): element `i` is `x[i]`.
    FromTensor { source: String, dtype: i32 },
    /// A `TensorListReserve` list and the items written so far.
    Slots(Vec<Option<String>>),
}

/// What a body node stands for in one iteration.
#[derive(Clone, Debug)]
enum NodeVal {
    /// Every output slot is this value (Identity, Switch, Merge, ...).
    Same(Val),
    /// The node was copied as `name`; `known` is output 0's folded value.
    Copy { name: String, known: Option<i64> },
}

/// Unrolls every lowered loop of `def` in place. Returns how many loops were
/// unrolled (0 leaves `def` untouched). Functional `While` loops are left alone.
pub fn unroll_loops(def: &mut pb::GraphDef) -> Result<usize, GraphError> {
    unroll_loops_with(def, &mut |_, _| None)
}

/// [`unroll_loops`], with `entering(graph, tensor)` telling the value of a
/// tensor entering a loop that folding alone cannot find (e.g. a length read
/// from a shape), when the caller knows it to be a constant integer scalar.
/// `graph` is the GraphDef as unrolled so far (earlier loops already gone).
pub type Entering<'a> = dyn FnMut(&pb::GraphDef, &str) -> Option<i64> + 'a;

/// [`unroll_loops`] with an [`Entering`] oracle for loop bounds.
pub fn unroll_loops_with(
    def: &mut pb::GraphDef,
    entering: &mut Entering,
) -> Result<usize, GraphError> {
    if !def
        .node
        .iter()
        .any(|n| n.op == "Enter" || n.op == "RefEnter")
    {
        return Ok(0);
    }
    let mut count = 0;
    loop {
        let graph = Graph::new(def.clone())?;
        let Some(lp) = graph
            .loops()
            .into_iter()
            .find(|l| l.form == LoopForm::Lowered)
        else {
            drop_unread_variant_placeholders(def);
            return Ok(count);
        };
        *def = unroll_one(&graph, &lp, entering)?;
        count += 1;
    }
}

/// The name of the tensor holding a loop body node's value at every
/// iteration, stacked batch-major (`Pack` along axis 1 of its per-step
/// copies): no node of the original graph holds it; [`stack_steps`] makes it
/// after unrolling for whoever asks (a TF1 `MultiRNNCell`'s lower cells, whose
/// output sequences never leave the loop).
pub fn stacked_steps(node: &str) -> String {
    format!("{node}/unroll_steps")
}

/// Adds to an unrolled `def`, for each `wanted` tensor named
/// [`stacked_steps`]`(n)` it lacks, the `Pack` along axis 1 of `n`'s copies
/// `n/unroll_0`, `n/unroll_1`, … (as many as there are). Returns how many it
/// added; a wanted name without copies is left for the caller to report as
/// missing.
pub fn stack_steps(def: &mut pb::GraphDef, wanted: &[String]) -> usize {
    let names: HashSet<&str> = def.node.iter().map(|n| n.name.as_str()).collect();
    let mut packs = Vec::new();
    for w in wanted {
        let t = TensorId::parse(w);
        let Some(node) = t.node.strip_suffix("/unroll_steps") else {
            continue;
        };
        if t.slot != 0 || names.contains(t.node.as_str()) {
            continue;
        }
        let copies: Vec<String> = (0..)
            .map(|k| format!("{node}/unroll_{k}"))
            .take_while(|c| names.contains(c.as_str()))
            .collect();
        let Some(first) = copies.first() else {
            continue;
        };
        let dtype = def
            .node
            .iter()
            .find(|n| n.name == *first)
            .and_then(|n| n.attr.get("T").cloned());
        let mut pack = NodeDef {
            name: t.node.clone(),
            op: "Pack".into(),
            input: copies,
            ..Default::default()
        };
        pack.attr
            .insert("N".into(), attr_i(pack.input.len() as i64));
        pack.attr.insert("axis".into(), attr_i(1));
        if let Some(dtype) = dtype {
            pack.attr.insert("T".into(), dtype);
        }
        packs.push(pack);
    }
    let added = packs.len();
    def.node.extend(packs);
    added
}

/// Drops the `DT_VARIANT` placeholders nothing reads: lowering leaves one
/// `unused_control_flow_input*` per loop variable, and tract knows no variant type.
fn drop_unread_variant_placeholders(def: &mut pb::GraphDef) {
    let read: HashSet<String> = def
        .node
        .iter()
        .flat_map(|n| n.input.iter())
        .map(|r| TensorId::parse(r.trim_start_matches('^')).node)
        .collect();
    def.node.retain(|n| {
        !(n.op == "Placeholder"
            && raw_type(n, "dtype") == Some(pb::DataType::DtVariant as i32)
            && !read.contains(&n.name))
    });
}

/// The folded value of an integer/boolean scalar op from its inputs' values.
fn fold(op: &str, k: &[Option<i64>]) -> Option<i64> {
    let a = k.first().copied().flatten();
    let b = k.get(1).copied().flatten();
    let both = || Some((a?, b?));
    Some(match op {
        "Add" | "AddV2" => {
            let (a, b) = both()?;
            a.checked_add(b)?
        }
        "Sub" => {
            let (a, b) = both()?;
            a.checked_sub(b)?
        }
        "Mul" => {
            let (a, b) = both()?;
            a.checked_mul(b)?
        }
        "Maximum" => both().map(|(a, b)| a.max(b))?,
        "Minimum" => both().map(|(a, b)| a.min(b))?,
        "Less" => both().map(|(a, b)| (a < b) as i64)?,
        "LessEqual" => both().map(|(a, b)| (a <= b) as i64)?,
        "Greater" => both().map(|(a, b)| (a > b) as i64)?,
        "GreaterEqual" => both().map(|(a, b)| (a >= b) as i64)?,
        "Equal" => both().map(|(a, b)| (a == b) as i64)?,
        "NotEqual" => both().map(|(a, b)| (a != b) as i64)?,
        "LogicalAnd" => both().map(|(a, b)| (a != 0 && b != 0) as i64)?,
        "LogicalOr" => both().map(|(a, b)| (a != 0 || b != 0) as i64)?,
        "LogicalNot" => (a? == 0) as i64,
        // A known value is a scalar; reducing a scalar returns it.
        "Max" | "Min" | "Sum" | "Prod" | "Identity" | "Snapshot" => a?,
        _ => return None,
    })
}

/// The value of an integer or boolean scalar `Const`.
fn const_scalar(node: &NodeDef) -> Option<i64> {
    if node.op != "Const" {
        return None;
    }
    let t = node.attr_tensor("value").ok()?;
    if !t.shape().is_empty() {
        return None;
    }
    if let super::Tensor::Bool(b) = &t {
        return b.iter().next().map(|&v| v as i64);
    }
    t.to_i64()?.iter().next().copied()
}

/// The folded value of a tensor outside the loop, if it is a known scalar.
fn outside_known(graph: &Graph, r: &str, depth: usize) -> Option<i64> {
    known_scalar(graph, r, depth, &mut HashMap::new())
}

/// [`outside_known`], each tensor folded once (`memo`): the tensors before a
/// loop include the steps of the loops unrolled before it, a DAG whose paths
/// multiply with every step (three stacked layers of 8 steps took 31 s to
/// fold path by path). Only ops [`fold`] knows are followed.
fn known_scalar(
    graph: &Graph,
    r: &str,
    depth: usize,
    memo: &mut HashMap<String, Option<i64>>,
) -> Option<i64> {
    if depth > 64 {
        return None;
    }
    if let Some(&v) = memo.get(r) {
        return v;
    }
    let id = TensorId::parse(r);
    let node = graph.node(&id.node)?;
    let v = if node.op == "Const" {
        const_scalar(node)
    } else if id.slot != 0 || fold(&node.op, &[Some(0), Some(0)]).is_none() {
        // Not an op `fold` knows (it folds every op it knows on zeros).
        None
    } else {
        let inputs: Vec<Option<i64>> = node
            .input
            .iter()
            .filter(|s| !s.starts_with('^'))
            .map(|s| known_scalar(graph, s, depth + 1, memo))
            .collect();
        fold(&node.op, &inputs)
    };
    memo.insert(r.to_string(), v);
    v
}

fn attr_type(t: pb::DataType) -> pb::AttrValue {
    pb::AttrValue {
        value: Some(attr_value::Value::Type(t as i32)),
    }
}

fn attr_i(v: i64) -> pb::AttrValue {
    pb::AttrValue {
        value: Some(attr_value::Value::I(v)),
    }
}

fn int32_const(name: String, v: i64) -> Result<NodeDef, GraphError> {
    let v = i32::try_from(v).map_err(|_| GraphError::Node {
        node: name.clone(),
        op: "Const".into(),
        msg: format!("index {v} does not fit in int32"),
    })?;
    let tensor = pb::TensorProto {
        dtype: pb::DataType::DtInt32 as i32,
        tensor_shape: Some(pb::TensorShapeProto::default()),
        int_val: vec![v],
        ..Default::default()
    };
    let mut node = NodeDef {
        name,
        op: "Const".into(),
        ..Default::default()
    };
    node.attr
        .insert("dtype".into(), attr_type(pb::DataType::DtInt32));
    node.attr.insert(
        "value".into(),
        pb::AttrValue {
            value: Some(attr_value::Value::Tensor(tensor)),
        },
    );
    Ok(node)
}

fn raw_type(node: &NodeDef, name: &str) -> Option<i32> {
    match node.attr.get(name).and_then(|a| a.value.as_ref()) {
        Some(attr_value::Value::Type(t)) => Some(*t),
        _ => None,
    }
}

/// The loop of `graph` described by `lp`, unrolled: a new GraphDef.
fn unroll_one(
    graph: &Graph,
    lp: &super::Loop,
    entering: &mut Entering,
) -> Result<pb::GraphDef, GraphError> {
    let mut entering = |r: &str| entering(graph.graph_def(), r);
    let nodes = graph.nodes();
    let anchor = graph.node(&lp.node).cloned().unwrap_or_default();
    let err = |node: &NodeDef, msg: String| {
        GraphError::node(node, format!("cannot unroll loop '{}': {msg}", lp.frame))
    };
    if !lp.nested.is_empty() {
        return Err(err(
            &anchor,
            format!("it holds nested loops ({})", lp.nested.join(", ")),
        ));
    }
    let members: HashSet<&str> = lp.members.iter().map(|&i| nodes[i].name.as_str()).collect();
    let mut names: HashSet<String> = nodes.iter().map(|n| n.name.clone()).collect();

    // Loop variables: Merge name → (index in `state`, NextIteration name).
    let mut merge_var: HashMap<String, usize> = HashMap::new();
    let mut next_of: Vec<String> = Vec::new();
    let mut state: Vec<Val> = Vec::new();
    for &i in &lp.members {
        let n = &nodes[i];
        if n.op != "Merge" {
            continue;
        }
        let data: Vec<&String> = n.input.iter().filter(|s| !s.starts_with('^')).collect();
        let (enter, next) = match data.as_slice() {
            [a, b] => {
                let a = graph.node(&TensorId::parse(a).node);
                let b = graph.node(&TensorId::parse(b).node);
                match (a, b) {
                    (Some(a), Some(b)) if a.op == "Enter" && b.op == "NextIteration" => (a, b),
                    (Some(a), Some(b)) if b.op == "Enter" && a.op == "NextIteration" => (b, a),
                    _ => return Err(err(n, "a Merge not of an Enter and a NextIteration".into())),
                }
            }
            _ => return Err(err(n, format!("a Merge with {} inputs", data.len()))),
        };
        let init_ref = enter
            .input
            .first()
            .ok_or_else(|| err(enter, "an Enter without input".into()))?;
        let init_id = graph.resolve(&TensorId::parse(init_ref));
        let source = graph
            .node(&init_id.node)
            .ok_or_else(|| err(enter, format!("its input '{init_ref}' is not a node")))?;
        let init = match source.op.as_str() {
            "TensorListFromTensor" => Val::FromTensor {
                source: source.input.first().cloned().unwrap_or_default(),
                dtype: raw_type(source, "element_dtype").unwrap_or(pb::DataType::DtFloat as i32),
            },
            "TensorListReserve" => {
                let len = source
                    .input
                    .get(1)
                    .and_then(|r| outside_known(graph, r, 0).or_else(|| entering(r)))
                    .filter(|&n| (0..=MAX_TRIPS as i64).contains(&n))
                    .ok_or_else(|| err(source, "a TensorList of unknown length".into()))?;
                Val::Slots(vec![None; len as usize])
            }
            "TensorArrayV3" if init_id.slot == 1 => {
                let len = source
                    .input
                    .first()
                    .and_then(|r| outside_known(graph, r, 0).or_else(|| entering(r)))
                    .filter(|&n| (0..=MAX_TRIPS as i64).contains(&n))
                    .ok_or_else(|| err(source, "a TensorArray of unknown size".into()))?;
                Val::Slots(vec![None; len as usize])
            }
            op if op.starts_with("TensorList")
                || op.starts_with("TensorArray")
                || op == "EmptyTensorList" =>
            {
                return Err(err(source, format!("a loop variable made by {op}")));
            }
            _ => Val::T {
                name: init_ref.clone(),
                known: outside_known(graph, init_ref, 0).or_else(|| entering(init_ref)),
            },
        };
        merge_var.insert(n.name.clone(), state.len());
        next_of.push(next.name.clone());
        state.push(init);
    }

    // Look a reference up in one iteration's environment.
    let lookup = |env: &HashMap<String, NodeVal>, r: &str| -> Val {
        let id = TensorId::parse(r);
        match env.get(&id.node) {
            Some(NodeVal::Same(v)) => v.clone(),
            Some(NodeVal::Copy { name, known }) => Val::T {
                name: if id.slot == 0 {
                    name.clone()
                } else {
                    format!("{name}:{}", id.slot)
                },
                known: if id.slot == 0 { *known } else { None },
            },
            None => Val::T {
                name: r.to_string(),
                known: outside_known(graph, r, 0),
            },
        }
    };

    // Constant `Enter`s: an array a scatter filled (TF1's unstacked input)
    // stands for its source tensor; an integer scalar that does not fold is
    // asked of the caller (TF1's trip count, read from a shape). Once per loop.
    let mut entered: HashMap<String, Val> = HashMap::new();
    for &i in &lp.members {
        let n = &nodes[i];
        if !matches!(n.op.as_str(), "Enter" | "RefEnter")
            || !n.attr_bool("is_constant").unwrap_or(false)
        {
            continue;
        }
        let Some(r) = n.input.first() else {
            continue;
        };
        let id = graph.resolve(&TensorId::parse(r));
        let source = graph.node(&id.node);
        let v = match source {
            Some(s) if s.op == "TensorArrayScatterV3" => {
                scattered(graph, s, &mut entering).map_err(|msg| err(s, msg))?
            }
            _ => {
                let mut known = outside_known(graph, r, 0);
                let int = matches!(
                    pb::DataType::try_from(raw_type(n, "T").unwrap_or(0)),
                    Ok(pb::DataType::DtInt32 | pb::DataType::DtInt64)
                );
                if known.is_none() && int {
                    known = entering(r);
                }
                Val::T {
                    name: r.clone(),
                    known,
                }
            }
        };
        entered.insert(n.name.clone(), v);
    }

    let mut emitted: Vec<NodeDef> = Vec::new();
    let mut exits: HashMap<String, Val> = HashMap::new();
    for t in 0..=MAX_TRIPS {
        let mut env: HashMap<String, NodeVal> = HashMap::new();
        let mut round: Vec<NodeDef> = Vec::new();
        let mut live: Option<bool> = None;
        for &i in &lp.members {
            let n = &nodes[i];
            let data: Vec<&String> = n.input.iter().filter(|s| !s.starts_with('^')).collect();
            let input = |k: usize| -> Result<Val, GraphError> {
                data.get(k)
                    .map(|r| lookup(&env, r))
                    .ok_or_else(|| err(n, format!("input {k} is missing")))
            };
            let tensor = |v: Val| -> Result<(String, Option<i64>), GraphError> {
                match v {
                    Val::T { name, known } => Ok((name, known)),
                    _ => Err(err(n, "a TensorList used as a tensor".into())),
                }
            };
            match n.op.as_str() {
                "Enter" | "RefEnter" => {
                    if n.attr_bool("is_constant").unwrap_or(false) {
                        let v = match entered.get(&n.name) {
                            Some(v) => v.clone(),
                            None => input(0)?,
                        };
                        env.insert(n.name.clone(), NodeVal::Same(v));
                    }
                }
                "Merge" => {
                    let k = merge_var[&n.name];
                    env.insert(n.name.clone(), NodeVal::Same(state[k].clone()));
                }
                "Switch" | "Identity" | "Snapshot" => {
                    let v = input(0)?;
                    env.insert(n.name.clone(), NodeVal::Same(v));
                }
                "LoopCond" => {
                    let (_, known) = tensor(input(0)?)?;
                    let known = known.ok_or_else(|| {
                        err(n, "the loop condition does not fold to a constant".into())
                    })?;
                    live = Some(known != 0);
                }
                "Exit" | "RefExit" => {
                    if live == Some(false) {
                        exits.insert(n.name.clone(), input(0)?);
                    }
                }
                "NextIteration" | "NoOp" => {}
                _ if live == Some(false) => {}
                "TensorListGetItem" | "TensorArrayReadV3" => {
                    // TensorArrayReadV3(handle, index, flow): the flow says what the array holds.
                    let list = if n.op == "TensorArrayReadV3" {
                        input(2)?
                    } else {
                        input(0)?
                    };
                    let Val::FromTensor { source, dtype } = list else {
                        return Err(err(
                            n,
                            "reads a list not made by TensorListFromTensor or an array not \
                             filled by TensorArrayScatterV3"
                                .into(),
                        ));
                    };
                    let (_, idx) = tensor(input(1)?)?;
                    let idx = idx.ok_or_else(|| err(n, "its index is not a constant".into()))?;
                    let name = format!("{}/unroll_{t}", n.name);
                    let index = int32_const(format!("{name}/index"), idx)?;
                    let axis = int32_const(format!("{name}/axis"), 0)?;
                    let mut g = NodeDef {
                        name: name.clone(),
                        op: "GatherV2".into(),
                        input: vec![source, index.name.clone(), axis.name.clone()],
                        ..Default::default()
                    };
                    g.attr.insert(
                        "Tparams".into(),
                        pb::AttrValue {
                            value: Some(attr_value::Value::Type(
                                raw_type(n, "element_dtype")
                                    .or_else(|| raw_type(n, "dtype"))
                                    .unwrap_or(dtype),
                            )),
                        },
                    );
                    g.attr
                        .insert("Tindices".into(), attr_type(pb::DataType::DtInt32));
                    g.attr
                        .insert("Taxis".into(), attr_type(pb::DataType::DtInt32));
                    g.attr.insert("batch_dims".into(), attr_i(0));
                    round.extend([index, axis, g]);
                    env.insert(n.name.clone(), NodeVal::Copy { name, known: None });
                }
                "TensorListSetItem" | "TensorArrayWriteV3" => {
                    // TensorArrayWriteV3(handle, index, value, flow) → flow.
                    let list = if n.op == "TensorArrayWriteV3" {
                        input(3)?
                    } else {
                        input(0)?
                    };
                    let Val::Slots(mut slots) = list else {
                        return Err(err(
                            n,
                            "writes a list not made by TensorListReserve or an array not made \
                             by TensorArrayV3"
                                .into(),
                        ));
                    };
                    let (_, idx) = tensor(input(1)?)?;
                    let idx = idx.ok_or_else(|| err(n, "its index is not a constant".into()))?;
                    let (item, _) = tensor(input(2)?)?;
                    let len = slots.len();
                    let slot = usize::try_from(idx)
                        .ok()
                        .and_then(|i| slots.get_mut(i))
                        .ok_or_else(|| err(n, format!("index {idx} outside a list of {len}")))?;
                    *slot = Some(item);
                    env.insert(n.name.clone(), NodeVal::Same(Val::Slots(slots)));
                }
                op if op.starts_with("TensorList") || op.starts_with("TensorArray") => {
                    return Err(err(n, format!("{op} is not supported")));
                }
                op => {
                    let name = format!("{}/unroll_{t}", n.name);
                    let mut copy = n.clone();
                    copy.name = name.clone();
                    copy.input.clear();
                    let mut knowns = Vec::new();
                    for r in &n.input {
                        if let Some(ctrl) = r.strip_prefix('^') {
                            if !members.contains(TensorId::parse(ctrl).node.as_str()) {
                                copy.input.push(r.clone());
                            }
                            continue;
                        }
                        let (name, known) = tensor(lookup(&env, r))?;
                        copy.input.push(name);
                        knowns.push(known);
                    }
                    let known = if op == "Const" {
                        const_scalar(n)
                    } else {
                        fold(op, &knowns)
                    };
                    round.push(copy);
                    env.insert(n.name.clone(), NodeVal::Copy { name, known });
                }
            }
        }
        match live {
            None => return Err(err(&anchor, "no LoopCond".into())),
            Some(false) => break,
            Some(true) if t == MAX_TRIPS => {
                return Err(err(&anchor, format!("more than {MAX_TRIPS} iterations")));
            }
            Some(true) => {}
        }
        for node in &round {
            if !names.insert(node.name.clone()) {
                return Err(err(&anchor, format!("a second node named '{}'", node.name)));
            }
        }
        emitted.extend(round);
        // The next iteration's loop variables.
        for (k, next) in next_of.iter().enumerate() {
            let node = graph
                .node(next)
                .ok_or_else(|| err(&anchor, format!("'{next}' is missing")))?;
            let r = node
                .input
                .iter()
                .find(|s| !s.starts_with('^'))
                .ok_or_else(|| err(node, "a NextIteration without input".into()))?;
            state[k] = lookup(&env, r);
        }
    }

    // The rewritten graph: outside nodes, the copies, the Exits' stand-ins.
    let mut lists: HashMap<String, Vec<Option<String>>> = HashMap::new();
    let mut out: Vec<NodeDef> = Vec::new();
    for &i in &lp.members {
        let n = &nodes[i];
        match exits.get(&n.name) {
            Some(Val::T { name, .. }) => {
                let mut id = NodeDef {
                    name: n.name.clone(),
                    op: "Identity".into(),
                    input: vec![name.clone()],
                    ..Default::default()
                };
                if let Some(t) = n.attr.get("T") {
                    id.attr.insert("T".into(), t.clone());
                }
                out.push(id);
            }
            Some(Val::Slots(items)) => {
                lists.insert(n.name.clone(), items.clone());
            }
            _ => {}
        }
    }
    let removed = |r: &str| {
        let node = TensorId::parse(r.trim_start_matches('^')).node;
        members.contains(node.as_str()) && !out.iter().any(|o| o.name == node)
    };
    let mut rest: Vec<NodeDef> = Vec::new();
    for n in nodes {
        if members.contains(n.name.as_str()) {
            continue;
        }
        let mut n = n.clone();
        let first = n.input.first().map(|r| TensorId::parse(r).node);
        // TensorArrayGatherV3(handle, indices, flow): the flow is the list.
        let first = if n.op == "TensorArrayGatherV3" {
            let flow = n.input.get(2).map(|r| TensorId::parse(r).node);
            if let Some(items) = flow.as_ref().and_then(|f| lists.get(f)) {
                let whole = n
                    .input
                    .get(1)
                    .and_then(|r| range_len(graph, r, &mut entering))
                    == Some(items.len() as i64);
                if !whole {
                    return Err(err(
                        &n,
                        format!(
                            "gathers other indices than Range(0, {}, 1) of the array the loop wrote",
                            items.len()
                        ),
                    ));
                }
            }
            flow
        } else {
            first
        };
        if matches!(n.op.as_str(), "TensorListStack" | "TensorArrayGatherV3")
            && let Some(items) = first.as_ref().and_then(|f| lists.get(f))
        {
            let items: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    s.clone()
                        .ok_or_else(|| err(&n, format!("item {k} of the list is never written")))
                })
                .collect::<Result<_, _>>()?;
            let mut pack = NodeDef {
                name: n.name.clone(),
                op: "Pack".into(),
                input: items,
                device: n.device.clone(),
                ..Default::default()
            };
            pack.attr
                .insert("N".into(), attr_i(pack.input.len() as i64));
            if let Some(t) = n.attr.get("element_dtype").or_else(|| n.attr.get("dtype")) {
                pack.attr.insert("T".into(), t.clone());
            }
            pack.attr.insert("axis".into(), attr_i(0));
            rest.push(pack);
            continue;
        }
        for r in &n.input {
            if !r.starts_with('^') && removed(r) {
                return Err(err(&n, format!("uses '{r}', a list the loop leaves")));
            }
        }
        n.input.retain(|r| !removed(r));
        rest.push(n);
    }
    // The lists' constructors only fed the loop: drop them (tract has no
    // TensorList ops), and control edges to them.
    // TensorArrays too (a scatter first, then the array it filled).
    let mut dropped: HashSet<String> = HashSet::new();
    loop {
        let used: HashSet<String> = rest
            .iter()
            .chain(&emitted)
            .chain(&out)
            .flat_map(|n| n.input.iter())
            .filter(|r| !r.starts_with('^'))
            .map(|r| TensorId::parse(r).node)
            .collect();
        let more: HashSet<String> = rest
            .iter()
            .filter(|n| {
                (n.op.starts_with("TensorList") || n.op.starts_with("TensorArray"))
                    && !used.contains(&n.name)
            })
            .map(|n| n.name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        rest.retain(|n| !more.contains(&n.name));
        dropped.extend(more);
    }
    for n in &mut rest {
        n.input
            .retain(|r| !(r.starts_with('^') && dropped.contains(&TensorId::parse(&r[1..]).node)));
    }
    rest.extend(emitted);
    rest.extend(out);
    let mut def = graph.graph_def().clone();
    def.node = rest;
    Ok(def)
}

/// What a `TensorArrayScatterV3(handle, indices, value, flow)` that enters a
/// loop holds: `value` itself when the indices are `Range(0, n, 1)` over the
/// whole array (TF1's `TensorArray.unstack`); anything else is refused.
fn scattered(
    graph: &Graph,
    scatter: &NodeDef,
    entering: &mut dyn FnMut(&str) -> Option<i64>,
) -> Result<Val, String> {
    let data: Vec<&String> = scatter
        .input
        .iter()
        .filter(|s| !s.starts_with('^'))
        .collect();
    let [array, indices, value, _] = data.as_slice() else {
        return Err(format!("a TensorArrayScatterV3 with {} inputs", data.len()));
    };
    let array = graph
        .node(&TensorId::parse(array).node)
        .ok_or_else(|| format!("its array '{array}' is not a node"))?;
    let size = array
        .input
        .first()
        .and_then(|r| outside_known(graph, r, 0).or_else(|| entering(r)));
    let n = range_len(graph, indices, entering);
    if n.is_none() || n != size {
        return Err(format!(
            "scatters at '{indices}', not Range(0, n, 1) over the whole array (size {size:?})"
        ));
    }
    Ok(Val::FromTensor {
        source: (*value).clone(),
        dtype: raw_type(scatter, "T").unwrap_or(pb::DataType::DtFloat as i32),
    })
}

/// `n` when `r` is `Range(0, n, 1)` with `n` folded (or told by the caller).
fn range_len(graph: &Graph, r: &str, entering: &mut dyn FnMut(&str) -> Option<i64>) -> Option<i64> {
    let node = graph.node(&graph.resolve(&TensorId::parse(r)).node)?;
    if node.op != "Range" {
        return None;
    }
    let data: Vec<&String> = node.input.iter().filter(|s| !s.starts_with('^')).collect();
    let [start, limit, delta] = data.as_slice() else {
        return None;
    };
    if outside_known(graph, start, 0)? != 0 || outside_known(graph, delta, 0)? != 1 {
        return None;
    }
    outside_known(graph, limit, 0).or_else(|| entering(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> pb::GraphDef {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        let mut def = super::super::load_graph_def(&path).expect("test graph loads");
        super::super::inline_calls(&mut def).expect("inlines");
        def
    }

    /// Every node of the unrolled graph is loop- and TensorList-free, and the
    /// 5-step sequence is read 5 times per loop.
    fn check_unrolled(file: &str, def: pb::GraphDef, loops: usize) {
        let graph = Graph::new(def).expect(file);
        assert!(graph.loops().is_empty(), "{file} still has loops");
        for node in graph.nodes() {
            assert!(
                !super::super::is_control_flow(&node.op) && !node.op.starts_with("TensorList"),
                "{file}: {} ({}) left",
                node.name,
                node.op
            );
        }
        let reads = graph
            .nodes()
            .iter()
            .filter(|n| n.op == "GatherV2" && n.name.contains("TensorListGetItem"))
            .count();
        assert_eq!(reads, 5 * loops, "{file}");
        let stacks = graph
            .nodes()
            .iter()
            .filter(|n| n.op == "Pack" && n.name.ends_with("TensorListStack"))
            .count();
        assert_eq!(stacks, loops, "{file}");
    }

    #[test]
    fn keras3_lstm_unrolls_from_its_constant_bound() {
        // Keras 3: LoopCond = LogicalAnd(Less(counter, Max(5)), Less(time, 5)).
        let mut def = load("k3_lstm.pb");
        assert_eq!(unroll_loops(&mut def).expect("k3_lstm.pb"), 1);
        check_unrolled("k3_lstm.pb", def, 1);
    }

    #[test]
    fn tf_keras_bound_from_a_shape_needs_the_caller() {
        // tf-keras: Less(time, strided_slice(Shape(x))): not foldable from the
        // graph alone; refused naming the LoopCond...
        let mut def = load("tk_lstm.pb");
        let e = unroll_loops(&mut def).expect_err("shape-dependent bound");
        assert!(e.to_string().contains("LoopCond"), "{e}");
        // ...and unrolled when the caller knows the shape-derived values (the
        // sequence length, 5, for every tensor read from a Shape).
        for (file, loops) in [("tk_lstm.pb", 1), ("tk_lstm_gru.pb", 2)] {
            let mut def = load(file);
            let mut asked = Vec::new();
            let n = unroll_loops_with(&mut def, &mut |_, t| {
                asked.push(t.to_string());
                t.contains("strided_slice").then_some(5)
            })
            .expect(file);
            assert_eq!(n, loops, "{file}");
            assert!(!asked.is_empty(), "{file}");
            check_unrolled(file, def, loops);
        }
    }

    #[test]
    fn folding_follows_max_and_min() {
        assert_eq!(fold("Maximum", &[Some(1), Some(5)]), Some(5));
        assert_eq!(fold("Minimum", &[Some(5), Some(5)]), Some(5));
        assert_eq!(fold("Minimum", &[Some(5), None]), None);
    }

    #[test]
    fn graphs_without_loops_are_untouched() {
        let mut def = pb::GraphDef::default();
        def.node.push(int32_const("c".into(), 3).expect("fits"));
        let before = def.clone();
        assert_eq!(unroll_loops(&mut def).expect("no loop"), 0);
        assert_eq!(def, before);
    }

    #[test]
    fn folding_follows_the_ops() {
        assert_eq!(fold("Less", &[Some(4), Some(5)]), Some(1));
        assert_eq!(fold("Less", &[Some(5), Some(5)]), Some(0));
        assert_eq!(fold("LogicalAnd", &[Some(1), Some(0)]), Some(0));
        assert_eq!(fold("AddV2", &[Some(4), None]), None);
        assert_eq!(fold("Max", &[Some(7), None]), Some(7));
        assert_eq!(fold("MatMul", &[Some(1), Some(2)]), None);
    }

    /// `tests/data/tf1_ta_loop.pbtxt`: a TF1 `dynamic_rnn`-style loop over
    /// TensorArrays, its trip count `Minimum(T, Maximum(1, T))` of `T = Shape(x)[0]`.
    fn ta_loop() -> pb::GraphDef {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tf1_ta_loop.pbtxt");
        super::super::load_graph_def(&path).expect("tf1_ta_loop.pbtxt loads")
    }

    /// The caller of [`unroll_loops_with`] that knows T = 3.
    fn knows_t(_: &pb::GraphDef, t: &str) -> Option<i64> {
        matches!(t, "rnn/strided_slice" | "rnn/Minimum").then_some(3)
    }

    #[test]
    fn tf1_tensor_array_loop_unrolls_to_gathers_and_a_pack() {
        // The trip count comes from a shape: refused, naming a node of the
        // loop, when nobody knows T...
        let mut def = ta_loop();
        let e = unroll_loops(&mut def).expect_err("shape-dependent TensorArray size");
        assert!(e.to_string().contains("rnn/"), "{e}");
        // ...and unrolled when the caller tells the integer scalars entering
        // the loop (T read from the shape, and the trip count folded from it).
        let mut def = ta_loop();
        let mut asked = Vec::new();
        let n = unroll_loops_with(&mut def, &mut |g, t| {
            asked.push(t.to_string());
            knows_t(g, t)
        })
        .expect("unrolls");
        assert_eq!(n, 1);
        assert!(asked.iter().any(|t| t == "rnn/Minimum"), "{asked:?}");
        let graph = Graph::new(def).expect("indexes");
        assert!(graph.loops().is_empty());
        for node in graph.nodes() {
            assert!(
                !super::super::is_control_flow(&node.op) && !node.op.starts_with("TensorArray"),
                "{} ({}) left",
                node.name,
                node.op
            );
        }
        // Step t reads x[t]: GatherV2(x, t, axis 0), t = 0, 1, 2.
        for t in 0..3 {
            let read = graph
                .node(&format!("rnn/while/read/unroll_{t}"))
                .expect("a read per step");
            assert_eq!(read.op, "GatherV2");
            assert_eq!(read.input[0], "x");
            let index = graph.node(&read.input[1]).expect("index const");
            assert_eq!(const_scalar(index), Some(t));
        }
        // The gather after the loop is the Pack of the three written sums, in
        // order; the final state keeps its Exit's name, the last sum.
        let stack = graph.node("rnn/stack").expect("kept its name");
        assert_eq!(stack.op, "Pack");
        let items: Vec<&str> = stack.input.iter().map(String::as_str).collect();
        assert_eq!(
            items,
            [
                "rnn/while/add/unroll_0",
                "rnn/while/add/unroll_1",
                "rnn/while/add/unroll_2"
            ]
        );
        let exit = graph.node("rnn/while/Exit_2").expect("kept its name");
        assert_eq!(
            (exit.op.as_str(), exit.input.as_slice()),
            ("Identity", &["rnn/while/add/unroll_2".to_string()][..])
        );
    }

    #[test]
    fn tf1_tensor_array_scattered_at_other_indices_is_refused_naming_the_scatter() {
        // Range(1, T, 1): not TensorArray.unstack of the whole sequence.
        let mut def = ta_loop();
        let one = "rnn/one".to_string();
        for n in &mut def.node {
            if n.name == "rnn/in_range" {
                n.input[0] = one.clone();
            }
        }
        let e = unroll_loops_with(&mut def, &mut knows_t).expect_err("not Range(0, T, 1)");
        let msg = e.to_string();
        assert!(msg.contains("rnn/scatter"), "{msg}");
        assert!(msg.contains("not Range(0, n, 1)"), "{msg}");
    }

    /// A body node's per-step copies, stacked along axis 1 under the name
    /// [`stacked_steps`] gives it, for the wanted names only.
    #[test]
    fn stacked_steps_pack_the_copies_of_a_body_node_batch_major() {
        let mut def = ta_loop();
        unroll_loops_with(&mut def, &mut knows_t).expect("unrolls");
        let wanted = [
            format!("{}:0", stacked_steps("rnn/while/add")),
            stacked_steps("rnn/while/no_such_node"),
        ];
        assert_eq!(stack_steps(&mut def, &wanted), 1);
        let graph = Graph::new(def).expect("indexes");
        let pack = graph.node("rnn/while/add/unroll_steps").expect("added");
        assert_eq!(pack.op, "Pack");
        assert_eq!(pack.attr_int("axis").ok(), Some(1));
        assert_eq!(pack.attr_int("N").ok(), Some(3));
        let items: Vec<&str> = pack.input.iter().map(String::as_str).collect();
        assert_eq!(
            items,
            [
                "rnn/while/add/unroll_0",
                "rnn/while/add/unroll_1",
                "rnn/while/add/unroll_2"
            ]
        );
        assert!(graph.node("rnn/while/no_such_node/unroll_steps").is_none());
    }

    /// Loading lowers the functional form (`lower_while`): one lowered loop,
    /// unrolled like the one TensorFlow lowers.
    #[test]
    fn functional_while_is_unrolled_once_lowered() {
        let mut def = load("k3_lstm_while.pb");
        assert!(def.node.iter().all(|n| n.op != "While"));
        assert_eq!(unroll_loops(&mut def).expect("unrolls"), 1);
        check_unrolled("k3_lstm_while.pb", def, 1);
    }
}
