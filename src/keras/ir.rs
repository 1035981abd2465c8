//! The Keras model IR: what `convert/` produces, what `keras/` serialises and
//! reads back, and what `interp/` executes.
//!
//! It is deliberately a plain data model with Keras's own vocabulary: one
//! [`Layer`] per Keras layer, a typed config per class ([`LayerKind`]), weights
//! in the exact order and layout Keras stores them (`kernel` as HWIO for
//! Conv2D, `(in, out)` for Dense, …), and inbound connections by layer name.
//! Nothing here knows about TensorFlow graphs.

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

/// Element type of a model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    F32,
    I32,
}

impl DType {
    /// The Keras/NumPy spelling ("float32", "int32").
    pub fn keras_name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::I32 => "int32",
        }
    }
}

/// A Keras `InputLayer`. `shape` excludes the batch dimension; `None` is an
/// unknown (dynamic) dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    pub shape: Vec<Option<usize>>,
    pub dtype: DType,
}

/// Keras's `padding` argument for convolutions and pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    Valid,
    /// TensorFlow SAME: total padding `max((ceil(in/s)-1)*s + (k-1)*d + 1 - in, 0)`,
    /// the extra element (if odd) at the end.
    Same,
}

impl Padding {
    pub fn keras_name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }
}

/// Keras's `padding` argument for `Conv1D`, which also knows `causal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding1D {
    Valid,
    /// TensorFlow SAME on the steps axis (see [`Padding::Same`]).
    Same,
    /// `(kernel_size - 1) * dilation_rate` zeros before the first step, none
    /// after, then `valid`: step `t` of the output never sees later steps.
    Causal,
}

impl Padding1D {
    pub fn keras_name(self) -> &'static str {
        match self {
            Padding1D::Valid => "valid",
            Padding1D::Same => "same",
            Padding1D::Causal => "causal",
        }
    }
}

/// `UpSampling2D`'s `interpolation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interpolation {
    /// Each pixel repeated `size` times.
    Nearest,
    /// `tf.image.resize` bilinear: half-pixel centres, no corner alignment.
    Bilinear,
}

impl Interpolation {
    pub fn keras_name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
        }
    }
}

/// `Bidirectional`'s `merge_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeMode {
    /// The forward then the backward output, along the last axis.
    Concat,
    Sum,
    Mul,
    /// `(forward + backward) / 2`.
    Ave,
    /// Keras's `merge_mode=None`: not merged, the forward and the backward
    /// output are the layer's first two outputs.
    Separate,
}

impl MergeMode {
    pub fn keras_name(self) -> &'static str {
        match self {
            MergeMode::Concat => "concat",
            MergeMode::Sum => "sum",
            MergeMode::Mul => "mul",
            MergeMode::Ave => "ave",
            MergeMode::Separate => "None",
        }
    }

    /// The mode a config's string names (`None` is JSON `null`, not a string).
    pub fn from_keras_name(name: &str) -> Option<MergeMode> {
        [
            MergeMode::Concat,
            MergeMode::Sum,
            MergeMode::Mul,
            MergeMode::Ave,
        ]
        .into_iter()
        .find(|m| m.keras_name() == name)
    }
}

/// Activation functions that Keras layers accept as `activation=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    /// Softmax over the last axis.
    Softmax,
    /// `x if x > 0 else exp(x) - 1` (alpha 1).
    Elu,
    /// `scale * elu(x, alpha)` with Keras's fixed alpha/scale constants.
    Selu,
    /// `log(1 + exp(x))`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `exp(x)`.
    Exponential,
    /// `x * sigmoid(x)` (Keras 3 calls it silu; both Kerases load "swish").
    Swish,
    /// Exact GELU: `0.5 * x * (1 + erf(x / sqrt(2)))` (Keras's default, `approximate=False`).
    Gelu,
}

impl Activation {
    pub fn keras_name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::Elu => "elu",
            Activation::Selu => "selu",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::Exponential => "exponential",
            Activation::Swish => "swish",
            Activation::Gelu => "gelu",
        }
    }
}

