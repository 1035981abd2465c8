//! Conditionals whose predicate is a constant, cut down to the live branch
//! before anything else looks at the graph (conversion and the oracle run the
//! same cut graph: both prepare it through [`resolve_conditionals`]).
//!
//! - `PlaceholderWithDefault` with a scalar default folds to that default (so
//!   `keras_learning_phase` means inference), unless a [`Binding`]
//!   (`--set NAME=VALUE`) gives the placeholder (or a plain scalar
//!   `Placeholder`, e.g. a TF1 `is_training`) a value: it becomes a `Const`.
//! - TF2 `If`/`StatelessIf` with a constant predicate becomes a call of the
//!   live branch function (`PartitionedCall`), which `inline_calls` inlines.
//! - TF1 `Switch`/`Merge` (`tf.compat.v1.cond`, Keras 2's `smart_cond` in
//!   BatchNormalization and Dropout): with a constant predicate, the Switch
//!   forwards its data on the live side and the other side is dead; deadness
//!   spreads along data and control edges as in TensorFlow's executor, a
//!   `Merge` is live when one input is. Dead nodes are removed, the Switch and
//!   the Merge become `Identity` nodes (same names, so tensors keep theirs).
//!
//! A predicate folds when it is, through `Identity`-like nodes, a `Const`, a
//! folded placeholder, or `LogicalNot`/`LogicalAnd`/`LogicalOr`/`Cast` of such.
//! Anything else (a predicate computed from a real input, a loop's `LoopCond`)
//! is left as it is: loops are unrolled elsewhere, and conversion refuses a
//! remaining conditional naming its predicate ([`predicate_sources`]).
//!
//! Not handled: a `Merge` whose inputs are all live (a loop's) is untouched;
//! `Case` nodes; bindings of non-scalar placeholders.

use std::collections::{HashMap, HashSet};

use super::pb::{self, DataType, NodeDef, attr_value};
use super::{GraphError, TensorId};

/// `--set NAME=VALUE`: a value for a placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub value: String,
}

impl std::str::FromStr for Binding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => Ok(Binding {
                name: n.trim().to_string(),
                value: v.trim().to_string(),
            }),
            _ => Err(format!("--set {s}: expected NAME=VALUE")),
        }
    }
}

/// What [`resolve_conditionals`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Placeholders folded to their default or bound by a [`Binding`].
    pub placeholders: usize,
    /// `If`/`StatelessIf` nodes replaced by their live branch.
    pub ifs: usize,
    /// `Switch` nodes cut to their live side.
    pub switches: usize,
    /// Nodes removed as dead.
    pub removed: usize,
}

impl Resolved {
    pub fn changed(&self) -> bool {
        *self != Resolved::default()
    }
}

/// Most rounds of `If` → call → inline (a branch may hold another `If`).
const MAX_ROUNDS: usize = 16;

/// Folds placeholders and cuts every constant-predicate conditional of `def`.
pub fn resolve_conditionals(
    def: &mut pb::GraphDef,
    bindings: &[Binding],
) -> Result<Resolved, GraphError> {
    let mut done = Resolved {
        placeholders: bind_placeholders(def, bindings)?,
        ..Resolved::default()
    };
    for _ in 0..MAX_ROUNDS {
        let ifs = cut_ifs(def)?;
        if ifs > 0 {
            super::inline_calls(def)?;
        }
        let (switches, removed) = cut_switches(def);
        done.ifs += ifs;
        done.switches += switches;
        done.removed += removed;
        if ifs == 0 && switches == 0 {
            break;
        }
    }
    Ok(done)
}

fn set_err(b: &Binding, msg: impl std::fmt::Display) -> GraphError {
    GraphError::Node {
        node: b.name.clone(),
        op: "--set".into(),
        msg: format!("--set {}={}: {msg}", b.name, b.value),
    }
}

