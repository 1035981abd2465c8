//! Comparing the two witnesses: metrics between the Keras side's value and the
//! original graph's value of the same tensor, and the pass rule.
//!
//! A tensor passes when **every** element satisfies
//! `|keras - graph| <= atol + rtol * |graph|` (NumPy's `allclose` rule).
//! Defaults: `atol = 1e-4`, `rtol = 1e-3`: float32 reordering noise in the
//! small graphs this targets stays orders of magnitude below that, while a
//! wrong epsilon, padding or kernel layout moves values by far more.
//! This module sees plain arrays only; it knows nothing of tract or Keras.

pub mod align;
pub mod diagnose;

use ndarray::ArrayD;
use serde::Serialize;

/// Absolute and relative tolerance of the pass rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tolerance {
    pub atol: f32,
    pub rtol: f32,
}

/// Named tolerance levels (`--tolerance`), loosest last. `approximate` is the
/// default: float32 kernels that sum in a different order (tract's conv vs
/// the interpreter's im2col) stay below it even 150 layers deep
/// (MobileNetV2: worst cumulative max abs 9.2e-5 on values of scale ~1, passing
/// through the rtol term), while a wrong BatchNorm epsilon, padding or
/// kernel layout moves values by 1e-3 and more.
pub const PRESETS: &[(&str, Tolerance)] = &[
    (
        "exact",
        Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
    ),
    (
        "close",
        Tolerance {
            atol: 1e-5,
            rtol: 1e-4,
        },
    ),
    (
        "approximate",
        Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
        },
    ),
    (
        "very-approximate",
        Tolerance {
            atol: 1e-2,
            rtol: 1e-2,
        },
    ),
];

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
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
        }
    }
}

/// How far one tensor is from its reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub max_abs: f32,
    /// max |k - g| / |g| over elements with g != 0.
    pub max_rel: f32,
    pub mean_abs: f32,
    /// Cosine similarity of the flattened tensors (1 when both are zero).
    pub cosine: f32,
    pub elements: usize,
    /// Elements outside `atol + rtol * |graph|`, NaN mismatches included.
    pub out_of_tolerance: usize,
    pub pass: bool,
    pub extra: Extra,
}

/// The element with the largest absolute error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Worst {
    /// Its index in the tensor (batch first).
    pub index: Vec<usize>,
    pub keras: f32,
    pub graph: f32,
}

/// Metrics that say *how* two tensors differ, beyond pass/fail.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Extra {
    /// Root mean square of `keras - graph`.
    pub rmse: f32,
    /// Largest distance in float32 units in the last place (adjacent floats
    /// are 1 apart; +0 and -0 are 0 apart; NaN on one side counts as `u64::MAX`).
    pub max_ulp: u64,
    /// The element with the largest |keras - graph| (none for empty tensors).
    pub worst: Option<Worst>,
    /// Range of the graph's tensor (its own scale, to read errors against).
    pub graph_min: f32,
    pub graph_max: f32,
    /// Smallest `atol` that would have passed with the same `rtol`
    /// (infinite when a NaN or infinity differs).
    pub min_atol: f32,
}

/// Monotonic integer key of a float for ULP distances.
fn ulp_key(x: f32) -> i64 {
    let b = i64::from(x.to_bits() as i32);
    if b < 0 { i64::from(i32::MIN) - b } else { b }
}

/// Distance in ULPs between two floats (NaN on one side: `u64::MAX`).
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => 0,
        (false, false) => ulp_key(a).abs_diff(ulp_key(b)),
        _ => u64::MAX,
    }
}

/// Compares `keras` against the reference `graph`. Shapes must be equal; the
/// error says how they differ.
pub fn compare(
    keras: &ArrayD<f32>,
    graph: &ArrayD<f32>,
    tol: Tolerance,
) -> Result<Metrics, String> {
    if keras.shape() != graph.shape() {
        return Err(format!(
            "shape mismatch: Keras side {:?}, graph {:?}",
            keras.shape(),
            graph.shape()
        ));
    }
    let (mut max_abs, mut max_rel, mut sum_abs) = (0f32, 0f32, 0f64);
    let (mut dot, mut nk, mut ng) = (0f64, 0f64, 0f64);
    let mut bad = 0usize;
    let (mut sum_sq, mut max_ulp, mut min_atol) = (0f64, 0u64, 0f32);
    let (mut gmin, mut gmax) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut worst: Option<(usize, f32)> = None;
    for (pos, (&k, &g)) in keras.iter().zip(graph.iter()).enumerate() {
        let d = (k - g).abs();
        max_ulp = max_ulp.max(ulp_distance(k, g));
        gmin = gmin.min(g);
        gmax = gmax.max(g);
        if !(k.is_nan() && g.is_nan()) {
            let need = if d.is_nan() {
                f32::INFINITY
            } else {
                (d - tol.rtol * g.abs()).max(0.0)
            };
            min_atol = min_atol.max(need);
            let dd = if d.is_nan() { f32::INFINITY } else { d };
            if worst.is_none_or(|(_, w)| dd > w) {
                worst = Some((pos, dd));
            }
        }
        if d.is_finite() {
            sum_sq += f64::from(d) * f64::from(d);
        }
        // NaN on exactly one side, or at a different place, is a failure.
        let nan_mismatch = k.is_nan() != g.is_nan();
        if (nan_mismatch || d > tol.atol + tol.rtol * g.abs()) && !(k.is_nan() && g.is_nan()) {
            bad += 1;
        }
        if d.is_finite() {
            max_abs = max_abs.max(d);
            sum_abs += d as f64;
            if g != 0.0 {
                max_rel = max_rel.max(d / g.abs());
            }
        } else if !(k.is_nan() && g.is_nan()) && k != g {
            max_abs = f32::INFINITY;
        }
        dot += k as f64 * g as f64;
        nk += k as f64 * k as f64;
        ng += g as f64 * g as f64;
    }
    let n = keras.len();
    let cosine = if nk == 0.0 && ng == 0.0 {
        1.0
    } else if nk == 0.0 || ng == 0.0 {
        0.0
    } else {
        (dot / (nk.sqrt() * ng.sqrt())) as f32
    };
    Ok(Metrics {
        max_abs,
        max_rel,
        mean_abs: if n == 0 {
            0.0
        } else {
            (sum_abs / n as f64) as f32
        },
        cosine,
        elements: n,
        out_of_tolerance: bad,
        pass: bad == 0,
        extra: Extra {
            rmse: if n == 0 {
                0.0
            } else {
                (sum_sq / n as f64).sqrt() as f32
            },
            max_ulp,
            worst: worst.map(|(pos, _)| Worst {
                index: unravel(pos, keras.shape()),
                keras: keras.iter().nth(pos).copied().unwrap_or(f32::NAN),
                graph: graph.iter().nth(pos).copied().unwrap_or(f32::NAN),
            }),
            graph_min: if n == 0 { 0.0 } else { gmin },
            graph_max: if n == 0 { 0.0 } else { gmax },
            min_atol,
        },
    })
}

