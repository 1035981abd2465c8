//! The registry of the Keras layer classes thaw writes and reads: one
//! [`ClassInfo`] per class, each defined in its family file
//! (`conv.rs`, `pool.rs`, …), all reached through the one table of
//! [`registry!`] below, in the spirit of tract's per-family `register_all_ops`.
//!
//! A [`ClassInfo`] holds everything Keras-side about one class: its name as the
//! IR and reports know it, the name written in the `.h5`, the older spellings it
//! is also read under, and six functions (config reader, config writer, weight
//! names, weight-shape check, the floats that must be finite, and the output
//! shape, Keras's `compute_output_shape`, that conversion checks every emitted
//! layer against). All six are required fields, and [`info`] is an exhaustive
//! `match` over [`LayerKind`] with no wildcard: a new IR class does not compile
//! until it has them.
//!
//! [`classes`] enumerates every class (for `thaw inspect --supported` and the
//! completeness test); [`info`] finds a kind's class; [`read`] reads one
//! config entry by its class name; [`output_shape`] gives a layer's shape.
//!
//! # Adding a Keras layer class
//!
//! The compiler walks you through it: every `match` over [`LayerKind`] is
//! exhaustive (no `_ =>`), so the new variant fails to build until each place
//! below answers for it.
//!
//! 1. `src/keras/ir.rs`: the [`LayerKind`] variant and its `class_name()` arm;
//!    `src/keras/slots.rs`: its arm in `slots_fn!` (which of padding, window,
//!    strides, bias, activation, epsilon it has); `src/keras/access.rs`: its
//!    arms in `fields()` and `kernels()`.
//! 2. **One keras family file**, `src/keras/layers/<family>.rs`: `read_*`,
//!    `write_*` (both Kerases' dialect: check with
//!    `src/keras/testdata/load_check.py`), weight names, shape check, finite
//!    floats (or the shared [`no_weights`] / [`no_shape_check`] / [`no_floats`])
//!    and the output-shape rule (or [`shape::same_shape`]; helpers in
//!    [`shape`]), in the `pub(crate) static NAME: ClassInfo`; update the file's
//!    header. **One registry line** in [`registry!`] below,
//!    `family::NAME => LayerKind::Variant { .. },`.
//! 3. `src/keras/test_models.rs`: a layer of the class in one of
//!    [`all_models`](crate::keras::test_models) (the round trips,
//!    `load_check.py` and the completeness test use it).
//! 4. **One convert rule file**, `src/convert/<family>.rs`: the rule, with an
//!    entry (anchor op, name, priority) in that file's `RULES`; a new family
//!    file is **one registry line** in `convert/rules.rs`'s `FAMILIES`.
//! 5. **One interp file**, `src/interp/<family>.rs`: the implementation, and
//!    **one dispatch arm** in `interp::run_layer` plus its name in
//!    `interp::supported_classes()` (the completeness test names a class
//!    missing there).
//! 6. **One fixture**: a generator case in `harness/` and `fixtures/<case>/`
//!    with its baseline.

use serde_json::{Map, Value};

use super::cfg::{Cfg, Entry, dtype_name};
use super::ir::{IdentityClass, Layer, LayerKind, Weight};
use shape::Shape;

pub mod activation;
pub mod attention;
pub mod conv;
pub mod dense;
pub mod fallback;
pub mod identity;
pub mod mask;
pub mod merge;
pub mod norm;
pub mod pool;
pub mod preprocess;
pub mod recurrent;
pub mod reshape;
pub mod sequence;
pub mod shape;

