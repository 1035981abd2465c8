//! Golden comparison without tract: the converted Keras model, run by the
//! reference interpreter on each fixture's stored inputs, must reproduce
//! TensorFlow's own values (stored by `harness/gen_fixtures.py` in `io.npz`)
//! at every layer's TF tensor and at the graph outputs.
//!
//! Tolerance: |keras - tf| <= 1e-4 + 1e-3 * |tf| (thaw's default rule); the
//! two sides sum in different orders in float32, nothing more.

use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use std::collections::HashMap;
use thaw::compare::{Tolerance, compare};
use thaw::convert::{ConvertOptions, convert};
use thaw::graph::Graph;

fn read_npz(path: &std::path::Path) -> HashMap<String, ArrayD<f32>> {
    let mut npz = NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let names = npz.names().unwrap();
    names
        .into_iter()
        .filter_map(|n| {
            let v: ArrayD<f32> = npz.by_name(&n).ok()?;
            Some((n.trim_end_matches(".npy").to_string(), v))
        })
        .collect()
}

#[test]
fn converted_models_reproduce_tensorflow_at_every_layer() {
    let mut cases: Vec<_> = std::fs::read_dir("fixtures")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();
    let mut checked = 0;
    for case in cases.iter().filter(|c| c.join("io.npz").exists()) {
        let graph = Graph::load(&case.join("model.pb")).unwrap();
        let conv = convert(&graph, &ConvertOptions::default()).unwrap();
        assert!(
            conv.unsupported.is_empty(),
            "{}: {:?}",
            case.display(),
            conv.unsupported
        );
        let io = read_npz(&case.join("io.npz"));
        let inputs: Vec<ArrayD<f32>> = conv
            .model
            .inputs
            .iter()
            .map(|i| {
                io.get(&format!("input:{}", i.name))
                    .unwrap_or_else(|| panic!("{}: no input {}", case.display(), i.name))
                    .clone()
            })
            .collect();
        let values = thaw::interp::run(&conv.model, &inputs).unwrap();
        for lt in conv.tensors.iter().filter(|t| t.class_name != "InputLayer") {
            let key = format!("tensor:{}", lt.tensor);
            let Some(tf) = io.get(&key) else {
                // Nodes that exist only after inlining a function call have no
                // TF value in io.npz (TF ran the call as one node); nor has a
                // MultiRNNCell's lower cell, compared at its new h stacked
                // over the steps, which only the unrolled graph holds
                // (`stacked_steps` of a loop body node: TF cannot fetch a
                // value inside a while loop). The graph outputs below still
                // check them end to end (and `thaw verify`, with the oracle).
                let raw = thaw::graph::load_graph_def(&case.join("model.pb")).unwrap();
                let absent = raw.node.iter().all(|n| n.name != lt.tensor.node);
                let steps_of_loop_node = lt
                    .tensor
                    .node
                    .strip_suffix("/unroll_steps")
                    .filter(|n| thaw::graph::stacked_steps(n) == lt.tensor.node)
                    .is_some_and(|n| raw.node.iter().any(|m| m.name == n));
                assert!(
                    absent && (graph.inlined_calls() > 0 || steps_of_loop_node),
                    "{}: io.npz lacks {key}",
                    case.display()
                );
                continue;
            };
            let m = compare(&values[&lt.layer], tf, Tolerance::default()).unwrap();
            assert!(
                m.pass,
                "{}: layer {} vs {}: {m:?}",
                case.display(),
                lt.layer,
                lt.tensor
            );
            checked += 1;
        }
        // Graph outputs, by name.
        for sink in graph.sinks() {
            let real = graph.resolve(&sink);
            let layer = &conv
                .tensors
                .iter()
                .find(|t| t.tensor == real)
                .unwrap()
                .layer;
            let tf = &io[&format!("output:{sink}")];
            assert!(
                compare(&values[layer], tf, Tolerance::default())
                    .unwrap()
                    .pass,
                "{}: output {sink}",
                case.display()
            );
        }
    }
    assert!(checked > 100, "only {checked} layer tensors were checked");
}
