//! Shared accessors on the layer IR, by capability rather than by class:
//! which weights are kernels (and their axis layout), the bias, the
//! activation (a layer's own function, or the one fused into a layer with
//! `activation=`), padding and window (strides, kernel or pool size),
//! normalisation parameters, and [`LayerKind::fields`], every config field
//! that changes what the layer computes.
//!
//! Diagnosis (`compare/diagnose.rs`), alignment (`compare/align.rs`) and the
//! configuration diff (`compare/findings.rs`) ask these questions instead of
//! listing classes, so a new class answers them here once (every `match` is
//! exhaustive: a new variant does not compile until it says what it has). The
//! slot accessors (padding, window, strides, bias, activation, epsilon, …) all
//! read the one match of `slots.rs`.
//!
//! Not covered yet: 3-D layers (there are none in the IR), the kernels of
//! `MultiHeadAttention` are listed but their layout letters are not used by
//! any hypothesis.

use super::ir::{Activation, Layer, LayerKind, Padding, Padding1D};

/// What a config field changes, so a difference can be named (the kind of a
/// finding in `report.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldRole {
    /// `padding` (same/valid/causal, or explicit amounts).
    Padding,
    /// Strides, dilation, kernel or pool size, groups, depth multiplier, upsampling size.
    Window,
    /// The activation function (fused or the layer's own).
    Activation,
    /// A normalisation's epsilon.
    Epsilon,
    /// `use_bias`.
    Bias,
    /// Anything else that changes the result (axis, center/scale, keepdims,
    /// target shape, interpolation, RNN flags, constants...).
    Other,
}

/// One maths-changing config field: its Keras name, its value as text (two
/// layers compute the same thing only if these are equal), and its role.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub value: String,
    pub role: FieldRole,
}

fn f(name: &'static str, value: impl std::fmt::Debug, role: FieldRole) -> Field {
    Field {
        name,
        value: format!("{value:?}"),
        role,
    }
}

/// An element-wise activation function in canonical form, so that classes
/// computing the same function compare equal (`Activation("relu")` and
/// `ReLU()`, `Activation("linear")` and `ReLU(negative_slope=1)`,
/// `LeakyReLU(alpha)` and `ReLU(negative_slope=alpha)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActFn {
    /// A Keras activation other than linear/relu/softmax.
    Keras(Activation),
    Linear,
    /// `ReLU(max_value, negative_slope, threshold)`.
    Relu {
        max_value: Option<f32>,
        negative_slope: f32,
        threshold: f32,
    },
    Softmax {
        axis: i64,
    },
}

impl ActFn {
    pub fn of(a: Activation) -> ActFn {
        match a {
            Activation::Linear => ActFn::Linear,
            Activation::Relu => ActFn::relu(None, 0.0, 0.0),
            Activation::Softmax => ActFn::Softmax { axis: -1 },
            other => ActFn::Keras(other),
        }
    }

    pub fn relu(max_value: Option<f32>, negative_slope: f32, threshold: f32) -> ActFn {
        if max_value.is_none() && negative_slope == 1.0 && threshold == 0.0 {
            ActFn::Linear
        } else {
            ActFn::Relu {
                max_value,
                negative_slope,
                threshold,
            }
        }
    }

    /// Applying `self` then `then` as one function, when that is one
    /// (anything after linear, linear after anything).
    pub fn then(self, then: ActFn) -> Option<ActFn> {
        match (self, then) {
            (ActFn::Linear, t) => Some(t),
            (s, ActFn::Linear) => Some(s),
            _ => None,
        }
    }

    /// The activation layer that computes this function alone.
    pub fn layer_kind(self) -> LayerKind {
        match self {
            ActFn::Keras(activation) => LayerKind::Activation { activation },
            ActFn::Linear => LayerKind::Activation {
                activation: Activation::Linear,
            },
            ActFn::Relu {
                max_value,
                negative_slope,
                threshold,
            } => LayerKind::ReLU {
                max_value,
                negative_slope,
                threshold,
            },
            ActFn::Softmax { axis } => LayerKind::Softmax { axis },
        }
    }