/// Everything Keras-side about one layer class. See the module header.
pub struct ClassInfo {
    /// The family file that defines it (`"conv"` for `layers/conv.rs`).
    pub family: &'static str,
    /// The class as the IR and the reports name it ([`LayerKind::class_name`]).
    pub class: &'static str,
    /// The class name thaw writes in the `.h5` (differs from `class` only for
    /// `MultiHeadAttention`, written as its loading shim).
    pub written: &'static str,
    /// Other class names read as this class (older Kerases' spellings, the
    /// name a Keras gives the class when it re-saves thaw's file).
    pub aliases: &'static [&'static str],
    /// The typed config from a config entry of this class (either dialect).
    pub(crate) read: fn(&Cfg) -> Result<LayerKind, String>,
    /// The class keys of the `config` object (name, trainable and dtype are
    /// already there), in the dialect both Kerases load.
    pub(crate) write: fn(&Layer, &mut ConfigOut),
    /// Keras's weight names, in `layer.weights` order.
    pub(crate) weight_names: fn(&LayerKind) -> Vec<&'static str>,
    /// Checks weight shapes (as many as `weight_names`, same order) against the
    /// config; returns a message without the layer name.
    pub(crate) check_shapes: fn(&LayerKind, &[&'static str], &[&[usize]]) -> Result<(), String>,
    /// The config's floats, by key, that must be finite.
    pub(crate) floats: fn(&LayerKind) -> Vec<(&'static str, f32)>,
    /// The output shape from the weights, the first input's shape and all
    /// inputs' shapes (Keras's `compute_output_shape`; see [`output_shape`]);
    /// an error says why the config does not fit the inputs.
    pub(crate) output_shape: ShapeRule,
}

/// A class's output-shape rule: (kind, weights, first input's shape, all
/// inputs' shapes) to the output shape, or why the config does not fit.
pub(crate) type ShapeRule = fn(&LayerKind, &[Weight], &Shape, &[Shape]) -> Result<Shape, String>;

impl ClassInfo {
    /// Whether a config entry of class `name` is read as this class.
    pub fn reads(&self, name: &str) -> bool {
        self.class == name || self.written == name || self.aliases.contains(&name)
    }
}

/// The table: one line per class, `family::STATIC => pattern of its LayerKind`.
/// It defines [`info`] (an exhaustive match, no wildcard) and the list behind
/// [`classes`] (in this order).
macro_rules! registry {
    ($($info:path => $pat:pat),* $(,)?) => {
        /// The class of a layer kind (exhaustive over [`LayerKind`]).
        pub fn info(kind: &LayerKind) -> &'static ClassInfo {
            match kind {
                $($pat => &$info,)*
            }
        }

        static CLASSES: &[&ClassInfo] = &[$(&$info),*];
    };
}

registry! {
    conv::CONV2D => LayerKind::Conv2D { .. },
    conv::DEPTHWISE_CONV2D => LayerKind::DepthwiseConv2D { .. },
    conv::SEPARABLE_CONV2D => LayerKind::SeparableConv2D { .. },
    conv::CONV2D_TRANSPOSE => LayerKind::Conv2DTranspose { .. },
    conv::CONV1D => LayerKind::Conv1D { .. },
    dense::DENSE => LayerKind::Dense { .. },
    pool::MAX_POOLING2D => LayerKind::MaxPooling2D { .. },
    pool::AVERAGE_POOLING2D => LayerKind::AveragePooling2D { .. },
    pool::GLOBAL_AVERAGE_POOLING2D => LayerKind::GlobalAveragePooling2D { .. },
    pool::GLOBAL_MAX_POOLING2D => LayerKind::GlobalMaxPooling2D { .. },
    pool::MAX_POOLING1D => LayerKind::MaxPooling1D { .. },
    pool::AVERAGE_POOLING1D => LayerKind::AveragePooling1D { .. },
    pool::GLOBAL_AVERAGE_POOLING1D => LayerKind::GlobalAveragePooling1D { .. },
    pool::GLOBAL_MAX_POOLING1D => LayerKind::GlobalMaxPooling1D { .. },
    norm::BATCH_NORMALIZATION => LayerKind::BatchNormalization { .. },
    norm::LAYER_NORMALIZATION => LayerKind::LayerNormalization { .. },
    activation::ACTIVATION => LayerKind::Activation { .. },
    activation::RELU => LayerKind::ReLU { .. },
    activation::SOFTMAX => LayerKind::Softmax { .. },
    activation::LEAKY_RELU => LayerKind::LeakyReLU { .. },
    activation::PRELU => LayerKind::PReLU { .. },
    merge::ADD => LayerKind::Add,
    merge::MULTIPLY => LayerKind::Multiply,
    merge::SUBTRACT => LayerKind::Subtract,
    merge::MAXIMUM => LayerKind::Maximum,
    merge::MINIMUM => LayerKind::Minimum,
    merge::AVERAGE => LayerKind::Average,
    merge::CONCATENATE => LayerKind::Concatenate { .. },
    reshape::FLATTEN => LayerKind::Flatten,
    reshape::RESHAPE => LayerKind::Reshape { .. },
    reshape::PERMUTE => LayerKind::Permute { .. },
    reshape::REPEAT_VECTOR => LayerKind::RepeatVector { .. },
    sequence::MASKING => LayerKind::Masking { .. },
    reshape::ZERO_PADDING2D => LayerKind::ZeroPadding2D { .. },
    reshape::CROPPING2D => LayerKind::Cropping2D { .. },
    reshape::UPSAMPLING2D => LayerKind::UpSampling2D { .. },
    sequence::EMBEDDING => LayerKind::Embedding { .. },
    recurrent::LSTM => LayerKind::Lstm { .. },
    recurrent::GRU => LayerKind::Gru { .. },
    recurrent::SIMPLE_RNN => LayerKind::SimpleRnn { .. },
    recurrent::BIDIRECTIONAL => LayerKind::Bidirectional { .. },
    attention::MULTI_HEAD_ATTENTION => LayerKind::MultiHeadAttention { .. },
    preprocess::RESCALING => LayerKind::Rescaling { .. },
    preprocess::NORMALIZATION => LayerKind::Normalization { .. },
    identity::DROPOUT => LayerKind::InferenceIdentity { class: IdentityClass::Dropout },
    identity::SPATIAL_DROPOUT1D => LayerKind::InferenceIdentity { class: IdentityClass::SpatialDropout1D },
    identity::SPATIAL_DROPOUT2D => LayerKind::InferenceIdentity { class: IdentityClass::SpatialDropout2D },
    identity::SPATIAL_DROPOUT3D => LayerKind::InferenceIdentity { class: IdentityClass::SpatialDropout3D },
    identity::GAUSSIAN_NOISE => LayerKind::InferenceIdentity { class: IdentityClass::GaussianNoise },
    identity::GAUSSIAN_DROPOUT => LayerKind::InferenceIdentity { class: IdentityClass::GaussianDropout },
    identity::ALPHA_DROPOUT => LayerKind::InferenceIdentity { class: IdentityClass::AlphaDropout },
    identity::ACTIVITY_REGULARIZATION => LayerKind::InferenceIdentity { class: IdentityClass::ActivityRegularization },
    identity::IDENTITY => LayerKind::InferenceIdentity { class: IdentityClass::Identity },
    fallback::THAW_TF_OP => LayerKind::TfOp(_),
}

/// Every Keras class thaw writes and reads, family by family.
pub fn classes() -> impl Iterator<Item = &'static ClassInfo> {
    CLASSES.iter().copied()
}

