//! Pass-through ops: `IdentityN` (N inputs -> the same N outputs), `StopGradient`,
//! `PreventGradient`, `Snapshot`, `EnsureShape` (all the identity at inference).
//!
//! Why thaw has its own: none of them is registered in tract-tensorflow 0.23.
//! `IdentityN` is the important one: Keras/tf.function graphs use it to forward
//! several tensors at once, and its builder must have one output per input or the
//! graph cannot be translated (consumers name `idn:1`, `idn:2`, ...).
//!
//! Not handled: nothing known; `EnsureShape` does not check the shape.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::identity::Identity;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("IdentityN", identity_n),
    ("StopGradient", identity),
    ("PreventGradient", identity),
    ("Snapshot", identity),
    ("EnsureShape", identity),
];

fn identity(_ctx: &ParsingContext, _node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    Ok(Box::new(Identity))
}

fn identity_n(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let n = node.input.iter().filter(|i| !i.starts_with('^')).count();
    Ok(expand(IdentityN { n }))
}

/// N inputs forwarded unchanged to N outputs.
#[derive(Debug, Clone)]
struct IdentityN {
    n: usize,
}

impl Expansion for IdentityN {
    fn name(&self) -> StaticName {
        "ThawIdentityN".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.n)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.n)?;
        check_output_arity(outputs, self.n)?;
        for (i, o) in inputs.iter().zip(outputs) {
            s.equals(&i.datum_type, &o.datum_type)?;
            s.equals(&i.shape, &o.shape)?;
            s.equals(&i.value, &o.value)?;
        }
        Ok(())
    }

    fn wire(
        &self,
        _prefix: &str,
        _target: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        Ok(inputs.into())
    }
}
