//! The Rust reference interpreter: executes a [`crate::keras::Model`] with
//! Keras semantics on ndarray (`ArrayD<f32>`, channels-last NHWC). It is an
//! independent witness: it never imports `oracle`, `graph` or `convert`, and
//! never uses tract.
//!
//! Layout (one file per layer family):
//! - [`conv`] — Conv2D, DepthwiseConv2D and the shared TF padding math;
//! - [`separable`] — SeparableConv2D;
//! - [`conv_transpose`] — Conv2DTranspose;
//! - [`conv1d`] — Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D,
//!   GlobalAveragePooling1D;
//! - [`dense`] — Dense;
//! - [`activation`] — Activation, ReLU, LeakyReLU, Softmax (and the fused `activation=`);
//! - [`pool`] — MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D;
//! - [`norm`] — BatchNormalization;
//! - [`layer_norm`] — LayerNormalization;
//! - [`preprocess`] — Rescaling, Normalization, PReLU;
//! - [`attention`] — MultiHeadAttention;
//! - [`recurrent`] — LSTM, GRU, SimpleRNN;
//! - [`bidirectional`] — Bidirectional;
//! - [`embedding`] — Embedding;
//! - [`sequence`] — Permute, RepeatVector;
//! - `mask` — Masking, and the Keras masks the layers make, carry and read;
//! - [`reshape`] — ZeroPadding2D, Flatten, Reshape;
//! - [`crop`] — Cropping2D;
//! - [`upsample`] — UpSampling2D (nearest, bilinear);
//! - [`merge`] — Add, Multiply, Subtract, Maximum, Minimum, Average, Concatenate;
//! - [`fallback`] — ThawTfOp (one TF op, TensorFlow's semantics);
//! - the inference identities (Dropout, GaussianNoise, …) are the identity in
//!   [`run_layer`];
//! - `keras_cases.rs` (tests only) — the real-Keras cross-check.
//!
//! [`run_layer`] is the one dispatcher from [`LayerKind`] to the family code;
//! [`run`] walks a whole Functional model, stopping at the first layer that
//! fails; [`run_all`] goes on past failing layers and records why each layer
//! without a value has none (its own error, or the upstream layer that
//! failed), so `thaw verify` can still judge every layer of a model that is
//! wrong in a way that breaks running it. Every error names the layer and its
//! class. Nothing here panics on a model a user could load: shapes and weights
//! are checked before any indexing.

pub mod activation;
pub mod attention;
pub mod bidirectional;
pub mod conv;
pub mod conv1d;
pub mod conv_transpose;
pub mod crop;
pub mod dense;
pub mod embedding;
pub mod fallback;
pub mod layer_norm;
mod mask;
pub mod merge;
pub mod norm;
pub mod pool;
pub mod preprocess;
pub mod recurrent;
pub mod reshape;
pub mod separable;
pub mod sequence;
pub mod upsample;

use std::collections::{HashMap, HashSet};

use ndarray::ArrayD;

use crate::keras::{Layer, LayerKind, Model, output_name};

/// What went wrong inside one layer, without the layer's name (which
/// [`InterpError::Layer`] adds). Family code returns this.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("expected {expected} input(s), got {got}")]
    InputCount { expected: String, got: usize },
    #[error("input {index} has shape {shape:?}: {message}")]
    InputShape {
        index: usize,
        shape: Vec<usize>,
        message: String,
    },
    #[error("missing weight '{0}'")]
    MissingWeight(String),
    #[error("weight '{weight}' has shape {got:?}, expected {expected:?}")]
    WeightShape {
        weight: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("invalid config: {0}")]
    Config(String),
}

/// An interpreter error. Every variant names the layer (or model input) it is about.
#[derive(Debug, thiserror::Error)]
pub enum InterpError {
    #[error("layer '{layer}' ({class}): {problem}")]
    Layer {
        layer: String,
        class: &'static str,
        problem: LayerError,
    },
    #[error("model '{model}' has {expected} input(s), got {got} array(s)")]
    ModelInputCount {
        model: String,
        expected: usize,
        got: usize,
    },
    #[error("model input '{input}' expects shape (batch, {expected}), got {got:?}")]
    ModelInputShape {
        input: String,
        expected: String,
        got: Vec<usize>,
    },
    #[error("layer '{layer}' ({class}): inbound '{inbound}' is neither a model input nor a layer")]
    UnknownInbound {
        layer: String,
        class: &'static str,
        inbound: String,
    },
    #[error("name '{0}' is used by more than one layer or input")]
    DuplicateName(String),
    #[error("layers {0:?} can never run: their inputs form a cycle")]
    Cycle(Vec<String>),
    #[error("model output '{0}' is neither a model input nor a layer")]
    UnknownOutput(String),
}