/// One Keras layer class with its typed config. Weight order per class is
/// documented on each variant and must match Keras's `layer.weights` order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LayerKind {
    /// weights: `kernel` (kh, kw, in/groups, filters), then `bias` (filters) if `use_bias`.
    Conv2D {
        filters: usize,
        kernel_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
        dilation_rate: [usize; 2],
        groups: usize,
        use_bias: bool,
        activation: Activation,
    },
    /// weights: `depthwise_kernel` (kh, kw, in, depth_multiplier), then `bias` (in*dm) if `use_bias`.
    DepthwiseConv2D {
        kernel_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
        depth_multiplier: usize,
        dilation_rate: [usize; 2],
        use_bias: bool,
        activation: Activation,
    },
    /// weights: `kernel` (in, units), then `bias` (units) if `use_bias`.
    Dense {
        units: usize,
        use_bias: bool,
        activation: Activation,
    },
    /// `padding`: [[top, bottom], [left, right]].
    ZeroPadding2D {
        padding: [[usize; 2]; 2],
    },
    Activation {
        activation: Activation,
    },
    /// `max(x, threshold)`-style ReLU; `max_value = Some(6.0)` is relu6.
    ReLU {
        max_value: Option<f32>,
        negative_slope: f32,
        threshold: f32,
    },
    Softmax {
        axis: i64,
    },
    /// `x if x >= 0 else alpha * x`.
    LeakyReLU {
        alpha: f32,
    },
    MaxPooling2D {
        pool_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    },
    /// Averages over the valid (unpadded) elements only, as TensorFlow does.
    AveragePooling2D {
        pool_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    },
    GlobalAveragePooling2D {
        keepdims: bool,
    },
    /// Maximum over H and W.
    GlobalMaxPooling2D {
        keepdims: bool,
    },
    /// Row-major (channels-last) flatten of everything but the batch axis.
    Flatten,
    /// `target_shape` excludes the batch axis; may hold one -1.
    Reshape {
        target_shape: Vec<i64>,
    },
    Add,
    /// Element-wise product of 2 or more inputs.
    Multiply,
    /// `inputs[0] - inputs[1]` (exactly 2 inputs).
    Subtract,
    /// Element-wise maximum of 2 or more inputs.
    Maximum,
    /// Element-wise minimum of 2 or more inputs.
    Minimum,
    /// Element-wise mean of 2 or more inputs.
    Average,
    /// Transposed convolution (TF `Conv2DBackpropInput`), dilation 1, no `output_padding`:
    /// output `in*s` (same) or `in*s + max(k-s, 0)` (valid) per axis.
    /// weights: `kernel` (kh, kw, filters, in) — output channels first, as Keras
    /// stores it — then `bias` (filters) if `use_bias`.
    Conv2DTranspose {
        filters: usize,
        kernel_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
        use_bias: bool,
        activation: Activation,
    },
    /// Upsampling by integer factors `size` = (rows, cols).
    UpSampling2D {
        size: [usize; 2],
        interpolation: Interpolation,
    },
    /// `axis` as Keras writes it (usually -1).
    Concatenate {
        axis: i64,
    },
    /// A depthwise convolution (`strides`, `padding`, `dilation_rate`) then a 1x1
    /// pointwise one, then bias and activation. weights: `depthwise_kernel`
    /// (kh, kw, in, depth_multiplier), `pointwise_kernel` (1, 1, in*depth_multiplier,
    /// filters), then `bias` (filters) if `use_bias`.
    SeparableConv2D {
        filters: usize,
        kernel_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
        depth_multiplier: usize,
        dilation_rate: [usize; 2],
        use_bias: bool,
        activation: Activation,
    },
    /// `cropping`: [[top, bottom], [left, right]] rows/columns removed from H and W.
    Cropping2D {
        cropping: [[usize; 2]; 2],
    },
    /// weights, in order, those that exist: `gamma` (if `scale`), `beta` (if `center`),
    /// `moving_mean`, `moving_variance`.
    BatchNormalization {
        axis: i64,
        epsilon: f32,
        center: bool,
        scale: bool,
    },
    /// Normalises over `axis` (the last one), then `* gamma + beta`.
    /// weights, in order, those that exist: `gamma` (if `scale`), `beta` (if `center`), each
    /// of the axis' length.
    LayerNormalization {
        axis: i64,
        epsilon: f32,
        center: bool,
        scale: bool,
    },
    /// Scaled dot-product attention over `num_heads` heads (no mask, inference), called as
    /// `mha(query, value)` or `mha(query, value, key)`: `inbound` in that order.
    /// `output_shape`: the output feature size (`None`: the query's).
    /// weights (biases only if `use_bias`): `query/kernel` (dq, heads, key_dim), `query/bias`
    /// (heads, key_dim), `key/kernel` (dk, heads, key_dim), `key/bias`, `value/kernel`
    /// (dv, heads, value_dim), `value/bias` (heads, value_dim), `attention_output/kernel`
    /// (heads, value_dim, out), `attention_output/bias` (out).
    MultiHeadAttention {
        num_heads: usize,
        key_dim: usize,
        value_dim: usize,
        use_bias: bool,
        output_shape: Option<usize>,
    },
    /// `x * scale + offset` (scalars; both Kerases compute it in that order).
    Rescaling {
        scale: f32,
        offset: f32,
    },
    /// `(x - mean) / max(sqrt(variance), 1e-7)` along `axis` (`invert=False`).
    /// `mean`/`variance` (one value per position of `axis`) live in the config,
    /// as `Normalization(mean=..., variance=...)` keeps them: no weights.
    Normalization {
        axis: i64,
        mean: Vec<f32>,
        variance: Vec<f32>,
    },
    /// `x` where `x >= 0`, else `alpha * x`. weights: `alpha`, the input's shape
    /// without the batch axis, size 1 along `shared_axes` (1-based, batch = 0).
    PReLU {
        shared_axes: Vec<i64>,
    },
    /// Integer ids (any shape, each in `[0, input_dim)`) → `ids.shape + (output_dim,)`.
    /// weights: `embeddings` (input_dim, output_dim). `mask_zero`: id 0 is
    /// padding, the output carries the mask `ids != 0` (see
    /// [`crate::keras::layers::mask`]).
    Embedding {
        input_dim: usize,
        output_dim: usize,
        mask_zero: bool,
    },
    /// Convolution over `(batch, steps, channels)`.
    /// weights: `kernel` (kernel_size, in, filters), then `bias` (filters) if `use_bias`.
    Conv1D {
        filters: usize,
        kernel_size: usize,
        strides: usize,
        padding: Padding1D,
        dilation_rate: usize,
        use_bias: bool,
        activation: Activation,
    },
    /// Maximum over windows of the steps axis of `(batch, steps, channels)`.
    MaxPooling1D {
        pool_size: usize,
        strides: usize,
        padding: Padding,
    },
    /// Mean over windows of the steps axis (SAME: over the valid steps only).
    AveragePooling1D {
        pool_size: usize,
        strides: usize,
        padding: Padding,
    },
    /// Mean over the steps axis.
    GlobalAveragePooling1D {
        keepdims: bool,
    },
    /// Maximum over the steps axis.
    GlobalMaxPooling1D {
        keepdims: bool,
    },
    /// Keras `LSTM` on (batch, steps, in), zero initial state; `activation`
    /// (Keras's default tanh) for the candidate and the output,
    /// `recurrent_activation` (default sigmoid) for the gates: output
    /// (batch, steps, units) if
    /// `return_sequences`, else the last step (batch, units).
    /// weights: `kernel` (in, 4 units), `recurrent_kernel` (units, 4 units), then
    /// `bias` (4 units) if `use_bias`; column blocks in gate order i, f, c, o.
    /// `go_backwards`: the steps are processed last to first, and the output
    /// sequence is in processing order (not reversed back), as in Keras.
    /// `return_state`: the final h and c are outputs 1 and 2 (see
    /// [`LayerKind::outputs`]).
    Lstm {
        units: usize,
        return_sequences: bool,
        return_state: bool,
        use_bias: bool,
        go_backwards: bool,
        activation: Activation,
        recurrent_activation: Activation,
    },
    /// Keras `GRU` on (batch, steps, in), zero initial state, `activation`
    /// (default tanh) for the candidate, `recurrent_activation` (default
    /// sigmoid) for the z and r gates; output as [`LayerKind::Lstm`]'s.
    /// weights: `kernel` (in, 3 units), `recurrent_kernel` (units, 3 units),
    /// then `bias` if `use_bias`: (2, 3 units) with `reset_after` (row 0 the
    /// input bias, row 1 the recurrent bias), else (3 units); column blocks in
    /// gate order z, r, h. `return_state`: the final h is output 1.
    Gru {
        units: usize,
        return_sequences: bool,
        return_state: bool,
        use_bias: bool,
        reset_after: bool,
        go_backwards: bool,
        activation: Activation,
        recurrent_activation: Activation,
    },
    /// Keras `SimpleRNN` on (batch, steps, in), `activation` (default tanh),
    /// zero initial state; output as [`LayerKind::Lstm`]'s. weights: `kernel`
    /// (in, units),
    /// `recurrent_kernel` (units, units), then `bias` (units) if `use_bias`.
    /// `return_state`: the final h is output 1.
    SimpleRnn {
        units: usize,
        return_sequences: bool,
        return_state: bool,
        use_bias: bool,
        go_backwards: bool,
        activation: Activation,
    },
    /// Keras `Bidirectional` around `layer` (an [`LayerKind::Lstm`],
    /// [`LayerKind::Gru`] or [`LayerKind::SimpleRnn`]): `layer` runs on the
    /// input, a copy with `go_backwards` flipped and its own weights runs on it
    /// too, its output sequence (with `return_sequences`) flipped back along
    /// the steps, and `merge_mode` joins the two (or leaves them as two
    /// outputs, [`MergeMode::Separate`]); with the wrapped layer's
    /// `return_state` the forward then the backward final states follow.
    /// weights: the forward layer's as `forward/<name>`, then the backward
    /// layer's as `backward/<name>`.
    Bidirectional {
        layer: Box<LayerKind>,
        merge_mode: MergeMode,
    },
    /// `dims`: the non-batch axes in their new order, 1-based as Keras writes
    /// them (`Permute((2, 1))` swaps steps and channels).
    Permute {
        dims: Vec<usize>,
    },
    /// `(batch, features)` → `(batch, n, features)`.
    RepeatVector {
        n: usize,
    },
    /// A step whose features all equal `mask_value` is masked (its output
    /// zeroed, the output's mask false; see [`crate::keras::layers::mask`]).
    /// No weights.
    Masking {
        mask_value: f32,
    },
    /// A layer Keras makes the identity at inference (`training=False`): Dropout and
    /// its kin, noise layers, ActivityRegularization, Identity. Read from a user's
    /// model for `--keras` (hand-built models routinely contain Dropout); thaw's
    /// conversion never emits one. `class` keeps the user's class for reports. No weights.
    InferenceIdentity {
        class: IdentityClass,
    },
    /// thaw's fallback custom layer `ThawTfOp` (defined in the generated
    /// `thaw_fallbacks.py`): one TensorFlow op with no Keras equivalent,
    /// computing exactly what the TF op computes. weights: `const_0`, `const_1`, …
    /// (the op's float constant operands, any shape, see [`TfArg`]).
    TfOp(TfOp),
}

