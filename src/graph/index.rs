//! The graph index: nodes by name, data consumers, a topological order, and
//! pass-through nodes (Identity, IdentityN, StopGradient, Snapshot) that
//! matching rules look straight through. Control edges (`^node`) order nodes
//! but never carry data.

use super::{GraphError, NodeExt, Tensor, load, pb};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// One output of one node: `node:slot` (`node` alone means slot 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId {
    pub node: String,
    pub slot: usize,
}

impl TensorId {
    pub fn new(node: impl Into<String>, slot: usize) -> Self {
        TensorId {
            node: node.into(),
            slot,
        }
    }

    /// Parses a NodeDef input (`a`, `a:1`, `^a`) or a user-given tensor name.
    pub fn parse(s: &str) -> TensorId {
        let s = s.strip_prefix('^').unwrap_or(s);
        match s.rsplit_once(':') {
            Some((node, slot)) if !node.is_empty() => match slot.parse() {
                Ok(slot) => TensorId::new(node, slot),
                Err(_) => TensorId::new(s, 0),
            },
            _ => TensorId::new(s, 0),
        }
    }
}

impl fmt::Display for TensorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.slot)
    }
}

/// Ops that forward their inputs unchanged at inference (IdentityN forwards
/// input k to output k).
pub fn is_pass_through(op: &str) -> bool {
    matches!(
        op,
        "Identity" | "IdentityN" | "StopGradient" | "Snapshot" | "PreventGradient"
    )
}

/// Ops that never hold model data, so they are never model outputs.
fn is_non_data(op: &str) -> bool {
    matches!(
        op,
        "NoOp"
            | "Const"
            | "Placeholder"
            | "PlaceholderWithDefault"
            | "Assert"
            | "Print"
            | "PrintV2"
            | "SaveV2"
            | "RestoreV2"
            | "VarHandleOp"
            | "VarIsInitializedOp"
            | "AssignVariableOp"
    )
}

/// An indexed GraphDef.
#[derive(Debug)]
pub struct Graph {
    def: pb::GraphDef,
    by_name: HashMap<String, usize>,
    /// Per node: its data consumers as (consumer index, input position).
    pub(super) consumers: Vec<Vec<(usize, usize)>>,
    /// Parallel to `consumers`: the producer's output slot each one reads
    /// (kept so that finding consumers never re-parses a consumer's inputs,
    /// which was quadratic for a 100,000-input AddN).
    fed_slots: Vec<Vec<usize>>,
    order: Vec<usize>,
    /// Function calls replaced by their bodies and functional loops lowered
    /// (see [`super::inline_calls`]).
    inlined_calls: usize,
}

impl Graph {
    /// Drops every `Const`'s values (its `tensor_content` and typed value
    /// fields), keeping the graph's structure: names, ops, attributes,
    /// shapes. For a caller done with the values: `verify`, once conversion
    /// has copied the weights into the Keras IR, reads the graph only for its
    /// placeholders, outputs and ops, and the file's buffer (which the
    /// contents are slices of) is freed before tract and the interpreter run
    /// (issue 11). The tensor's dtype becomes `DT_INVALID`, so a value read
    /// afterwards is an error ("unsupported dtype"), never zeros.
    pub fn release_constant_values(&mut self) {
        use super::pb::attr_value::Value;
        for node in self.def.node.iter_mut().filter(|n| n.op == "Const") {
            if let Some(Value::Tensor(t)) =
                node.attr.get_mut("value").and_then(|a| a.value.as_mut())
            {
                let shape = t.tensor_shape.take();
                *t = super::pb::TensorProto {
                    tensor_shape: shape,
                    ..Default::default()
                };
            }
        }
    }

    /// Reads and indexes a `.pb` or `.pbtxt` file.
    pub fn load(path: &Path) -> Result<Graph, GraphError> {
        Graph::load_with(path, &[])
    }

    /// [`Graph::load`] with placeholders bound (`--set`), see [`Graph::new_with`].
    pub fn load_with(path: &Path, bindings: &[super::Binding]) -> Result<Graph, GraphError> {
        Graph::new_with(load::load_graph_def(path)?, bindings)
    }

    /// [`Graph::load_with`] from the bytes of the file at `path`, read
    /// already ([`super::read_graph_file`]).
    pub fn from_file_bytes(
        bytes: bytes::Bytes,
        path: &Path,
        bindings: &[super::Binding],
    ) -> Result<Graph, GraphError> {
        Graph::new_with(load::graph_def_from_file_bytes(bytes, path)?, bindings)
    }