/// Keras class names this interpreter implements (for `thaw inspect`).
pub fn supported_classes() -> Vec<&'static str> {
    let mut v = vec![
        "Conv2D",
        "DepthwiseConv2D",
        "Dense",
        "ZeroPadding2D",
        "Activation",
        "ReLU",
        "Softmax",
        "LeakyReLU",
        "MaxPooling2D",
        "AveragePooling2D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling2D",
        "Flatten",
        "Reshape",
        "Add",
        "Multiply",
        "Subtract",
        "Maximum",
        "Minimum",
        "Average",
        "Concatenate",
        "SeparableConv2D",
        "Cropping2D",
        "BatchNormalization",
        "ThawTfOp",
        "LayerNormalization",
        "MultiHeadAttention",
        "Rescaling",
        "Normalization",
        "PReLU",
        "Conv2DTranspose",
        "UpSampling2D",
        "Embedding",
        "Conv1D",
        "MaxPooling1D",
        "AveragePooling1D",
        "GlobalAveragePooling1D",
        "GlobalMaxPooling1D",
        "LSTM",
        "GRU",
        "SimpleRNN",
        "Bidirectional",
        "Permute",
        "RepeatVector",
        "Masking",
    ];
    // Inference-time identities (Dropout, GaussianNoise, ...): `dispatch` passes them through.
    v.extend(
        crate::keras::ir::IdentityClass::ALL
            .iter()
            .map(|c| c.keras_name()),
    );
    v
}

