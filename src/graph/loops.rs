//! TensorFlow loops in a frozen graph: where they are and which nodes they
//! hold, so that conversion can refuse each one with a single clear message
//! instead of one line per node.
//!
//! Keras's recurrent layers (LSTM, GRU, SimpleRNN, and anything built on
//! `keras.layers.RNN`) run their cell in a `tf.while_loop`. Freezing leaves
//! that loop in one of two forms:
//! - **lowered** (what `convert_variables_to_constants_v2` does by default, and
//!   what TF1 graphs hold): TF1 control flow, one *frame* per loop. `Enter`
//!   nodes (attribute `frame_name`) carry values into the frame, `Merge` /
//!   `NextIteration` close each loop variable's cycle, `LoopCond` + `Switch`
//!   decide whether to go round again, `Exit` carries values out. The sequence
//!   is read and written through `TensorList*` ops on `DT_VARIANT` tensors.
//! - **functional**: one `While` / `StatelessWhile` node whose `cond` and
//!   `body` attributes name functions of the GraphDef's library. Loading
//!   lowers it into the first form ([`super::lower_while`]); only loops it
//!   leaves alone (carrying `DT_RESOURCE` variables) are found in this form.
//!
//! A node's frame is found the way TensorFlow's executor finds it: in
//! topological order (the graph index already ignores `NextIteration` back
//! edges), a node lives in the frame of its inputs; `Enter` opens its frame
//! inside its input's frame; `Exit` returns to the parent frame. A loop's
//! members are every node of its frame and of the frames nested in it, plus
//! the `Exit` nodes leaving it.
//!
//! Not handled: loops whose `Enter` nodes disagree on the parent frame (not
//! something TensorFlow builds) are grouped by frame name alone.

use super::pb::attr_value::Value;
use super::{Graph, NodeExt, TensorId};
use std::collections::{BTreeMap, HashMap};

/// How a loop is written in the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoopForm {
    /// TF1 control flow (`Enter`/`Merge`/`Switch`/`NextIteration`/`Exit`/`LoopCond`).
    Lowered,
    /// A `While` / `StatelessWhile` node and its library functions.
    Functional { cond: String, body: String },
}

/// One top-level loop of a graph.
#[derive(Clone, Debug)]
pub struct Loop {
    /// The frame name (lowered), or the `While` node's name (functional),
    /// e.g. `model/lstm/PartitionedCall/while`.
    pub frame: String,
    /// The node that stands for the loop: its `LoopCond` (lowered; the first
    /// `Enter` if there is none) or the `While` node.
    pub node: String,
    pub op: String,
    pub form: LoopForm,
    /// Graph node indices of the loop, in topological order (lowered: every
    /// node of the frame and its nested frames, and the `Exit` nodes;
    /// functional: the `While` node).
    pub members: Vec<usize>,
    /// Op → count over the loop's nodes (functional: the `cond` and `body`
    /// functions' nodes, when the library is present).
    pub ops: BTreeMap<String, usize>,
    /// Frames nested in this one (loops inside the loop body).
    pub nested: Vec<String>,
}

/// Ops that only exist to carry TF1 control flow.
pub fn is_control_flow(op: &str) -> bool {
    matches!(
        op,
        "Enter"
            | "RefEnter"
            | "Exit"
            | "RefExit"
            | "Merge"
            | "RefMerge"
            | "Switch"
            | "RefSwitch"
            | "NextIteration"
            | "RefNextIteration"
            | "LoopCond"
            | "While"
            | "StatelessWhile"
            | "_While"
            | "If"
            | "StatelessIf"
    )
}

fn is_enter(op: &str) -> bool {
    matches!(op, "Enter" | "RefEnter")
}

fn is_exit(op: &str) -> bool {
    matches!(op, "Exit" | "RefExit")
}

fn is_functional_while(op: &str) -> bool {
    matches!(op, "While" | "StatelessWhile" | "_While")
}

impl Graph {
    /// The graph's top-level loops, lowered ones first (in the order their
    /// first node comes topologically), then functional ones.
    pub fn loops(&self) -> Vec<Loop> {
        let mut loops = self.lowered_loops();
        loops.extend(self.functional_loops());
        self.in_data_flow_order(loops)
    }