/// The config object being written for one layer.
pub(crate) struct ConfigOut<'a>(pub(crate) &'a mut Map<String, Value>);

impl ConfigOut<'_> {
    pub(crate) fn put(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_string(), value);
    }

    pub(crate) fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }
}

/// The typed config of one (non-Input) layer entry.
pub(crate) fn read(e: &Entry) -> Result<LayerKind, String> {
    let c = Cfg { e };
    match dtype_name(e.config.get("dtype")) {
        None | Some("float32") => {}
        Some(d) => return Err(c.err(format!("dtype '{d}' not supported (float32 only)"))),
    }
    c.refuse_if_set(&["lora_rank"])?;
    match classes().find(|info| info.reads(e.class)) {
        Some(info) => (info.read)(&c),
        None if matches!(e.class, "Functional" | "Model" | "Sequential") => {
            Err(c.err("nested models are not supported yet (flatten the model first)"))
        }
        None => Err(c.err(format!("class '{}' is not supported yet", e.class))),
    }
}

/// The class name thaw writes: the IR's, except `MultiHeadAttention`, written as
/// the shim `ThawMultiHeadAttention` of the generated module (see
/// [`attention`]).
pub fn written_class_name(kind: &LayerKind) -> &'static str {
    info(kind).written
}

/// Keras's weight names for a layer of this class, in `layer.weights` order
/// (the order both frameworks' `.h5` loaders assign values in).
pub fn weight_names(kind: &LayerKind) -> Vec<&'static str> {
    (info(kind).weight_names)(kind)
}