/// Run one layer on its inputs (in `layer.inbound` order), with no Keras
/// mask. Used for "isolated" checks: the layer is fed the original graph's
/// values of its inputs.
pub fn run_layer(layer: &Layer, inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, InterpError> {
    run_layer_masked(layer, inputs, &[]).map(|(y, _)| y)
}

/// [`run_layer`] with the Keras masks of its inputs (`None` where an input
/// has none; see [`crate::keras::layers::mask`]): the output and its mask.
pub fn run_layer_masked(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    masks: &[Option<&ArrayD<bool>>],
) -> Result<MaskedOutput, InterpError> {
    let mut outputs = run_layer_outputs(layer, inputs, masks)?;
    Ok(outputs.swap_remove(0))
}

/// One output of a layer and the Keras mask it carries, if any.
pub type MaskedOutput = (ArrayD<f32>, Option<ArrayD<bool>>);

/// [`run_layer_masked`] for every output of the layer (see
/// [`LayerKind::outputs`]), in order, each with its mask.
pub fn run_layer_outputs(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    masks: &[Option<&ArrayD<bool>>],
) -> Result<Vec<MaskedOutput>, InterpError> {
    let run = || {
        mask::check_unmasked(layer, masks)?;
        let ys = dispatch(layer, inputs, masks.first().copied().flatten())?;
        if ys.len() != layer.kind.outputs() {
            return Err(LayerError::Config(format!(
                "{} outputs computed, the layer has {}",
                ys.len(),
                layer.kind.outputs()
            )));
        }
        let m = mask::output_mask(layer, inputs, masks)?;
        Ok(ys
            .into_iter()
            .enumerate()
            .map(|(k, y)| (y, m.clone().filter(|_| layer.kind.output_carries_mask(k))))
            .collect())
    };
    run().map_err(|problem| InterpError::Layer {
        layer: layer.name.clone(),
        class: layer.kind.class_name(),
        problem,
    })
}

/// The one dispatcher from a layer's typed config to its family's code;
/// `mask` is the Keras mask of the first input (read by the recurrent
/// layers). Every output of the layer, in order.
pub(super) fn dispatch(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    mask: Option<&ArrayD<bool>>,
) -> Result<Vec<ArrayD<f32>>, LayerError> {
    let steps = mask::step_mask(&layer.kind, mask)?;
    match &layer.kind {
        LayerKind::Lstm { .. } => recurrent::lstm_layer(layer, single_input(inputs)?, steps),
        LayerKind::Gru { .. } => recurrent::gru_layer(layer, single_input(inputs)?, steps),
        LayerKind::SimpleRnn { .. } => {
            recurrent::simple_rnn_layer(layer, single_input(inputs)?, steps)
        }
        LayerKind::Bidirectional { .. } => {
            bidirectional::bidirectional_layer(layer, single_input(inputs)?, steps)
        }
        _ => dispatch_one(layer, inputs).map(|y| vec![y]),
    }
}

/// [`dispatch`] for the layers of one output (and no mask to read).
fn dispatch_one(layer: &Layer, inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    match &layer.kind {
        LayerKind::Add => merge::add(inputs),
        LayerKind::Multiply => merge::multiply(inputs),
        LayerKind::Subtract => merge::subtract(inputs),
        LayerKind::Maximum => merge::maximum(inputs),
        LayerKind::Minimum => merge::minimum(inputs),
        LayerKind::Average => merge::average(inputs),
        LayerKind::Concatenate { axis } => merge::concatenate(inputs, *axis),
        LayerKind::TfOp(op) => fallback::run(layer, op, inputs),
        LayerKind::MultiHeadAttention { .. } => attention::mha_layer(layer, inputs),
        kind => {
            let x = single_input(inputs)?;
            match kind {
                LayerKind::Conv2D { .. } => conv::conv2d_layer(layer, x),
                LayerKind::DepthwiseConv2D { .. } => conv::depthwise_conv2d_layer(layer, x),
                LayerKind::Dense { .. } => dense::dense_layer(layer, x),
                LayerKind::ZeroPadding2D { padding } => reshape::zero_padding2d(x, *padding),
                LayerKind::Activation { activation } => {
                    Ok(activation::apply(*activation, x.clone()))
                }
                LayerKind::ReLU {
                    max_value,
                    negative_slope,
                    threshold,
                } => activation::relu_layer(x, *max_value, *negative_slope, *threshold),
                LayerKind::Softmax { axis } => activation::softmax_layer(x, *axis),
                LayerKind::LeakyReLU { alpha } => activation::leaky_relu_layer(x, *alpha),
                LayerKind::MaxPooling2D {
                    pool_size,
                    strides,
                    padding,
                } => pool::max_pool2d(x, *pool_size, *strides, *padding),
                LayerKind::AveragePooling2D {
                    pool_size,
                    strides,
                    padding,
                } => pool::avg_pool2d(x, *pool_size, *strides, *padding),
                LayerKind::GlobalAveragePooling2D { keepdims } => {
                    pool::global_avg_pool2d(x, *keepdims)
                }
                LayerKind::GlobalMaxPooling2D { keepdims } => pool::global_max_pool2d(x, *keepdims),
                LayerKind::Flatten => reshape::flatten(x),
                // Dropout and its kin: the identity at inference.
                LayerKind::InferenceIdentity { .. } => Ok(x.clone()),
                LayerKind::Reshape { target_shape } => reshape::reshape(x, target_shape),
                LayerKind::SeparableConv2D { .. } => separable::separable_conv2d_layer(layer, x),
                LayerKind::Cropping2D { cropping } => crop::cropping2d(x, *cropping),
                LayerKind::BatchNormalization { .. } => norm::batch_norm_layer(layer, x),
                LayerKind::LayerNormalization { .. } => layer_norm::layer_norm_layer(layer, x),
                LayerKind::Rescaling { scale, offset } => {
                    Ok(preprocess::rescaling(x, *scale, *offset))
                }
                LayerKind::Normalization {
                    axis,
                    mean,
                    variance,
                } => preprocess::normalization(x, *axis, mean, variance),
                LayerKind::PReLU { .. } => preprocess::prelu_layer(layer, x),
                LayerKind::Conv2DTranspose { .. } => {
                    conv_transpose::conv2d_transpose_layer(layer, x)
                }
                LayerKind::UpSampling2D {
                    size,
                    interpolation,
                } => upsample::upsampling2d(x, *size, *interpolation),
                LayerKind::Embedding { .. } => embedding::embedding_layer(layer, x),
                LayerKind::Conv1D { .. } => conv1d::conv1d_layer(layer, x),
                LayerKind::MaxPooling1D {
                    pool_size,
                    strides,
                    padding,
                } => conv1d::max_pool1d(x, *pool_size, *strides, *padding),
                LayerKind::AveragePooling1D {
                    pool_size,
                    strides,
                    padding,
                } => conv1d::avg_pool1d(x, *pool_size, *strides, *padding),
                LayerKind::GlobalAveragePooling1D { keepdims } => {
                    conv1d::global_avg_pool1d(x, *keepdims)
                }
                LayerKind::GlobalMaxPooling1D { keepdims } => {
                    conv1d::global_max_pool1d(x, *keepdims)
                }
                LayerKind::Permute { dims } => sequence::permute(x, dims),
                LayerKind::RepeatVector { n } => sequence::repeat_vector(x, *n),
                LayerKind::Masking { mask_value } => mask::masking_layer(x, *mask_value),
                LayerKind::Add
                | LayerKind::Multiply
                | LayerKind::Subtract
                | LayerKind::Maximum
                | LayerKind::Minimum
                | LayerKind::Average
                | LayerKind::Concatenate { .. }
                | LayerKind::MultiHeadAttention { .. }
                | LayerKind::TfOp(_)
                | LayerKind::Lstm { .. }
                | LayerKind::Gru { .. }
                | LayerKind::SimpleRnn { .. }
                | LayerKind::Bidirectional { .. } => {
                    unreachable!("multi-input and recurrent layers are dispatched above")
                }
            }
        }
    }
}

fn single_input<'a>(inputs: &[&'a ArrayD<f32>]) -> Result<&'a ArrayD<f32>, LayerError> {
    match inputs {
        [x] => Ok(x),
        _ => Err(LayerError::InputCount {
            expected: "1".into(),
            got: inputs.len(),
        }),
    }
}