/// The Keras classes that are the identity at inference (see
/// [`LayerKind::InferenceIdentity`]); all exist in Keras 3.15 and tf-keras 2.21.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityClass {
    Dropout,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    GaussianNoise,
    GaussianDropout,
    AlphaDropout,
    ActivityRegularization,
    Identity,
}

impl IdentityClass {
    pub const ALL: [IdentityClass; 9] = [
        IdentityClass::Dropout,
        IdentityClass::SpatialDropout1D,
        IdentityClass::SpatialDropout2D,
        IdentityClass::SpatialDropout3D,
        IdentityClass::GaussianNoise,
        IdentityClass::GaussianDropout,
        IdentityClass::AlphaDropout,
        IdentityClass::ActivityRegularization,
        IdentityClass::Identity,
    ];

    /// The Keras class name.
    pub fn keras_name(self) -> &'static str {
        match self {
            IdentityClass::Dropout => "Dropout",
            IdentityClass::SpatialDropout1D => "SpatialDropout1D",
            IdentityClass::SpatialDropout2D => "SpatialDropout2D",
            IdentityClass::SpatialDropout3D => "SpatialDropout3D",
            IdentityClass::GaussianNoise => "GaussianNoise",
            IdentityClass::GaussianDropout => "GaussianDropout",
            IdentityClass::AlphaDropout => "AlphaDropout",
            IdentityClass::ActivityRegularization => "ActivityRegularization",
            IdentityClass::Identity => "Identity",
        }
    }

    /// The class called `name` in Keras, if it is one of these.
    pub fn from_keras_name(name: &str) -> Option<IdentityClass> {
        IdentityClass::ALL
            .into_iter()
            .find(|c| c.keras_name() == name)
    }
}

