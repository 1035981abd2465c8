//! `--dump-values DIR`: both sides' value of every compared tensor, written
//! as one `.npz` per sample, `DIR/sample_<i>.npz` (`i` from 0, in the order
//! of the run's batch), that `numpy.load` reads. Keys (documented in
//! `reports/README.md`):
//! - `input/<name>`: the value fed to model input `<name>` (both sides get
//!   the same);
//! - `graph/<layer>`: the original graph's value of the TF tensor that
//!   Keras layer `<layer>` stands for (every layer report.json lists);
//! - `keras/<layer>`: the Keras side's value of the layer (the reference
//!   interpreter's), absent when that layer could not run.
//!
//! Names are escaped by [`key`]: ASCII letters, digits, `_`, `.` and `-` are
//! kept, every other byte of the name's UTF-8 is written `%XX` (so `/` is
//! `%2F`, `%` is `%25`), which `urllib.parse.unquote` undoes. A key therefore
//! has exactly one `/`, and unzipping gives one `.npy` per tensor in the
//! folders `input/`, `graph/` and `keras/`.
//!
//! Each array keeps a leading batch axis of length 1 (the sample), so it has
//! the shape the model sees: `model.predict(z["input/x"])` works as is. A
//! value whose first axis is not the run's batch (none is expected: every
//! Keras tensor is batch first) is written whole in every file.
//!
//! Memory: the values are the ones the comparison holds anyway; a file is
//! written sample by sample from views of them, with no copy kept. Every
//! file is written to a temporary file in `DIR` and renamed into place once
//! complete. Files of an earlier run with more samples are not removed.

use super::VerifyError;
use crate::convert::{Conversion, LayerTensor};
use crate::interp;
use ndarray::{ArrayD, ArrayViewD, Axis, Slice};
use ndarray_npy::NpzWriter;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The arrays a dump is made of, each holding every sample (batch first).
pub(super) struct Values<'a> {
    /// In `conv.model.inputs` order.
    pub inputs: &'a [ArrayD<f32>],
    /// The oracle stage's `layer_tensors`, and the graph's value of each, in order.
    pub layer_tensors: &'a [&'a LayerTensor],
    pub graph: &'a [ArrayD<f32>],
    pub keras: &'a interp::Run,
}

/// The key of `name` under `prefix` (`input`, `graph` or `keras`): see the
/// module header for the escaping.
pub fn key(prefix: &str, name: &str) -> String {
    let mut k = String::with_capacity(prefix.len() + 1 + name.len());
    k.push_str(prefix);
    k.push('/');
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            k.push(char::from(b));
        } else {
            let _ = write!(k, "%{b:02X}");
        }
    }
    k
}

/// The file of sample `i` in `dir`.
pub fn sample_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("sample_{i}.npz"))
}

/// Writes one `.npz` per sample into `dir` (created if needed); returns the
/// files written, in sample order.
pub(super) fn write(
    dir: &Path,
    conv: &Conversion,
    values: &Values,
) -> Result<Vec<String>, VerifyError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        VerifyError::Usage(format!(
            "--dump-values {}: cannot create the folder: {e}",
            dir.display()
        ))
    })?;
    let samples = values
        .inputs
        .first()
        .and_then(|a| a.shape().first().copied())
        .unwrap_or(1);
    let mut written = Vec::with_capacity(samples);
    for i in 0..samples {
        let path = sample_file(dir, i);
        write_sample(&path, conv, values, i, samples).map_err(|source| VerifyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// Sample `i` of `a` as a batch of one, or all of `a` when its first axis is
/// not the batch of `samples`.
fn sample(a: &ArrayD<f32>, i: usize, samples: usize) -> ArrayViewD<'_, f32> {
    if a.ndim() > 0 && a.shape()[0] == samples {
        a.slice_axis(Axis(0), Slice::from(i..i + 1))
    } else {
        a.view()
    }
}

fn write_sample(
    path: &Path,
    conv: &Conversion,
    values: &Values,
    i: usize,
    samples: usize,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".thaw-").suffix(".npz.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile's default 0600 would make the dump private to its author.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder.tempfile_in(dir)?;
    let npz_err = |e: ndarray_npy::WriteNpzError| std::io::Error::other(e.to_string());
    let mut npz = NpzWriter::new(tmp.as_file());
    for (input, a) in conv.model.inputs.iter().zip(values.inputs) {
        npz.add_array(key("input", &input.name), &sample(a, i, samples))
            .map_err(npz_err)?;
    }
    for (lt, g) in values.layer_tensors.iter().zip(values.graph) {
        npz.add_array(key("graph", &lt.layer), &sample(g, i, samples))
            .map_err(npz_err)?;
        if let Some(k) = values.keras.values.get(&lt.layer) {
            npz.add_array(key("keras", &lt.layer), &sample(k, i, samples))
                .map_err(npz_err)?;
        }
    }
    npz.finish().map_err(npz_err)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_plain_names_and_escape_the_rest() {
        assert_eq!(key("graph", "conv2d_1"), "graph/conv2d_1");
        assert_eq!(key("keras", "a.b-c"), "keras/a.b-c");
        assert_eq!(key("graph", "block/conv 1"), "graph/block%2Fconv%201");
        assert_eq!(key("input", "50%"), "input/50%25");
        assert_eq!(key("graph", "é"), "graph/%C3%A9");
    }

    #[test]
    fn a_sample_is_a_batch_of_one() {
        let a = ArrayD::from_shape_vec(ndarray::IxDyn(&[3, 2]), (0..6).map(|v| v as f32).collect())
            .unwrap();
        let s = sample(&a, 1, 3);
        assert_eq!(s.shape(), &[1, 2]);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![2.0, 3.0]);
        // Not batch first: whole.
        assert_eq!(sample(&a, 1, 4).shape(), &[3, 2]);
    }
}
