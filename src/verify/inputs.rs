//! The inputs both witnesses run on: seeded random ones, or the user's own
//! (`--inputs data.npz`).
//!
//! Seeded inputs are drawn element by element from one `Xoshiro256PlusPlus`
//! stream seeded with `--seed`, model input after model input, so they differ
//! per sample, channel and position (never constant: a range of zero width is
//! refused). Float inputs follow `--input-dist`:
//! - `uniform` (default): uniform in `--input-range lo,hi`;
//! - `normal`: normal with mean `(lo + hi) / 2` and standard deviation
//!   `(hi - lo) / 2` (the default range -1,1 gives N(0, 1)), by Box–Muller.
//!
//! Integer inputs (`int32`) ignore both: they are ids, drawn uniformly from the
//! range their consumers accept, `[0, n)` with `n` the smallest `input_dim`
//! of the Embedding layers they feed (an id outside it is an error in
//! TensorFlow and in the interpreter), or `[0, 10)` when no Embedding reads
//! them ([`DEFAULT_INT_RANGE`]). Inputs a Keras mask is made from are padded,
//! so that the mask is exercised whatever the vocabulary or the distribution:
//! ids read by an `Embedding(mask_zero=True)` with 0, the input of a
//! `Masking(mask_value)` with `mask_value` over whole steps. Sample `k` gets a
//! seeded run of steps (axis 1) of length in `[0, steps/2]` padded, at the
//! start for even `k` (`pad_sequences`' default, `padding="pre"`) and at the
//! end for odd `k` ([`pad_for_mask`]).
//!
//! `--inputs data.npz` takes the arrays instead, by the Keras input's name:
//! key `input:<name>` (the fixtures' `io.npz` convention) or plain `<name>`,
//! `float32` for float inputs, `int32`/`int64` (or whole `float32`, as the
//! fixtures store them) holding valid ids for integer ones, every array with the model's shape after a batch axis shared by all.
//!
//! Not handled yet: integer inputs read by layers other than Embedding that
//! accept a narrower range (e.g. one-hot depths); other dtypes.

use crate::keras::{DType, Input, LayerKind, Model};
use ndarray::{ArrayD, IxDyn, OwnedRepr};
use ndarray_npy::NpzReader;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::path::Path;

/// Ids fed to an integer input that no Embedding reads: `[0, 10)`.
pub const DEFAULT_INT_RANGE: usize = 10;

/// The distribution of seeded float inputs (`--input-dist`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputDist {
    #[default]
    Uniform,
    Normal,
}

impl InputDist {
    pub fn name(self) -> &'static str {
        match self {
            InputDist::Uniform => "uniform",
            InputDist::Normal => "normal",
        }
    }
}

impl std::str::FromStr for InputDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(InputDist::Uniform),
            "normal" => Ok(InputDist::Normal),
            _ => Err(format!(
                "unknown input distribution '{s}' (known: uniform, normal)"
            )),
        }
    }
}

/// The shape fed for `input`: `samples` first, unknown dimensions as 1.
fn fed_shape(input: &Input, samples: usize) -> Vec<usize> {
    std::iter::once(samples)
        .chain(input.shape.iter().map(|d| d.unwrap_or(1)))
        .collect()
}

/// The smallest vocabulary (`input_dim`) among the Embedding layers that
/// read `input`, if any does.
pub fn embedding_vocab(model: &Model, input: &str) -> Option<usize> {
    model
        .layers
        .iter()
        .filter(|l| l.inbound.iter().any(|i| i == input))
        .filter_map(|l| match l.kind {
            LayerKind::Embedding { input_dim, .. } => Some(input_dim),
            _ => None,
        })
        .min()
}

/// Ids an integer input may take, `[0, n)`: [`embedding_vocab`], else
/// [`DEFAULT_INT_RANGE`].
pub fn int_range(model: &Model, input: &str) -> usize {
    embedding_vocab(model, input)
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_INT_RANGE)
}

/// The inputs stage: `--inputs` when given, else seeded ones.
pub(super) fn for_run(
    opts: &super::VerifyOptions,
    settings: &super::VerifySettings,
    conv: &crate::convert::Conversion,
) -> Result<Vec<ArrayD<f32>>, super::VerifyError> {
    match &settings.inputs_file {
        None => seeded_inputs(
            &conv.model,
            opts.samples,
            opts.seed,
            opts.input_range,
            settings.input_dist,
        )
        .map_err(super::VerifyError::Usage),
        Some(f) => read_inputs(&conv.model, f).map_err(super::VerifyError::Usage),
    }
}