/// The config of a fallback `ThawTfOp` layer: which TF op, what feeds each of
/// its arguments, and the attributes that change its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TfOp {
    /// The TF op name (`"Sin"`, `"Atan2"`, `"Cumsum"`, …), as in `tf.raw_ops`.
    pub op: String,
    /// The op's inputs, in TF argument order.
    pub args: Vec<TfArg>,
    /// Attributes that change the result (`exclusive`, `keep_dims`, …), by TF
    /// name, in name order (the order a written config reads back in).
    pub attrs: Vec<(String, TfAttr)>,
}

/// One argument of a [`TfOp`]: its `tf.raw_ops` keyword and its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TfArg {
    pub name: String,
    pub value: TfArgValue,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TfArgValue {
    /// The layer's `k`-th inbound tensor.
    Input(usize),
    /// The float constant stored as weight `const_<index>`, of this shape.
    Weight { index: usize, shape: Vec<usize> },
    /// An int32 constant kept in the config (axes), row-major; empty shape = scalar.
    Ints { values: Vec<i64>, shape: Vec<usize> },
}

/// A TF attribute value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TfAttr {
    Bool(bool),
    Int(i64),
    Float(f32),
}

impl TfOp {
    /// The boolean attribute `name`, `default` when absent or not a bool.
    pub fn attr_bool(&self, name: &str, default: bool) -> bool {
        self.attrs
            .iter()
            .find_map(|(k, v)| match v {
                TfAttr::Bool(b) if k == name => Some(*b),
                _ => None,
            })
            .unwrap_or(default)
    }