/// Checks that `shapes` (in [`weight_names`] order) fit the layer's config as far
/// as the config alone tells (the input channel count is not known here).
/// Returns a message without the layer name.
pub fn check_weight_shapes(kind: &LayerKind, shapes: &[&[usize]]) -> Result<(), String> {
    let names = weight_names(kind);
    if names.len() != shapes.len() {
        return Err(format!(
            "{} expects {} weight(s) ({}), got {}",
            kind.class_name(),
            names.len(),
            names.join(", "),
            shapes.len()
        ));
    }
    (info(kind).check_shapes)(kind, &names, shapes)
}

/// A layer's weights as a reader found them (`values` in the file's order):
/// checked by [`check_weight_shapes`] and named by [`weight_names`]. The one
/// step both readers (`.h5`, `.keras`) and the `keras_config` fuzz target
/// share after the bytes are decoded.
pub fn bind_weights(
    kind: &LayerKind,
    values: Vec<ndarray::ArrayD<f32>>,
) -> Result<Vec<crate::keras::Weight>, String> {
    let shapes: Vec<&[usize]> = values.iter().map(|v| v.shape()).collect();
    check_weight_shapes(kind, &shapes)?;
    Ok(weight_names(kind)
        .into_iter()
        .zip(values)
        .map(|(n, value)| crate::keras::Weight {
            name: n.to_string(),
            value,
        })
        .collect())
}

/// The Keras output shape (batch first, `None` where unknown) of a layer of
/// this kind on inputs of these shapes, by its class's rule; an error (without
/// the layer name) says why the config does not fit them.
pub fn output_shape(
    kind: &LayerKind,
    weights: &[Weight],
    inputs: &[Shape],
) -> Result<Shape, String> {
    let first = inputs.first().ok_or("has no input")?;
    (info(kind).output_shape)(kind, weights, first, inputs)
}

/// The shape of every output of the layer ([`LayerKind::outputs`]): the
/// first by [`output_shape`], the others a recurrent layer's states and a
/// non-merged `Bidirectional`'s backward sequence.
pub fn output_shapes(
    kind: &LayerKind,
    weights: &[Weight],
    inputs: &[Shape],
) -> Result<Vec<Shape>, String> {
    let first = output_shape(kind, weights, inputs)?;
    let more = recurrent::more_output_shapes(kind, &first, &inputs[0]);
    Ok(std::iter::once(first).chain(more).collect())
}

/// The first config float of the layer that is not finite, as a message.
pub(crate) fn non_finite(kind: &LayerKind) -> Option<String> {
    (info(kind).floats)(kind)
        .iter()
        .find(|(_, x)| !x.is_finite())
        .map(|(k, x)| format!("{k} = {x} is not a finite number"))
}

