//! The memory budget inside tract's preparation of a graph (issue 15).
//!
//! tract folds constants while it prepares a graph: its analysis evaluates
//! every op whose inputs are all known ("eager eval"), and its optimiser's
//! constant propagation does it again on the typed model. Both evaluate first
//! and weigh the result after, so a small file can make tract allocate a huge
//! tensor before thaw sees anything: a mutated graph whose `Pad` asked for
//! 134,217,729 columns grew to 23 GB inside tract's `Pad::eval_t`
//! (`tests/data/fuzz_oracle_oom_23gb.bin`).
//!
//! thaw therefore checks, against the memory budget (`--max-memory`, see
//! [`crate::budget`]), every tensor whose shape tract knows:
//! - [`analyse`]: tract's analysis, run by thaw node by node, each node's
//!   output facts inferred (tract's rules, no evaluation) and checked BEFORE
//!   tract may evaluate the node; tract's own analysis in `into_typed` then
//!   finds nothing left to do;
//! - [`check_typed`]: every outlet fact of the typed model, after `into_typed`
//!   and again after optimisation: shape × datum size within the budget.
//!
//! Over it is [`Oversize`], which the oracle reports as
//! [`super::OracleError::Budget`] (exit 2) naming the node and its shape.
//!
//! Not covered: an op whose rules cannot give its output shape before it is
//! evaluated (tract then learns the shape only by evaluating it).

use tract_tensorflow::tract_hir::internal::*;

/// A tensor over the memory budget that tract would hold at `node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversize {
    /// tract's node name (the TF node's, for nodes of the inference model).
    pub node: String,
    /// tract's op name.
    pub op: String,
    /// What is over the budget, from [`crate::budget::bytes`].
    pub message: String,
}

impl std::fmt::Display for Oversize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node '{}' ({}): {}", self.node, self.op, self.message)
    }
}

impl std::error::Error for Oversize {}

/// Checks one output of a node: `dims` of `dt` (4 bytes when unknown).
fn check(
    node: &str,
    op: &str,
    slot: usize,
    dt: Option<DatumType>,
    dims: &[usize],
) -> Result<(), Oversize> {
    let size = dt.map_or(4, |dt| dt.size_of());
    crate::budget::bytes(dims, size)
        .map(|_| ())
        .map_err(|m| Oversize {
            node: node.to_string(),
            op: op.to_string(),
            message: format!("tract would hold output {slot} of {m}"),
        })
}

/// Every outlet fact of a typed model with a concrete shape is within the budget.
pub fn check_typed(model: &TypedModel) -> Result<(), Oversize> {
    for node in model.nodes() {
        for (slot, outlet) in node.outputs.iter().enumerate() {
            let fact = &outlet.fact;
            if let Some(dims) = fact.shape.as_concrete() {
                check(
                    &node.name,
                    &node.op.name(),
                    slot,
                    Some(fact.datum_type),
                    dims,
                )?;
            }
        }
    }
    Ok(())
}

/// Checks the output facts the node's rules infer from its current facts,
/// without evaluating it, when tract would evaluate it next. A rule that
/// fails is left for tract to report.
fn check_inferred(model: &mut InferenceModel, id: usize) -> Result<(), Oversize> {
    let Ok((inputs, outputs)) = model.node_facts(id) else {
        return Ok(());
    };
    // tract evaluates a node only when all its inputs are known values;
    // until then no rule of it allocates a tensor (the typed model's check
    // covers what is evaluated later, in the optimiser).
    if inputs.is_empty() || !inputs.iter().all(|f| f.value.concretize().is_some()) {
        return Ok(());
    }
    let inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
    let outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
    let observed: TVec<InferenceFact> = {
        let node = model.node(id);
        let Ok(outlets) = node.op.observe_outlets(model, node) else {
            return Ok(());
        };
        let Ok(facts) = outlets
            .iter()
            .map(|o| model.outlet_fact(*o).cloned())
            .collect::<TractResult<TVec<_>>>()
        else {
            return Ok(());
        };
        facts
    };
    let node = model.node_mut(id);
    let inferred = node.op.infer_facts(
        inputs.iter().collect(),
        outputs.iter().collect(),
        observed.iter().collect(),
    );
    let Ok((_, outputs, _)) = inferred else {
        return Ok(());
    };
    let (name, op) = (node.name.clone(), node.op.name());
    for (slot, fact) in outputs.iter().enumerate() {
        if let Ok(Some(dims)) = fact.shape.as_concrete_finite() {
            check(&name, &op, slot, fact.datum_type.concretize(), &dims)?;
        }
    }
    Ok(())
}

