//! Comparing the two witnesses: metrics between the Keras side's value and the
//! original graph's value of the same tensor, and the pass rule.
//!
//! A tensor passes when **every** element satisfies
//! `|keras - graph| <= atol + rtol * |graph| + stol * scale`, `scale` being the
//! largest finite `|graph|` of the tensor (the rule and its defaults are
//! explained in [`tolerance`]). This module sees plain arrays only; it knows
//! nothing of tract or Keras.

pub mod align;
pub mod diagnose;
pub mod findings;
mod hypotheses;
pub mod overrides;
pub mod tolerance;
pub mod weights;

use ndarray::ArrayD;
use serde::Serialize;
use std::borrow::Cow;

pub use tolerance::{NoiseBar, PRESETS, Tolerance};

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
    /// Smallest `atol` that would have passed with the same `rtol` and `stol`
    /// (infinite when a NaN or infinity differs).
    pub min_atol: f32,
    /// The tensor's scale: its largest finite |graph| (0 when none).
    pub scale: f32,
    /// Smallest `stol` that would have passed with the same `atol` and `rtol`.
    pub min_stol: f32,
    /// The rule the tensor was judged by.
    pub tolerance: Tolerance,
    /// The worst element's error over what the rule allows it (≤ 1 passes):
    /// how close to failing the tensor is.
    pub tolerance_ratio: f32,
    /// Where `tolerance` came from when a config file's class or layer
    /// section set it (`None`: the model-wide tolerance). Set by the caller.
    pub tolerance_from: Option<String>,
    /// For a classifier output: the fraction of samples whose argmax over the
    /// last axis agrees ([`top1_agreement`]). Set by the caller.
    pub top1_agreement: Option<f32>,
    /// Isolated checks: the rounding-noise bar that caps the rule
    /// ([`compare_isolated`]); `None` for cumulative checks.
    pub noise: Option<NoiseBar>,
}

/// The fraction of rows (every position but the last axis) whose argmax over
/// the last axis is the same on both sides, for tensors that look like a
/// classifier's output: rank 2 `(batch, classes)`, or any rank ≥ 2 whose rows
/// are probability distributions (all in [0, 1], summing to 1 within 1e-3,
/// float32 rounding of a softmax over a few thousand classes being far below
/// that). `None` otherwise (fewer than 2 classes, other shapes, empty).
/// A row whose argmax is NaN on either side counts as disagreeing; ties go to
/// the first index, as in NumPy.
pub fn top1_agreement(keras: &ArrayD<f32>, graph: &ArrayD<f32>) -> Option<f32> {
    let classes = *graph.shape().last()?;
    if keras.shape() != graph.shape() || graph.ndim() < 2 || classes < 2 || graph.is_empty() {
        return None;
    }
    let rows = |a: &ArrayD<f32>| -> Vec<Vec<f32>> {
        a.as_standard_layout()
            .iter()
            .copied()
            .collect::<Vec<_>>()
            .chunks(classes)
            .map(<[f32]>::to_vec)
            .collect()
    };
    let (k, g) = (rows(keras), rows(graph));
    let distribution = |r: &Vec<f32>| {
        r.iter().all(|v| (0.0..=1.0).contains(v)) && (r.iter().sum::<f32>() - 1.0).abs() < 1e-3
    };
    if graph.ndim() > 2 && !g.iter().all(distribution) {
        return None;
    }
    let argmax = |r: &Vec<f32>| -> Option<usize> {
        if r.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut best = 0;
        for (i, v) in r.iter().enumerate() {
            if *v > r[best] {
                best = i;
            }
        }
        Some(best)
    };
    let agree = k
        .iter()
        .zip(&g)
        .filter(|(a, b)| matches!((argmax(a), argmax(b)), (Some(x), Some(y)) if x == y))
        .count();
    Some(agree as f32 / g.len() as f32)
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
    compare_rule(keras, graph, tol, None)
}

/// The isolated comparison of a layer whose output elements each accumulate
/// `fan_in` terms: an element passes when its error is within the rule of
/// [`compare`] AND within the rounding-noise bar
/// `tol.ulps * sqrt(fan_in) * ulp(scale)` ([`NoiseBar`]), the floor of the
/// layer's own float32 computation. `min_atol` and `min_stol` still describe
/// the `atol/rtol/stol` rule alone; `tolerance_ratio` is over the capped rule,
/// `noise.ratio` over the bar alone.
pub fn compare_isolated(
    keras: &ArrayD<f32>,
    graph: &ArrayD<f32>,
    tol: Tolerance,
    fan_in: usize,
) -> Result<Metrics, String> {
    compare_rule(keras, graph, tol, Some(fan_in))
}

