//! The registries agree (issue 12): every Keras class in `keras::layers::classes()`
//! has a writer, a reader (write → read back gives the same class), weight names,
//! a shape rule (`convert::shape` accepts it) and an interpreter implementation
//! (`interp::supported_classes()`). A class missing any of them fails, named.
//! Crate-level because it spans keras/, convert/ and interp/ (which must not
//! import each other).

use crate::keras::layers::shape::Shape;
use crate::keras::layers::{classes, info, weight_names};
use crate::keras::{config, read, test_models};
use std::collections::{BTreeSet, HashMap};

#[test]
fn every_keras_class_has_writer_reader_weights_shape_rule_and_interpreter() {
    let models = test_models::all_models();
    let interp: BTreeSet<&str> = crate::interp::supported_classes().into_iter().collect();
    // class -> which of the five checks passed for at least one layer of it
    let mut passed: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for model in &models {
        let json = config::model_config(model);
        let back = read::model_from_config(&json)
            .unwrap_or_else(|e| panic!("model '{}' does not read back: {e}", model.name));
        let mut shapes: HashMap<String, Shape> = model
            .inputs
            .iter()
            .map(|i| {
                let s = std::iter::once(None)
                    .chain(i.shape.iter().copied())
                    .collect();
                (i.name.clone(), s)
            })
            .collect();
        for layer in &model.layers {
            let class = info(&layer.kind).class;
            let ok = passed.entry(class).or_default();
            let written = info(&layer.kind).written;
            if !written.is_empty() && json.to_string().contains(&format!("\"{written}\"")) {
                ok.insert("writer");
            }
            if back
                .layer(&layer.name)
                .is_some_and(|b| info(&b.kind).class == class)
            {
                ok.insert("reader");
            }
            let names: Vec<&str> = layer.weights.iter().map(|w| w.name.as_str()).collect();
            if names == weight_names(&layer.kind) {
                ok.insert("weight names");
            }
            let ins: Vec<Shape> = layer
                .inbound
                .iter()
                .map(|i| shapes.get(i.as_str()).cloned().unwrap_or_default())
                .collect();
            match crate::keras::layers::output_shapes(&layer.kind, &layer.weights, &ins) {
                Ok(s) => {
                    ok.insert("shape rule");
                    assert_eq!(s.len(), layer.kind.outputs(), "{class} '{}'", layer.name);
                    for (k, s) in s.into_iter().enumerate() {
                        shapes.insert(crate::keras::output_name(&layer.name, k), s);
                    }
                }
                Err(e) => panic!("{class} '{}': shape rule refuses: {e}", layer.name),
            }
            if interp.contains(class) {
                ok.insert("interpreter");
            }
        }
    }
    let all = [
        "writer",
        "reader",
        "weight names",
        "shape rule",
        "interpreter",
    ];
    let missing: Vec<String> = classes()
        .filter_map(|c| {
            let got = passed.get(c.class).cloned().unwrap_or_default();
            let lacks: Vec<&str> = all.iter().copied().filter(|k| !got.contains(k)).collect();
            (!lacks.is_empty()).then(|| format!("{} lacks {lacks:?}", c.class))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "incomplete classes:\n{}",
        missing.join("\n")
    );
}