/// The weight called `name`, checked against the shape the config implies.
pub(crate) fn weight<'a>(
    layer: &'a Layer,
    name: &str,
    expected: &[usize],
) -> Result<&'a ArrayD<f32>, LayerError> {
    let w = layer
        .weight(name)
        .ok_or_else(|| LayerError::MissingWeight(name.into()))?;
    if w.shape() != expected {
        return Err(LayerError::WeightShape {
            weight: name.into(),
            got: w.shape().to_vec(),
            expected: expected.to_vec(),
        });
    }
    Ok(w)
}

/// An error about input `index` of a layer.
pub(crate) fn input_error(index: usize, x: &ArrayD<f32>, message: impl Into<String>) -> LayerError {
    LayerError::InputShape {
        index,
        shape: x.shape().to_vec(),
        message: message.into(),
    }
}

/// Checks that input `index` has rank `rank`.
pub(crate) fn expect_rank(index: usize, x: &ArrayD<f32>, rank: usize) -> Result<(), LayerError> {
    if x.ndim() != rank {
        return Err(input_error(
            index,
            x,
            format!("expected rank {rank}, got rank {}", x.ndim()),
        ));
    }
    Ok(())
}

/// Resolves a Keras axis (negative counts from the end) against `rank`.
pub(crate) fn resolve_axis(axis: i64, rank: usize) -> Option<usize> {
    let rank_i = i64::try_from(rank).ok()?;
    let a = if axis < 0 { axis + rank_i } else { axis };
    if (0..rank_i).contains(&a) {
        usize::try_from(a).ok()
    } else {
        None
    }
}

/// Why a layer has no value after a whole-model [`run_all`].
#[derive(Debug, thiserror::Error)]
pub enum LayerFailure {
    /// The layer itself failed on the values it was given (an input of the
    /// wrong shape, a kernel that does not fit, a window larger than the
    /// input, ...).
    #[error("{0}")]
    Own(InterpError),
    /// One of its inputs has no value; `upstream` is the layer that failed by
    /// itself on that path.
    #[error("no value for its input '{input}': layer '{upstream}' failed upstream")]
    Upstream { input: String, upstream: String },
}

/// A whole-model run that goes on past failing layers: every layer that
/// could run has its value; the others have a [`LayerFailure`].
#[derive(Debug, Default)]
pub struct Run {
    /// Every model input's and every layer's value, by name.
    pub values: HashMap<String, ArrayD<f32>>,
    /// The Keras masks the values carry (`Embedding(mask_zero)` and the layers
    /// that carry its mask on), by the same names.
    pub masks: HashMap<String, ArrayD<bool>>,
    /// The layers with no value and why, in the order they were reached
    /// (a layer's inputs are always reached before it).
    pub failures: Vec<(String, LayerFailure)>,
}