/// A float as JSON by its shortest f32 spelling (`0.001`, not `0.0010000000474974513`).
pub(crate) fn num_f32(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// The shape-check failure message for weight `name`.
pub(crate) fn bad_shape(name: &str, want: String, got: &[usize]) -> Result<(), String> {
    Err(format!(
        "weight '{name}' should have shape {want}, has {got:?}"
    ))
}

/// `names`, then `"bias"` if the layer has one.
pub(crate) fn with_bias(names: &[&'static str], use_bias: bool) -> Vec<&'static str> {
    let mut v = names.to_vec();
    if use_bias {
        v.push("bias");
    }
    v
}

/// For classes without weights.
pub(crate) fn no_weights(_: &LayerKind) -> Vec<&'static str> {
    Vec::new()
}

/// For classes whose weight shapes are not checked (none, or not yet: the
/// family header says which).
pub(crate) fn no_shape_check(
    _: &LayerKind,
    _: &[&'static str],
    _: &[&[usize]],
) -> Result<(), String> {
    Ok(())
}

/// For classes without float config values.
pub(crate) fn no_floats(_: &LayerKind) -> Vec<(&'static str, f32)> {
    Vec::new()
}

/// For classes whose config has no class keys.
pub(crate) fn write_nothing(_: &Layer, _: &mut ConfigOut) {}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::keras::ir::{Activation, Padding};
    use crate::keras::test_models;

    /// The registry is complete: every class thaw knows has a writer, a reader,
    /// weight names and a shape check that accept the test model's layer of
    /// that class, and the model's config round trip reads each back as itself.
    #[test]
    fn every_class_is_registered_once_and_exercised() {
        let mut names = HashSet::new();
        let mut classes_seen = HashSet::new();
        for c in classes() {
            assert!(classes_seen.insert(c.class), "{} registered twice", c.class);
            assert!(c.reads(c.class) && c.reads(c.written), "{}", c.class);
            for n in std::iter::once(c.class)
                .chain((c.written != c.class).then_some(c.written))
                .chain(c.aliases.iter().copied())
            {
                assert!(names.insert(n), "class name {n} read by two classes");
            }
        }
        let models = test_models::all_models();
        let mut exercised = HashSet::new();
        for layer in models.iter().flat_map(|m| &m.layers) {
            let c = info(&layer.kind);
            assert_eq!(
                c.class,
                layer.kind.class_name(),
                "{} routed wrong",
                layer.name
            );
            let names: Vec<&str> = layer.weights.iter().map(|w| w.name.as_str()).collect();
            assert_eq!(names, weight_names(&layer.kind), "{}", layer.name);
            let shapes: Vec<&[usize]> = layer.weights.iter().map(|w| w.value.shape()).collect();
            assert_eq!(
                check_weight_shapes(&layer.kind, &shapes),
                Ok(()),
                "{}",
                layer.name
            );
            assert_eq!(non_finite(&layer.kind), None, "{}", layer.name);
            exercised.insert(c.class);
        }
        let missing: Vec<&str> = classes()
            .map(|c| c.class)
            .filter(|c| !exercised.contains(c))
            .collect();
        assert!(missing.is_empty(), "no test model has {missing:?}");
    }

    #[test]
    fn unknown_and_nested_classes_are_refused_by_name() {
        let entry =
            |class: &str| serde_json::json!({"class_name": class, "name": "l", "config": {}});
        for (class, want) in [
            ("Bogus", "class 'Bogus' is not supported yet"),
            ("Sequential", "nested models are not supported yet"),
        ] {
            let v = entry(class);
            let e = crate::keras::cfg::entry(&v, 0).unwrap();
            let err = read(&e).unwrap_err();
            assert!(err.contains("layer 'l'") && err.contains(want), "{err}");
        }
    }

    #[test]
    fn weight_shapes_are_checked_against_the_config() {
        let conv = LayerKind::Conv2D {
            filters: 4,
            kernel_size: [3, 3],
            strides: [1, 1],
            padding: Padding::Valid,
            dilation_rate: [1, 1],
            groups: 1,
            use_bias: true,
            activation: Activation::Linear,
        };
        assert!(check_weight_shapes(&conv, &[&[3, 3, 2, 4], &[4]]).is_ok());
        // OIHW (a classic layout mix-up) is refused.
        assert!(check_weight_shapes(&conv, &[&[4, 2, 3, 3], &[4]]).is_err());
        assert!(check_weight_shapes(&conv, &[&[3, 3, 2, 4]]).is_err());
    }
}