    /// The argument called `name`.
    pub fn arg(&self, name: &str) -> Option<&TfArgValue> {
        self.args.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    /// Shapes of the weights, in `const_<index>` order.
    pub fn weight_shapes(&self) -> Vec<&[usize]> {
        let mut w: Vec<(usize, &[usize])> = self
            .args
            .iter()
            .filter_map(|a| match &a.value {
                TfArgValue::Weight { index, shape } => Some((*index, shape.as_slice())),
                _ => None,
            })
            .collect();
        w.sort_by_key(|(i, _)| *i);
        w.into_iter().map(|(_, s)| s).collect()
    }

    /// Number of layer inputs the op reads.
    pub fn input_count(&self) -> usize {
        self.args
            .iter()
            .filter(|a| matches!(a.value, TfArgValue::Input(_)))
            .count()
    }
}

impl LayerKind {
    /// The Keras class name (`"Conv2D"`, …).
    pub fn class_name(&self) -> &'static str {
        match self {
            LayerKind::Conv2D { .. } => "Conv2D",
            LayerKind::DepthwiseConv2D { .. } => "DepthwiseConv2D",
            LayerKind::Dense { .. } => "Dense",
            LayerKind::ZeroPadding2D { .. } => "ZeroPadding2D",
            LayerKind::Activation { .. } => "Activation",
            LayerKind::ReLU { .. } => "ReLU",
            LayerKind::Softmax { .. } => "Softmax",
            LayerKind::LeakyReLU { .. } => "LeakyReLU",
            LayerKind::MaxPooling2D { .. } => "MaxPooling2D",
            LayerKind::AveragePooling2D { .. } => "AveragePooling2D",
            LayerKind::GlobalAveragePooling2D { .. } => "GlobalAveragePooling2D",
            LayerKind::GlobalMaxPooling2D { .. } => "GlobalMaxPooling2D",
            LayerKind::Flatten => "Flatten",
            LayerKind::Reshape { .. } => "Reshape",
            LayerKind::Add => "Add",
            LayerKind::Multiply => "Multiply",
            LayerKind::Subtract => "Subtract",
            LayerKind::Maximum => "Maximum",
            LayerKind::Minimum => "Minimum",
            LayerKind::Average => "Average",
            LayerKind::Concatenate { .. } => "Concatenate",
            LayerKind::Conv2DTranspose { .. } => "Conv2DTranspose",
            LayerKind::UpSampling2D { .. } => "UpSampling2D",
            LayerKind::SeparableConv2D { .. } => "SeparableConv2D",
            LayerKind::Cropping2D { .. } => "Cropping2D",
            LayerKind::BatchNormalization { .. } => "BatchNormalization",
            LayerKind::TfOp(_) => "ThawTfOp",
            LayerKind::LayerNormalization { .. } => "LayerNormalization",
            LayerKind::MultiHeadAttention { .. } => "MultiHeadAttention",
            LayerKind::Rescaling { .. } => "Rescaling",
            LayerKind::Normalization { .. } => "Normalization",
            LayerKind::PReLU { .. } => "PReLU",
            LayerKind::Embedding { .. } => "Embedding",
            LayerKind::Conv1D { .. } => "Conv1D",
            LayerKind::MaxPooling1D { .. } => "MaxPooling1D",
            LayerKind::AveragePooling1D { .. } => "AveragePooling1D",
            LayerKind::GlobalAveragePooling1D { .. } => "GlobalAveragePooling1D",
            LayerKind::GlobalMaxPooling1D { .. } => "GlobalMaxPooling1D",
            LayerKind::Lstm { .. } => "LSTM",
            LayerKind::Gru { .. } => "GRU",
            LayerKind::SimpleRnn { .. } => "SimpleRNN",
            LayerKind::Bidirectional { .. } => "Bidirectional",
            LayerKind::Permute { .. } => "Permute",
            LayerKind::RepeatVector { .. } => "RepeatVector",
            LayerKind::Masking { .. } => "Masking",
            LayerKind::InferenceIdentity { class } => class.keras_name(),
        }
    }