/// tract's analysis (`Analyser::analyse_obstinate(false)` of tract-hir
/// 0.23, whose module is private: the same work list and fact unification),
/// with every node's inferred output facts checked against the budget before
/// tract may evaluate the node. A tract error ends it quietly: `into_typed`
/// runs tract's own analysis next and reports it as before.
pub fn analyse(model: &mut InferenceModel) -> Result<(), Oversize> {
    use std::collections::{BTreeSet, HashMap};
    let Ok(order) = model.eval_order() else {
        return Ok(());
    };
    let mut todo: BTreeSet<usize> = order.into_iter().collect();
    todo.extend(0..model.nodes().len());
    let mut observers: HashMap<OutletId, Vec<usize>> = HashMap::new();
    for node in model.nodes() {
        let Ok(observed) = node.op.observe_outlets(model, node) else {
            return Ok(());
        };
        for outlet in observed {
            observers.entry(outlet).or_default().push(node.id);
        }
    }
    while let Some(id) = todo.pop_first() {
        check_inferred(model, id)?;
        let Ok(changed) = analyse_one(model, id) else {
            return Ok(());
        };
        for outlet in changed {
            for succ in &model.node(outlet.node).outputs[outlet.slot].successors {
                if succ.node != outlet.node {
                    todo.insert(succ.node);
                }
            }
            if outlet.node != id {
                todo.insert(outlet.node);
            }
            if let Some(obs) = observers.get(&outlet) {
                todo.extend(obs.iter().copied());
            }
        }
    }
    Ok(())
}

/// One step of tract's analysis (`Analyser::analyse_one`): infers the node's
/// facts (evaluating it when its inputs are known) and unifies them into the
/// model; returns the outlets whose fact changed.
fn analyse_one(model: &mut InferenceModel, id: usize) -> TractResult<Vec<OutletId>> {
    let (inputs, outputs) = model.node_facts(id)?;
    let inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
    let outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
    let node = model.node(id);
    if outputs.len() != node.op.nboutputs()? {
        bail!("wrong number of outputs");
    }
    let observed_outlets = node.op.observe_outlets(model, node)?;
    let observed: TVec<InferenceFact> = observed_outlets
        .iter()
        .map(|o| model.outlet_fact(*o).cloned())
        .collect::<TractResult<_>>()?;
    let (new_inputs, new_outputs, new_observed) = model.node_mut(id).op.infer(
        inputs.iter().collect(),
        outputs.iter().collect(),
        observed.iter().collect(),
    )?;
    let node = model.node(id);
    let mut changed: Vec<(OutletId, InferenceFact)> = vec![];
    for (ix, &outlet) in node.inputs.iter().enumerate() {
        let old = model.outlet_fact(outlet)?;
        let unified = new_inputs[ix].unify(old)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (ix, fact) in new_outputs.iter().enumerate() {
        let outlet = OutletId::new(id, ix);
        let old = model.outlet_fact(outlet)?;
        let unified = old.unify(fact)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (ix, &outlet) in observed_outlets.iter().enumerate() {
        let old = model.outlet_fact(outlet)?;
        let unified = old.unify(&new_observed[ix])?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    let mut outlets = Vec::with_capacity(changed.len());
    for (outlet, fact) in changed {
        model.set_outlet_fact(outlet, fact)?;
        outlets.push(outlet);
    }
    Ok(outlets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_fact_over_the_budget_names_its_node_and_shape() {
        let mut model = TypedModel::default();
        let x = model
            .add_source("x", f32::fact([1usize << 20, 1 << 20]))
            .unwrap();
        model.select_output_outlets(&[x]).unwrap();
        let e = check_typed(&model).unwrap_err();
        assert_eq!(e.node, "x");
        assert!(e.message.contains("1048576, 1048576"), "{e}");
        assert!(e.message.contains("--max-memory"), "{e}");
        let mut small = TypedModel::default();
        let y = small.add_source("y", f32::fact([2usize, 3])).unwrap();
        small.select_output_outlets(&[y]).unwrap();
        assert!(check_typed(&small).is_ok());
    }
}