    /// Loops reordered so that a loop fed (through data edges) by another
    /// comes after it: a stacked LSTM → GRU lists the LSTM first, although
    /// the GRU's frame may start earlier in topological order (its constant
    /// `Enter`s do not wait for the LSTM). Otherwise the order is kept.
    fn in_data_flow_order(&self, loops: Vec<Loop>) -> Vec<Loop> {
        if loops.len() < 2 {
            return loops;
        }
        // Everything downstream of each loop, through data edges.
        let reach: Vec<std::collections::HashSet<usize>> = loops
            .iter()
            .map(|l| {
                let mut seen: std::collections::HashSet<usize> = Default::default();
                let mut stack = l.members.clone();
                while let Some(i) = stack.pop() {
                    for &(c, _) in &self.consumers[i] {
                        if seen.insert(c) {
                            stack.push(c);
                        }
                    }
                }
                seen
            })
            .collect();
        let feeds =
            |a: usize, b: usize| a != b && loops[b].members.iter().any(|m| reach[a].contains(m));
        let mut placed = vec![false; loops.len()];
        let mut order = Vec::with_capacity(loops.len());
        while order.len() < loops.len() {
            // The first unplaced loop that no other unplaced loop feeds
            // (loops feeding each other: the first unplaced one).
            let next = (0..loops.len())
                .filter(|&b| !placed[b])
                .find(|&b| !(0..loops.len()).any(|a| !placed[a] && !feeds(b, a) && feeds(a, b)))
                .or_else(|| (0..loops.len()).find(|&b| !placed[b]))
                .unwrap_or(0);
            placed[next] = true;
            order.push(next);
        }
        let mut slots: Vec<Option<Loop>> = loops.into_iter().map(Some).collect();
        order.into_iter().filter_map(|k| slots[k].take()).collect()
    }

    fn lowered_loops(&self) -> Vec<Loop> {
        let nodes = self.nodes();
        // Frame of every node: None = the root frame; Some(k) = frames[k].
        let mut frames: Vec<(String, Option<usize>)> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut frame_of: Vec<Option<usize>> = vec![None; nodes.len()];
        let mut exits: Vec<(usize, usize)> = Vec::new(); // (exit node, frame it leaves)
        for &i in self.topo_order() {
            let n = &nodes[i];
            // The frame of the inputs: the first input that is inside one
            // (constants and other root-frame nodes may feed any frame).
            let input_frame = n
                .input
                .iter()
                .filter_map(|s| self.index_of(&TensorId::parse(s).node))
                .find_map(|p| frame_of[p]);
            frame_of[i] = if is_enter(&n.op) {
                let name = n.attr_str("frame_name").unwrap_or_else(|_| n.name.clone());
                let k = *by_name.entry(name.clone()).or_insert_with(|| {
                    frames.push((name, input_frame));
                    frames.len() - 1
                });
                Some(k)
            } else if is_exit(&n.op) {
                match input_frame {
                    Some(k) => {
                        exits.push((i, k));
                        frames[k].1
                    }
                    None => None,
                }
            } else {
                input_frame
            };
        }
        let top = |mut k: usize| {
            while let Some(p) = frames[k].1 {
                k = p;
            }
            k
        };
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let position: HashMap<usize, usize> = self
            .topo_order()
            .iter()
            .enumerate()
            .map(|(pos, &i)| (i, pos))
            .collect();
        for &i in self.topo_order() {
            if let Some(k) = frame_of[i] {
                members.entry(top(k)).or_default().push(i);
            }
        }
        for &(i, k) in &exits {
            if frames[k].1.is_none() {
                members.entry(k).or_default().push(i);
            }
        }
        let mut loops: Vec<Loop> = members
            .into_iter()
            .map(|(k, mut idx)| {
                idx.sort_by_key(|i| position.get(i).copied().unwrap_or(usize::MAX));
                let anchor = idx
                    .iter()
                    .find(|&&i| nodes[i].op == "LoopCond")
                    .or_else(|| idx.iter().find(|&&i| is_enter(&nodes[i].op)))
                    .or(idx.first())
                    .copied()
                    .unwrap_or(0);
                let mut ops = BTreeMap::new();
                for &i in &idx {
                    *ops.entry(nodes[i].op.clone()).or_default() += 1;
                }
                let nested = (0..frames.len())
                    .filter(|&j| j != k && top(j) == k)
                    .map(|j| frames[j].0.clone())
                    .collect();
                Loop {
                    frame: frames[k].0.clone(),
                    node: nodes[anchor].name.clone(),
                    op: nodes[anchor].op.clone(),
                    form: LoopForm::Lowered,
                    members: idx,
                    ops,
                    nested,
                }
            })
            .collect();
        loops.sort_by_key(|l| {
            l.members
                .first()
                .and_then(|i| position.get(i).copied())
                .unwrap_or(usize::MAX)
        });
        loops
    }