/// Seeded inputs for every model input, `samples` first (see the module header).
pub fn seeded_inputs(
    model: &Model,
    samples: usize,
    seed: u64,
    range: [f32; 2],
    dist: InputDist,
) -> Result<Vec<ArrayD<f32>>, String> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let [lo, hi] = range;
    let (mean, std) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
    model
        .inputs
        .iter()
        .map(|i| {
            let shape = fed_shape(i, samples);
            // Shapes come from the user's file or flags: the size budget
            // refuses absurd ones before anything is allocated.
            let n = crate::budget::elements(&shape)
                .map_err(|e| format!("input '{}' ({samples} samples): {e}", i.name))?;
            let ids = int_range(model, &i.name);
            let v: Vec<f32> = (0..n)
                .map(|_| match (i.dtype, dist) {
                    (DType::I32, _) => rng.random_range(0..ids) as f32,
                    (DType::F32, InputDist::Uniform) => rng.random_range(lo..=hi),
                    (DType::F32, InputDist::Normal) => {
                        // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
                        let u1: f32 = 1.0 - rng.random::<f32>();
                        let u2: f32 = rng.random();
                        let z = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
                        mean + std * z
                    }
                })
                .collect();
            let mut a =
                ArrayD::from_shape_vec(shape, v).map_err(|e| format!("input '{}': {e}", i.name))?;
            if let Some(pad) = mask_padding(model, &i.name) {
                pad_for_mask(&mut a, &mut rng, pad);
            }
            Ok(a)
        })
        .collect()
}

/// The padding value of `input` when a layer makes a Keras mask from it: 0
/// for an `Embedding(mask_zero=True)`'s ids, `mask_value` for a `Masking`.
fn mask_padding(model: &Model, input: &str) -> Option<f32> {
    model
        .layers
        .iter()
        .filter(|l| l.inbound.iter().any(|i| i == input))
        .find_map(|l| match l.kind {
            LayerKind::Embedding {
                mask_zero: true, ..
            } => Some(0.0),
            LayerKind::Masking { mask_value } => Some(mask_value),
            _ => None,
        })
}

/// Sets a seeded run of steps (axis 1, every value of a step) of every sample
/// to `pad`: length in `[0, steps / 2]`, leading for even samples, trailing
/// for odd.
pub fn pad_for_mask(x: &mut ArrayD<f32>, rng: &mut Xoshiro256PlusPlus, pad: f32) {
    if x.ndim() < 2 {
        return;
    }
    let steps = x.shape()[1];
    for (k, mut sample) in x.outer_iter_mut().enumerate() {
        let n = rng.random_range(0..=steps / 2);
        let range = if k % 2 == 0 { 0..n } else { steps - n..steps };
        sample
            .slice_axis_mut(ndarray::Axis(0), ndarray::Slice::from(range))
            .fill(pad);
    }
}

/// Seeded uniform inputs (the default distribution).
pub fn random_inputs(
    model: &Model,
    samples: usize,
    seed: u64,
    range: [f32; 2],
) -> Result<Vec<ArrayD<f32>>, String> {
    seeded_inputs(model, samples, seed, range, InputDist::Uniform)
}

