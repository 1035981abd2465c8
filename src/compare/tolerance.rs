//! The pass rule and its parameters: named presets, explicit `--atol/--rtol/--stol`.
//!
//! A tensor passes when **every** element satisfies
//!
//! ```text
//! |keras - graph| <= atol + rtol * |graph| + stol * scale
//! ```
//!
//! where `scale` is the tensor's own scale, the largest finite `|graph|` in it.
//! The first two terms are NumPy's `allclose`; the third is what lets deep
//! graphs through: float32 kernels that sum in another order (tract's conv vs
//! the interpreter's im2col) are off by a few ULPs *of the partial sums*, and
//! partial sums are as large as the tensor's largest values, not as large as
//! the element being judged (an element near 0 is a sum of large terms that
//! cancel). So the noise on a small element scales with the tensor's max, which
//! `atol + rtol * |graph|` cannot express: ResNet50's last blocks reach values
//! of ~1700 and an element of 0.3 may be 4e-3 off after 170 layers, while its
//! error is 2.3e-6 of the tensor's scale. See `reports/README.md` for the
//! measurements behind the defaults.

use serde::Serialize;

/// Parameters of the pass rule (see the module header).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tolerance {
    /// Absolute term.
    pub atol: f32,
    /// Relative term, times the element's own `|graph|`.
    pub rtol: f32,
    /// Scale term, times the largest finite `|graph|` of the tensor.
    pub stol: f32,
    /// Isolated checks only: the noise bar in float32 ULPs of the tensor's
    /// scale per unit of [`noise_factor`] (see [`NoiseBar`]).
    pub ulps: f32,
}

/// Named tolerance levels (`--tolerance`), tightest first. `approximate` is
/// the default. `stol` is in units of the tensor's largest magnitude: 1e-5 is
/// ~84 float32 ULPs of that value (one ULP is 2^-23 ≈ 1.19e-7 relative).
pub const PRESETS: &[(&str, Tolerance)] = &[
    (
        "exact",
        Tolerance {
            atol: 0.0,
            rtol: 0.0,
            stol: 0.0,
            ulps: 0.0,
        },
    ),
    (
        "close",
        Tolerance {
            atol: 1e-5,
            rtol: 1e-4,
            stol: 1e-6,
            ulps: 16.0,
        },
    ),
    (
        "approximate",
        Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
            stol: 1e-5,
            ulps: 64.0,
        },
    ),
    (
        "very-approximate",
        Tolerance {
            atol: 1e-2,
            rtol: 1e-2,
            stol: 1e-3,
            ulps: 4096.0,
        },
    ),
];

/// Isolated checks use `stol` times this (see [`Tolerance::isolated`]).
pub const ISOLATED_STOL_FACTOR: f32 = 0.1;

impl Tolerance {
    /// The preset called `name`, or an error listing the names.
    pub fn preset(name: &str) -> Result<Tolerance, String> {
        PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown tolerance preset '{name}' (known: {})",
                    names.join(", ")
                )
            })
    }

    /// The rule for an isolated check (one layer fed the graph's values of
    /// its inputs): the same `atol` and `rtol`, a tenth of `stol`. Only that
    /// layer's own rounding is left, which the zoo models keep below 4.6e-8 of
    /// the tensor's scale (ResNet50, `min_stol` of the isolated checks) while
    /// the cumulative checks need up to 1.6e-6 (ResNet50V2): a tighter rule
    /// there keeps a small semantic error (a BatchNorm epsilon 1e-5 in place
    /// of 1e-3) from hiding under the noise allowed for 190 layers.
    pub fn isolated(&self) -> Tolerance {
        Tolerance {
            stol: self.stol * ISOLATED_STOL_FACTOR,
            ..*self
        }
    }

    /// The largest error allowed on an element whose reference is `g`, in a
    /// tensor whose scale (largest finite |graph|) is `scale`.
    pub fn allowed(&self, g: f32, scale: f32) -> f32 {
        self.atol + self.rtol * g.abs() + self.stol * scale
    }
}

/// The spacing of float32 values at `|x|` (its unit in the last place):
/// 2^(e - 23) for a normal `x` of exponent `e`, the subnormal spacing near 0.
pub fn ulp(x: f32) -> f32 {
    let a = x.abs();
    if !a.is_finite() {
        return f32::INFINITY;
    }
    if a == f32::MAX {
        return a - f32::from_bits(a.to_bits() - 1);
    }
    f32::from_bits(a.to_bits() + 1) - a
}

/// How the rounding noise of one output element grows with the number of
/// terms it accumulates (`fan_in`): `sqrt(fan_in)`, the random walk of
/// `fan_in` roundings that two summation orders make independently (1 for
/// an element-wise layer).
pub fn noise_factor(fan_in: usize) -> f32 {
    (fan_in.max(1) as f32).sqrt()
}

/// The isolated noise bar of one tensor (see `reports/README.md`, "The
/// isolated noise bar"): `ulps * noise_factor(fan_in) * ulp(scale)`, and the
/// worst element's error over it (`ratio`, ≤ 1 is within the rounding floor).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NoiseBar {
    /// Terms accumulated per output element (from the layer's kernels,
    /// window, or input/output sizes).
    pub fan_in: usize,
    /// `ulps` of the tolerance that set it.
    pub ulps: f32,
    /// The largest error the bar allows, absolute.
    pub bar: f32,
    /// max |keras - graph| over `bar` (infinite when `bar` is 0 and an
    /// element differs).
    pub ratio: f32,
}

impl NoiseBar {
    /// The bar for a tensor of scale `scale` whose elements each accumulate
    /// `fan_in` terms (`ratio` is filled in by the comparison).
    pub fn new(tol: &Tolerance, fan_in: usize, scale: f32) -> NoiseBar {
        NoiseBar {
            fan_in,
            ulps: tol.ulps,
            bar: tol.ulps * noise_factor(fan_in) * ulp(scale),
            ratio: 0.0,
        }
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        PRESETS[2].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_approximate_preset_and_presets_tighten_in_order() {
        assert_eq!(
            Tolerance::preset("approximate").unwrap(),
            Tolerance::default()
        );
        for w in PRESETS.windows(2) {
            let (a, b) = (w[0].1, w[1].1);
            assert!(a.atol <= b.atol && a.rtol <= b.rtol && a.stol <= b.stol && a.ulps <= b.ulps);
        }
        assert!(
            Tolerance::preset("loose")
                .unwrap_err()
                .contains("very-approximate")
        );
    }

    #[test]
    fn allowed_adds_the_three_terms() {
        let t = Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
            stol: 1e-5,
            ulps: 64.0,
        };
        // 1e-4 + 1e-3 * 2 + 1e-5 * 1000
        assert!((t.allowed(-2.0, 1000.0) - 0.0121).abs() < 1e-7);
    }
}