/// The multi-dimensional index of a row-major flat position.
fn unravel(mut pos: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = pos % d;
            pos /= d;
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn c(k: &[f32], g: &[f32]) -> Metrics {
        compare(
            &arr1(k).into_dyn(),
            &arr1(g).into_dyn(),
            Tolerance::default(),
        )
        .unwrap()
    }

    #[test]
    fn identical_passes() {
        let m = c(&[1.0, -2.0, 0.0], &[1.0, -2.0, 0.0]);
        assert!(m.pass);
        assert_eq!(m.max_abs, 0.0);
        assert!((m.cosine - 1.0).abs() < 1e-7);
    }

    #[test]
    fn rule_is_atol_plus_rtol_times_reference() {
        // |d| = 1e-3 on a reference of 1.0: allowed 1e-4 + 1e-3 * 1 = 1.1e-3.
        assert!(c(&[1.001], &[1.0]).pass);
        // The same error on a reference of 0.1: allowed 2e-4.
        let m = c(&[0.101], &[0.1]);
        assert!(!m.pass);
        assert_eq!(m.out_of_tolerance, 1);
        assert!((m.max_rel - 0.01).abs() < 1e-4);
    }

    #[test]
    fn nan_on_one_side_fails() {
        assert!(!c(&[f32::NAN], &[1.0]).pass);
        assert!(c(&[f32::NAN], &[f32::NAN]).pass);
    }

    #[test]
    fn shape_mismatch_is_reported() {
        let e = compare(
            &arr1(&[1.0f32]).into_dyn(),
            &arr1(&[1.0f32, 2.0]).into_dyn(),
            Tolerance::default(),
        );
        assert!(e.unwrap_err().contains("shape mismatch"));
    }

    #[test]
    fn extra_metrics_describe_the_worst_element() {
        let k = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.5]]).into_dyn();
        let g = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]).into_dyn();
        let m = compare(&k, &g, Tolerance::default()).unwrap();
        let w = m.extra.worst.unwrap();
        assert_eq!(w.index, vec![1, 1]);
        assert_eq!((w.keras, w.graph), (4.5, 4.0));
        // rmse = sqrt(0.25 / 4)
        assert!((m.extra.rmse - 0.25).abs() < 1e-7);
        assert_eq!((m.extra.graph_min, m.extra.graph_max), (1.0, 4.0));
        // Smallest passing atol with rtol 1e-3: 0.5 - 1e-3 * 4.
        assert!((m.extra.min_atol - 0.496).abs() < 1e-6);
        assert!(!m.pass);
        let m = compare(
            &k,
            &g,
            Tolerance {
                atol: 0.4961,
                rtol: 1e-3,
            },
        )
        .unwrap();
        assert!(m.pass, "min_atol must be the passing threshold");
    }

    #[test]
    fn ulp_distance_counts_representable_floats() {
        assert_eq!(ulp_distance(1.0, 1.0), 0);
        assert_eq!(ulp_distance(1.0, f32::from_bits(1.0f32.to_bits() + 3)), 3);
        assert_eq!(ulp_distance(0.0, -0.0), 0);
        // The smallest positive and negative subnormals are 2 apart (through 0).
        assert_eq!(ulp_distance(f32::from_bits(1), -f32::from_bits(1)), 2);
        assert_eq!(ulp_distance(f32::NAN, 1.0), u64::MAX);
    }

    #[test]
    fn default_is_the_approximate_preset_and_presets_tighten_in_order() {
        assert_eq!(
            Tolerance::preset("approximate").unwrap(),
            Tolerance::default()
        );
        for w in PRESETS.windows(2) {
            assert!(w[0].1.atol <= w[1].1.atol && w[0].1.rtol <= w[1].1.rtol);
        }
        assert!(
            Tolerance::preset("loose")
                .unwrap_err()
                .contains("very-approximate")
        );
    }
}