    /// [`Graph::new`] after binding placeholders and cutting constant-predicate
    /// conditionals ([`super::resolve_conditionals`]), as the oracle does too.
    pub fn new_with(
        mut def: pb::GraphDef,
        bindings: &[super::Binding],
    ) -> Result<Graph, GraphError> {
        super::resolve_conditionals(&mut def, bindings)?;
        Graph::new(def)
    }

    /// Indexes a GraphDef: function calls inlined (and functional loops
    /// lowered) first, then unique names,
    /// every input resolvable, acyclic (ignoring `NextIteration` back edges of
    /// TF1 loops).
    pub fn new(mut def: pb::GraphDef) -> Result<Graph, GraphError> {
        let inlined_calls = super::inline_calls(&mut def)?;
        check_sizes(&def)?;
        let mut by_name = HashMap::with_capacity(def.node.len());
        for (i, n) in def.node.iter().enumerate() {
            if by_name.insert(n.name.clone(), i).is_some() {
                return Err(GraphError::Duplicate(n.name.clone()));
            }
        }
        let mut consumers = vec![Vec::new(); def.node.len()];
        let mut fed_slots = vec![Vec::new(); def.node.len()];
        let mut preds = vec![Vec::new(); def.node.len()];
        for (i, n) in def.node.iter().enumerate() {
            let mut pos = 0;
            if let Some(w) = n
                .input
                .windows(2)
                .find(|w| w[0].starts_with('^') && !w[1].starts_with('^'))
            {
                return Err(GraphError::node(
                    n,
                    format!(
                        "data input '{}' comes after control input '{}' (TensorFlow refuses this too)",
                        w[1], w[0]
                    ),
                ));
            }
            for input in &n.input {
                let t = TensorId::parse(input);
                let &p = by_name
                    .get(&t.node)
                    .ok_or_else(|| GraphError::DanglingInput {
                        node: n.name.clone(),
                        input: input.clone(),
                    })?;
                if def.node[p].op != "NextIteration" {
                    preds[i].push(p);
                }
                if !input.starts_with('^') {
                    consumers[p].push((i, pos));
                    fed_slots[p].push(t.slot);
                    pos += 1;
                }
            }
        }
        exits_after_enters(&def, &by_name, &mut preds);
        let order = topo_sort(&def, &preds)?;
        Ok(Graph {
            def,
            by_name,
            consumers,
            fed_slots,
            order,
            inlined_calls,
        })
    }

    /// How many function calls were inlined and functional loops lowered
    /// while loading (0: the GraphDef is exactly the file's).
    pub fn inlined_calls(&self) -> usize {
        self.inlined_calls
    }

    pub fn graph_def(&self) -> &pb::GraphDef {
        &self.def
    }

    pub fn nodes(&self) -> &[pb::NodeDef] {
        &self.def.node
    }

