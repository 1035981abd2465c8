//! Lowering of functional loops: a `While` / `StatelessWhile` node (what a
//! graph frozen with `lower_control_flow=False`, and many TF2 exports, hold
//! for a `tf.while_loop`, e.g. Keras's recurrent layers) becomes the TF1
//! control flow TensorFlow's own lowering pass makes of it, so that loop
//! discovery ([`super::loops`]), the recurrent conversion rules and the
//! unroller see one form only. Done by [`super::inline_calls`], on thaw's
//! side and the oracle's alike.
//!
//! For a loop node `W` with loop variables `v_0 … v_{n-1}` (its data inputs),
//! `cond` function `C` and `body` function `B`, in frame `W` (the node's name,
//! `W/_1`… if a TF1 loop of the graph already has that frame):
//! - `W/Enter_k` (`Enter`, `frame_name` `W`, the loop's `parallel_iterations`)
//!   carries `v_k` in; `W`'s control inputs go through one `NoOp`
//!   `W/LoopControlInputs` that every `Enter` waits for;
//! - `W/Merge_k` merges the `Enter` with `W/NextIteration_k`; `C` is inlined
//!   on the merges as `W/cond/<node>`, its result feeds `W/LoopCond`;
//! - `W/Switch_k` switches the merge on the `LoopCond`: `W/Identity_k` of its
//!   true output feeds `B`, inlined as `W/body/<node>`, whose k-th result
//!   goes to `W/NextIteration_k`; `W/Exit_k` takes the false output;
//! - consumers of `W:k` read `W/Exit_k`, and `W` itself becomes a `NoOp`
//!   waiting for the exits, for its control consumers (`^W`); the `NoOp`
//!   records in attribute [`LOWERED_OUTPUTS`] the tensor standing for each
//!   `W:k`, so that a name the user gives (`--output-tensor W:k`) still
//!   resolves ([`lowered_output`]);
//! - a loop variable the body returns unchanged (its result *is* its
//!   argument), unless a `DT_VARIANT` list, is loop-invariant, as TensorFlow
//!   treats the variables holding a layer's weights: only a constant `Enter`
//!   (`is_constant`), no merge, switch or exit, and `W:k` is `v_k` itself;
//! - the inlined nodes without inputs (constants) wait on the frame
//!   (a control input from the first merge, resp. identity), so that they
//!   belong to it as in TensorFlow's lowering.
//!
//! The first variable is `W/Enter`, `W/Merge`, …, the next ones `_1`, `_2`, …
//! (TF1's `tf.while_loop` naming). Function bodies are instantiated by
//! [`super::inline`]'s `expand` (same reference mapping as inlined calls);
//! calls and loops nested in them are handled by the next round of
//! `inline_calls`, under its depth and node budgets.
//!
//! Refused (exit 2, the loop node named): a `cond`/`body` attribute missing or
//! naming no function of the library, functions whose signatures do not match
//! the loop variables, a loop without variables. Left alone (and refused later
//! as an unsupported recurrent loop, exit 3): loops carrying `DT_RESOURCE`
//! variables (a variable handle, not a value).

use std::collections::{HashMap, HashSet};

use super::pb::{self, DataType, NodeDef, attr_value};
use super::{GraphError, TensorId};

/// Attribute of the `NoOp` a lowered loop `W` becomes: the tensor standing
/// for each of `W`'s outputs, in order (a list of strings).
pub(super) const LOWERED_OUTPUTS: &str = "_thaw_lowered_outputs";

