//! Folds what tract's optimiser left computed from constants at every run.
//!
//! tract folds a constant sub-graph only while its large inputs (over 4 MiB)
//! have one consumer each, so that a weight is not duplicated per consumer.
//! A large weight read twice (a kernel shared by two layers) is then
//! re-laid out and re-packed on every run. Before the oracle's declutter kept
//! exposed nodes whole (`DeclutterKeepingExposed` in the parent module), every
//! convolution whose output was exposed and whose batch normalisation tract
//! fused met this (ResNet50's `conv5` kernels: `MoveAxis` and `OptMatMulPack`
//! were a quarter of the oracle's time); no zoo graph does now, and the
//! shared weight is what is left. Here such sub-graphs are evaluated once,
//! with tract's own ops, so the values the plan computes are exactly what it
//! computed before.
//!
//! A node is folded when every input is a constant or folded, its op
//! evaluates without a plan (`eval_out_of_plan`), and its outputs are at most
//! twice the size of its inputs (or 4 MiB): data laid out anew, never a small
//! constant broadcast into a large one.

use tract_tensorflow::prelude::*;
use tract_tensorflow::tract_core::ops::konst::Const;
use tract_tensorflow::tract_core::ops::source::TypedSource;

/// Outputs may grow up to this many times their inputs' size (packing pads).
const GROWTH: usize = 2;
/// tract's own folding budget, under which any growth is accepted.
const SMALL: usize = 4 << 20;

/// Replaces every foldable node of `model` by the constants it computes, in
/// one pass in evaluation order and one patch: chains are walked whole
/// ([`walk_chain`]) so that only each chain's last values are kept, and only
/// those that an unfolded node (or the model's outputs) reads become
/// constants. Returns how many nodes were folded.
pub(super) fn fold_constants(model: &mut TypedModel) -> TractResult<usize> {
    // What the optimiser freed first (its replaced nodes' tensors).
    crate::budget::return_freed_memory();
    let mut ends: std::collections::HashMap<OutletId, TValue> = Default::default();
    let mut folded = std::collections::HashSet::new();
    let mut order = vec![];
    for id in model.eval_order()? {
        let node = model.node(id);
        if node.inputs.is_empty()
            || node.op_is::<Const>()
            || node.op_is::<TypedSource>()
            || folded.contains(&id)
        {
            continue;
        }
        let Some(inputs) = node
            .inputs
            .iter()
            .map(|i| {
                ends.get(i).cloned().or_else(|| {
                    let konst = model.outlet_fact(*i).ok()?.konst.clone();
                    konst.map(|k| k.into_tvalue())
                })
            })
            .collect::<Option<TVec<TValue>>>()
        else {
            continue;
        };
        let Some(values) = fold_values(node, inputs) else {
            continue;
        };
        let (end, values, chain) = walk_chain(model, id, values)?;
        folded.extend(chain);
        // The chain's copies were freed in the middle of this thread's
        // arena, where the next chain's do not fit (ResNet50: +170 MiB).
        crate::budget::return_freed_memory();
        for (slot, value) in values.into_iter().enumerate() {
            ends.insert(OutletId::new(end, slot), value);
            order.push(OutletId::new(end, slot));
        }
    }
    let outputs = model.output_outlets()?.to_vec();
    let mut patch = TypedModelPatch::default();
    for outlet in order {
        let read_unfolded = outputs.contains(&outlet)
            || model
                .outlet_successors(outlet)
                .iter()
                .any(|s| !folded.contains(&s.node));
        if !read_unfolded {
            continue;
        }
        let konst = Const::new_with_opt_exotic_fact(
            ends[&outlet].clone().into_arc_tensor(),
            model.outlet_fact(outlet)?.exotic_fact.clone(),
        )?;
        let name = format!("{}.folded.{}", model.node(outlet.node).name, outlet.slot);
        let wire = patch.wire_node(name, konst, &[])?[0];
        patch.shunt_outside(model, outlet, wire)?;
    }
    drop(ends);
    if !folded.is_empty() {
        patch.apply(model)?;
        model.compact()?;
    }
    Ok(folded.len())
}

/// From a node folded to `values`, on through the nodes that are each the
/// single reader of the one before and read nothing else (a kernel's
/// re-layouts and packing), as long as they fold: the last node reached, its
/// values and the chain's nodes. Only the current values are kept,
/// so the chain's intermediate copies are freed as it goes.
fn walk_chain(
    model: &TypedModel,
    mut id: usize,
    mut values: TVec<TValue>,
) -> TractResult<(usize, TVec<TValue>, Vec<usize>)> {
    let outputs = model.output_outlets()?;
    let mut chain = vec![id];
    while let Some(next) = model.single_succ(id)? {
        if next.inputs.len() != 1 || outputs.contains(&OutletId::new(id, 0)) {
            break;
        }
        let Some(next_values) = fold_values(next, values.clone()) else {
            break;
        };
        (id, values) = (next.id, next_values);
        chain.push(id);
    }
    Ok((id, values, chain))
}

/// What `node` computes from constant `inputs`, if it folds (see the module
/// doc).
fn fold_values(node: &TypedNode, inputs: TVec<TValue>) -> Option<TVec<TValue>> {
    let bytes = |values: &[TValue]| -> usize {
        values
            .iter()
            .map(|t| t.len() * t.datum_type().size_of())
            .sum()
    };
    let in_bytes = bytes(&inputs);
    match node.op.eval_out_of_plan(inputs) {
        Ok(Some(outputs)) if bytes(&outputs) <= (GROWTH * in_bytes).max(SMALL) => Some(outputs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_tensorflow::tract_core::ops::math;

    /// `-c` over tract's 4 MiB budget, with `c` read twice: tract's own
    /// folding leaves `-c` computed at every run; folding makes it a constant
    /// and the plan's values stay the same.
    #[test]
    fn a_large_constant_read_twice_is_folded_and_values_are_unchanged() -> TractResult<()> {
        let n = (SMALL / 4) + 16;
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([n]))?;
        let values: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let c = model.add_const("c", tensor1(&values))?;
        let neg = model.wire_node("neg", math::neg(), &[c])?;
        let a = model.wire_node("a", math::add(), &[x, neg[0]])?;
        let b = model.wire_node("b", math::mul(), &[x, c])?;
        model.select_output_outlets(&[a[0], b[0]])?;
        let model = model.into_optimized()?;
        let input = tensor1(&vec![0.5f32; n]);
        let run = |m: &TypedModel| -> TractResult<TVec<TValue>> {
            tract_tensorflow::tract_core::plan::SimplePlan::new(m.clone())?
                .run(tvec![input.clone().into_tvalue()])
        };
        let before = run(&model)?;
        let mut folded = model.clone();
        assert_eq!(fold_constants(&mut folded)?, 1);
        assert!(folded.nodes().iter().all(|n| n.name != "neg"));
        assert_eq!(run(&folded)?, before);
        Ok(())
    }
}