impl Run {
    /// Why `layer` has no value, if it has none.
    pub fn failure(&self, layer: &str) -> Option<&LayerFailure> {
        self.failures
            .iter()
            .find(|(n, _)| n == layer)
            .map(|(_, f)| f)
    }
}

/// Run the whole model; returns every layer's output (and every Input's
/// value) keyed by layer/input name. `inputs` in `model.inputs` order. The
/// batch dimension is whatever the arrays have.
///
/// Layers run as soon as all their inbound values exist, so the order of
/// `model.layers` need not be topological (a hand-made model may list them in
/// any order); a cycle or a dangling name is an error. The first layer that
/// fails is an error too: [`run_all`] goes on past it instead.
pub fn run(
    model: &Model,
    inputs: &[ArrayD<f32>],
) -> Result<HashMap<String, ArrayD<f32>>, InterpError> {
    let mut run = run_all(model, inputs)?;
    let first_own = run
        .failures
        .iter()
        .position(|(_, f)| matches!(f, LayerFailure::Own(_)));
    if let Some(i) = first_own
        && let (_, LayerFailure::Own(e)) = run.failures.swap_remove(i)
    {
        return Err(e);
    }
    Ok(run.values)
}

/// Runs the whole model like [`run`], but a layer that fails (or whose input
/// has no value) is recorded in [`Run::failures`] and the other layers go on,
/// so each layer of a model that is wrong in a way that breaks running it can
/// still be judged. Errors are only what makes the model as a whole
/// unrunnable: input count or shape, duplicate or dangling names, cycles.
pub fn run_all(model: &Model, inputs: &[ArrayD<f32>]) -> Result<Run, InterpError> {
    check_names(model)?;
    let mut out = Run {
        values: bind_inputs(model, inputs)?,
        masks: HashMap::new(),
        failures: Vec::new(),
    };
    // Tensor name (a layer's output) -> the layer that failed by itself at
    // or above it.
    let mut failed: HashMap<String, String> = HashMap::new();
    let mut pending: Vec<&Layer> = model.layers.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut still = Vec::new();
        for layer in pending {
            let reached = layer
                .inbound
                .iter()
                .all(|n| out.values.contains_key(n) || failed.contains_key(n.as_str()));
            if !reached {
                still.push(layer);
                continue;
            }
            let dead = layer
                .inbound
                .iter()
                .find_map(|n| failed.get(n.as_str()).map(|up| (n, up.clone())));
            if let Some((input, upstream)) = dead {
                for k in 0..layer.kind.outputs() {
                    failed.insert(output_name(&layer.name, k), upstream.clone());
                }
                out.failures.push((
                    layer.name.clone(),
                    LayerFailure::Upstream {
                        input: input.clone(),
                        upstream,
                    },
                ));
                continue;
            }
            let args: Vec<&ArrayD<f32>> = layer
                .inbound
                .iter()
                .filter_map(|n| out.values.get(n))
                .collect();
            let masks: Vec<Option<&ArrayD<bool>>> =
                layer.inbound.iter().map(|n| out.masks.get(n)).collect();
            match run_layer_outputs(layer, &args, &masks) {
                Ok(outputs) => {
                    for (k, (y, mask)) in outputs.into_iter().enumerate() {
                        let name = output_name(&layer.name, k);
                        if let Some(m) = mask {
                            out.masks.insert(name.clone(), m);
                        }
                        out.values.insert(name, y);
                    }
                }
                Err(e) => {
                    for k in 0..layer.kind.outputs() {
                        failed.insert(output_name(&layer.name, k), layer.name.clone());
                    }
                    out.failures
                        .push((layer.name.clone(), LayerFailure::Own(e)));
                }
            }
        }
        if still.len() == before {
            return Err(InterpError::Cycle(
                still.iter().map(|l| l.name.clone()).collect(),
            ));
        }
        pending = still;
    }
    Ok(out)
}

