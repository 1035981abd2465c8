//! Loops for the oracle: tract runs no TF1 control flow, so lowered loops are
//! unrolled first by `graph::unroll_loops_with` (a structural rewrite, no
//! maths). A trip count that comes from a shape (tf-keras: `Less(time,
//! strided_slice(Shape(x)))`) is asked of tract itself: the value entering the
//! loop is accepted only when tract, typing the loop-free cone that computes
//! it with the oracle's concrete input shapes, finds it a constant — so it
//! never depends on input values.
//!
//! Not handled: trip counts that depend on input values (the loop is then
//! refused by the unroller, naming its `LoopCond`).

use std::collections::{HashMap, HashSet};

use tract_tensorflow::prelude::*;

use super::{GraphIndex, OracleInput};
use crate::graph::{TensorId, pb};

/// `def` with its lowered loops unrolled; `None` if it has none.
pub(super) fn unrolled(
    tf: &tract_tensorflow::Tensorflow,
    def: &pb::GraphDef,
    inputs: &[OracleInput],
) -> Result<Option<pb::GraphDef>, crate::graph::GraphError> {
    let mut out = def.clone();
    let count =
        crate::graph::unroll_loops_with(&mut out, &mut |now, t| static_scalar(tf, now, inputs, t))?;
    Ok((count > 0).then_some(out))
}

/// The value of `tensor` if tract types it as an integer scalar constant for
/// the oracle's input shapes (only the nodes it depends on are parsed).
fn static_scalar(
    tf: &tract_tensorflow::Tensorflow,
    def: &pb::GraphDef,
    inputs: &[OracleInput],
    tensor: &str,
) -> Option<i64> {
    let id = TensorId::parse(tensor);
    let by_name: HashMap<&str, &pb::NodeDef> =
        def.node.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut keep: HashSet<String> = HashSet::new();
    let mut stack = vec![id.node.clone()];
    while let Some(name) = stack.pop() {
        if !keep.insert(name.clone()) {
            continue;
        }
        let node = by_name.get(name.as_str())?;
        if node.op == "Enter" || node.op == "NextIteration" || node.op.starts_with("TensorList") {
            return None;
        }
        if inputs.iter().any(|i| i.name == name) {
            continue;
        }
        for r in node.input.iter().filter(|s| !s.starts_with('^')) {
            stack.push(TensorId::parse(r).node);
        }
    }
    let mut sub = def.clone();
    sub.library = None;
    sub.node.retain(|n| keep.contains(&n.name));
    for n in &mut sub.node {
        n.input.retain(|r| !r.starts_with('^'));
    }
    let bytes = prost::Message::encode_to_vec(&sub);
    let graph = tf.read_frozen_model(&mut &bytes[..]).ok()?;
    // What the oracle checks before tract parses a graph, and the size
    // budget inside tract's analysis, hold here too: this sub-graph is
    // parsed and typed by tract before the whole graph is (found by the
    // oracle fuzz campaign: a damaged Transpose in a trip count's cone).
    super::precheck::check_graph(&graph, tf).ok()?;
    let ins: Vec<OracleInput> = inputs
        .iter()
        .filter(|i| keep.contains(&i.name))
        .cloned()
        .collect();
    let types = GraphIndex::new(&graph).check_inputs(tensor, &ins).ok()?;
    let mut model = tf.parse_graph(&graph).ok()?.0;
    let mut outlets = vec![];
    for (input, dt) in ins.iter().zip(&types) {
        let outlet = OutletId::new(model.node_id_by_name(&input.name).ok()?, 0);
        model
            .set_outlet_fact(outlet, InferenceFact::dt_shape(*dt, input.shape.clone()))
            .ok()?;
        outlets.push(outlet);
    }
    model.set_input_outlets(&outlets).ok()?;
    let out = OutletId::new(model.node_id_by_name(&id.node).ok()?, id.slot);
    model.select_output_outlets(&[out]).ok()?;
    let mut model = model.into_compact().ok()?;
    super::size::analyse(&mut model).ok()?;
    let typed = model.into_typed().ok()?;
    let fact = typed.output_fact(0).ok()?;
    let k = fact.konst.as_ref()?;
    if k.rank() != 0 {
        return None;
    }
    k.cast_to_scalar::<i64>().ok()
}