    fn functional_loops(&self) -> Vec<Loop> {
        let library: HashMap<&str, &super::pb::FunctionDef> = self
            .graph_def()
            .library
            .iter()
            .flat_map(|l| &l.function)
            .filter_map(|f| f.signature.as_ref().map(|s| (s.name.as_str(), f)))
            .collect();
        let func = |n: &super::pb::NodeDef, attr: &str| match n.attr(attr) {
            Some(Value::Func(f)) => f.name.clone(),
            _ => String::new(),
        };
        self.topo_order()
            .iter()
            .filter(|&&i| is_functional_while(&self.nodes()[i].op))
            .map(|&i| {
                let n = &self.nodes()[i];
                let (cond, body) = (func(n, "cond"), func(n, "body"));
                let mut ops = BTreeMap::new();
                for f in [&cond, &body] {
                    for b in library.get(f.as_str()).iter().flat_map(|f| &f.node_def) {
                        *ops.entry(b.op.clone()).or_default() += 1;
                    }
                }
                let nested = library
                    .get(body.as_str())
                    .iter()
                    .flat_map(|f| &f.node_def)
                    .filter(|b| is_functional_while(&b.op) || is_enter(&b.op))
                    .map(|b| b.name.clone())
                    .collect();
                Loop {
                    frame: n.name.clone(),
                    node: n.name.clone(),
                    op: n.op.clone(),
                    form: LoopForm::Functional { cond, body },
                    members: vec![i],
                    ops,
                    nested,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::parse_graph_def;

    fn graph(text: &str) -> Graph {
        Graph::new(parse_graph_def(text.as_bytes(), true, "t.pbtxt").unwrap()).unwrap()
    }

    /// `i = 0; while i < n: i += 1` lowered, in scope `rnn/while`, with the
    /// nodes before and after it outside the frame.
    const LOWERED: &str = r#"
node { name: "x" op: "Placeholder" }
node { name: "n" op: "Const" }
node { name: "rnn/zero" op: "Const" }
node { name: "rnn/while/Enter" op: "Enter" input: "rnn/zero" attr { key: "frame_name" value { s: "rnn/while" } } }
node { name: "rnn/while/Enter_1" op: "Enter" input: "n" attr { key: "frame_name" value { s: "rnn/while" } } }
node { name: "rnn/while/Merge" op: "Merge" input: "rnn/while/Enter" input: "rnn/while/NextIteration" }
node { name: "rnn/while/Less" op: "Less" input: "rnn/while/Merge" input: "rnn/while/Enter_1" }
node { name: "rnn/while/LoopCond" op: "LoopCond" input: "rnn/while/Less" }
node { name: "rnn/while/Switch" op: "Switch" input: "rnn/while/Merge" input: "rnn/while/LoopCond" }
node { name: "rnn/while/Identity" op: "Identity" input: "rnn/while/Switch:1" }
node { name: "rnn/while/one" op: "Const" input: "^rnn/while/Identity" }
node { name: "rnn/while/add" op: "AddV2" input: "rnn/while/Identity" input: "rnn/while/one" }
node { name: "rnn/while/NextIteration" op: "NextIteration" input: "rnn/while/add" }
node { name: "rnn/while/Exit" op: "Exit" input: "rnn/while/Switch" }
node { name: "out" op: "AddV2" input: "rnn/while/Exit" input: "x" }
"#;

    #[test]
    fn finds_a_lowered_loop_and_its_members() {
        let g = graph(LOWERED);
        let loops = g.loops();
        assert_eq!(loops.len(), 1);
        let l = &loops[0];
        assert_eq!(l.frame, "rnn/while");
        assert_eq!(
            (l.node.as_str(), l.op.as_str()),
            ("rnn/while/LoopCond", "LoopCond")
        );
        assert_eq!(l.form, LoopForm::Lowered);
        let names: Vec<&str> = l
            .members
            .iter()
            .map(|&i| g.nodes()[i].name.as_str())
            .collect();
        for inside in [
            "rnn/while/Enter",
            "rnn/while/add",
            "rnn/while/one",
            "rnn/while/Exit",
        ] {
            assert!(names.contains(&inside), "{inside} missing from {names:?}");
        }
        for outside in ["x", "n", "rnn/zero", "out"] {
            assert!(!names.contains(&outside), "{outside} wrongly in {names:?}");
        }
        assert_eq!(l.ops.get("NextIteration"), Some(&1));
        assert!(l.nested.is_empty());
    }

    #[test]
    fn a_nested_frame_belongs_to_its_outer_loop() {
        // An inner loop whose Enter reads the outer loop's Identity.
        let text = LOWERED.to_string()
            + r#"
node { name: "rnn/while/inner/Enter" op: "Enter" input: "rnn/while/Identity" attr { key: "frame_name" value { s: "rnn/while/inner" } } }
node { name: "rnn/while/inner/Exit" op: "Exit" input: "rnn/while/inner/Enter" }
node { name: "rnn/while/use" op: "AddV2" input: "rnn/while/inner/Exit" input: "rnn/while/Identity" }
"#;
        let g = graph(&text);
        let loops = g.loops();
        assert_eq!(loops.len(), 1, "one top-level loop");
        assert_eq!(loops[0].nested, ["rnn/while/inner"]);
        let names: Vec<&str> = loops[0]
            .members
            .iter()
            .map(|&i| g.nodes()[i].name.as_str())
            .collect();
        assert!(names.contains(&"rnn/while/inner/Exit"));
        assert!(names.contains(&"rnn/while/use"), "back in the outer frame");
    }

    /// A functional loop loading leaves alone (one carrying a resource; see
    /// `lower_while`).
    #[test]
    fn finds_a_functional_while_with_its_functions() {
        let g = graph(
            r#"
node { name: "x" op: "Placeholder" }
node { name: "lstm/while" op: "StatelessWhile" input: "x"
  attr { key: "T" value { list { type: DT_RESOURCE } } }
  attr { key: "cond" value { func { name: "c" } } }
  attr { key: "body" value { func { name: "b" } } } }
node { name: "out" op: "Identity" input: "lstm/while" }
library {
  function { signature { name: "c" } node_def { name: "less" op: "Less" } }
  function { signature { name: "b" } node_def { name: "m" op: "MatMul" } node_def { name: "t" op: "Tanh" } }
}
"#,
        );
        let loops = g.loops();
        assert_eq!(loops.len(), 1);
        let l = &loops[0];
        assert_eq!(
            (l.node.as_str(), l.op.as_str()),
            ("lstm/while", "StatelessWhile")
        );
        assert_eq!(
            l.form,
            LoopForm::Functional {
                cond: "c".into(),
                body: "b".into()
            }
        );
        let ops: Vec<&str> = l.ops.keys().map(String::as_str).collect();
        assert_eq!(ops, ["Less", "MatMul", "Tanh"]);
    }

    #[test]
    fn a_loop_fed_by_another_comes_after_it() {
        // Frame "b" starts first in file (and topological) order with a
        // constant Enter, but its data comes from frame "a"'s Exit.
        let g = graph(
            r#"
node { name: "c" op: "Const" }
node { name: "b/while/Enter_c" op: "Enter" input: "c" attr { key: "frame_name" value { s: "b/while" } } }
node { name: "x" op: "Placeholder" }
node { name: "a/while/Enter" op: "Enter" input: "x" attr { key: "frame_name" value { s: "a/while" } } }
node { name: "a/while/Exit" op: "Exit" input: "a/while/Enter" }
node { name: "b/while/Enter" op: "Enter" input: "a/while/Exit" attr { key: "frame_name" value { s: "b/while" } } }
node { name: "b/while/add" op: "AddV2" input: "b/while/Enter" input: "b/while/Enter_c" }
node { name: "b/while/Exit" op: "Exit" input: "b/while/add" }
"#,
        );
        let frames: Vec<String> = g.loops().into_iter().map(|l| l.frame).collect();
        assert_eq!(frames, ["a/while", "b/while"]);
    }

    #[test]
    fn a_graph_without_loops_has_none() {
        let g = graph(
            r#"node { name: "x" op: "Placeholder" } node { name: "y" op: "Relu" input: "x" }"#,
        );
        assert!(g.loops().is_empty());
    }
}