    pub fn node(&self, name: &str) -> Option<&pb::NodeDef> {
        self.by_name.get(name).map(|&i| &self.def.node[i])
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Node indices in a topological order (producers before consumers).
    pub fn topo_order(&self) -> &[usize] {
        &self.order
    }

    /// The tensor that really holds `t`'s value, looking back through
    /// pass-through nodes.
    pub fn resolve(&self, t: &TensorId) -> TensorId {
        let mut t = t.clone();
        while let Some(n) = self.node(&t.node) {
            if !is_pass_through(&n.op) {
                break;
            }
            let k = if n.op == "IdentityN" { t.slot } else { 0 };
            match n.data_inputs().get(k) {
                Some(i) => t = TensorId::parse(i),
                None => break,
            }
        }
        t
    }

    /// The `k`-th data input of `node`, resolved through pass-through nodes.
    pub fn input(&self, node: &pb::NodeDef, k: usize) -> Result<TensorId, GraphError> {
        // Control inputs come last (checked by `Graph::new`, as TensorFlow
        // does), so data input k is `input[k]`: O(1), where collecting the
        // data inputs was quadratic over a 100,000-input AddN.
        let raw = node
            .input
            .get(k)
            .filter(|i| !i.starts_with('^'))
            .ok_or_else(|| {
                GraphError::node(
                    node,
                    format!(
                        "expected at least {} inputs, has {}",
                        k + 1,
                        node.data_inputs().len()
                    ),
                )
            })?;
        Ok(self.resolve(&TensorId::parse(raw)))
    }

    /// The node producing the `k`-th data input of `node` (resolved).
    pub fn input_node(&self, node: &pb::NodeDef, k: usize) -> Result<&pb::NodeDef, GraphError> {
        let t = self.input(node, k)?;
        self.node(&t.node).ok_or_else(|| GraphError::DanglingInput {
            node: node.name.clone(),
            input: t.node.clone(),
        })
    }

    /// The value of a tensor if it is (through pass-through nodes) a `Const`.
    pub fn const_value(&self, t: &TensorId) -> Option<Result<Tensor, GraphError>> {
        let t = self.resolve(t);
        let n = self.node(&t.node)?;
        (n.op == "Const" && t.slot == 0).then(|| n.attr_tensor("value"))
    }

    /// The `k`-th data input of `node` as a constant, if it is one.
    pub fn const_input(&self, node: &pb::NodeDef, k: usize) -> Option<Result<Tensor, GraphError>> {
        self.input(node, k).ok().and_then(|t| self.const_value(&t))
    }

    /// Data consumers of `t` as (node index, input position), looking through
    /// pass-through nodes.
    pub fn consumers(&self, t: &TensorId) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut stack = vec![t.clone()];
        while let Some(t) = stack.pop() {
            let Some(idx) = self.index_of(&t.node) else {
                continue;
            };
            for (&(c, pos), &fed) in self.consumers[idx].iter().zip(&self.fed_slots[idx]) {
                let cn = &self.def.node[c];
                if fed != t.slot {
                    continue;
                }
                if is_pass_through(&cn.op) {
                    let slot = if cn.op == "IdentityN" { pos } else { 0 };
                    stack.push(TensorId::new(cn.name.clone(), slot));
                } else {
                    out.push((c, pos));
                }
            }
        }
        out
    }

    /// The graph's inputs: its `Placeholder` nodes, in file order, except
    /// the ones TensorFlow leaves behind when it lowers a loop (see
    /// [`is_unused_control_flow_input`](Graph::is_unused_control_flow_input)).
    pub fn placeholders(&self) -> Vec<&pb::NodeDef> {
        self.def
            .node
            .iter()
            .filter(|n| n.op == "Placeholder" && !self.is_unused_control_flow_input(n))
            .collect()
    }

    /// Whether `node` is a placeholder that freezing a graph with loops
    /// leaves behind: `convert_variables_to_constants_v2` lowers each `While`
    /// into TF1 control flow and keeps, for every loop variable, a
    /// `Placeholder` named `unused_control_flow_input[_N]` (of any dtype,
    /// `DT_VARIANT` included) that no node reads. It is not a model input.
    /// Both conditions are required: a read placeholder is a real input,
    /// whatever its name.
    pub fn is_unused_control_flow_input(&self, node: &pb::NodeDef) -> bool {
        let named = node
            .name
            .strip_prefix("unused_control_flow_input")
            .is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix('_')
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            });
        if node.op != "Placeholder" || !named {
            return false;
        }
        let unread_data = self
            .index_of(&node.name)
            .is_some_and(|i| self.consumers[i].is_empty());
        let control = format!("^{}", node.name);
        unread_data && !self.def.node.iter().any(|n| n.input.contains(&control))
    }

    /// The tensor standing for output `t` of a functional loop lowered at
    /// load (its node is then a `NoOp`, see `lower_while`): its `Exit`, or
    /// for a loop-invariant variable the value that entered. `None` if
    /// `t.node` is no lowered loop; `Some(Err(n))` if the loop has `n`
    /// outputs and none at `t.slot`.
    pub fn lowered_loop_output(&self, t: &TensorId) -> Option<Result<TensorId, usize>> {
        super::lower_while::lowered_output(self.node(&t.node)?, t.slot)
    }

    /// The graph's outputs: data-carrying nodes that nothing consumes (so a
    /// trailing `Identity` named by TensorFlow, not the op behind it).
    /// IdentityN sinks give one output per input.
    ///
    /// A GraphDef does not record an output order, and tools rewrite node
    /// order, so outputs come in natural name order: `Identity`, `Identity_1`,
    /// …, `Identity_10`, which is the order of a frozen Keras model's outputs.
    ///
    /// Not outputs either: a sink that is (through pass-through nodes) a
    /// `Const` — a weight read only by a control edge, as frozen loops leave
    /// them — or a control-flow node (an `Exit` of a loop variable nothing
    /// reads, the `Identity` TensorFlow hangs on a loop's `Switch`).
    pub fn sinks(&self) -> Vec<TensorId> {
        let mut out = Vec::new();
        for (i, n) in self.def.node.iter().enumerate() {
            if !self.consumers[i].is_empty() || is_non_data(&n.op) {
                continue;
            }
            let behind = self.resolve(&TensorId::new(n.name.clone(), 0));
            // A loop's `Exit` nobody reads is no output; an Identity naming
            // one is (TF1 `dynamic_rnn`'s final state as the graph's output).
            let names_exit = n.op != "Exit" && n.op != "RefExit";
            if self.node(&behind.node).is_some_and(|b| {
                b.op == "Const"
                    || (super::is_control_flow(&b.op)
                        && !(names_exit && matches!(b.op.as_str(), "Exit" | "RefExit")))
            }) {
                continue;
            }
            if n.op == "IdentityN" {
                out.extend((0..n.data_inputs().len()).map(|k| TensorId::new(n.name.clone(), k)));
            } else {
                out.push(TensorId::new(n.name.clone(), 0));
            }
        }
        out.sort_by(|a, b| {
            natural_key(&a.node)
                .cmp(&natural_key(&b.node))
                .then(a.slot.cmp(&b.slot))
        });
        out
    }
}