/// Applies `bindings`, then folds unbound `PlaceholderWithDefault`s with a
/// scalar default to `Identity(default)`.
fn bind_placeholders(def: &mut pb::GraphDef, bindings: &[Binding]) -> Result<usize, GraphError> {
    let mut n = 0;
    for b in bindings {
        let node = def
            .node
            .iter_mut()
            .find(|x| x.name == b.name)
            .ok_or_else(|| set_err(b, "the graph has no node of that name"))?;
        if !matches!(node.op.as_str(), "Placeholder" | "PlaceholderWithDefault") {
            return Err(set_err(
                b,
                format!("node is a {}, not a placeholder", node.op),
            ));
        }
        let dtype = match node.attr.get("dtype").and_then(|a| a.value.as_ref()) {
            Some(attr_value::Value::Type(t)) => DataType::try_from(*t).ok(),
            _ => None,
        }
        .ok_or_else(|| set_err(b, "the placeholder has no dtype"))?;
        if let Some(attr_value::Value::Shape(sh)) =
            node.attr.get("shape").and_then(|a| a.value.as_ref())
            && (sh.unknown_rank || !sh.dim.is_empty())
        {
            return Err(set_err(b, "only scalar placeholders can be set"));
        }
        let value = scalar_proto(dtype, &b.value).map_err(|m| set_err(b, m))?;
        node.op = "Const".into();
        node.input.retain(|i| i.starts_with('^'));
        node.attr.clear();
        node.attr.insert("dtype".into(), type_attr(dtype));
        node.attr.insert(
            "value".into(),
            pb::AttrValue {
                value: Some(attr_value::Value::Tensor(value)),
            },
        );
        n += 1;
    }
    let consts: HashMap<String, usize> = def
        .node
        .iter()
        .enumerate()
        .map(|(i, x)| (x.name.clone(), i))
        .collect();
    for i in 0..def.node.len() {
        let node = &def.node[i];
        if node.op != "PlaceholderWithDefault" {
            continue;
        }
        let Some(d) = node.input.first().filter(|d| !d.starts_with('^')) else {
            continue;
        };
        let scalar_const = consts
            .get(&TensorId::parse(d).node)
            .map(|&j| &def.node[j])
            .filter(|c| c.op == "Const")
            .and_then(
                |c| match c.attr.get("value").and_then(|a| a.value.as_ref()) {
                    Some(attr_value::Value::Tensor(t)) => super::Tensor::from_proto(t).ok(),
                    _ => None,
                },
            )
            .is_some_and(|t| t.shape().is_empty());
        if !scalar_const {
            continue;
        }
        let node = &mut def.node[i];
        log::debug!(
            "{}: PlaceholderWithDefault folded to its default",
            node.name
        );
        let dtype = node.attr.remove("dtype");
        node.attr.clear();
        if let Some(t) = dtype {
            node.attr.insert("T".into(), t);
        }
        node.op = "Identity".into();
        n += 1;
    }
    Ok(n)
}

fn type_attr(t: DataType) -> pb::AttrValue {
    pb::AttrValue {
        value: Some(attr_value::Value::Type(t as i32)),
    }
}

/// A scalar `TensorProto` of `dtype` holding `text`.
fn scalar_proto(dtype: DataType, text: &str) -> Result<pb::TensorProto, String> {
    let mut t = pb::TensorProto {
        dtype: dtype as i32,
        tensor_shape: Some(pb::TensorShapeProto::default()),
        ..Default::default()
    };
    let bad = |what: &str| format!("'{text}' is not a {what}");
    match dtype {
        DataType::DtBool => {
            t.bool_val = vec![match text.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(bad("boolean (true, false, 1, 0)")),
            }]
        }
        DataType::DtFloat | DataType::DtHalf | DataType::DtBfloat16 => {
            t.dtype = DataType::DtFloat as i32;
            if dtype != DataType::DtFloat {
                return Err(
                    "only bool, float32, float64 and integer placeholders can be set".into(),
                );
            }
            t.float_val = vec![text.parse().map_err(|_| bad("number"))?]
        }
        DataType::DtDouble => t.double_val = vec![text.parse().map_err(|_| bad("number"))?],
        DataType::DtInt32 => t.int_val = vec![text.parse().map_err(|_| bad("32-bit integer"))?],
        DataType::DtInt64 => t.int64_val = vec![text.parse().map_err(|_| bad("integer"))?],
        other => {
            return Err(format!(
                "placeholders of type {} cannot be set",
                other.as_str_name()
            ));
        }
    }
    Ok(t)
}

