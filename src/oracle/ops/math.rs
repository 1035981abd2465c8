//! Element-wise math, activations and matrix products tract-tensorflow 0.23 lacks or
//! gets wrong: `Sqrt`, `Square`, `Exp`, `Elu`, `Selu`, `Softplus`, `Softsign`,
//! `Erf`, `Erfc`, `LeakyRelu`, `Softmax`, `BatchMatMul`/`BatchMatMulV2`.
//!
//! Why thaw has its own:
//! - `Sqrt`, `Square`, `Exp`, `Elu`, `Selu`, `Softplus`, `Softsign`, `LeakyRelu`,
//!   `Erf`, `Erfc`, `BatchMatMul(V2)` are not registered. `Erf` is tract-core's
//!   own `erf` kernel; `Erfc` (exact GELU's `0.5 x erfc(-x / sqrt 2)`, as both
//!   Kerases freeze `gelu`) is `1 - erf(x)`, which loses relative precision only
//!   where erfc is tiny (x > ~3), not where GELU uses it (erfc of -x/sqrt 2 near 2). `Selu` uses TF's fixed constants
//!   (alpha 1.6732632423543772, scale 1.0507009873554805); `Softplus` is tract's
//!   `ln(1 + exp(x))`, which overflows to inf for x > ~88 where TF returns x
//!   (fine for verification inputs; noted in case a graph saturates).
//! - `Softmax` is registered as ONNX-1 `LayerSoftmax(axis 1, coerce to 2-D)`: on a
//!   rank-4 NHWC tensor it normalises over H*W*C instead of TF's last axis only.
//!   thaw's builder normalises over the last axis, as TF does for any rank.
//!
//! Not handled: `LogSoftmax`, `SelectV2` (they go
//! through tract's own builders if it has them, else are reported unsupported).

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::activations::{
    Elu, LeakyRelu, Selu, Softplus, Softsign, broadcast_scalar,
};
use tract_tensorflow::tract_hir::ops::math;
use tract_tensorflow::tract_hir::ops::matmul::MatMulInference;
use tract_tensorflow::tract_hir::ops::nn::LayerSoftmax;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("Sqrt", |_, _| Ok(math::sqrt().into_hir())),
    ("Square", |_, _| Ok(math::square().into_hir())),
    ("Exp", |_, _| Ok(math::exp().into_hir())),
    ("Elu", |_, _| Ok(expand(Elu(1.0)))),
    ("LeakyRelu", leaky_relu),
    ("Selu", |_, _| Ok(expand(Selu(1.673_263_2, 1.050_701)))),
    ("Softplus", |_, _| Ok(expand(Softplus))),
    ("Softsign", |_, _| Ok(expand(Softsign))),
    ("Erf", |_, _| Ok(math::erf().into_hir())),
    ("Erfc", |_, _| Ok(expand(Erfc))),
    ("Softmax", |_, _| Ok(expand(LayerSoftmax::new(-1, false)))),
    ("BatchMatMul", batch_mat_mul),
    ("BatchMatMulV2", batch_mat_mul),
];

fn leaky_relu(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    // TF's default alpha is 0.2.
    let alpha = node.get_attr_opt_float::<f32>("alpha")?.unwrap_or(0.2);
    Ok(expand(LeakyRelu(alpha)))
}

fn batch_mat_mul(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let adj_x = node.get_attr_opt_bool("adj_x")?.unwrap_or(false);
    let adj_y = node.get_attr_opt_bool("adj_y")?.unwrap_or(false);
    Ok(expand(
        MatMulInference::default()
            .with_a_trans(adj_x)
            .with_b_trans(adj_y),
    ))
}

/// `erfc(x) = 1 - erf(x)`.
#[derive(Debug, Clone)]
struct Erfc;

impl Expansion for Erfc {
    fn name(&self) -> StaticName {
        "ThawErfc".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let erf = model.wire_node(format!("{prefix}.erf"), math::erf(), inputs)?;
        let one = broadcast_scalar(1.0, model, inputs)?;
        let one = model.add_const(format!("{prefix}.one"), one)?;
        model.wire_node(format!("{prefix}.one_minus"), math::sub(), &[one, erf[0]])
    }
}