    /// How many tensors the layer outputs: one, but for a recurrent layer
    /// returning its states (the output, then each final state) and a
    /// `Bidirectional` that returns states or does not merge its directions.
    /// A model names output `k` of layer `l` as [`output_name`]`(l, k)`.
    pub fn outputs(&self) -> usize {
        match self {
            LayerKind::Lstm { return_state, .. } => 1 + 2 * usize::from(*return_state),
            LayerKind::Gru { return_state, .. } | LayerKind::SimpleRnn { return_state, .. } => {
                1 + usize::from(*return_state)
            }
            LayerKind::Bidirectional { layer, merge_mode } => {
                let states = layer.outputs() - 1;
                let directions = if *merge_mode == MergeMode::Separate {
                    2
                } else {
                    1
                };
                directions + 2 * states
            }
            _ => 1,
        }
    }

    /// Whether output `k` is a sequence carrying the input's Keras mask on
    /// (output 0 as the layer's mask rule says; a non-merged
    /// `Bidirectional`'s backward sequence likewise); a state is never masked.
    pub fn output_carries_mask(&self, k: usize) -> bool {
        match self {
            LayerKind::Bidirectional {
                merge_mode: MergeMode::Separate,
                ..
            } => k < 2,
            _ => k == 0,
        }
    }