/// Node index by name.
fn names(def: &pb::GraphDef) -> HashMap<&str, usize> {
    def.node
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect()
}

/// The value of a boolean-like scalar tensor, when it folds to a constant.
fn const_pred(def: &pb::GraphDef, by: &HashMap<&str, usize>, input: &str) -> Option<bool> {
    let mut seen = 0;
    let mut t = TensorId::parse(input);
    loop {
        seen += 1;
        if seen > 10_000 {
            return None;
        }
        let n = &def.node[*by.get(t.node.as_str())?];
        let data: Vec<&String> = n.input.iter().filter(|i| !i.starts_with('^')).collect();
        match n.op.as_str() {
            "Const" => {
                let v = match n.attr.get("value").and_then(|a| a.value.as_ref()) {
                    Some(attr_value::Value::Tensor(p)) => super::Tensor::from_proto(p).ok()?,
                    _ => return None,
                };
                let f = v.to_f32();
                return (f.len() == 1).then(|| f.iter().next().is_some_and(|&x| x != 0.0));
            }
            "Identity" | "Snapshot" | "StopGradient" | "Cast" => t = TensorId::parse(data.first()?),
            "LogicalNot" => return const_pred(def, by, data.first()?).map(|b| !b),
            "LogicalAnd" | "LogicalOr" => {
                let a = const_pred(def, by, data.first()?)?;
                let b = const_pred(def, by, data.get(1)?)?;
                return Some(if n.op == "LogicalAnd" { a && b } else { a || b });
            }
            _ => return None,
        }
    }
}

/// `If`/`StatelessIf` nodes with a constant predicate → `PartitionedCall` of
/// the live branch (the predicate dropped from the inputs).
fn cut_ifs(def: &mut pb::GraphDef) -> Result<usize, GraphError> {
    let mut cuts = Vec::new();
    {
        let by = names(def);
        for (i, n) in def.node.iter().enumerate() {
            if !matches!(n.op.as_str(), "If" | "StatelessIf") {
                continue;
            }
            let Some(pred) = n.input.first().filter(|p| !p.starts_with('^')) else {
                continue;
            };
            if let Some(p) = const_pred(def, &by, pred) {
                cuts.push((i, p));
            }
        }
    }
    for &(i, p) in &cuts {
        let n = &mut def.node[i];
        let key = if p { "then_branch" } else { "else_branch" };
        let branch = n
            .attr
            .get(key)
            .cloned()
            .ok_or_else(|| GraphError::node(n, format!("missing attribute '{key}'")))?;
        log::debug!("{}: predicate is {p}, {key} inlined", n.name);
        let tin = n.attr.get("Tin").cloned();
        let tout = n.attr.get("Tout").cloned();
        n.attr.clear();
        n.attr.insert("f".into(), branch);
        if let Some(t) = tin {
            n.attr.insert("Tin".into(), t);
        }
        if let Some(t) = tout {
            n.attr.insert("Tout".into(), t);
        }
        n.op = "PartitionedCall".into();
        n.input.remove(0);
    }
    Ok(cuts.len())
}

