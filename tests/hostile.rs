//! Hostile input: randomly corrupted versions of every fixture graph go
//! through loading, conversion and the reference interpreter. Each stage may
//! refuse the file with an error, but nothing may panic.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use thaw::convert::{ConvertOptions, convert};
use thaw::graph::{Graph, parse_graph_def};
use thaw::verify::random_inputs;

/// Mutations per fixture; seeded, so a failure reproduces.
const MUTATIONS: usize = 150;

#[test]
fn corrupted_graphs_give_errors_not_panics() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let (mut loaded, mut converted) = (0, 0);
    let mut cases: Vec<_> = std::fs::read_dir("fixtures")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();
    for case in cases {
        let Ok(bytes) = std::fs::read(case.join("model.pb")) else {
            continue;
        };
        for m in 0..MUTATIONS {
            let mut b = bytes.clone();
            let flips = 1 + m % 4;
            for _ in 0..flips {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random_range(0..=255u8);
            }
            if m % 10 == 0 {
                let cut = rng.random_range(0..b.len());
                b.truncate(cut);
            }
            let Ok(def) = parse_graph_def(&b, false, "mutated.pb") else {
                continue;
            };
            let Ok(graph) = Graph::new(def) else { continue };
            loaded += 1;
            let Ok(conv) = convert(&graph, &ConvertOptions::default()) else {
                continue;
            };
            if !conv.unsupported.is_empty() || thaw::keras::config::validate(&conv.model).is_err() {
                continue;
            }
            converted += 1;
            let Ok(inputs) = random_inputs(&conv.model, 1, 0, [-1.0, 1.0]) else {
                continue;
            };
            let _ = thaw::interp::run(&conv.model, &inputs);
        }
    }
    // The corpus must actually exercise the later stages.
    assert!(loaded > 100, "only {loaded} mutated graphs loaded");
    assert!(converted > 20, "only {converted} mutated graphs converted");
}