/// The tensors standing for the outputs of the loop `node` was before
/// lowering, if it is such a `NoOp`.
pub(super) fn lowered_outputs(node: &NodeDef) -> Option<Vec<String>> {
    if node.op != "NoOp" {
        return None;
    }
    match node.attr.get(LOWERED_OUTPUTS)?.value.as_ref()? {
        attr_value::Value::List(l) => Some(
            l.s.iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// What output `t` of a lowered loop is now: `None` if `t`'s node is no
/// lowered loop, `Some(Err(outputs))` if the loop has no output `t.slot`.
pub(super) fn lowered_output(node: &NodeDef, slot: usize) -> Option<Result<TensorId, usize>> {
    let outs = lowered_outputs(node)?;
    Some(outs.get(slot).map(|o| TensorId::parse(o)).ok_or(outs.len()))
}

/// Whether `op` is a functional loop.
pub(super) fn is_while(op: &str) -> bool {
    matches!(op, "While" | "StatelessWhile" | "_While")
}

/// Whether `node` is a functional loop this module lowers (see the module
/// header for the ones left alone).
pub(super) fn lowerable(node: &NodeDef) -> bool {
    is_while(&node.op)
        && !types_attr(node)
            .unwrap_or_default()
            .contains(&(DataType::DtResource as i32))
}

/// The loop's `T` attribute (the variables' types), if it is a type list.
fn types_attr(node: &NodeDef) -> Option<Vec<i32>> {
    match node.attr.get("T").and_then(|a| a.value.as_ref()) {
        Some(attr_value::Value::List(l)) => Some(l.r#type.clone()),
        _ => None,
    }
}

/// Lowers every [`lowerable`] loop of `def` in place (`names`: every node
/// name of `def`, kept up to date), refusing to make more than `max_nodes`
/// nodes in all. Returns how many loops were lowered.
pub(super) fn lower_whiles(
    def: &mut pb::GraphDef,
    library: &HashMap<&str, &pb::FunctionDef>,
    names: &mut HashSet<String>,
    max_nodes: usize,
) -> Result<usize, GraphError> {
    let loops: Vec<usize> = (0..def.node.len())
        .filter(|&i| lowerable(&def.node[i]))
        .collect();
    if loops.is_empty() {
        return Ok(0);
    }
    // Frames of the graph's TF1 loops: a new frame must be none of them.
    let mut frames: HashSet<String> = def
        .node
        .iter()
        .filter(|n| n.op == "Enter")
        .filter_map(|n| match n.attr.get("frame_name")?.value.as_ref()? {
            attr_value::Value::S(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        })
        .collect();
    let mut outputs: HashMap<String, Vec<String>> = HashMap::new();
    let mut added = Vec::new();
    let mut lowered_at = Vec::with_capacity(loops.len());
    for &i in &loops {
        let w = def.node[i].clone();
        let lowered = lower(&w, library, names, &mut frames)?;
        if def.node.len() + added.len() + lowered.nodes.len() > max_nodes {
            return Err(GraphError::node(
                &w,
                format!(
                    "lowering loops and inlining function calls would make more than {max_nodes} nodes"
                ),
            ));
        }
        def.node[i] = lowered.identity;
        added.extend(lowered.nodes);
        lowered_at.push((i, w.name.clone()));
        outputs.insert(w.name, lowered.outputs);
    }
    // An invariant output is the loop's input, maybe another loop's output
    // lowered in this round too.
    let resolve = |to: &str| {
        let mut to = to.to_string();
        for _ in 0..outputs.len() {
            let u = TensorId::parse(&to);
            match outputs.get(&u.node).and_then(|o| o.get(u.slot)) {
                Some(next) => to = next.clone(),
                None => break,
            }
        }
        to
    };
    // Consumers of `W:k` read the k-th exit (or the invariant input).
    for n in def.node.iter_mut().chain(added.iter_mut()) {
        for input in n.input.iter_mut().filter(|s| !s.starts_with('^')) {
            let t = TensorId::parse(input);
            if let Some(outs) = outputs.get(&t.node) {
                let to = outs.get(t.slot).ok_or_else(|| GraphError::Node {
                    node: n.name.clone(),
                    op: n.op.clone(),
                    msg: format!(
                        "reads output {} of loop '{}', which has {} outputs",
                        t.slot,
                        t.node,
                        outs.len()
                    ),
                })?;
                *input = resolve(to);
            }
        }
    }
    // The loop's own name keeps naming its outputs (`--output-tensor W:k`).
    for (i, name) in lowered_at {
        let resolved = outputs[&name].iter().map(|o| resolve(o).into_bytes());
        def.node[i].attr.insert(
            LOWERED_OUTPUTS.into(),
            attr(attr_value::Value::List(attr_value::ListValue {
                s: resolved.collect(),
                ..Default::default()
            })),
        );
    }
    def.node.extend(added);
    Ok(loops.len())
}

/// One loop, lowered: the nodes to add, the `NoOp` replacing the loop
/// node, and the tensor standing for each of its outputs.
struct Lowered {
    nodes: Vec<NodeDef>,
    identity: NodeDef,
    outputs: Vec<String>,
}

fn attr(value: attr_value::Value) -> pb::AttrValue {
    pb::AttrValue { value: Some(value) }
}

fn type_attr(t: i32) -> pb::AttrValue {
    attr(attr_value::Value::Type(t))
}

/// Adds `node` to `nodes` as `name` (`name/_1`, … if taken, as TensorFlow
/// makes names unique); returns its name.
fn fresh(
    names: &mut HashSet<String>,
    name: String,
    nodes: &mut Vec<NodeDef>,
    node: NodeDef,
) -> String {
    let mut unique = name.clone();
    let mut i = 1;
    while names.contains(&unique) {
        unique = format!("{name}/_{i}");
        i += 1;
    }
    names.insert(unique.clone());
    nodes.push(NodeDef {
        name: unique.clone(),
        ..node
    });
    unique
}

/// `base` for the first loop variable, `base_k` for the others.
fn nth(base: &str, k: usize) -> String {
    if k == 0 {
        base.to_string()
    } else {
        format!("{base}_{k}")
    }
}

fn lower(
    w: &NodeDef,
    library: &HashMap<&str, &pb::FunctionDef>,
    names: &mut HashSet<String>,
    frames: &mut HashSet<String>,
) -> Result<Lowered, GraphError> {
    let err = |msg: String| GraphError::node(w, msg);
    let function = |which: &str| -> Result<&pb::FunctionDef, GraphError> {
        let name = match w.attr.get(which).and_then(|a| a.value.as_ref()) {
            Some(attr_value::Value::Func(f)) => f.name.as_str(),
            _ => return Err(err(format!("has no function attribute '{which}'"))),
        };
        library.get(name).copied().ok_or_else(|| {
            err(format!(
                "its {which} function '{name}' is not in the graph's function library"
            ))
        })
    };
    let (cond, body) = (function("cond")?, function("body")?);
    let anchor_of = |invariant: &[bool]| invariant.iter().position(|&i| !i).unwrap_or(0);
    let sig = |f: &pb::FunctionDef| f.signature.clone().unwrap_or_default();
    let (cond_sig, body_sig) = (sig(cond), sig(body));
    let ins: Vec<&String> = w.input.iter().filter(|s| !s.starts_with('^')).collect();
    let ctrls: Vec<&String> = w.input.iter().filter(|s| s.starts_with('^')).collect();
    let n = ins.len();
    if n == 0 {
        return Err(err("a loop without loop variables".into()));
    }
    if body_sig.input_arg.len() != n || body_sig.output_arg.len() != n {
        return Err(err(format!(
            "its body function '{}' takes {} arguments and returns {} values; the loop has {n} variables",
            body_sig.name,
            body_sig.input_arg.len(),
            body_sig.output_arg.len()
        )));
    }
    if cond_sig.input_arg.len() != n || cond_sig.output_arg.len() != 1 {
        return Err(err(format!(
            "its cond function '{}' takes {} arguments and returns {} values; the loop has {n} variables and needs one boolean",
            cond_sig.name,
            cond_sig.input_arg.len(),
            cond_sig.output_arg.len()
        )));
    }
    let types = match types_attr(w) {
        Some(t) if t.len() == n => t,
        Some(t) => {
            return Err(err(format!(
                "attribute 'T' lists {} types for {n} loop variables",
                t.len()
            )));
        }
        None => body_sig.input_arg.iter().map(|a| a.r#type).collect(),
    };
    let invariant: Vec<bool> = (0..n)
        .map(|k| {
            types[k] != DataType::DtVariant as i32
                && body
                    .ret
                    .get(&body_sig.output_arg[k].name)
                    .is_some_and(|r| *r == body_sig.input_arg[k].name)
        })
        .collect();
    let parallel = match w
        .attr
        .get("parallel_iterations")
        .and_then(|a| a.value.as_ref())
    {
        Some(attr_value::Value::I(p)) => *p,
        _ => 10,
    };
    // Nodes are named after the loop node; so is the frame, unless a TF1
    // loop of the graph has that frame.
    let prefix = w.name.as_str();
    let mut frame = w.name.clone();
    for i in 1.. {
        if frames.insert(frame.clone()) {
            break;
        }
        frame = format!("{}/_{i}", w.name);
    }
    let mut nodes: Vec<NodeDef> = Vec::new();
    let op = |op: &str, input: Vec<String>, t: Option<i32>| NodeDef {
        op: op.into(),
        input,
        attr: t
            .map(|t| ("T".to_string(), type_attr(t)))
            .into_iter()
            .collect(),
        ..Default::default()
    };

    let control = (!ctrls.is_empty()).then(|| {
        let noop = op("NoOp", ctrls.iter().map(|s| s.to_string()).collect(), None);
        fresh(
            names,
            format!("{prefix}/LoopControlInputs"),
            &mut nodes,
            noop,
        )
    });
    let mut enters = Vec::with_capacity(n);
    for k in 0..n {
        let mut e = op("Enter", vec![ins[k].clone()], Some(types[k]));
        e.input.extend(control.iter().map(|c| format!("^{c}")));
        e.attr.insert(
            "frame_name".into(),
            attr(attr_value::Value::S(frame.clone().into_bytes())),
        );
        e.attr.insert(
            "parallel_iterations".into(),
            attr(attr_value::Value::I(parallel)),
        );
        e.attr.insert(
            "is_constant".into(),
            attr(attr_value::Value::B(invariant[k])),
        );
        enters.push(fresh(
            names,
            nth(&format!("{prefix}/Enter"), k),
            &mut nodes,
            e,
        ));
    }
    // Merge k's second input is the NextIteration made once the body is in.
    let mut merges: Vec<Option<(usize, String)>> = vec![None; n];
    for k in (0..n).filter(|&k| !invariant[k]) {
        let mut m = op("Merge", vec![enters[k].clone()], Some(types[k]));
        m.attr.insert("N".into(), attr(attr_value::Value::I(2)));
        let name = fresh(names, nth(&format!("{prefix}/Merge"), k), &mut nodes, m);
        merges[k] = Some((nodes.len() - 1, name));
    }
    let values: Vec<String> = (0..n)
        .map(|k| merges[k].as_ref().map_or(&enters[k], |m| &m.1).clone())
        .collect();

    // Inlines `f` on `inputs` as `prefix/<node>`: its nodes, and its results.
    let instantiate = |names: &mut HashSet<String>,
                       f: &pb::FunctionDef,
                       which: &str,
                       inputs: &[String],
                       anchor: usize,
                       nodes: &mut Vec<NodeDef>|
     -> Result<Vec<String>, GraphError> {
        let call = NodeDef {
            input: inputs.to_vec(),
            ..w.clone()
        };
        let prefix = format!("{}/{which}", w.name);
        let (body, identity) = super::inline::expand(&call, f, &prefix)?;
        // Nodes without inputs (constants) run in the frame, as in TensorFlow.
        let anchor = format!("^{}", TensorId::parse(&inputs[anchor]).node);
        for mut b in body {
            if !names.insert(b.name.clone()) {
                return Err(err(format!(
                    "lowering makes a second node named '{}'",
                    b.name
                )));
            }
            if b.input.is_empty() {
                b.input.push(anchor.clone());
            }
            nodes.push(b);
        }
        Ok(identity
            .input
            .into_iter()
            .filter(|s| !s.starts_with('^'))
            .collect())
    };
    let cond_out = instantiate(
        names,
        cond,
        "cond",
        &values,
        anchor_of(&invariant),
        &mut nodes,
    )?;
    let pred = cond_out
        .first()
        .cloned()
        .ok_or_else(|| err("its cond function returns nothing".into()))?;
    let loop_cond = fresh(
        names,
        format!("{prefix}/LoopCond"),
        &mut nodes,
        op("LoopCond", vec![pred], None),
    );
    let mut body_in = values.clone();
    let mut exits = values.clone();
    for k in 0..n {
        if invariant[k] {
            // The loop's output is the value that went in.
            exits[k] = ins[k].clone();
            continue;
        }
        let s = op(
            "Switch",
            vec![values[k].clone(), loop_cond.clone()],
            Some(types[k]),
        );
        let switch = fresh(names, nth(&format!("{prefix}/Switch"), k), &mut nodes, s);
        let id = op("Identity", vec![format!("{switch}:1")], Some(types[k]));
        body_in[k] = fresh(names, nth(&format!("{prefix}/Identity"), k), &mut nodes, id);
        let x = op("Exit", vec![switch], Some(types[k]));
        exits[k] = fresh(names, nth(&format!("{prefix}/Exit"), k), &mut nodes, x);
    }
    // Constants wait on a loop-carried variable, not an invariant.
    let body_out = instantiate(
        names,
        body,
        "body",
        &body_in,
        anchor_of(&invariant),
        &mut nodes,
    )?;
    for k in (0..n).filter(|&k| !invariant[k]) {
        let next = op("NextIteration", vec![body_out[k].clone()], Some(types[k]));
        let next = fresh(
            names,
            nth(&format!("{prefix}/NextIteration"), k),
            &mut nodes,
            next,
        );
        if let Some((at, _)) = &merges[k] {
            nodes[*at].input.push(next);
        }
    }
    // `W` stays for its control consumers (`^W`): done once every exit is.
    let identity = NodeDef {
        name: w.name.clone(),
        op: "NoOp".into(),
        input: exits
            .iter()
            .map(|x| format!("^{}", TensorId::parse(x).node))
            .collect(),
        ..Default::default()
    };
    Ok(Lowered {
        nodes,
        identity,
        outputs: exits,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Graph, LoopForm, NodeExt, parse_graph_def};
    use super::*;

    /// `i, n, a = 0, 4, x; while i < n: i, n, a = i + 1, n, 2a + 1` (TF: 16x + 15).
    const COUNTER: &str = include_str!("../../tests/data/while_counter.pbtxt");

    fn counter() -> pb::GraphDef {
        parse_graph_def(COUNTER.as_bytes(), true, "while_counter.pbtxt").unwrap()
    }

    fn load(def: pb::GraphDef) -> Result<Graph, GraphError> {
        Graph::new(def)
    }

    #[test]
    fn a_counter_loop_becomes_one_tf1_frame() {
        let g = load(counter()).unwrap();
        let op = |name: &str| g.node(name).map(|n| n.op.as_str());
        // Carried variables i (0) and a (2): the whole cycle.
        for k in ["", "_2"] {
            assert_eq!(op(&format!("loop/while/Enter{k}")), Some("Enter"));
            assert_eq!(op(&format!("loop/while/Merge{k}")), Some("Merge"));
            assert_eq!(op(&format!("loop/while/Switch{k}")), Some("Switch"));
            assert_eq!(op(&format!("loop/while/Identity{k}")), Some("Identity"));
            assert_eq!(
                op(&format!("loop/while/NextIteration{k}")),
                Some("NextIteration")
            );
            assert_eq!(op(&format!("loop/while/Exit{k}")), Some("Exit"));
        }
        // n is invariant: a constant Enter only.
        let enter = g.node("loop/while/Enter_1").unwrap();
        assert_eq!(enter.input, ["n"]);
        assert!(enter.attr_bool("is_constant").unwrap());
        assert!(
            !g.node("loop/while/Enter")
                .unwrap()
                .attr_bool("is_constant")
                .unwrap()
        );
        assert_eq!(enter.attr_int("parallel_iterations").unwrap(), 7);
        assert_eq!(enter.attr_str("frame_name").unwrap(), "loop/while");
        for gone in [
            "loop/while/Merge_1",
            "loop/while/Switch_1",
            "loop/while/Exit_1",
        ] {
            assert_eq!(op(gone), None, "{gone}");
        }
        // cond and body inlined in the frame, wired to the merges / identities.
        assert_eq!(
            g.node("loop/while/cond/less").unwrap().input,
            ["loop/while/Merge", "loop/while/Enter_1"]
        );
        assert_eq!(
            g.node("loop/while/LoopCond").unwrap().input,
            ["loop/while/cond/less"]
        );
        assert_eq!(
            g.node("loop/while/body/dbl").unwrap().input,
            ["loop/while/Identity_2", "loop/while/body/two"]
        );
        assert_eq!(
            g.node("loop/while/body/two").unwrap().input,
            ["^loop/while/Identity"],
            "constants wait on the frame"
        );
        assert_eq!(
            g.node("loop/while/Merge_2").unwrap().input,
            ["loop/while/Enter_2", "loop/while/NextIteration_2"]
        );
        assert_eq!(
            g.node("loop/while/NextIteration_2").unwrap().input,
            ["loop/while/body/next"]
        );
        // Consumers read the exit; the loop node only orders.
        assert_eq!(g.node("out").unwrap().input, ["loop/while/Exit_2"]);
        assert_eq!(op("loop/while"), Some("NoOp"));
        // One lowered loop, no functional one left; the library is gone.
        let loops = g.loops();
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].form, LoopForm::Lowered);
        assert_eq!(loops[0].frame, "loop/while");
        assert!(g.graph_def().library.is_none());
        assert!(g.inlined_calls() >= 1);
    }

    fn with(edit: impl FnOnce(&mut pb::GraphDef)) -> String {
        let mut def = counter();
        edit(&mut def);
        load(def).map(|_| ()).unwrap_err().to_string()
    }

    fn lib<'a>(def: &'a mut pb::GraphDef, name: &str) -> &'a mut pb::FunctionDef {
        def.library
            .as_mut()
            .unwrap()
            .function
            .iter_mut()
            .find(|f| f.signature.as_ref().unwrap().name == name)
            .unwrap()
    }

    fn while_node(def: &mut pb::GraphDef) -> &mut NodeDef {
        def.node
            .iter_mut()
            .find(|n| n.name == "loop/while")
            .unwrap()
    }

    #[test]
    fn broken_loops_are_refused_naming_the_loop() {
        let e = with(|d| {
            let body = while_node(d).attr.get_mut("body").unwrap();
            body.value = Some(attr_value::Value::Func(pb::NameAttrList {
                name: "nowhere".into(),
                ..Default::default()
            }));
        });
        assert!(
            e.contains("'loop/while'") && e.contains("body function 'nowhere' is not in"),
            "{e}"
        );
        let e = with(|d| {
            while_node(d).attr.remove("cond");
        });
        assert!(e.contains("no function attribute 'cond'"), "{e}");
        let e = with(|d| {
            lib(d, "body").signature.as_mut().unwrap().input_arg.pop();
        });
        assert!(
            e.contains("'loop/while'")
                && e.contains("body function 'body' takes 2 arguments and returns 3 values; the loop has 3 variables"),
            "{e}"
        );
        let e = with(|d| {
            lib(d, "cond")
                .signature
                .as_mut()
                .unwrap()
                .output_arg
                .clear();
        });
        assert!(e.contains("cond function 'cond'"), "{e}");
        let e = with(|d| {
            while_node(d).input.pop();
        });
        assert!(e.contains("the loop has 2 variables"), "{e}");
        let e = with(|d| {
            let w = while_node(d);
            w.input.clear();
        });
        assert!(e.contains("without loop variables"), "{e}");
        // The body refers to something it does not define.
        let e = with(|d| {
            lib(d, "body").ret.insert("a2".into(), "ghost:z:0".into());
        });
        assert!(e.contains("'loop/while'") && e.contains("ghost"), "{e}");
    }

    #[test]
    fn a_loop_whose_body_runs_the_loop_again_is_refused() {
        // body(i, m, a) = While(i, m, a) { cond, body }: each lowering makes another.
        let e = with(|d| {
            let mut inner = while_node(d).clone();
            inner.name = "again".into();
            inner.input = vec!["i".into(), "m".into(), "a".into()];
            let body = lib(d, "body");
            body.node_def.push(inner);
            body.ret.insert("a2".into(), "again:output:2".into());
        });
        assert!(e.contains("nest deeper"), "{e}");
    }

    /// [`counter`] with a second loop `loop2/while` fed the first's outputs.
    fn two_loops() -> pb::GraphDef {
        let mut def = counter();
        let mut second = while_node(&mut def).clone();
        second.name = "loop2/while".into();
        second.input = vec![
            "loop/while:0".into(),
            "loop/while:1".into(),
            "loop/while:2".into(),
        ];
        def.node.push(second);
        def
    }

    /// Two loops in a row, the second's bound the first's (invariant) bound
    /// output: a consumer of that output reads the first loop's input.
    #[test]
    fn an_invariant_output_fed_by_another_loop_resolves_through_both() {
        let mut def = two_loops();
        def.node.push(NodeDef {
            name: "bound".into(),
            op: "Identity".into(),
            input: vec!["loop2/while:1".into()],
            ..Default::default()
        });
        let g = load(def).unwrap();
        assert_eq!(g.node("bound").unwrap().input, ["n"]);
        assert_eq!(
            g.node("loop2/while/Enter").unwrap().input,
            ["loop/while/Exit"]
        );
        assert_eq!(g.loops().len(), 2);
    }

    /// `--output-tensor W:k` names a loop's output after lowering too: the
    /// `NoOp` standing for `W` records the tensor each output became (a
    /// carried variable's Exit, an invariant's input resolved through a loop
    /// lowered before it).
    #[test]
    fn a_lowered_loop_still_names_its_outputs() {
        let def = two_loops();
        let g = load(def).unwrap();
        let out = |w: &str, k: usize| g.lowered_loop_output(&TensorId::new(w, k));
        assert_eq!(g.node("loop/while").unwrap().op, "NoOp");
        assert_eq!(
            out("loop/while", 0),
            Some(Ok(TensorId::new("loop/while/Exit", 0)))
        );
        assert_eq!(out("loop/while", 1), Some(Ok(TensorId::new("n", 0))));
        assert_eq!(
            out("loop/while", 2),
            Some(Ok(TensorId::new("loop/while/Exit_2", 0)))
        );
        assert_eq!(out("loop2/while", 1), Some(Ok(TensorId::new("n", 0))));
        assert_eq!(
            out("loop2/while", 2),
            Some(Ok(TensorId::new("loop2/while/Exit_2", 0)))
        );
        assert_eq!(out("loop/while", 3), Some(Err(3)));
        // Not a lowered loop: an ordinary node, a missing one.
        assert_eq!(out("out", 0), None);
        assert_eq!(out("ghost", 0), None);
    }

    #[test]
    fn the_frame_is_not_one_a_tf1_loop_of_the_graph_has() {
        let mut def = counter();
        let mut text = String::from(
            r#"node { name: "tf1/Enter" op: "Enter" input: "x" attr { key: "frame_name" value { s: "loop/while" } } }"#,
        );
        text.push_str(r#" node { name: "tf1/Exit" op: "Exit" input: "tf1/Enter" }"#);
        def.node.extend(
            parse_graph_def(text.as_bytes(), true, "t.pbtxt")
                .unwrap()
                .node,
        );
        let g = load(def).unwrap();
        let enter = g.node("loop/while/Enter").unwrap();
        assert_eq!(enter.attr_str("frame_name").unwrap(), "loop/while/_1");
        let mut frames: Vec<String> = g.loops().into_iter().map(|l| l.frame).collect();
        frames.sort();
        assert_eq!(frames, ["loop/while", "loop/while/_1"]);
    }

    /// The same Keras 3 LSTM frozen both ways (tests/data, other weights):
    /// thaw's lowering of the `While` makes the frame TensorFlow's lowering
    /// made, op for op in its control flow, constant `Enter`s alike.
    #[test]
    fn a_keras_lstm_lowers_to_the_frame_tensorflow_makes() {
        let load_data = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name);
            Graph::new(super::super::load_graph_def(&path).unwrap()).unwrap()
        };
        let summary = |g: &Graph| {
            let loops = g.loops();
            assert_eq!(loops.len(), 1);
            let l = &loops[0];
            let flow: Vec<(String, usize)> = l
                .ops
                .iter()
                .filter(|(op, _)| super::super::is_control_flow(op))
                .map(|(op, &k)| (op.clone(), k))
                .collect();
            let constant = l
                .members
                .iter()
                .map(|&i| &g.nodes()[i])
                .filter(|n| n.op == "Enter" && n.attr_bool("is_constant").unwrap_or(false))
                .count();
            (l.form.clone(), flow, constant)
        };
        let ours = summary(&load_data("k3_lstm_while.pb"));
        let tf = summary(&load_data("k3_lstm.pb"));
        assert_eq!(ours, tf);
        assert_eq!(ours.2, 3, "the kernel, recurrent kernel and bias");
    }

    #[test]
    fn resource_loops_are_left_for_the_refusal() {
        let mut def = counter();
        let w = while_node(&mut def);
        if let Some(attr_value::Value::List(l)) = w.attr.get_mut("T").unwrap().value.as_mut() {
            l.r#type[1] = DataType::DtResource as i32;
        }
        let g = load(def).unwrap();
        assert_eq!(g.node("loop/while").unwrap().op, "StatelessWhile");
        let loops = g.loops();
        assert_eq!(loops.len(), 1);
        assert!(matches!(loops[0].form, LoopForm::Functional { .. }));
    }

    #[test]
    fn control_inputs_wait_before_every_enter_and_names_stay_unique() {
        let mut def = counter();
        while_node(&mut def).input.push("^x".into());
        // A node already named like the first Enter: the lowering picks another name.
        def.node.push(NodeDef {
            name: "loop/while/Enter".into(),
            op: "NoOp".into(),
            ..Default::default()
        });
        let g = load(def).unwrap();
        let ctrl = g.node("loop/while/LoopControlInputs").unwrap();
        assert_eq!(ctrl.op, "NoOp");
        assert_eq!(ctrl.input, ["^x"]);
        let enter = g.node("loop/while/Enter/_1").unwrap();
        assert_eq!(enter.op, "Enter");
        assert_eq!(enter.input, ["zero", "^loop/while/LoopControlInputs"]);
        assert_eq!(
            g.node("loop/while/Merge").unwrap().input[0],
            "loop/while/Enter/_1"
        );
    }
}