    /// The same function as a Keras `activation=` value, when it is one.
    pub fn as_activation(self) -> Option<Activation> {
        match self {
            ActFn::Keras(a) => Some(a),
            ActFn::Linear => Some(Activation::Linear),
            ActFn::Relu {
                max_value: None,
                negative_slope: 0.0,
                threshold: 0.0,
            } => Some(Activation::Relu),
            ActFn::Softmax { axis: -1 } => Some(Activation::Softmax),
            _ => None,
        }
    }

    /// How a user would write it (`relu6`, `ReLU(max_value=4)`, `tanh`).
    pub fn describe(self) -> String {
        match self {
            ActFn::Keras(a) => a.keras_name().to_string(),
            ActFn::Linear => "linear".into(),
            ActFn::Softmax { axis: -1 } => "softmax".into(),
            ActFn::Softmax { axis } => format!("softmax(axis={axis})"),
            ActFn::Relu {
                max_value: None,
                negative_slope: 0.0,
                threshold: 0.0,
            } => "relu".into(),
            ActFn::Relu {
                max_value: Some(6.0),
                negative_slope: 0.0,
                threshold: 0.0,
            } => "relu6".into(),
            ActFn::Relu {
                max_value,
                negative_slope,
                threshold,
            } => {
                let mut parts = Vec::new();
                if let Some(m) = max_value {
                    parts.push(format!("max_value={m}"));
                }
                if negative_slope != 0.0 {
                    parts.push(format!("negative_slope={negative_slope}"));
                }
                if threshold != 0.0 {
                    parts.push(format!("threshold={threshold}"));
                }
                format!("ReLU({})", parts.join(", "))
            }
        }
    }
}

/// One kernel of a layer: its weight name and the meaning of its axes, one
/// letter per axis: `H`/`W`/`K` spatial (rows, columns, steps), `I` input
/// channels, `O` output channels (filters, units), `M` depth multiplier, `G`
/// gate blocks × units (LSTM), `U` recurrent units, `N` heads, `D` per-head size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSlot {
    pub weight: &'static str,
    pub layout: &'static str,
}

impl KernelSlot {
    /// Axes that run over space or time (a flip of them is a
    /// correlation/convolution mix-up).
    pub fn spatial_axes(&self) -> Vec<usize> {
        self.layout
            .chars()
            .enumerate()
            .filter(|(_, c)| matches!(c, 'H' | 'W' | 'K'))
            .map(|(i, _)| i)
            .collect()
    }

    /// A 2-D weight matrix (Dense `IO`, a recurrent `IG`/`UG`): stored the
    /// other way round, it is a transposed matrix (`dense_transposed`).
    pub fn is_matrix(&self) -> bool {
        self.layout.len() == 2
    }
}

const fn k(weight: &'static str, layout: &'static str) -> KernelSlot {
    KernelSlot { weight, layout }
}