/// Reads every model input from `path` (see the module header); errors name
/// the file and the key.
pub fn read_inputs(model: &Model, path: &Path) -> Result<Vec<ArrayD<f32>>, String> {
    let file = path.display();
    let f = std::fs::File::open(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
    let mut npz = NpzReader::new(f).map_err(|e| format!("{file}: not an .npz archive: {e}"))?;
    let names = npz
        .names()
        .map_err(|e| format!("{file}: not an .npz archive: {e}"))?;
    let mut out: Vec<ArrayD<f32>> = Vec::new();
    let mut batch: Option<(usize, String)> = None;
    for i in &model.inputs {
        let keys = [format!("input:{}", i.name), i.name.clone()];
        let Some(key) = keys.iter().find(|k| names.contains(k)) else {
            return Err(format!(
                "{file}: no array for the model input '{}' (looked for keys '{}' and '{}'; the file has: {})",
                i.name,
                keys[0],
                keys[1],
                names.join(", ")
            ));
        };
        let a =
            read_array(&mut npz, key, i, model).map_err(|e| format!("{file}: key '{key}': {e}"))?;
        let want = fed_shape(i, a.shape().first().copied().unwrap_or(0));
        let fits = a.ndim() == want.len()
            && a.shape()[0] > 0
            && i.shape
                .iter()
                .zip(&a.shape()[1..])
                .all(|(d, &n)| d.is_none_or(|d| d == n));
        if !fits {
            let dims: Vec<String> = std::iter::once("batch".to_string())
                .chain(
                    i.shape
                        .iter()
                        .map(|d| d.map_or("?".into(), |d| d.to_string())),
                )
                .collect();
            return Err(format!(
                "{file}: key '{key}': shape {:?}, the model input '{}' takes [{}]",
                a.shape(),
                i.name,
                dims.join(", ")
            ));
        }
        match &batch {
            Some((n, other)) if *n != a.shape()[0] => {
                return Err(format!(
                    "{file}: key '{key}' holds {} samples, key '{other}' {n}: every input needs the same batch",
                    a.shape()[0]
                ));
            }
            _ => batch = Some((a.shape()[0], key.clone())),
        }
        out.push(a);
    }
    Ok(out)
}

/// One array, as the input's dtype requires.
fn read_array(
    npz: &mut NpzReader<std::fs::File>,
    key: &str,
    input: &Input,
    model: &Model,
) -> Result<ArrayD<f32>, String> {
    match input.dtype {
        DType::F32 => npz
            .by_name::<OwnedRepr<f32>, IxDyn>(key)
            .map_err(|e| format!("{e} (the model input '{}' is float32)", input.name)),
        DType::I32 => {
            let ids: ArrayD<i64> = if let Ok(a) = npz.by_name::<OwnedRepr<i64>, IxDyn>(key) {
                a
            } else if let Ok(a) = npz.by_name::<OwnedRepr<i32>, IxDyn>(key) {
                a.mapv(i64::from)
            } else {
                // The fixtures' io.npz stores ids as float32 whole numbers.
                let a = npz.by_name::<OwnedRepr<f32>, IxDyn>(key).map_err(|e| {
                    format!(
                        "{e} (the model input '{}' is int32: int32, int64 or whole float32 ids)",
                        input.name
                    )
                })?;
                if let Some(v) = a
                    .iter()
                    .find(|v| v.fract() != 0.0 || v.abs() > 16_777_216.0)
                {
                    return Err(format!(
                        "{v} is not an id (the model input '{}' is int32)",
                        input.name
                    ));
                }
                a.mapv(|v| v as i64)
            };
            if let Some(n) = embedding_vocab(model, &input.name)
                && let Some(bad) = ids.iter().find(|&&v| v < 0 || v >= n as i64)
            {
                return Err(format!(
                    "id {bad} is outside [0, {n}), the vocabulary of the Embedding the input '{}' feeds",
                    input.name
                ));
            }
            Ok(ids.mapv(|v| v as f32))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Layer, Weight};

    fn model(inputs: Vec<Input>, layers: Vec<Layer>) -> Model {
        Model {
            name: "m".into(),
            inputs,
            layers,
            outputs: vec![],
        }
    }

    fn image() -> Model {
        model(
            vec![Input {
                name: "x".into(),
                shape: vec![Some(4), Some(5), Some(3)],
                dtype: DType::F32,
            }],
            vec![],
        )
    }

    /// Inputs that a channel swap or a transposed position would leave
    /// unchanged hide those bugs: every channel and every position must
    /// differ, in every sample.
    #[test]
    fn seeded_inputs_differ_per_sample_channel_and_position() {
        for dist in [InputDist::Uniform, InputDist::Normal] {
            let x = &seeded_inputs(&image(), 2, 7, [-1.0, 1.0], dist).unwrap()[0];
            assert_eq!(x.shape(), &[2, 4, 5, 3]);
            for s in 0..2usize {
                for c in 0..3usize {
                    for c2 in 0..c {
                        let a = x.slice(ndarray::s![s, .., .., c]);
                        let b = x.slice(ndarray::s![s, .., .., c2]);
                        assert_ne!(a, b, "{dist:?}: channels {c} and {c2} equal");
                    }
                }
                let plane = x.slice(ndarray::s![s, .., .., 0]);
                let first = plane[[0usize, 0]];
                assert!(
                    plane.iter().any(|&v| v != first),
                    "{dist:?}: constant plane"
                );
            }
            assert_ne!(
                x.slice(ndarray::s![0, .., .., ..]),
                x.slice(ndarray::s![1, .., .., ..])
            );
            // Seeded: the same seed, the same inputs; another seed, others.
            assert_eq!(
                x,
                &seeded_inputs(&image(), 2, 7, [-1.0, 1.0], dist).unwrap()[0]
            );
            assert_ne!(
                x,
                &seeded_inputs(&image(), 2, 8, [-1.0, 1.0], dist).unwrap()[0]
            );
        }
    }

    #[test]
    fn uniform_stays_in_range_and_normal_has_the_ranges_centre_and_half_width() {
        let m = model(
            vec![Input {
                name: "x".into(),
                shape: vec![Some(1000)],
                dtype: DType::F32,
            }],
            vec![],
        );
        let u = &seeded_inputs(&m, 10, 0, [2.0, 3.0], InputDist::Uniform).unwrap()[0];
        assert!(u.iter().all(|&v| (2.0..=3.0).contains(&v)));
        let n = &seeded_inputs(&m, 10, 0, [2.0, 6.0], InputDist::Normal).unwrap()[0];
        let mean = n.mean().unwrap();
        let std = n.std(0.0);
        // 10 000 draws: the sample mean's standard error is 2/100 = 0.02 and
        // the sample std's about 2/sqrt(2 * 10 000) = 0.014; 5 standard errors.
        assert!((mean - 4.0).abs() < 0.1, "mean {mean}");
        assert!((std - 2.0).abs() < 0.07, "std {std}");
        assert!(
            n.iter().any(|&v| !(2.0..=6.0).contains(&v)),
            "normal is not clipped"
        );
    }

    /// An int32 input `ids` (50 per sample), read by an Embedding of
    /// vocabulary `vocab` when given.
    fn ids_model(vocab: Option<usize>) -> Model {
        let layers = vocab
            .map(|n| Layer {
                name: "emb".into(),
                kind: LayerKind::Embedding {
                    input_dim: n,
                    output_dim: 2,
                    mask_zero: false,
                },
                inbound: vec!["ids".into()],
                weights: vec![Weight {
                    name: "embeddings".into(),
                    value: ArrayD::zeros(vec![n, 2]),
                }],
            })
            .into_iter()
            .collect();
        model(
            vec![Input {
                name: "ids".into(),
                shape: vec![Some(50)],
                dtype: DType::I32,
            }],
            layers,
        )
    }

    #[test]
    fn integer_inputs_are_whole_numbers_in_the_default_range_without_an_embedding() {
        let m = ids_model(None);
        assert_eq!(int_range(&m, "ids"), DEFAULT_INT_RANGE);
        let x = &seeded_inputs(&m, 4, 0, [-1.0, 1.0], InputDist::Normal).unwrap()[0];
        assert!(
            x.iter()
                .all(|&v| v.fract() == 0.0 && (0.0..10.0).contains(&v))
        );
        // All ten ids appear among 200 draws (each is missed with p = 0.9^200).
        for id in 0..10 {
            assert!(x.iter().any(|&v| v == id as f32), "id {id} never drawn");
        }
    }

    /// The ids fed to an Embedding stay within its vocabulary (an id outside
    /// it is an error on both sides) and cover it.
    #[test]
    fn integer_inputs_feeding_an_embedding_stay_within_its_vocabulary() {
        let m = ids_model(Some(3));
        assert_eq!(int_range(&m, "ids"), 3);
        let x = &seeded_inputs(&m, 4, 1, [-5.0, 5.0], InputDist::Uniform).unwrap()[0];
        assert!(x.iter().all(|&v| v == 0.0 || v == 1.0 || v == 2.0));
        for id in 0..3 {
            assert!(x.iter().any(|&v| v == id as f32), "id {id} never drawn");
        }
        // A file with an id outside the vocabulary is refused, naming it.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ids.npz");
        let mut ids = ArrayD::<i64>::zeros(vec![1, 50]);
        ids[[0, 7]] = 3;
        let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&f).unwrap());
        w.add_array("ids", &ids).unwrap();
        w.finish().unwrap();
        let e = read_inputs(&m, &f).unwrap_err();
        assert!(
            e.contains("ids.npz") && e.contains("id 3") && e.contains("[0, 3)"),
            "{e}"
        );
    }

    fn write_npz(path: &Path, arrays: &[(&str, ArrayD<f32>)], ints: &[(&str, ArrayD<i64>)]) {
        let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
        for (k, a) in arrays {
            w.add_array(*k, a).unwrap();
        }
        for (k, a) in ints {
            w.add_array(*k, a).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn inputs_file_by_either_key_and_errors_name_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let m = image();
        let good = ArrayD::from_elem(vec![3, 4, 5, 3], 0.5f32);
        for key in ["input:x", "x"] {
            let f = dir.path().join(format!("{}.npz", key.len()));
            write_npz(&f, &[(key, good.clone())], &[]);
            let got = read_inputs(&m, &f).unwrap();
            assert_eq!(got[0], good);
        }
        let f = dir.path().join("bad_shape.npz");
        write_npz(&f, &[("x", ArrayD::zeros(vec![3, 5, 4, 3]))], &[]);
        let e = read_inputs(&m, &f).unwrap_err();
        assert!(
            e.contains("bad_shape.npz") && e.contains("'x'") && e.contains("[3, 5, 4, 3]"),
            "{e}"
        );
        let f = dir.path().join("missing.npz");
        write_npz(&f, &[("y", good.clone())], &[]);
        let e = read_inputs(&m, &f).unwrap_err();
        assert!(
            e.contains("missing.npz") && e.contains("input:x") && e.contains("y"),
            "{e}"
        );
        let f = dir.path().join("dtype.npz");
        write_npz(&f, &[], &[("x", ArrayD::zeros(vec![3, 4, 5, 3]))]);
        let e = read_inputs(&m, &f).unwrap_err();
        assert!(
            e.contains("dtype.npz") && e.contains("'x'") && e.contains("float32"),
            "{e}"
        );
        let e = read_inputs(&m, &dir.path().join("none.npz")).unwrap_err();
        assert!(e.contains("none.npz"), "{e}");
    }

    #[test]
    fn integer_inputs_file_takes_int64_ids() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ids.npz");
        let ids = ArrayD::from_shape_fn(vec![2, 50], |i| (i[1] % 7) as i64);
        write_npz(&f, &[], &[("input:ids", ids)]);
        let got = read_inputs(&ids_model(None), &f).unwrap();
        assert_eq!(got[0][[1, 9]], 2.0);
    }

    /// Seeded inputs of a mask-making layer are padded by whole steps: 0 for
    /// `mask_zero` ids, `mask_value` for a `Masking` input; leading runs for
    /// even samples, trailing for odd, never more than half the steps.
    #[test]
    fn mask_inputs_are_padded_by_whole_steps() {
        use crate::keras::{Input, Layer};
        let model = Model {
            name: "m".into(),
            inputs: vec![Input {
                name: "x".into(),
                shape: vec![Some(8), Some(2)],
                dtype: DType::F32,
            }],
            layers: vec![Layer {
                name: "mask".into(),
                kind: LayerKind::Masking { mask_value: 0.25 },
                inbound: vec!["x".into()],
                weights: vec![],
            }],
            outputs: vec!["mask".into()],
        };
        let x = random_inputs(&model, 6, 3, [-1.0, 1.0]).unwrap().remove(0);
        let mut padded_any = false;
        for (k, sample) in x.outer_iter().enumerate() {
            let pad: Vec<bool> = sample
                .outer_iter()
                .map(|step| step.iter().all(|&v| v == 0.25))
                .collect();
            let n = pad.iter().filter(|&&p| p).count();
            assert!(n <= 4, "sample {k}: {pad:?}");
            padded_any |= n > 0;
            let run: Vec<bool> = if k % 2 == 0 {
                (0..8).map(|t| t < n).collect()
            } else {
                (0..8).map(|t| t >= 8 - n).collect()
            };
            assert_eq!(pad, run, "sample {k}");
        }
        assert!(padded_any, "no sample padded: {x:?}");
    }
}
