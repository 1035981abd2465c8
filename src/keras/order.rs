//! The order Keras gives `model.layers` when it rebuilds a model from its
//! config ([`keras_layer_order`]): both `.h5` loaders assign weights by it.

use std::collections::HashSet;

use super::ir::Model;

/// The order Keras gives `model.layers` (inputs included) when it rebuilds this
/// model from its config. Both Keras 3 (`keras.src.ops.function.map_graph`) and
/// tf-keras (`functional._map_graph_network`) compute it the same way: a
/// depth-first walk from the outputs (in order, inbound tensors in argument
/// order) numbers the layers; each layer's depth is the longest path from it to
/// an output; layers are sorted by depth, deepest first, ties by walk number;
/// inputs no output uses come last. Both `.h5` loaders assign the stored weights
/// to `model.layers` **by position**, so `layer_names` must be in this order —
/// the IR's own (topological) order is not enough: a model whose second
/// branch is listed first loads its kernels into the wrong layers.
/// Layers no output depends on are not part of a Keras model and are left out.
pub fn keras_layer_order<'a>(model: &'a Model) -> Vec<&'a str> {
    let refs = model.tensor_refs();
    // A layer's output k ≥ 1 is a tensor of the same layer.
    let layer_of = |t: &'a str| refs.get(t).map_or(t, |r| r.0);
    let inbound: std::collections::HashMap<&str, Vec<&str>> = model
        .layers
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.inbound.iter().map(|t| layer_of(t)).collect(),
            )
        })
        .collect();
    let parents = |name: &str| inbound.get(name).cloned().unwrap_or_default();

    // Depth-first walk: walk number per layer, and post-order (inputs -> outputs).
    let mut index: Vec<&str> = Vec::new();
    let mut post: Vec<&str> = Vec::new();
    let mut finished: HashSet<&str> = HashSet::new();
    let mut stack: Vec<(&str, usize)> = Vec::new();
    for out in &model.outputs {
        stack.push((layer_of(out), 0));
        while let Some((node, next)) = stack.pop() {
            if next == 0 {
                if finished.contains(node) {
                    continue;
                }
                if !index.contains(&node) {
                    index.push(node);
                }
            }
            let ps = parents(node);
            if next < ps.len() {
                stack.push((node, next + 1));
                if !finished.contains(ps[next]) {
                    stack.push((ps[next], 0));
                }
            } else if finished.insert(node) {
                post.push(node);
            }
        }
    }
    // Depth: 0 at the outputs, parent depth = max(child depth + 1).
    let mut depth: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for node in post.iter().rev() {
        let d = *depth.entry(node).or_insert(0);
        for p in parents(node) {
            let e = depth.entry(p).or_insert(0);
            *e = (*e).max(d + 1);
        }
    }
    let mut order: Vec<&str> = post.clone();
    let walk = |n: &str| index.iter().position(|x| *x == n).unwrap_or(usize::MAX);
    order.sort_by(|a, b| depth[b].cmp(&depth[a]).then(walk(a).cmp(&walk(b))));
    // Unused inputs: depth 0, walk number -1 (first among the depth-0 layers).
    let unused: Vec<&str> = model
        .inputs
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !finished.contains(n))
        .collect();
    if !unused.is_empty() {
        let first_depth0 = order
            .iter()
            .position(|n| depth[n] == 0)
            .unwrap_or(order.len());
        order.splice(first_depth0..first_depth0, unused);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::ir::{DType, Input};
    use crate::keras::test_models::{every_layer_model, small_cnn_model, two_in_two_out_model};
    use crate::keras::validate::validate;

    /// Expected orders are `[l.name for l in model.layers]` printed by Keras 3.15.1
    /// after loading thaw's file of the same model (load_check.py checks tf-keras
    /// 2.21 gives the same order); the IR orders differ from them.
    #[test]
    fn layer_order_is_the_one_keras_rebuilds() {
        assert_eq!(
            keras_layer_order(&two_in_two_out_model()),
            [
                "b", "a", "cb", "ca", "sum", "both", "pool", "flat", "logits"
            ]
        );
        assert_eq!(
            keras_layer_order(&every_layer_model()),
            [
                "image",
                "zp",
                "c1",
                "c2",
                "bn",
                "dw",
                "bn_nocenter",
                "relu6",
                "mp",
                "ap",
                "add",
                "leaky",
                "cat",
                "sig",
                "ap_valid",
                "mp_valid",
                "gap_keep",
                "gap",
                "act_relu",
                "flat",
                "rs",
                "act_tanh",
                "d1",
                "d2",
                "act_lin",
                "softmax",
                "bn_noscale",
                "act_sm"
            ]
        );
        // An input no output uses comes first among the depth-0 layers.
        let mut m = small_cnn_model();
        m.inputs.push(Input {
            name: "unused".into(),
            shape: vec![Some(1)],
            dtype: DType::F32,
        });
        assert_eq!(
            keras_layer_order(&m),
            ["x", "conv", "flat", "unused", "out"]
        );
        // A layer no output depends on is refused by validate.
        m.layers.push(m.layers[1].clone());
        m.layers[3].name = "dead".into();
        let err = validate(&m).unwrap_err().to_string();
        assert!(
            err.contains("'dead' (Flatten): no output depends on it"),
            "{err}"
        );
    }
}
