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
    for (&k, &g) in keras.iter().zip(graph.iter()) {
        let d = (k - g).abs();
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
    })
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
}
