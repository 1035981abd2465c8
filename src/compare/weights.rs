//! The weight-level comparison of a user's layer with the converted one, for
//! `--keras` (`weights[]` in `report.json`): each weight equal, equal up to an
//! axis permutation (which), different, or missing. Moved out of `diagnose.rs`,
//! which re-exports it.

use super::findings::permutations;
use crate::keras::Layer;
use ndarray::{ArrayD, IxDyn};
use serde::Serialize;

/// How a user's weight compares with the converted model's (the graph's constants).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightCheck {
    pub weight: String,
    /// `equal`, `permuted`, `different` or `missing`.
    pub verdict: String,
    pub detail: Option<String>,
}

/// Compares each weight of `user` with the same-position weight of
/// `reference`: bit-for-bit within 1e-6 relative (float32 round trips through
/// h5 are exact; 1e-6 only absorbs a re-saved float64), equal up to an axis
/// permutation (which), or different.
pub fn weight_check(user: &Layer, reference: &Layer) -> Vec<WeightCheck> {
    let close = |a: &ArrayD<f32>, b: &ArrayD<f32>| {
        a.shape() == b.shape()
            && a.iter()
                .zip(b.iter())
                .all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1e-6))
    };
    reference
        .weights
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let Some(u) = user.weights.get(i) else {
                return WeightCheck {
                    weight: r.name.clone(),
                    verdict: "missing".into(),
                    detail: Some(format!("{} has no weight #{i}", user.name)),
                };
            };
            if close(&u.value, &r.value) {
                return WeightCheck {
                    weight: r.name.clone(),
                    verdict: "equal".into(),
                    detail: None,
                };
            }
            if u.value.ndim() == r.value.ndim() && u.value.ndim() <= 4 {
                for p in permutations(u.value.ndim()) {
                    let v = u.value.clone().permuted_axes(IxDyn(&p));
                    if close(&v.as_standard_layout().to_owned(), &r.value) {
                        return WeightCheck {
                            weight: r.name.clone(),
                            verdict: "permuted".into(),
                            detail: Some(format!(
                                "equal after transposing the user's axes by {p:?}"
                            )),
                        };
                    }
                }
            }
            let detail = if u.value.shape() != r.value.shape() {
                format!("shape {:?}, graph's {:?}", u.value.shape(), r.value.shape())
            } else {
                let d = u
                    .value
                    .iter()
                    .zip(r.value.iter())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                format!("max abs difference {d:e}")
            };
            WeightCheck {
                weight: r.name.clone(),
                verdict: "different".into(),
                detail: Some(detail),
            }
        })
        .collect()
}
