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
pub fn keras_layer_order(model: &Model) -> Vec<&str> {
    let inbound: std::collections::HashMap<&str, Vec<&str>> = model
        .layers
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.inbound.iter().map(String::as_str).collect(),
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
        stack.push((out.as_str(), 0));
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