/// `name_12` sorts after `name_2` and after `name`.
fn natural_key(name: &str) -> (&str, u64) {
    match name.rsplit_once('_') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (head, n.parse().unwrap_or(u64::MAX))
        }
        _ => (name, 0),
    }
}

/// Data inputs of ops whose arity is fixed: a node with another count is
/// corrupt (TensorFlow would refuse it), and must not reach conversion or the
/// oracle (a MatMul with three inputs was converted, then failed in tract).
fn fixed_arity(op: &str) -> Option<usize> {
    Some(match op {
        "Relu" | "Relu6" | "Tanh" | "Sigmoid" | "Softmax" | "Elu" | "Selu" | "Exp" | "Sqrt"
        | "Rsqrt" | "Square" | "Neg" | "Abs" => 1,
        "MatMul"
        | "BatchMatMul"
        | "BatchMatMulV2"
        | "BiasAdd"
        | "Conv2D"
        | "DepthwiseConv2dNative"
        | "Add"
        | "AddV2"
        | "Sub"
        | "Mul"
        | "RealDiv"
        | "Maximum"
        | "Minimum"
        | "Reshape"
        | "Pad"
        | "MirrorPad" => 2,
        _ => return None,
    })
}

/// Refuses, before anything is decoded or allocated, Consts whose shape is
/// negative, over the size budget or inconsistent with their bytes,
/// Placeholders with a dimension below -1 (-1 is "unknown"), attributes
/// without a value, type attributes that are not TensorFlow types, and ops of fixed arity with another
/// number of data inputs.
fn check_sizes(def: &pb::GraphDef) -> Result<(), GraphError> {
    use super::pb::attr_value::Value;
    for n in &def.node {
        // TensorFlow refuses such a name; HDF5 cannot store it as a layer
        // name (found by the convert fuzz campaign).
        if n.name.contains('\0') {
            return Err(GraphError::node(
                n,
                "the node name holds a NUL byte (a damaged graph)",
            ));
        }
        if let Some(k) = fixed_arity(&n.op) {
            let has = n.input.iter().filter(|i| !i.starts_with('^')).count();
            if has != k {
                return Err(GraphError::node(
                    n,
                    format!("{} takes {k} data input(s), the node has {has}", n.op),
                ));
            }
        }
        for (key, a) in &n.attr {
            // TensorFlow refuses to import a graph with such an attribute;
            // every reader (thaw's, tract's) would find nothing to read.
            if a.value.is_none() {
                return Err(GraphError::node(
                    n,
                    format!(
                        "attribute '{key}' has no value (a damaged graph: TensorFlow refuses it)"
                    ),
                ));
            }
            if let Some(Value::Type(t)) = &a.value
                && pb::DataType::try_from(*t).is_err()
            {
                return Err(GraphError::node(
                    n,
                    format!("attribute '{key}' holds {t}, which is not a TensorFlow type"),
                ));
            }
        }
        for a in n.attr.values() {
            match &a.value {
                Some(Value::Tensor(t)) => {
                    Tensor::check_proto(t).map_err(|e| GraphError::node(n, e))?;
                }
                Some(Value::Shape(s)) if n.op.starts_with("Placeholder") => {
                    if let Some(d) = s.dim.iter().find(|d| d.size < -1) {
                        return Err(GraphError::node(
                            n,
                            format!(
                                "shape has dimension {} (only -1, unknown, may be negative)",
                                d.size
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Orders every `Exit` of a TF1 while loop after every `Enter` of its frame.
/// With the back edges (`NextIteration`) left out of the order, an `Exit` can
/// otherwise depend on nothing the loop reads: a loop whose output list is a
/// `TensorListReserve` of constant size (a fixed batch) would be ordered, with
/// what follows it, before the layer that feeds the loop, and conversion
/// would visit the layer after the loop before the loop's own.
fn exits_after_enters(
    def: &pb::GraphDef,
    by_name: &HashMap<String, usize>,
    preds: &mut [Vec<usize>],
) {
    let frame_of_enter =
        |n: &pb::NodeDef| match n.attr.get("frame_name").and_then(|a| a.value.as_ref()) {
            Some(pb::attr_value::Value::S(s)) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        };
    let mut enters: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in def.node.iter().enumerate() {
        if n.op == "Enter"
            && let Some(f) = frame_of_enter(n)
        {
            enters.entry(f).or_default().push(i);
        }
    }
    if enters.is_empty() {
        return;
    }
    let input_node = |n: &pb::NodeDef, op: &str| {
        n.input
            .iter()
            .filter(|i| !i.starts_with('^'))
            .filter_map(|i| by_name.get(&TensorId::parse(i).node))
            .map(|&j| &def.node[j])
            .find(|p| p.op == op)
    };
    for (i, n) in def.node.iter().enumerate() {
        if n.op != "Exit" {
            continue;
        }
        // Exit <- Switch <- Merge <- Enter (frame_name).
        let frame = input_node(n, "Switch")
            .and_then(|sw| input_node(sw, "Merge"))
            .and_then(|m| input_node(m, "Enter"))
            .and_then(frame_of_enter);
        if let Some(list) = frame.and_then(|f| enters.get(&f)) {
            preds[i].extend(list.iter().copied());
        }
    }
}

fn topo_sort(def: &pb::GraphDef, preds: &[Vec<usize>]) -> Result<Vec<usize>, GraphError> {
    let n = def.node.len();
    let mut indegree: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut succs = vec![Vec::new(); n];
    for (i, ps) in preds.iter().enumerate() {
        for &p in ps {
            succs[p].push(i);
        }
    }
    // File order among ready nodes keeps the order stable and familiar.
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &s in &succs[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.insert(s);
            }
        }
    }
    if order.len() != n {
        let stuck = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
        return Err(GraphError::Cycle {
            node: def.node[stuck].name.clone(),
        });
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::parse_graph_def;

    fn graph(text: &str) -> Graph {
        Graph::new(parse_graph_def(text.as_bytes(), true, "t.pbtxt").unwrap()).unwrap()
    }

    const G: &str = r#"
node { name: "out" op: "Identity" input: "n/y" }
node { name: "x" op: "Placeholder" }
node { name: "w" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT float_val: 2 } } } }
node { name: "wi" op: "Identity" input: "w" }
node { name: "n/y" op: "Mul" input: "idn:1" input: "wi" input: "^noop" }
node { name: "idn" op: "IdentityN" input: "w" input: "x" }
node { name: "noop" op: "NoOp" }
"#;

    #[test]
    fn parses_tensor_names() {
        assert_eq!(TensorId::parse("a/b:2"), TensorId::new("a/b", 2));
        assert_eq!(TensorId::parse("^c"), TensorId::new("c", 0));
        assert_eq!(TensorId::parse("d"), TensorId::new("d", 0));
        assert_eq!(TensorId::new("e", 1).to_string(), "e:1");
    }

    #[test]
    fn topo_order_respects_data_and_control_edges() {
        let g = graph(G);
        let pos = |name: &str| {
            g.topo_order()
                .iter()
                .position(|&i| g.nodes()[i].name == name)
                .unwrap()
        };
        assert!(pos("x") < pos("idn"));
        assert!(pos("idn") < pos("n/y"));
        assert!(pos("noop") < pos("n/y"));
        assert!(pos("n/y") < pos("out"));
    }

    #[test]
    fn pass_through_is_transparent() {
        let g = graph(G);
        let mul = g.node("n/y").unwrap();
        assert_eq!(g.input(mul, 0).unwrap(), TensorId::new("x", 0));
        assert_eq!(g.input(mul, 1).unwrap(), TensorId::new("w", 0));
        assert_eq!(g.const_input(mul, 1).unwrap().unwrap().to_f32().sum(), 2.0);
        let cons = g.consumers(&TensorId::new("x", 0));
        assert_eq!(cons, vec![(g.index_of("n/y").unwrap(), 0)]);
        assert_eq!(g.sinks(), vec![TensorId::new("out", 0)]);
        assert_eq!(g.placeholders().len(), 1);
    }

    #[test]
    fn constants_and_loop_leftovers_are_not_outputs() {
        let g = graph(
            r#"
node { name: "x" op: "Placeholder" }
node { name: "w" op: "Const" }
node { name: "w/read" op: "Identity" input: "w" }
node { name: "while/Switch" op: "Switch" input: "x" input: "x" }
node { name: "while/body_control" op: "Identity" input: "while/Switch:1" }
node { name: "while/Exit" op: "Exit" input: "while/Switch" }
node { name: "y" op: "Relu" input: "x" }
node { name: "Identity" op: "Identity" input: "y" input: "^w/read" }
"#,
        );
        assert_eq!(g.sinks(), vec![TensorId::new("Identity", 0)]);
    }

    #[test]
    fn unread_control_flow_placeholders_are_not_inputs() {
        let g = graph(
            r#"
node { name: "x" op: "Placeholder" }
node { name: "unused_control_flow_input" op: "Placeholder" attr { key: "dtype" value { type: DT_VARIANT } } }
node { name: "unused_control_flow_input_12" op: "Placeholder" }
node { name: "unused_control_flow_input_3" op: "Placeholder" }
node { name: "unused_control_flow_input_4" op: "Placeholder" }
node { name: "unused_control_flow_inputs" op: "Placeholder" }
node { name: "y" op: "AddV2" input: "x" input: "unused_control_flow_input_3" input: "^unused_control_flow_input_4" }
"#,
        );
        let names: Vec<&str> = g.placeholders().iter().map(|n| n.name.as_str()).collect();
        // _3 is read (data) and _4 ordered (control): real inputs; another
        // name is never dropped, read or not.
        assert_eq!(
            names,
            [
                "x",
                "unused_control_flow_input_3",
                "unused_control_flow_input_4",
                "unused_control_flow_inputs"
            ]
        );
    }

    #[test]
    fn outputs_come_in_natural_name_order() {
        let g = graph(
            r#"
node { name: "x" op: "Placeholder" }
node { name: "Identity_10" op: "Identity" input: "x" }
node { name: "Identity_2" op: "Identity" input: "x" }
node { name: "Identity" op: "Identity" input: "x" }
"#,
        );
        let names: Vec<_> = g.sinks().into_iter().map(|t| t.node).collect();
        assert_eq!(names, ["Identity", "Identity_2", "Identity_10"]);
    }

    #[test]
    fn dangling_input_and_cycle_are_errors() {
        let d = parse_graph_def(
            b"node { name: \"a\" op: \"Relu\" input: \"nope\" }",
            true,
            "t",
        )
        .unwrap();
        assert!(Graph::new(d).unwrap_err().to_string().contains("'nope'"));
        let c = parse_graph_def(
            b"node { name: \"a\" op: \"Relu\" input: \"b\" } node { name: \"b\" op: \"Relu\" input: \"a\" }",
            true,
            "t",
        )
        .unwrap();
        assert!(matches!(
            Graph::new(c).unwrap_err(),
            GraphError::Cycle { .. }
        ));
    }

    /// A loop's final value named by an Identity is an output (TF1
    /// `dynamic_rnn`'s `state.h` frozen as the graph's output); an `Exit`
    /// nobody reads (every loop variable has one) is not.
    #[test]
    fn an_identity_of_a_loop_exit_is_an_output_a_bare_exit_is_not() {
        let g = graph(
            r#"
node { name: "x" op: "Placeholder" }
node { name: "w/Enter" op: "Enter" input: "x" attr { key: "frame_name" value { s: "w" } } }
node { name: "w/Merge" op: "Merge" input: "w/Enter" input: "w/NextIteration" }
node { name: "w/LoopCond" op: "LoopCond" input: "w/Merge" }
node { name: "w/Switch" op: "Switch" input: "w/Merge" input: "w/LoopCond" }
node { name: "w/Tanh" op: "Tanh" input: "w/Switch:1" }
node { name: "w/NextIteration" op: "NextIteration" input: "w/Tanh" }
node { name: "w/Exit" op: "Exit" input: "w/Switch" }
node { name: "w/Exit_1" op: "Exit" input: "w/Switch" }
node { name: "out" op: "Identity" input: "w/Exit" }
"#,
        );
        assert_eq!(g.sinks(), [TensorId::new("out", 0)]);
    }
}
