//! [`validate`]: everything that would make Keras refuse (or mis-load) an IR
//! model, reported all at once before anything is written.

use std::collections::HashSet;

use super::error::KerasError;
use super::ir::{LayerKind, Model, output_name};
use super::layers::{check_weight_shapes, non_finite, weight_names};
use super::order::keras_layer_order;

/// Everything that would make Keras refuse (or mis-load) the IR model, all at
/// once: empty/duplicate names, names with '/' (an HDF5 path separator, and
/// refused by Keras 3), inbound names that are not an earlier layer or input,
/// wrong input counts, weights that do not fit the class, non-finite floats,
/// layers no output depends on.
pub fn validate(model: &Model) -> Result<(), KerasError> {
    let mut problems = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    let check_name = |name: &str, what: &str, problems: &mut Vec<String>| {
        if name.is_empty() {
            problems.push(format!("{what} has an empty name"));
        } else if name.contains('/') {
            problems.push(format!(
                "{what} '{name}': Keras layer names cannot contain '/' (HDF5 path separator)"
            ));
        } else if name.contains('\0') {
            problems.push(format!(
                "{what} '{}': a NUL byte in the name (HDF5 cannot store it)",
                name.escape_debug()
            ));
        }
    };
    if model.inputs.is_empty() {
        problems.push("the model has no inputs".to_string());
    }
    if model.outputs.is_empty() {
        problems.push("the model has no outputs".to_string());
    }
    for input in &model.inputs {
        check_name(&input.name, "input", &mut problems);
        if !known.insert(input.name.clone()) {
            problems.push(format!("input '{}': duplicate name", input.name));
        }
    }
    for layer in &model.layers {
        let what = format!("layer ({})", layer.kind.class_name());
        check_name(&layer.name, &what, &mut problems);
        let at = |msg: String| {
            format!(
                "layer '{}' ({}): {msg}",
                layer.name,
                layer.kind.class_name()
            )
        };
        for src in &layer.inbound {
            if !known.contains(src.as_str()) {
                problems.push(at(format!(
                    "inbound '{src}' is not an input or an earlier layer"
                )));
            }
        }
        let merge = layer.kind.is_merge();
        if let LayerKind::TfOp(op) = &layer.kind {
            if layer.inbound.len() != op.input_count() {
                problems.push(at(format!(
                    "its {} op reads {} inbound tensor(s), has {}",
                    op.op,
                    op.input_count(),
                    layer.inbound.len()
                )));
            }
        } else if layer.kind == LayerKind::Subtract && layer.inbound.len() != 2 {
            problems.push(at(format!(
                "Subtract needs exactly 2 inbound tensors, has {}",
                layer.inbound.len()
            )));
        } else if matches!(layer.kind, LayerKind::MultiHeadAttention { .. }) {
            if !(2..=3).contains(&layer.inbound.len()) {
                problems.push(at(format!(
                    "MultiHeadAttention needs 2 (query, value) or 3 (query, value, key) \
                     inbound tensors, has {}",
                    layer.inbound.len()
                )));
            }
        } else if merge && layer.inbound.len() < 2 {
            problems.push(at(format!(
                "a merge layer needs at least 2 inbound tensors, has {}",
                layer.inbound.len()
            )));
        } else if !merge && layer.inbound.len() != 1 {
            problems.push(at(format!(
                "needs exactly 1 inbound tensor, has {}",
                layer.inbound.len()
            )));
        }
        let names: Vec<&str> = layer.weights.iter().map(|w| w.name.as_str()).collect();
        let expected = weight_names(&layer.kind);
        if names != expected {
            problems.push(at(format!(
                "weights are [{}], Keras expects [{}] in this order",
                names.join(", "),
                expected.join(", ")
            )));
        } else {
            let shapes: Vec<&[usize]> = layer.weights.iter().map(|w| w.value.shape()).collect();
            if let Err(e) = check_weight_shapes(&layer.kind, &shapes) {
                problems.push(at(e));
            }
        }
        if let Some(msg) = non_finite(&layer.kind) {
            problems.push(at(msg));
        }
        if !known.insert(layer.name.clone()) {
            problems.push(at("duplicate name".to_string()));
        }
        // Its other outputs (a recurrent layer's states: `name:k`).
        known.extend((1..layer.kind.outputs()).map(|k| output_name(&layer.name, k)));
    }
    for out in &model.outputs {
        if !known.contains(out.as_str()) {
            problems.push(format!(
                "output '{out}' is not a layer or input of the model"
            ));
        }
    }
    if problems.is_empty() {
        let used: HashSet<&str> = keras_layer_order(model).into_iter().collect();
        for layer in &model.layers {
            if !used.contains(layer.name.as_str()) {
                problems.push(format!(
                    "layer '{}' ({}): no output depends on it, so Keras would drop it",
                    layer.name,
                    layer.kind.class_name()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(KerasError::InvalidModel {
            model: model.name.clone(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::test_models::{every_layer_model, small_cnn_model, two_in_two_out_model};

    #[test]
    fn validate_reports_every_problem() {
        let mut m = small_cnn_model();
        m.layers[0].name = "conv/1".to_string();
        m.layers[2].weights.pop(); // Dense with use_bias but no bias
        m.layers[1].inbound = vec!["nowhere".into()];
        m.outputs.push("ghost".into());
        let err = validate(&m).unwrap_err().to_string();
        for needle in [
            "'conv/1'",
            "Keras expects [kernel, bias]",
            "'nowhere'",
            "'ghost'",
        ] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
        validate(&every_layer_model()).unwrap();
        validate(&two_in_two_out_model()).unwrap();
        // A NUL byte in a name: HDF5 cannot store it.
        let mut m = small_cnn_model();
        let last = m.layers.len() - 1;
        let old = m.layers[last].name.clone();
        m.layers[last].name = format!("{old}\0x");
        for o in m.outputs.iter_mut().filter(|o| **o == old) {
            *o = format!("{old}\0x");
        }
        let err = validate(&m).unwrap_err().to_string();
        assert!(err.contains("NUL byte"), "{err}");
    }
}