impl LayerKind {
    /// Every config field that changes what the layer computes, with its
    /// role. Names of layers are not fields; sizes that the weights' shapes
    /// fix (filters, units, kernel_size) are listed too, as a rebuild could
    /// still mistype them (a shape mismatch then says the rest).
    pub fn fields(&self) -> Vec<Field> {
        use FieldRole::*;
        match self {
            LayerKind::Conv2D {
                filters,
                kernel_size,
                strides,
                padding,
                dilation_rate,
                groups,
                use_bias,
                activation,
            } => vec![
                f("filters", filters, Other),
                f("kernel_size", kernel_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
                f("dilation_rate", dilation_rate, Window),
                f("groups", groups, Window),
                f("use_bias", use_bias, Bias),
                f("activation", activation, Activation),
            ],
            LayerKind::DepthwiseConv2D {
                kernel_size,
                strides,
                padding,
                depth_multiplier,
                dilation_rate,
                use_bias,
                activation,
            } => vec![
                f("kernel_size", kernel_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
                f("depth_multiplier", depth_multiplier, Window),
                f("dilation_rate", dilation_rate, Window),
                f("use_bias", use_bias, Bias),
                f("activation", activation, Activation),
            ],
            LayerKind::Dense {
                units,
                use_bias,
                activation,
            } => vec![
                f("units", units, Other),
                f("use_bias", use_bias, Bias),
                f("activation", activation, Activation),
            ],
            LayerKind::ZeroPadding2D { padding } => vec![f("padding", padding, Padding)],
            LayerKind::Activation { activation } => {
                vec![f("activation", activation, Activation)]
            }
            LayerKind::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => vec![
                f("max_value", max_value, Activation),
                f("negative_slope", negative_slope, Activation),
                f("threshold", threshold, Activation),
            ],
            LayerKind::Softmax { axis } => vec![f("axis", axis, Other)],
            LayerKind::LeakyReLU { alpha } => vec![f("alpha", alpha, Activation)],
            LayerKind::MaxPooling2D {
                pool_size,
                strides,
                padding,
            }
            | LayerKind::AveragePooling2D {
                pool_size,
                strides,
                padding,
            } => vec![
                f("pool_size", pool_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
            ],
            LayerKind::GlobalAveragePooling2D { keepdims }
            | LayerKind::GlobalMaxPooling2D { keepdims }
            | LayerKind::GlobalAveragePooling1D { keepdims }
            | LayerKind::GlobalMaxPooling1D { keepdims } => vec![f("keepdims", keepdims, Other)],
            LayerKind::Flatten
            | LayerKind::Add
            | LayerKind::Multiply
            | LayerKind::Subtract
            | LayerKind::Maximum
            | LayerKind::Minimum
            | LayerKind::Average
            | LayerKind::InferenceIdentity { .. } => Vec::new(),
            LayerKind::Reshape { target_shape } => vec![f("target_shape", target_shape, Other)],
            LayerKind::Conv2DTranspose {
                filters,
                kernel_size,
                strides,
                padding,
                use_bias,
                activation,
            } => vec![
                f("filters", filters, Other),
                f("kernel_size", kernel_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
                f("use_bias", use_bias, Bias),
                f("activation", activation, Activation),
            ],
            LayerKind::UpSampling2D {
                size,
                interpolation,
            } => vec![
                f("size", size, Window),
                f("interpolation", interpolation, Other),
            ],
            LayerKind::Concatenate { axis } => vec![f("axis", axis, Other)],
            LayerKind::SeparableConv2D {
                filters,
                kernel_size,
                strides,
                padding,
                depth_multiplier,
                dilation_rate,
                use_bias,
                activation,
            } => vec![
                f("filters", filters, Other),
                f("kernel_size", kernel_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
                f("depth_multiplier", depth_multiplier, Window),
                f("dilation_rate", dilation_rate, Window),
                f("use_bias", use_bias, Bias),
                f("activation", activation, Activation),
            ],
            LayerKind::Cropping2D { cropping } => vec![f("cropping", cropping, Padding)],
            LayerKind::BatchNormalization {
                axis,
                epsilon,
                center,
                scale,
            }
            | LayerKind::LayerNormalization {
                axis,
                epsilon,
                center,
                scale,
            } => vec![
                f("axis", axis, Other),
                f("epsilon", epsilon, Epsilon),
                f("center", center, Other),
                f("scale", scale, Other),
            ],
            LayerKind::MultiHeadAttention {
                num_heads,
                key_dim,
                value_dim,
                use_bias,
                output_shape,
            } => vec![
                f("num_heads", num_heads, Other),
                f("key_dim", key_dim, Other),
                f("value_dim", value_dim, Other),
                f("use_bias", use_bias, Bias),
                f("output_shape", output_shape, Other),
            ],
            LayerKind::Rescaling { scale, offset } => {
                vec![f("scale", scale, Other), f("offset", offset, Other)]
            }
            LayerKind::Normalization {
                axis,
                mean,
                variance,
            } => vec![
                f("axis", axis, Other),
                f("mean", mean, Other),
                f("variance", variance, Other),
            ],
            LayerKind::PReLU { shared_axes } => vec![f("shared_axes", shared_axes, Other)],
            LayerKind::Embedding {
                input_dim,
                output_dim,
                mask_zero,
            } => vec![
                f("input_dim", input_dim, Other),
                f("output_dim", output_dim, Other),
                f("mask_zero", mask_zero, Other),
            ],
            LayerKind::Conv1D {
                filters,
                kernel_size,
                strides,
                padding,
                dilation_rate,
                use_bias,
                activation,
            } => vec![
                f("filters", filters, Other),
                f("kernel_size", kernel_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
                f("dilation_rate", dilation_rate, Window),
                f("use_bias", use_bias, Bias),
                f("activation", activation, Activation),
            ],
            LayerKind::MaxPooling1D {
                pool_size,
                strides,
                padding,
            }
            | LayerKind::AveragePooling1D {
                pool_size,
                strides,
                padding,
            } => vec![
                f("pool_size", pool_size, Window),
                f("strides", strides, Window),
                f("padding", padding, Padding),
            ],
            LayerKind::Lstm {
                units,
                return_sequences,
                return_state,
                use_bias,
                go_backwards,
                activation,
                recurrent_activation,
            } => vec![
                f("units", units, Other),
                f("return_sequences", return_sequences, Other),
                f("return_state", return_state, Other),
                f("use_bias", use_bias, Bias),
                f("go_backwards", go_backwards, Other),
                f("activation", activation, Activation),
                f("recurrent_activation", recurrent_activation, Activation),
            ],
            LayerKind::SimpleRnn {
                units,
                return_sequences,
                return_state,
                use_bias,
                go_backwards,
                activation,
            } => vec![
                f("units", units, Other),
                f("return_sequences", return_sequences, Other),
                f("return_state", return_state, Other),
                f("use_bias", use_bias, Bias),
                f("go_backwards", go_backwards, Other),
                f("activation", activation, Activation),
            ],
            LayerKind::Gru {
                units,
                return_sequences,
                return_state,
                use_bias,
                reset_after,
                go_backwards,
                activation,
                recurrent_activation,
            } => vec![
                f("units", units, Other),
                f("return_sequences", return_sequences, Other),
                f("return_state", return_state, Other),
                f("use_bias", use_bias, Bias),
                f("reset_after", reset_after, Other),
                f("go_backwards", go_backwards, Other),
                f("activation", activation, Activation),
                f("recurrent_activation", recurrent_activation, Activation),
            ],
            LayerKind::Bidirectional { layer, merge_mode } => {
                vec![f("layer", layer, Other), f("merge_mode", merge_mode, Other)]
            }
            LayerKind::Permute { dims } => vec![f("dims", dims, Other)],
            LayerKind::RepeatVector { n } => vec![f("n", n, Other)],
            LayerKind::Masking { mask_value } => vec![f("mask_value", mask_value, Other)],
            LayerKind::TfOp(op) => vec![
                f("op", &op.op, Other),
                f("args", &op.args, Other),
                f("attrs", &op.attrs, Other),
            ],
        }
    }

    /// The kernels, in weight order, with their axis layout.
    pub fn kernels(&self) -> Vec<KernelSlot> {
        match self {
            LayerKind::Conv2D { .. } => vec![k("kernel", "HWIO")],
            LayerKind::DepthwiseConv2D { .. } => vec![k("depthwise_kernel", "HWIM")],
            LayerKind::SeparableConv2D { .. } => {
                vec![k("depthwise_kernel", "HWIM"), k("pointwise_kernel", "HWIO")]
            }
            LayerKind::Conv2DTranspose { .. } => vec![k("kernel", "HWOI")],
            LayerKind::Dense { .. } => vec![k("kernel", "IO")],
            LayerKind::Conv1D { .. } => vec![k("kernel", "KIO")],
            LayerKind::Lstm { .. } | LayerKind::Gru { .. } | LayerKind::SimpleRnn { .. } => {
                vec![k("kernel", "IG"), k("recurrent_kernel", "UG")]
            }
            LayerKind::Bidirectional { .. } => vec![
                k("forward/kernel", "IG"),
                k("forward/recurrent_kernel", "UG"),
                k("backward/kernel", "IG"),
                k("backward/recurrent_kernel", "UG"),
            ],
            LayerKind::MultiHeadAttention { .. } => vec![
                k("query/kernel", "INC"),
                k("key/kernel", "INC"),
                k("value/kernel", "IND"),
                k("attention_output/kernel", "NDO"),
            ],
            LayerKind::ZeroPadding2D { .. }
            | LayerKind::Activation { .. }
            | LayerKind::ReLU { .. }
            | LayerKind::Softmax { .. }
            | LayerKind::LeakyReLU { .. }
            | LayerKind::MaxPooling2D { .. }
            | LayerKind::AveragePooling2D { .. }
            | LayerKind::GlobalAveragePooling2D { .. }
            | LayerKind::GlobalMaxPooling2D { .. }
            | LayerKind::Flatten
            | LayerKind::Reshape { .. }
            | LayerKind::Add
            | LayerKind::Multiply
            | LayerKind::Subtract
            | LayerKind::Maximum
            | LayerKind::Minimum
            | LayerKind::Average
            | LayerKind::UpSampling2D { .. }
            | LayerKind::Concatenate { .. }
            | LayerKind::Cropping2D { .. }
            | LayerKind::BatchNormalization { .. }
            | LayerKind::LayerNormalization { .. }
            | LayerKind::Rescaling { .. }
            | LayerKind::Normalization { .. }
            | LayerKind::PReLU { .. }
            | LayerKind::Embedding { .. }
            | LayerKind::MaxPooling1D { .. }
            | LayerKind::AveragePooling1D { .. }
            | LayerKind::GlobalAveragePooling1D { .. }
            | LayerKind::GlobalMaxPooling1D { .. }
            | LayerKind::Permute { .. }
            | LayerKind::RepeatVector { .. }
            | LayerKind::Masking { .. }
            | LayerKind::InferenceIdentity { .. }
            | LayerKind::TfOp(_) => Vec::new(),
        }
    }

    /// `use_bias` of the classes that have one (the bias weight is `bias`).
    pub fn use_bias_mut(&mut self) -> Option<&mut bool> {
        self.slots_mut().use_bias
    }

    /// Whether the class has a `bias` slot (used or not).
    pub fn has_bias_slot(&self) -> bool {
        self.slots().use_bias.is_some()
    }

    /// The names of every weight whose role is a bias (an offset added
    /// before a nonlinearity or to the output), in weight order: `bias` for
    /// the classes with a `bias` slot, each direction's `bias` of a
    /// `Bidirectional` (`forward/bias`, `backward/bias`), and the biases of
    /// `MultiHeadAttention`'s query, key, value and output projections.
    /// Whether a layer holds them (`use_bias`) is [`Layer::bias_slots`]'s
    /// question.
    pub fn bias_slots(&self) -> Vec<&'static str> {
        match self {
            LayerKind::Bidirectional { layer, .. } if layer.has_bias_slot() => {
                vec!["forward/bias", "backward/bias"]
            }
            LayerKind::MultiHeadAttention { .. } => vec![
                "query/bias",
                "key/bias",
                "value/bias",
                "attention_output/bias",
            ],
            other if other.has_bias_slot() => vec!["bias"],
            _ => Vec::new(),
        }
    }

    /// The `activation=` of classes that fuse one into their computation.
    pub fn fused_activation_mut(&mut self) -> Option<&mut Activation> {
        self.slots_mut().fused_activation
    }

    /// The fused `activation=`, if the class has one.
    pub fn fused_activation(&self) -> Option<Activation> {
        self.slots().fused_activation.copied()
    }

    /// The activation slot a hypothesis may change: the fused one, or an
    /// `Activation` layer's own (read).
    pub fn activation(&self) -> Option<Activation> {
        let s = self.slots();
        s.own_activation.or(s.fused_activation).copied()
    }

    /// The activation slot a hypothesis may change: the fused one, or an
    /// `Activation` layer's own.
    pub fn activation_mut(&mut self) -> Option<&mut Activation> {
        let s = self.slots_mut();
        s.own_activation.or(s.fused_activation)
    }

    /// Whether the layer is an element-wise activation layer (its whole
    /// computation is [`LayerKind::activation_fn`]).
    pub fn is_activation_layer(&self) -> bool {
        self.slots().activation_layer
    }

    /// The activation the layer applies last, canonical: an activation
    /// layer's function, a fused `activation=`, or `None` for layers with neither.
    pub fn activation_fn(&self) -> Option<ActFn> {
        match self {
            LayerKind::Activation { activation } => Some(ActFn::of(*activation)),
            LayerKind::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => Some(ActFn::relu(*max_value, *negative_slope, *threshold)),
            LayerKind::LeakyReLU { alpha } => Some(ActFn::relu(None, *alpha, 0.0)),
            LayerKind::Softmax { axis } => Some(ActFn::Softmax { axis: *axis }),
            other => other.fused_activation().map(ActFn::of),
        }
    }

    /// Whether the class is a recurrent one (LSTM, GRU, SimpleRNN): its
    /// `activation` is applied inside the recurrence, not to `z + bias`.
    pub fn is_recurrent(&self) -> bool {
        matches!(
            self,
            LayerKind::Lstm { .. } | LayerKind::Gru { .. } | LayerKind::SimpleRnn { .. }
        )
    }

    /// The gate blocks along the last axis of a gated recurrent layer's
    /// kernel, recurrent kernel and bias, in Keras's order: LSTM `ifco`
    /// (input, forget, cell, output), GRU `zrh` (update, reset, candidate).
    pub fn gate_blocks(&self) -> Option<&'static str> {
        match self {
            LayerKind::Lstm { .. } => Some("ifco"),
            LayerKind::Gru { .. } => Some("zrh"),
            _ => None,
        }
    }

    /// Keras's `padding` of convolutions and pooling (not Conv1D, see
    /// [`LayerKind::padding1d_mut`]).
    pub fn padding_mut(&mut self) -> Option<&mut Padding> {
        self.slots_mut().padding
    }

    pub fn padding(&self) -> Option<Padding> {
        self.slots().padding.copied()
    }

    /// Conv1D's padding (same/valid/causal).
    pub fn padding1d_mut(&mut self) -> Option<&mut Padding1D> {
        self.slots_mut().padding1d
    }

    pub fn padding1d(&self) -> Option<Padding1D> {
        self.slots().padding1d.copied()
    }

    /// Explicit amounts `[[top, bottom], [left, right]]` (ZeroPadding2D
    /// adds them, Cropping2D removes them).
    pub fn explicit_padding_mut(&mut self) -> Option<&mut [[usize; 2]; 2]> {
        self.slots_mut().explicit_padding
    }

    /// The explicit amounts (see [`LayerKind::explicit_padding_mut`]).
    pub fn explicit_padding(&self) -> Option<[[usize; 2]; 2]> {
        self.slots().explicit_padding.copied()
    }

    /// The 2-D strides of the layers that have them.
    pub fn strides_mut(&mut self) -> Option<&mut [usize; 2]> {
        self.slots_mut().strides
    }

    pub fn strides(&self) -> Option<[usize; 2]> {
        self.slots().strides.copied()
    }

    /// The 2-D window: a kernel's or a pool's size.
    pub fn window_mut(&mut self) -> Option<&mut [usize; 2]> {
        self.slots_mut().window
    }

    pub fn window(&self) -> Option<[usize; 2]> {
        self.slots().window.copied()
    }

    /// A normalisation's epsilon.
    pub fn epsilon_mut(&mut self) -> Option<&mut f32> {
        self.slots_mut().epsilon
    }

    pub fn epsilon(&self) -> Option<f32> {
        self.slots().epsilon.copied()
    }

    /// Weight names of a normalisation's statistics (mean, variance), if any.
    pub fn norm_stats(&self) -> Option<[&'static str; 2]> {
        self.slots().norm_stats
    }

    /// Weight names of a normalisation's affine pair (scale, offset), if any.
    pub fn norm_affine(&self) -> Option<[&'static str; 2]> {
        self.slots().norm_affine
    }
}

impl Layer {
    /// Index of weight `name`.
    pub fn weight_index(&self, name: &str) -> Option<usize> {
        self.weights.iter().position(|w| w.name == name)
    }

    /// The kernels present, with their index in `weights`.
    pub fn kernel_slots(&self) -> Vec<(usize, KernelSlot)> {
        self.kind
            .kernels()
            .into_iter()
            .filter_map(|s| {
                let i = self.weight_index(s.weight)?;
                (self.weights[i].value.ndim() == s.layout.len()).then_some((i, s))
            })
            .collect()
    }

    /// How many terms each output element accumulates (its fan-in), the
    /// length the isolated noise bar grows with, by capability: every kernel
    /// contributes the product of its reduced axes (`H`, `W`, `K`, `I`, `U`,
    /// and `N`, `D` of a kernel with an output axis `O`), times the number of
    /// steps (`inputs[0][1]`) for a recurrent kernel (`U`); the kernels add up
    /// (SeparableConv2D: depthwise `H*W` plus pointwise `I`); a pooling
    /// window counts its area; and any layer counts at least its input
    /// elements per output element (global pooling, reductions, merges).
    /// At least 1 (element-wise layers).
    pub fn accumulation(&self, inputs: &[&[usize]], output: &[usize]) -> usize {
        let steps = inputs.first().and_then(|s| s.get(1)).copied().unwrap_or(1);
        let kernels: usize = self
            .kernel_slots()
            .into_iter()
            .map(|(i, slot)| {
                let with_out = slot.layout.contains('O');
                let reduced: usize = slot
                    .layout
                    .chars()
                    .zip(self.weights[i].value.shape())
                    .filter(|(c, _)| {
                        matches!(c, 'H' | 'W' | 'K' | 'I' | 'U')
                            || (with_out && matches!(c, 'N' | 'D'))
                    })
                    .map(|(_, d)| *d)
                    .product();
                if slot.layout.contains('U') {
                    reduced * steps.max(1)
                } else {
                    reduced
                }
            })
            .sum();
        let window = self.kind.window().map_or(1, |[h, w]| h * w);
        let in_elems: usize = inputs.iter().map(|s| s.iter().product::<usize>()).sum();
        let out_elems: usize = output.iter().product();
        let ratio = in_elems.div_ceil(out_elems.max(1));
        kernels.max(window).max(ratio).max(1)
    }

    /// The bias weights present ([`LayerKind::bias_slots`]), with their
    /// index in `weights`.
    pub fn bias_slots(&self) -> Vec<(usize, &'static str)> {
        self.kind
            .bias_slots()
            .into_iter()
            .filter_map(|name| Some((self.weight_index(name)?, name)))
            .collect()
    }

    /// The `bias` weight (the one of the classes with a `bias` slot), if present.
    pub fn bias(&self) -> Option<&ndarray::ArrayD<f32>> {
        if self.kind.has_bias_slot() {
            self.weight("bias")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_activation_spellings_compare_equal() {
        let relu = LayerKind::Activation {
            activation: Activation::Relu,
        };
        let relu_layer = LayerKind::ReLU {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        };
        assert_eq!(relu.activation_fn(), relu_layer.activation_fn());
        let identity = LayerKind::ReLU {
            max_value: None,
            negative_slope: 1.0,
            threshold: 0.0,
        };
        assert_eq!(identity.activation_fn(), Some(ActFn::Linear));
        let relu6 = LayerKind::ReLU {
            max_value: Some(6.0),
            negative_slope: 0.0,
            threshold: 0.0,
        };
        assert_ne!(relu6.activation_fn(), relu.activation_fn());
        assert_eq!(relu6.activation_fn().unwrap().describe(), "relu6");
    }

    #[test]
    fn fields_see_epsilon_and_kernels_name_layouts() {
        let bn = |e: f32| LayerKind::BatchNormalization {
            axis: -1,
            epsilon: e,
            center: true,
            scale: true,
        };
        assert_ne!(bn(1e-3).fields(), bn(1e-5).fields());
        assert_eq!(bn(1e-3).fields(), bn(1e-3).fields());
        let sep = LayerKind::SeparableConv2D {
            filters: 4,
            kernel_size: [3, 3],
            strides: [1, 1],
            padding: Padding::Same,
            depth_multiplier: 1,
            dilation_rate: [1, 1],
            use_bias: true,
            activation: Activation::Linear,
        };
        let ks = sep.kernels();
        assert_eq!(ks.len(), 2);
        assert_eq!(ks[0].spatial_axes(), vec![0, 1]);
        assert!(sep.has_bias_slot());
        assert_eq!(sep.bias_slots(), ["bias"]);
    }

    /// Every weight whose role is a bias is found the same way, nested
    /// (Bidirectional) or per projection (attention); none without one.
    #[test]
    fn bias_slots_of_nested_and_projected_biases() {
        use crate::keras::MergeMode;
        let gru = |use_bias| LayerKind::Gru {
            units: 2,
            return_sequences: false,
            return_state: false,
            use_bias,
            reset_after: true,
            go_backwards: false,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        };
        let bi = LayerKind::Bidirectional {
            layer: Box::new(gru(true)),
            merge_mode: MergeMode::Concat,
        };
        assert_eq!(bi.bias_slots(), ["forward/bias", "backward/bias"]);
        assert_eq!(gru(false).bias_slots(), ["bias"]);
        let mha = LayerKind::MultiHeadAttention {
            num_heads: 1,
            key_dim: 2,
            value_dim: 2,
            use_bias: true,
            output_shape: None,
        };
        assert_eq!(mha.bias_slots().len(), 4);
        assert!(LayerKind::Flatten.bias_slots().is_empty());
    }
}