fn compare_rule(
    keras: &ArrayD<f32>,
    graph: &ArrayD<f32>,
    tol: Tolerance,
    fan_in: Option<usize>,
) -> Result<Metrics, String> {
    if keras.shape() != graph.shape() {
        return Err(format!(
            "shape mismatch: Keras side {:?}, graph {:?}",
            keras.shape(),
            graph.shape()
        ));
    }
    // Flat, row-major element slices: iterating a dynamic-rank array element
    // by element costs more than the comparison itself (profiled: this
    // function was the largest single cost of a ResNet50 verify).
    let (ks, gs) = (row_major(keras), row_major(graph));
    let scale = gs
        .iter()
        .filter(|g| g.is_finite())
        .fold(0f32, |m, g| m.max(g.abs()));
    let mut noise = fan_in.map(|n| NoiseBar::new(&tol, n, scale));
    let bar = noise.map_or(f32::INFINITY, |n| n.bar);
    let allowed_at = |g: f32| tol.allowed(g, scale).min(bar);
    let (mut max_abs, mut max_rel, mut sum_abs) = (0f32, 0f32, 0f64);
    let (mut ratio, mut min_stol) = (0f32, 0f32);
    let (mut dot, mut nk, mut ng) = (0f64, 0f64, 0f64);
    let mut bad = 0usize;
    let (mut sum_sq, mut max_ulp, mut min_atol) = (0f64, 0u64, 0f32);
    let (mut gmin, mut gmax) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut worst: Option<(usize, f32)> = None;
    // Bit-identical finite values (most isolated checks of weightless layers):
    // every difference is 0, so only the graph side's range and norm remain
    // to be summed, as the loop below would sum them.
    let identical = ks.len() == gs.len()
        && ks
            .iter()
            .zip(gs.iter())
            .all(|(k, g)| k.to_bits() == g.to_bits() && g.is_finite());
    if identical {
        for &g in gs.iter() {
            gmin = gmin.min(g);
            gmax = gmax.max(g);
            ng += g as f64 * g as f64;
        }
        (dot, nk) = (ng, ng);
        worst = (!gs.is_empty()).then_some((0, 0.0));
    } else {
        for (pos, (&k, &g)) in ks.iter().zip(gs.iter()).enumerate() {
            let d = (k - g).abs();
            max_ulp = max_ulp.max(ulp_distance(k, g));
            gmin = gmin.min(g);
            gmax = gmax.max(g);
            if !(k.is_nan() && g.is_nan()) {
                let need = if d.is_nan() {
                    f32::INFINITY
                } else {
                    (d - tol.rtol * g.abs() - tol.stol * scale).max(0.0)
                };
                min_atol = min_atol.max(need);
                let over = if d.is_nan() {
                    f32::INFINITY
                } else {
                    (d - tol.atol - tol.rtol * g.abs()).max(0.0)
                };
                min_stol = min_stol.max(match (over > 0.0, scale > 0.0) {
                    (false, _) => 0.0,
                    (true, true) => over / scale,
                    (true, false) => f32::INFINITY,
                });
                let allowed = allowed_at(g);
                ratio = ratio.max(match (d.is_nan() || d > 0.0, allowed > 0.0) {
                    (false, _) => 0.0,
                    (true, true) if !d.is_nan() => d / allowed,
                    _ => f32::INFINITY,
                });
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
            if (nan_mismatch || d > allowed_at(g)) && !(k.is_nan() && g.is_nan()) {
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
    }
    if let Some(nb) = noise.as_mut() {
        nb.ratio = match (max_abs > 0.0, nb.bar > 0.0) {
            (false, _) => 0.0,
            (true, true) => max_abs / nb.bar,
            (true, false) => f32::INFINITY,
        };
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
                keras: ks.get(pos).copied().unwrap_or(f32::NAN),
                graph: gs.get(pos).copied().unwrap_or(f32::NAN),
            }),
            graph_min: if n == 0 { 0.0 } else { gmin },
            graph_max: if n == 0 { 0.0 } else { gmax },
            min_atol,
            scale,
            min_stol,
            tolerance: tol,
            tolerance_ratio: ratio,
            tolerance_from: None,
            top1_agreement: None,
            noise,
        },
    })
}

