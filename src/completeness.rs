//! The registries agree (issue 12): every Keras class in `keras::layers::classes()`
//! has a writer, a reader (write → read back gives the same class), weight names,
//! a shape rule (`convert::shape` accepts it) and an interpreter implementation
//! (`interp::supported_classes()`). A class missing any of them fails, named.
//! Crate-level because it spans keras/, convert/ and interp/ (which must not
//! import each other).

type Shape = Vec<Option<usize>>;
use crate::keras::ir::{IdentityClass, Input, LayerKind, Model, TfArg, TfArgValue, TfOp};
use crate::keras::layers::{classes, info, weight_names};
use crate::keras::{DType, config, read, test_models};
use std::collections::{BTreeSet, HashMap};

/// Layers of the classes the test models lack, with inputs of fitting shapes.
fn extra_model() -> Model {
    let input = |name: &str, shape: &[usize]| Input {
        name: name.into(),
        shape: shape.iter().map(|d| Some(*d)).collect(),
        dtype: DType::F32,
    };
    let mut layers = vec![
        test_models::layer(
            "lstm",
            LayerKind::Lstm {
                units: 3,
                return_sequences: false,
                use_bias: true,
            },
            &["seq"],
            &[&[5, 12], &[3, 12], &[12]],
        ),
        test_models::layer(
            "mha",
            LayerKind::MultiHeadAttention {
                num_heads: 2,
                key_dim: 4,
                value_dim: 4,
                use_bias: true,
                output_shape: None,
            },
            &["q", "v"],
            &[
                &[8, 2, 4],
                &[2, 4],
                &[8, 2, 4],
                &[2, 4],
                &[8, 2, 4],
                &[2, 4],
                &[2, 4, 8],
                &[8],
            ],
        ),
        test_models::layer(
            "atan2",
            LayerKind::TfOp(TfOp {
                op: "Atan2".into(),
                args: vec![
                    TfArg {
                        name: "y".into(),
                        value: TfArgValue::Input(0),
                    },
                    TfArg {
                        name: "x".into(),
                        value: TfArgValue::Weight {
                            index: 0,
                            shape: vec![4, 1],
                        },
                    },
                ],
                attrs: Vec::new(),
            }),
            &["x"],
            &[&[4, 1]],
        ),
    ];
    for class in IdentityClass::ALL {
        let kind = LayerKind::InferenceIdentity { class };
        layers.push(test_models::layer(class.keras_name(), kind, &["x"], &[]));
    }
    Model {
        name: "extra".into(),
        inputs: vec![
            input("seq", &[7, 5]),
            input("q", &[6, 8]),
            input("v", &[6, 8]),
            input("x", &[4, 1]),
        ],
        outputs: layers.iter().map(|l| l.name.clone()).collect(),
        layers,
    }
}

#[test]
fn every_keras_class_has_writer_reader_weights_shape_rule_and_interpreter() {
    let models = [
        test_models::every_layer_model(),
        test_models::activations_merges_model(),
        test_models::two_in_two_out_model(),
        test_models::small_cnn_model(),
        test_models::text_model(),
        test_models::preprocess_model(),
        test_models::upsample_model(),
        test_models::separable_crop_model(),
        test_models::layer_norm_model(),
        crate::keras::layers::recurrent::recurrent_model(),
        extra_model(),
    ];
    let interp: BTreeSet<&str> = crate::interp::supported_classes().into_iter().collect();
    // class -> which of the five checks passed for at least one layer of it
    let mut passed: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for model in &models {
        let json = config::model_config(model);
        let back = read::model_from_config(&json)
            .unwrap_or_else(|e| panic!("model '{}' does not read back: {e}", model.name));
        let mut shapes: HashMap<&str, Shape> = model
            .inputs
            .iter()
            .map(|i| {
                let s = std::iter::once(None)
                    .chain(i.shape.iter().copied())
                    .collect();
                (i.name.as_str(), s)
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
            match crate::convert::shape::output_shape(&layer.kind, &layer.weights, &ins) {
                Ok(s) => {
                    ok.insert("shape rule");
                    shapes.insert(&layer.name, s);
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