    /// Whether the class is a merge layer (called on a list of tensors).
    pub fn is_merge(&self) -> bool {
        matches!(
            self,
            LayerKind::Add
                | LayerKind::Multiply
                | LayerKind::Subtract
                | LayerKind::Maximum
                | LayerKind::Minimum
                | LayerKind::Average
                | LayerKind::Concatenate { .. }
        )
    }
}

/// A named weight, `name` being Keras's short name (`"kernel"`, `"bias"`,
/// `"gamma"`, `"moving_mean"`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weight {
    pub name: String,
    /// Serialised (for [`super::isolate`]) as its shape and raw f32 bits, so
    /// NaN payloads and signed zeros survive.
    #[serde(with = "f32_bits")]
    pub value: ArrayD<f32>,
}

/// `ArrayD<f32>` as `(shape, bits)`: every value's exact bit pattern.
mod f32_bits {
    use ndarray::{ArrayD, IxDyn};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(a: &ArrayD<f32>, s: S) -> Result<S::Ok, S::Error> {
        let bits: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
        (a.shape(), bits).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ArrayD<f32>, D::Error> {
        let (shape, bits) = <(Vec<usize>, Vec<u32>)>::deserialize(d)?;
        let values = bits.into_iter().map(f32::from_bits).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(serde::de::Error::custom)
    }
}

/// The name a model gives output `k` of layer `layer`: the layer's own name
/// for its first (or only) output, `layer:k` for the others (TF's spelling of
/// a node's outputs), as `inbound` and `outputs` name them.
pub fn output_name(layer: &str, k: usize) -> String {
    if k == 0 {
        layer.to_string()
    } else {
        format!("{layer}:{k}")
    }
}

/// One layer of a Functional model. `inbound` names the tensors feeding this
/// layer, in argument order: an input, or a layer's output
/// ([`output_name`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
    pub inbound: Vec<String>,
    pub weights: Vec<Weight>,
}

impl Layer {
    /// The weight called `name`, if the layer has one.
    pub fn weight(&self, name: &str) -> Option<&ArrayD<f32>> {
        self.weights
            .iter()
            .find(|w| w.name == name)
            .map(|w| &w.value)
    }
}

/// A Keras Functional model. `layers` are in topological order; `outputs`
/// names the layers (or inputs) whose outputs are the model's outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub inputs: Vec<Input>,
    pub layers: Vec<Layer>,
    pub outputs: Vec<String>,
}

impl Model {
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// The layer a tensor name ([`output_name`]) comes from and which of its
    /// outputs it is; `None` for an input or an unknown name. A layer's own
    /// name wins over the `layer:k` reading (a name may contain ':').
    pub fn producer(&self, tensor: &str) -> Option<(&Layer, usize)> {
        if let Some(l) = self.layer(tensor) {
            return Some((l, 0));
        }
        let (name, k) = tensor.rsplit_once(':')?;
        let k: usize = k.parse().ok().filter(|&k| k > 0)?;
        self.layer(name)
            .filter(|l| k < l.kind.outputs())
            .map(|l| (l, k))
    }

    /// A tensor name as Keras's `[layer, node, tensor]` references hold it:
    /// `(layer or input name, tensor index)`.
    pub fn tensor_ref<'m>(&'m self, tensor: &'m str) -> (&'m str, usize) {
        match self.producer(tensor) {
            Some((l, k)) => (l.name.as_str(), k),
            None => (tensor, 0),
        }
    }

    /// [`Self::tensor_ref`] of every layer output at once, by its name (for
    /// walks over every inbound: one lookup each, however many layers).
    pub fn tensor_refs(&self) -> std::collections::HashMap<String, (&str, usize)> {
        self.layers
            .iter()
            .flat_map(|l| {
                (0..l.kind.outputs()).map(move |k| (output_name(&l.name, k), (l.name.as_str(), k)))
            })
            .collect()
    }

    /// Every tensor the model's layers output, by [`output_name`], in layer
    /// order.
    pub fn layer_outputs(&self) -> impl Iterator<Item = String> + '_ {
        self.layers
            .iter()
            .flat_map(|l| (0..l.kind.outputs()).map(|k| output_name(&l.name, k)))
    }
}