/// The elements in row-major order, borrowed when the array is already laid
/// out that way (the usual case), copied otherwise.
fn row_major(a: &ArrayD<f32>) -> Cow<'_, [f32]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
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

    /// The ResNet50 case (issue 4): an element near 0 in a tensor reaching
    /// ~1700 is off by 4e-3 after 170 layers of float32 reordering; the scale
    /// term (1e-5 * 1700 = 0.017) lets it through, the old rule did not.
    #[test]
    fn scale_term_allows_noise_relative_to_the_tensors_largest_value() {
        let g = [1700.0f32, 0.3, -2.0];
        let k = [1700.004f32, 0.304, -2.0];
        let m = c(&k, &g);
        assert!(m.pass, "{m:?}");
        assert!(m.extra.tolerance_ratio < 1.0);
        let old = Tolerance {
            stol: 0.0,
            ..Tolerance::default()
        };
        let m = compare(&arr1(&k).into_dyn(), &arr1(&g).into_dyn(), old).unwrap();
        assert!(!m.pass);
        assert_eq!(m.out_of_tolerance, 1);
        assert!(m.extra.tolerance_ratio > 1.0);
        // Smallest passing stol: (4e-3 - 1e-4 - 1e-3 * 0.3) / 1700.
        let want = (0.004f32 - 1e-4 - 3e-4) / 1700.0;
        assert!(
            (m.extra.min_stol - want).abs() < 1e-7,
            "{}",
            m.extra.min_stol
        );
        // The same error on a tensor whose scale is 1 is a real difference.
        assert!(!c(&[0.304, 1.0], &[0.3, 1.0]).pass);
    }

    #[test]
    fn top1_agreement_counts_samples_whose_argmax_agrees() {
        let g = ndarray::arr2(&[
            [0.1f32, 0.7, 0.2],
            [0.5, 0.3, 0.2],
            [0.0, 0.0, 1.0],
            [0.3, 0.3, 0.4],
        ]);
        let k = ndarray::arr2(&[
            [0.1f32, 0.6, 0.3],
            [0.2, 0.6, 0.2],
            [0.0, 0.1, 0.9],
            [f32::NAN, 0.3, 0.4],
        ]);
        // Rows 0 and 2 agree; row 1 moved its argmax; row 3 has a NaN.
        assert_eq!(
            top1_agreement(&k.into_dyn(), &g.clone().into_dyn()),
            Some(0.5)
        );
        // Rank 2 logits count too; a single class or rank 1 do not.
        let logits = ndarray::arr2(&[[-3.0f32, 5.0], [2.0, 1.0]]).into_dyn();
        assert_eq!(top1_agreement(&logits, &logits), Some(1.0));
        let one = ndarray::arr2(&[[1.0f32], [2.0]]).into_dyn();
        assert_eq!(top1_agreement(&one, &one), None);
        let flat = arr1(&[1.0f32, 2.0]).into_dyn();
        assert_eq!(top1_agreement(&flat, &flat), None);
        // Rank 3: only when the rows are distributions (a per-step softmax).
        let seq = g
            .clone()
            .into_shape_with_order((2, 2, 3))
            .unwrap()
            .into_dyn();
        assert_eq!(top1_agreement(&seq, &seq), Some(1.0));
        let feat = (seq.clone() * 3.0).into_dyn();
        assert_eq!(top1_agreement(&feat, &feat), None);
    }

    #[test]
    fn identical_values_measure_as_the_element_loop_does() {
        // k = +0.0 against g = -0.0 differs in bits, not in value: the
        // element loop runs and must agree with the identical-values path.
        let g = arr1(&[-2.0f32, 0.5, 3.0, -0.0]).into_dyn();
        let k = arr1(&[-2.0f32, 0.5, 3.0, 0.0]).into_dyn();
        let tol = Tolerance::default();
        assert_eq!(compare(&g, &g, tol), compare(&k, &g, tol));
        assert_eq!(
            compare_isolated(&g, &g, tol, 9),
            compare_isolated(&k, &g, tol, 9)
        );
        assert_eq!(
            compare(&g, &g, tol).unwrap().extra.worst.unwrap().index,
            [0]
        );
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
        // Smallest passing atol with rtol 1e-3, stol 1e-5, scale 4:
        // 0.5 - 1e-3 * 4 - 1e-5 * 4.
        assert!((m.extra.min_atol - 0.49596).abs() < 1e-6);
        assert_eq!(m.extra.scale, 4.0);
        // The worst element's error over its allowance 1e-4 + 4e-3 + 4e-5.
        assert!((m.extra.tolerance_ratio - 0.5 / 0.00414).abs() < 1e-2);
        assert!(!m.pass);
        let m = compare(
            &k,
            &g,
            Tolerance {
                atol: 0.4961,
                ..Tolerance::default()
            },
        )
        .unwrap();
        assert!(m.pass, "min_atol must be the passing threshold");
    }

    #[test]
    fn a_column_major_array_is_compared_element_by_element() {
        // Keras side column-major (a transposed buffer), graph side row-major,
        // the same values but one: the worst element is found at its logical
        // index, whatever the memory order.
        let a = ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
        let k = a.reversed_axes(); // shape [3, 2], not row-major in memory
        assert!(k.as_slice().is_none());
        let mut g = k.as_standard_layout().into_owned();
        g[ndarray::IxDyn(&[2, 1])] += 1.0;
        let m = compare(&k, &g, Tolerance::default()).unwrap();
        let w = m.extra.worst.unwrap();
        assert_eq!(w.index, vec![2, 1]);
        assert_eq!((w.keras, w.graph), (6.0, 7.0));
        assert_eq!((m.max_abs, m.out_of_tolerance), (1.0, 1));
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
}