/// Cuts every `Switch` with a constant predicate; returns (switches cut,
/// nodes removed).
fn cut_switches(def: &mut pb::GraphDef) -> (usize, usize) {
    let by = names(def);
    // Switch node → its live output slot (0 = output_false, 1 = output_true).
    let mut live: HashMap<usize, usize> = HashMap::new();
    for (i, n) in def.node.iter().enumerate() {
        if n.op == "Switch"
            && let Some(pred) = n.input.iter().filter(|x| !x.starts_with('^')).nth(1)
            && let Some(p) = const_pred(def, &by, pred)
        {
            live.insert(i, usize::from(p));
        }
    }
    if live.is_empty() {
        return (0, 0);
    }
    let mut dead = vec![false; def.node.len()];
    let is_dead_ref = |dead: &[bool], r: &str| -> bool {
        let t = TensorId::parse(r);
        let Some(&p) = by.get(t.node.as_str()) else {
            return false;
        };
        if dead[p] {
            return true;
        }
        !r.starts_with('^') && live.get(&p).is_some_and(|&s| s != t.slot)
    };
    loop {
        let mut changed = false;
        for (i, n) in def.node.iter().enumerate() {
            if dead[i] {
                continue;
            }
            let d = if n.op == "Merge" {
                let data: Vec<&String> = n.input.iter().filter(|x| !x.starts_with('^')).collect();
                !data.is_empty() && data.iter().all(|r| is_dead_ref(&dead, r))
            } else {
                n.input.iter().any(|r| is_dead_ref(&dead, r))
            };
            if d {
                dead[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Merges with some (not all) inputs dead: forward their live input.
    let mut merges: HashMap<usize, (String, usize)> = HashMap::new();
    for (i, n) in def.node.iter().enumerate() {
        if dead[i] || n.op != "Merge" {
            continue;
        }
        let data: Vec<&String> = n.input.iter().filter(|x| !x.starts_with('^')).collect();
        let alive: Vec<usize> = (0..data.len())
            .filter(|&k| !is_dead_ref(&dead, data[k]))
            .collect();
        if alive.len() == 1 && data.len() > 1 {
            merges.insert(i, (data[alive[0]].clone(), alive[0]));
        }
    }
    let removed_names: HashSet<String> = def
        .node
        .iter()
        .enumerate()
        .filter(|(i, _)| dead[*i])
        .map(|(_, n)| n.name.clone())
        .collect();
    let switch_names: HashMap<String, usize> = live
        .iter()
        .map(|(&i, &s)| (def.node[i].name.clone(), s))
        .collect();
    let merge_names: HashMap<String, usize> = merges
        .iter()
        .map(|(&i, (_, k))| (def.node[i].name.clone(), *k))
        .collect();
    let mut extra: Vec<NodeDef> = Vec::new();
    for (i, n) in def.node.iter_mut().enumerate() {
        if dead[i] {
            continue;
        }
        if live.contains_key(&i) {
            // Switch(data, pred) → Identity(data).
            let data = n.input.iter().find(|x| !x.starts_with('^')).cloned();
            let ctrl: Vec<String> = n
                .input
                .iter()
                .filter(|x| x.starts_with('^'))
                .cloned()
                .collect();
            n.input = data.into_iter().chain(ctrl).collect();
            n.op = "Identity".into();
        } else if let Some((src, _)) = merges.get(&i) {
            let ctrl: Vec<String> = n
                .input
                .iter()
                .filter(|x| x.starts_with('^'))
                .cloned()
                .collect();
            n.input = std::iter::once(src.clone()).chain(ctrl).collect();
            n.op = "Identity".into();
            n.attr.remove("N");
        }
        let mut inputs = Vec::with_capacity(n.input.len());
        for r in n.input.drain(..) {
            let t = TensorId::parse(&r);
            if removed_names.contains(&t.node) {
                // Only control edges can reach a dead node from a live one
                // (a dead data input would make this node dead too).
                continue;
            }
            if !r.starts_with('^') && switch_names.contains_key(&t.node) {
                inputs.push(t.node.clone());
            } else if !r.starts_with('^') && t.slot == 1 && merge_names.contains_key(&t.node) {
                // Merge's value_index: which input was taken.
                let name = format!("{}/thaw_value_index", t.node);
                if !extra.iter().any(|e| e.name == name) {
                    let mut v = pb::TensorProto {
                        dtype: DataType::DtInt32 as i32,
                        tensor_shape: Some(pb::TensorShapeProto::default()),
                        ..Default::default()
                    };
                    v.int_val = vec![merge_names[&t.node] as i32];
                    let mut c = NodeDef {
                        name: name.clone(),
                        op: "Const".into(),
                        ..Default::default()
                    };
                    c.attr.insert("dtype".into(), type_attr(DataType::DtInt32));
                    c.attr.insert(
                        "value".into(),
                        pb::AttrValue {
                            value: Some(attr_value::Value::Tensor(v)),
                        },
                    );
                    extra.push(c);
                }
                inputs.push(name);
            } else {
                inputs.push(r);
            }
        }
        n.input = inputs;
    }
    // A cut Switch whose live side nothing reads (it fed only the branch not
    // taken) goes too: left alone it would look like a graph output.
    let read: HashSet<String> = def
        .node
        .iter()
        .enumerate()
        .filter(|(i, _)| !dead[*i])
        .flat_map(|(_, n)| n.input.iter().map(|r| TensorId::parse(r).node))
        .collect();
    for &i in live.keys() {
        if !read.contains(&def.node[i].name) {
            dead[i] = true;
        }
    }
    let removed = dead.iter().filter(|&&d| d).count();
    let mut k = 0;
    def.node.retain(|_| {
        k += 1;
        !dead[k - 1]
    });
    def.node.extend(extra);
    log::debug!(
        "cut {} constant-predicate Switch node(s), removed {removed} dead node(s)",
        live.len()
    );
    (live.len(), removed)
}

/// For a conditional node (`Switch`, `If`, `StatelessIf`) left in the graph:
/// its predicate tensor and the `Placeholder`s it is computed from (empty when
/// it depends on none, e.g. a loop's `LoopCond`).
pub fn predicate_sources(def: &pb::GraphDef, node: &NodeDef) -> (String, Vec<String>) {
    let data: Vec<&String> = node.input.iter().filter(|x| !x.starts_with('^')).collect();
    let pred = match node.op.as_str() {
        "Switch" => data.get(1),
        _ => data.first(),
    }
    .map(|s| s.to_string())
    .unwrap_or_default();
    let by = names(def);
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![TensorId::parse(&pred).node];
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(&i) = by.get(name.as_str()) else {
            continue;
        };
        let n = &def.node[i];
        if matches!(n.op.as_str(), "Placeholder" | "PlaceholderWithDefault") {
            found.push(n.name.clone());
            continue;
        }
        if n.op == "NextIteration" {
            continue;
        }
        for r in &n.input {
            stack.push(TensorId::parse(r).node);
        }
    }
    found.sort();
    (pred, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::parse_graph_def;

    /// Keras 2's learning-phase cond as TF1 freezes it (shape of
    /// `dropout/cond`): `Switch(x, keras_learning_phase)`, a training branch
    /// on `:1` (Mul by a constant guarded by `^switch_t`), the inference
    /// branch `Identity(Switch:0)`, and `Merge`.
    const COND: &str = r#"
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "lp/default" op: "Const" attr { key: "dtype" value { type: DT_BOOL } }
       attr { key: "value" value { tensor { dtype: DT_BOOL tensor_shape {} bool_val: false } } } }
node { name: "keras_learning_phase" op: "PlaceholderWithDefault" input: "lp/default"
       attr { key: "dtype" value { type: DT_BOOL } } attr { key: "shape" value { shape {} } } }
node { name: "cond/Switch" op: "Switch" input: "keras_learning_phase" input: "keras_learning_phase"
       attr { key: "T" value { type: DT_BOOL } } }
node { name: "cond/switch_t" op: "Identity" input: "cond/Switch:1" attr { key: "T" value { type: DT_BOOL } } }
node { name: "cond/pred_id" op: "Identity" input: "keras_learning_phase" attr { key: "T" value { type: DT_BOOL } } }
node { name: "cond/Switch_1" op: "Switch" input: "x" input: "cond/pred_id" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "cond/mul/y" op: "Const" input: "^cond/switch_t" attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 2 } } } }
node { name: "cond/mul" op: "Mul" input: "cond/Switch_1:1" input: "cond/mul/y" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "cond/Identity" op: "Identity" input: "cond/Switch_1" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "cond/Merge" op: "Merge" input: "cond/Identity" input: "cond/mul"
       attr { key: "T" value { type: DT_FLOAT } } attr { key: "N" value { i: 2 } } }
node { name: "out" op: "Relu" input: "cond/Merge" attr { key: "T" value { type: DT_FLOAT } } }
"#;

    fn graph() -> pb::GraphDef {
        parse_graph_def(COND.as_bytes(), true, "cond.pbtxt").unwrap()
    }

    fn node<'a>(def: &'a pb::GraphDef, name: &str) -> Option<&'a NodeDef> {
        def.node.iter().find(|n| n.name == name)
    }

    #[test]
    fn learning_phase_defaults_to_inference() {
        let mut def = graph();
        let r = resolve_conditionals(&mut def, &[]).unwrap();
        assert_eq!((r.placeholders, r.switches), (1, 2));
        // The training branch (its Mul and the Const guarded by ^switch_t) is gone.
        assert!(node(&def, "cond/mul").is_none());
        assert!(node(&def, "cond/mul/y").is_none());
        let merge = node(&def, "cond/Merge").unwrap();
        assert_eq!(
            (merge.op.as_str(), merge.input.clone()),
            ("Identity", vec!["cond/Identity".to_string()])
        );
        let sw = node(&def, "cond/Switch_1").unwrap();
        assert_eq!(
            (sw.op.as_str(), sw.input.clone()),
            ("Identity", vec!["x".to_string()])
        );
        // The Switch on the predicate only fed the training branch: gone, not a sink.
        assert!(node(&def, "cond/Switch").is_none());
        // The result still indexes (no dangling input).
        crate::graph::Graph::new(def).unwrap();
    }

    #[test]
    fn set_binds_the_training_branch() {
        let mut def = graph();
        let set: Binding = "keras_learning_phase=true".parse().unwrap();
        resolve_conditionals(&mut def, &[set]).unwrap();
        assert_eq!(node(&def, "keras_learning_phase").unwrap().op, "Const");
        assert!(node(&def, "cond/Identity").is_none());
        let merge = node(&def, "cond/Merge").unwrap();
        assert_eq!(merge.input, vec!["cond/mul".to_string()]);
        assert_eq!(node(&def, "cond/mul").unwrap().input[0], "cond/Switch_1");
        crate::graph::Graph::new(def).unwrap();
    }

    #[test]
    fn bad_bindings_name_the_flag() {
        for (set, want) in [
            ("nope=1", "no node of that name"),
            ("x=abc", "not a number"),
            ("out=1", "not a placeholder"),
            ("keras_learning_phase=maybe", "not a boolean"),
        ] {
            let mut def = graph();
            let b: Binding = set.parse().unwrap();
            let e = resolve_conditionals(&mut def, &[b])
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("--set {set}")), "{e}");
            assert!(e.contains(want), "{e}");
        }
        assert!("novalue".parse::<Binding>().is_err());
    }

    #[test]
    fn a_predicate_from_a_real_input_is_left_and_traced() {
        let text = COND.replace(
            r#"op: "PlaceholderWithDefault" input: "lp/default""#,
            r#"op: "Placeholder""#,
        );
        let mut def = parse_graph_def(text.as_bytes(), true, "c.pbtxt").unwrap();
        let r = resolve_conditionals(&mut def, &[]).unwrap();
        assert!(!r.changed());
        let sw = node(&def, "cond/Switch_1").unwrap().clone();
        let (pred, from) = predicate_sources(&def, &sw);
        assert_eq!(pred, "cond/pred_id");
        assert_eq!(from, vec!["keras_learning_phase".to_string()]);
    }
}
