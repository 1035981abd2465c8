//! `Einsum` (tract-tensorflow 0.23 has no builder for it): Keras's
//! `EinsumDense` and `MultiHeadAttention` freeze their projections and
//! attention products as `Einsum` nodes (`"abc,cde->abde"`,
//! `"aecd,abcd->acbe"`, `"BTNH,BSNH->BNTS"`, …).
//!
//! The equation is parsed into tract-core's `AxesMapping` and wired as
//! tract's own `EinSum` op (the same op tract's MatMul lowers to), so the
//! contraction is tract's kernel, not thaw's. Shape inference: each output
//! axis has the size of the input axis with the same letter.
//!
//! Checked against TensorFlow's values in `oracle/tests.rs` (the
//! transformer-block fixtures' Einsum nodes).
//!
//! Not handled: ellipsis (`...`) and repeated letters within one operand
//! (diagonals), which Keras layers do not emit; more than 2 operands.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ops::einsum::EinSum;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("Einsum", einsum)];

fn einsum(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let eq = node.get_attr_raw_str("equation")?;
    let eq = std::str::from_utf8(eq)
        .map_err(|e| format_err!("Einsum {}: equation is not UTF-8: {e}", node.name))?;
    Ok(expand(TfEinsum::parse(eq).with_context(|| {
        format!("Einsum {}: equation '{eq}'", node.name)
    })?))
}

/// A parsed two-operand equation: letters of each input and of the output.
#[derive(Debug, Clone, Hash)]
struct TfEinsum {
    inputs: Vec<Vec<char>>,
    output: Vec<char>,
}

impl TfEinsum {
    fn parse(eq: &str) -> TractResult<TfEinsum> {
        let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
        ensure!(!eq.contains('.'), "ellipsis is not supported");
        let (ins, out) = eq.split_once("->").context("no '->' (implicit output)")?;
        let inputs: Vec<Vec<char>> = ins.split(',').map(|s| s.chars().collect()).collect();
        ensure!(inputs.len() == 2, "{} operands, expected 2", inputs.len());
        let output: Vec<char> = out.chars().collect();
        for letters in inputs.iter().chain(std::iter::once(&output)) {
            ensure!(
                letters.iter().all(|c| c.is_ascii_alphabetic()),
                "letters must be a-z or A-Z"
            );
            for (i, c) in letters.iter().enumerate() {
                ensure!(
                    !letters[..i].contains(c),
                    "repeated letter '{c}' in one operand"
                );
            }
        }
        for c in &output {
            ensure!(
                inputs.iter().any(|i| i.contains(c)),
                "output letter '{c}' is in no operand"
            );
        }
        Ok(TfEinsum { inputs, output })
    }

    fn equation(&self) -> String {
        let ins: Vec<String> = self.inputs.iter().map(|i| i.iter().collect()).collect();
        format!(
            "{}->{}",
            ins.join(","),
            self.output.iter().collect::<String>()
        )
    }
}

impl Expansion for TfEinsum {
    fn name(&self) -> StaticName {
        "ThawEinsum".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &inputs[1].datum_type)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        for (k, letters) in self.inputs.iter().enumerate() {
            s.equals(&inputs[k].rank, letters.len() as i64)?;
        }
        s.equals(&outputs[0].rank, self.output.len() as i64)?;
        for (o, c) in self.output.iter().enumerate() {
            // The first operand holding the letter gives the size (a contraction of
            // mismatched sizes fails in tract's EinSum itself).
            for (k, letters) in self.inputs.iter().enumerate() {
                if let Some(j) = letters.iter().position(|l| l == c) {
                    s.equals(&outputs[0].shape[o], &inputs[k].shape[j])?;
                    break;
                }
            }
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let axes: AxesMapping = self.equation().parse()?;
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        model.wire_node(prefix, EinSum::new(axes, dt), inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keras_equations_and_refuses_the_rest() {
        let e = TfEinsum::parse("abc,cde->abde").unwrap();
        assert_eq!(e.equation(), "abc,cde->abde");
        assert!(TfEinsum::parse("BTNH, BSNH -> BNTS").is_ok());
        for bad in [
            "ab,bc",
            "...a,ab->b",
            "aa,ab->b",
            "ab,bc,cd->ad",
            "ab,bc->az",
        ] {
            assert!(TfEinsum::parse(bad).is_err(), "{bad}");
        }
    }
}
