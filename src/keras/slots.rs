//! Which capability slots each layer class has (padding, window, strides,
//! bias, fused or own activation, epsilon, explicit padding, normalisation
//! weight names): ONE exhaustive `match` over [`LayerKind`], written once by
//! `slots_fn!` for `&self` ([`Slots`]) and `&mut self` ([`SlotsMut`]). The
//! accessors of `access.rs` (`padding()`/`padding_mut()`, `window()`, …) read
//! it, so a new class answers here once and the read and write accessors
//! cannot disagree.

use super::ir::{Activation, LayerKind, Padding, Padding1D};

/// Declares [`Slots`] (shared references) and [`SlotsMut`] (mutable ones)
/// from one field list.
macro_rules! slot_structs {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)* ; $($(#[$vdoc:meta])* $vfield:ident: $vty:ty,)*) => {
        /// The capabilities of one layer kind, read (see `slots_fn!`).
        // One match fills both structs; not every slot is read in both forms.
        #[allow(dead_code)]
        #[derive(Default)]
        pub(super) struct Slots<'a> {
            $($(#[$doc])* pub(super) $field: Option<&'a $ty>,)*
            $($(#[$vdoc])* pub(super) $vfield: $vty,)*
        }

        /// The same capabilities, writable.
        #[allow(dead_code)]
        #[derive(Default)]
        pub(super) struct SlotsMut<'a> {
            $($(#[$doc])* pub(super) $field: Option<&'a mut $ty>,)*
            $($(#[$vdoc])* pub(super) $vfield: $vty,)*
        }
    };
}

slot_structs! {
    use_bias: bool,
    /// The `activation=` fused into the layer's computation.
    fused_activation: Activation,
    /// An `Activation` layer's own function.
    own_activation: Activation,
    padding: Padding,
    padding1d: Padding1D,
    explicit_padding: [[usize; 2]; 2],
    strides: [usize; 2],
    /// A kernel's or a pool's 2-D size.
    window: [usize; 2],
    epsilon: f32,
    ;
    /// Whether the layer's whole computation is an element-wise activation.
    activation_layer: bool,
    norm_stats: Option<[&'static str; 2]>,
    norm_affine: Option<[&'static str; 2]>,
}

/// Writes `slots` (`&self`) and `slots_mut` (`&mut self`) from one exhaustive
/// `match`: the same patterns bind shared or mutable references depending on
/// `self`, so the read and write accessors cannot disagree, and a new
/// [`LayerKind`] variant does not compile until it says which slots it has.
macro_rules! slots_fn {
    ($name:ident, $self_ty:ty, $S:ident) => {
        pub(super) fn $name(self: $self_ty) -> $S<'_> {
            match self {
                LayerKind::Conv2D {
                    kernel_size,
                    strides,
                    padding,
                    use_bias,
                    activation,
                    ..
                }
                | LayerKind::DepthwiseConv2D {
                    kernel_size,
                    strides,
                    padding,
                    use_bias,
                    activation,
                    ..
                }
                | LayerKind::SeparableConv2D {
                    kernel_size,
                    strides,
                    padding,
                    use_bias,
                    activation,
                    ..
                }
                | LayerKind::Conv2DTranspose {
                    kernel_size,
                    strides,
                    padding,
                    use_bias,
                    activation,
                    ..
                } => $S {
                    window: Some(kernel_size),
                    strides: Some(strides),
                    padding: Some(padding),
                    use_bias: Some(use_bias),
                    fused_activation: Some(activation),
                    ..Default::default()
                },
                LayerKind::Dense {
                    use_bias,
                    activation,
                    ..
                } => $S {
                    use_bias: Some(use_bias),
                    fused_activation: Some(activation),
                    ..Default::default()
                },
                LayerKind::Conv1D {
                    padding,
                    use_bias,
                    activation,
                    ..
                } => $S {
                    padding1d: Some(padding),
                    use_bias: Some(use_bias),
                    fused_activation: Some(activation),
                    ..Default::default()
                },
                // `activation` is the candidate's and the output's, not one
                // applied last to `z + bias` (the bias hypothesis skips them).
                LayerKind::Lstm {
                    use_bias,
                    activation,
                    ..
                }
                | LayerKind::Gru {
                    use_bias,
                    activation,
                    ..
                }
                | LayerKind::SimpleRnn {
                    use_bias,
                    activation,
                    ..
                } => $S {
                    use_bias: Some(use_bias),
                    fused_activation: Some(activation),
                    ..Default::default()
                },
                LayerKind::MaxPooling2D {
                    pool_size,
                    strides,
                    padding,
                }
                | LayerKind::AveragePooling2D {
                    pool_size,
                    strides,
                    padding,
                } => $S {
                    window: Some(pool_size),
                    strides: Some(strides),
                    padding: Some(padding),
                    ..Default::default()
                },
                LayerKind::MaxPooling1D { padding, .. }
                | LayerKind::AveragePooling1D { padding, .. } => $S {
                    padding: Some(padding),
                    ..Default::default()
                },
                LayerKind::ZeroPadding2D { padding: amounts }
                | LayerKind::Cropping2D { cropping: amounts } => $S {
                    explicit_padding: Some(amounts),
                    ..Default::default()
                },
                LayerKind::BatchNormalization { epsilon, .. } => $S {
                    epsilon: Some(epsilon),
                    norm_stats: Some(["moving_mean", "moving_variance"]),
                    norm_affine: Some(["gamma", "beta"]),
                    ..Default::default()
                },
                LayerKind::LayerNormalization { epsilon, .. } => $S {
                    epsilon: Some(epsilon),
                    norm_affine: Some(["gamma", "beta"]),
                    ..Default::default()
                },
                LayerKind::Activation { activation } => $S {
                    own_activation: Some(activation),
                    activation_layer: true,
                    ..Default::default()
                },
                LayerKind::ReLU { .. }
                | LayerKind::LeakyReLU { .. }
                | LayerKind::Softmax { .. } => $S {
                    activation_layer: true,
                    ..Default::default()
                },
                LayerKind::GlobalAveragePooling2D { .. }
                | LayerKind::GlobalMaxPooling2D { .. }
                | LayerKind::GlobalAveragePooling1D { .. }
                | LayerKind::GlobalMaxPooling1D { .. }
                | LayerKind::Flatten
                | LayerKind::Reshape { .. }
                | LayerKind::Permute { .. }
                | LayerKind::RepeatVector { .. }
                | LayerKind::Masking { .. }
                | LayerKind::Bidirectional { .. }
                | LayerKind::UpSampling2D { .. }
                | LayerKind::Add
                | LayerKind::Multiply
                | LayerKind::Subtract
                | LayerKind::Maximum
                | LayerKind::Minimum
                | LayerKind::Average
                | LayerKind::Concatenate { .. }
                | LayerKind::MultiHeadAttention { .. }
                | LayerKind::Rescaling { .. }
                | LayerKind::Normalization { .. }
                | LayerKind::PReLU { .. }
                | LayerKind::Embedding { .. }
                | LayerKind::InferenceIdentity { .. }
                | LayerKind::TfOp(_) => $S::default(),
            }
        }
    };
}

impl LayerKind {
    slots_fn!(slots, &Self, Slots);
    slots_fn!(slots_mut, &mut Self, SlotsMut);
}