/// Names are unique, every inbound and output names an input or a layer's
/// output ([`output_name`]).
fn check_names(model: &Model) -> Result<(), InterpError> {
    let mut names = HashSet::new();
    for name in model
        .inputs
        .iter()
        .map(|i| i.name.clone())
        .chain(model.layer_outputs())
    {
        if names.contains(&name) {
            return Err(InterpError::DuplicateName(name));
        }
        names.insert(name);
    }
    for layer in &model.layers {
        if let Some(bad) = layer.inbound.iter().find(|n| !names.contains(n.as_str())) {
            return Err(InterpError::UnknownInbound {
                layer: layer.name.clone(),
                class: layer.kind.class_name(),
                inbound: bad.clone(),
            });
        }
    }
    if let Some(bad) = model.outputs.iter().find(|n| !names.contains(n.as_str())) {
        return Err(InterpError::UnknownOutput(bad.clone()));
    }
    Ok(())
}

/// The model inputs by name, each checked against its declared shape.
fn bind_inputs(
    model: &Model,
    inputs: &[ArrayD<f32>],
) -> Result<HashMap<String, ArrayD<f32>>, InterpError> {
    if inputs.len() != model.inputs.len() {
        return Err(InterpError::ModelInputCount {
            model: model.name.clone(),
            expected: model.inputs.len(),
            got: inputs.len(),
        });
    }
    let mut values = HashMap::new();
    for (spec, x) in model.inputs.iter().zip(inputs) {
        let fits = x.ndim() == spec.shape.len() + 1
            && spec
                .shape
                .iter()
                .zip(&x.shape()[1..])
                .all(|(want, got)| want.is_none_or(|w| w == *got));
        if !fits {
            let expected = spec
                .shape
                .iter()
                .map(|d| d.map_or("None".to_string(), |v| v.to_string()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(InterpError::ModelInputShape {
                input: spec.name.clone(),
                expected,
                got: x.shape().to_vec(),
            });
        }
        values.insert(spec.name.clone(), x.clone());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, DType, Input, Weight};
    use ndarray::{ArrayD, IxDyn};

    fn dense(name: &str, inbound: &str, k: Vec<f32>, kin: usize, units: usize) -> Layer {
        Layer {
            name: name.into(),
            kind: LayerKind::Dense {
                units,
                use_bias: false,
                activation: Activation::Linear,
            },
            inbound: vec![inbound.into()],
            weights: vec![Weight {
                name: "kernel".into(),
                value: ArrayD::from_shape_vec(IxDyn(&[kin, units]), k).unwrap(),
            }],
        }
    }

    fn model(layers: Vec<Layer>) -> Model {
        Model {
            name: "m".into(),
            inputs: vec![Input {
                name: "x".into(),
                shape: vec![Some(2)],
                dtype: DType::F32,
            }],
            layers,
            outputs: vec!["sum".into()],
        }
    }

    fn x() -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![1.0, 2.0]).unwrap()
    }

    #[test]
    fn runs_a_diamond_given_out_of_order() {
        // x=[1,2]; a = x·[[1],[1]] = 3 ... as 2 units: a = x·I*2 = [2,4]; b = x·I = [1,2];
        // sum = a + b = [3, 6]. Layers are listed with `sum` first to check the scheduler.
        let add = Layer {
            name: "sum".into(),
            kind: LayerKind::Add,
            inbound: vec!["a".into(), "b".into()],
            weights: vec![],
        };
        let m = model(vec![
            add,
            dense("a", "x", vec![2.0, 0.0, 0.0, 2.0], 2, 2),
            dense("b", "x", vec![1.0, 0.0, 0.0, 1.0], 2, 2),
        ]);
        let out = run(&m, &[x()]).unwrap();
        assert_eq!(out["sum"].as_slice().unwrap(), &[3.0, 6.0]);
        assert_eq!(out["x"], x());
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn errors_name_the_problem() {
        let m = model(vec![dense("sum", "x", vec![1.0; 3], 3, 1)]);
        // Wrong input count.
        let e = run(&m, &[]).unwrap_err().to_string();
        assert!(e.contains("has 1 input(s), got 0"), "{e}");
        // Wrong input shape.
        let bad = ArrayD::zeros(IxDyn(&[1, 3]));
        let e = run(&m, &[bad]).unwrap_err().to_string();
        assert!(e.contains("model input 'x'"), "{e}");
        // Kernel (3,1) against 2 input features.
        let e = run(&m, &[x()]).unwrap_err().to_string();
        assert!(e.contains("layer 'sum' (Dense)"), "{e}");
        // Missing weight.
        let mut l = dense("sum", "x", vec![1.0; 2], 2, 1);
        l.weights.clear();
        let e = run(&model(vec![l]), &[x()]).unwrap_err().to_string();
        assert!(
            e.contains("layer 'sum' (Dense): missing weight 'kernel'"),
            "{e}"
        );
        // Unknown inbound and cycles.
        let e = run(
            &model(vec![dense("sum", "nope", vec![1.0; 2], 2, 1)]),
            &[x()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("inbound 'nope'"), "{e}");
        let m = model(vec![
            dense("sum", "c", vec![1.0; 4], 2, 2),
            dense("c", "sum", vec![1.0; 4], 2, 2),
        ]);
        assert!(matches!(run(&m, &[x()]), Err(InterpError::Cycle(_))));
        // Wrong input count to a single-input layer.
        let l = dense("d", "x", vec![1.0; 2], 2, 1);
        let e = run_layer(&l, &[&x(), &x()]).unwrap_err().to_string();
        assert!(
            e.contains("layer 'd' (Dense): expected 1 input(s), got 2"),
            "{e}"
        );
    }

    /// issue 4 (`--keras` on a model that cannot run all the way): a layer
    /// that fails no longer stops the run; the layers after it are recorded
    /// with the layer that failed, the others still run.
    #[test]
    fn run_all_goes_on_past_a_failing_layer() {
        // bad: kernel (3, 2) against 2 features -> fails by itself;
        // after_bad: fed by bad -> no value, upstream 'bad';
        // ok: x·I = [1, 2] still runs; sum = Add(after_bad, ok) -> upstream 'bad'.
        let add = Layer {
            name: "sum".into(),
            kind: LayerKind::Add,
            inbound: vec!["after_bad".into(), "ok".into()],
            weights: vec![],
        };
        let m = model(vec![
            add,
            dense("after_bad", "bad", vec![1.0; 4], 2, 2),
            dense("bad", "x", vec![1.0; 6], 3, 2),
            dense("ok", "x", vec![1.0, 0.0, 0.0, 1.0], 2, 2),
        ]);
        let r = run_all(&m, &[x()]).unwrap();
        assert_eq!(r.values["ok"].as_slice().unwrap(), &[1.0, 2.0]);
        assert!(!r.values.contains_key("bad") && !r.values.contains_key("sum"));
        assert_eq!(r.failures.len(), 3, "{:?}", r.failures);
        let own = r.failure("bad").unwrap().to_string();
        assert!(own.contains("layer 'bad' (Dense)"), "{own}");
        for name in ["after_bad", "sum"] {
            match r.failure(name) {
                Some(LayerFailure::Upstream { upstream, .. }) => assert_eq!(upstream, "bad"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let e = r.failure("sum").unwrap().to_string();
        assert!(
            e.contains("input 'after_bad'") && e.contains("'bad' failed"),
            "{e}"
        );
        assert!(r.failure("ok").is_none());
        // `run` still stops with the layer's own error.
        let e = run(&m, &[x()]).unwrap_err().to_string();
        assert!(e.contains("layer 'bad' (Dense)"), "{e}");
        // Model-level problems are still errors.
        assert!(matches!(
            run_all(&m, &[]),
            Err(InterpError::ModelInputCount { .. })
        ));
    }

    #[test]
    fn supported_classes_cover_every_kind() {
        // One entry per Keras class of the registry, none twice (that each
        // registry class is here is crate::completeness's test).
        let classes = supported_classes();
        let n = crate::keras::layers::classes().count();
        assert_eq!(classes.len(), n);
        assert_eq!(classes.iter().collect::<HashSet<_>>().len(), n);
    }

    #[test]
    fn resolves_axes() {
        assert_eq!(resolve_axis(-1, 4), Some(3));
        assert_eq!(resolve_axis(1, 4), Some(1));
        assert_eq!(resolve_axis(4, 4), None);
        assert_eq!(resolve_axis(-5, 4), None);
    }
}

/// Real-Keras cross-check (data made by `testdata/gen.py`).
#[cfg(test)]
mod keras_cases;
