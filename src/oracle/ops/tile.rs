//! `Tile` (RepeatVector freezes as `ExpandDims → Tile`), wired as one
//! concatenation of `m` copies per tiled axis.
//!
//! Why thaw has its own: tract-tensorflow 0.23 wires tract-core's `Tile`, whose
//! declutter turns a tile of size-1 axes into `MultiBroadcastTo`; fused into a
//! following 1x1 `Conv1D` (an `EinSum`), that breaks the optimiser ("Trying to
//! substitute a 4,1,3,4,F32 by 4,1,1,4,F32 as output #0 of … EinSum"), seen on
//! `RepeatVector → Conv1D(kernel 1)` in both Kerases' graphs. Concatenation
//! computes the same values (`tile(x, m)` along an axis is `m` copies of `x`
//! end to end) and optimises cleanly.
//!
//! Not handled: non-Const multiples (refused, naming the node).

use super::Builder;
use tract_tensorflow::tract_core::ops::array::TypedConcat;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("Tile", |_, _| Ok(expand(Tile)))];

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Tile;

fn multiples(t: &Tensor) -> TractResult<Vec<usize>> {
    let v = t.cast_to::<i64>()?;
    v.try_as_plain_ram()?
        .as_slice::<i64>()?
        .iter()
        .map(|&m| usize::try_from(m).map_err(|_| format_err!("negative multiple {m}")))
        .collect()
}

impl Expansion for Tile {
    fn name(&self) -> StaticName {
        "ThawTile".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        s.equals(&inputs[1].rank, 1)?;
        s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, mult| {
            let mult = multiples(&mult)?;
            if mult.len() != shape.len() {
                bail!("{} multiples for a rank-{} input", mult.len(), shape.len());
            }
            let out: TVec<TDim> = shape
                .iter()
                .zip(&mult)
                .map(|(d, m)| d.clone() * *m)
                .collect();
            s.equals(&outputs[0].shape, ShapeFactoid::from(out))
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let Some(mult) = model.outlet_fact(inputs[1])?.konst.clone() else {
            bail!("Tile multiples are not a constant");
        };
        let mut x = inputs[0];
        for (axis, m) in multiples(&mult)?.into_iter().enumerate() {
            if m != 1 {
                let copies = vec![x; m];
                x = model.wire_node(
                    format!("{prefix}.axis{axis}"),
                    TypedConcat { axis },
                    &copies,
                )?[0];
            }
        }
        if x == inputs[0] {
            // All multiples 1: an identity, which still needs a node of its own name.
            x = model.wire_node(
                prefix,
                tract_tensorflow::tract_core::ops::identity::Identity,
                &[x],
            )?[0];
        } else {
            model.node_mut(x.node).name = prefix.to_string();
        }
        Ok(tvec!(x))
    }
}
