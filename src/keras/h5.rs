//! Keras HDF5 (`.h5`) model files: [`write`] thaw's IR as a file that both
//! Keras 3.15 (`keras.models.load_model`, its legacy h5 loader) and tf-keras 2.21
//! load, and [`read`] such files back — thaw's own and those written by
//! tf-keras's `model.save("x.h5")` / Keras 3's `keras.saving.save_model(m, "x.h5")`.
//!
//! # Layout (what tf-keras 2.21 writes, checked to load in Keras 3.15)
//!
//! ```text
//! /                          attrs: backend = "tensorflow", keras_version, model_config (JSON)
//! /model_weights             attrs: backend, keras_version, layer_names = [every layer, inputs too,
//!                            in Keras's `model.layers` order: see `config::keras_layer_order`]
//! /model_weights/<layer>     attrs: weight_names = ["<layer>/kernel:0", "<layer>/bias:0"] (may be empty)
//! /model_weights/<layer>/<layer>/kernel:0   float32 dataset, Keras layout (HWIO, (in, out), …)
//! ```
//!
//! All string attributes are variable-length UTF-8 strings (scalars, or 1-D
//! arrays for `layer_names`/`weight_names`), which h5py hands to Keras as `str`;
//! Keras also accepts the fixed-length `bytes` that old Keras versions wrote,
//! and [`read`] reads both kinds (and the `layer_names0`, `layer_names1`, …
//! chunks Keras splits very long lists into). An empty `weight_names` is a
//! zero-length string array (Keras itself writes an empty float64 array; both
//! loaders read either as "no weights"). Both loaders assign weights by the
//! order of `weight_names` (names are not matched), so [`read`] does the same:
//! Keras 3 calls DepthwiseConv2D's kernel `kernel`, tf-keras `depthwise_kernel:0`.
//!
//! `keras_version` is written as "2.21.0": the config is in tf-keras's dialect, and
//! the only value either loader acts on is "1" (Keras 1 weight conversion).
//!
//! [`write`] never leaves a half-written file: it writes a temporary file in the
//! target's folder and renames it into place only once complete.
//!
//! Not handled yet: nested models (sub-model weight groups), the `.keras` zip
//! format, optimizer state (ignored on read, never written).

use hdf5_metno as hdf5;
use std::io::Read;
use std::path::Path;

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Attribute, Group, H5Type, Location};
use ndarray::{ArrayD, IxDyn};

use super::config::{
    bind_weights, keras_layer_order, model_config, model_from_config, validate, weight_names,
};
use super::error::KerasError;
use super::ir::Model;

/// The `keras_version` thaw writes (see the module header).
pub const KERAS_VERSION: &str = "2.21.0";
const BACKEND: &str = "tensorflow";

/// Writes `model` as a Keras `.h5` model file at `path` (replacing it), via a
/// temporary file in the same folder renamed into place on success.
pub fn write(path: &Path, model: &Model) -> Result<(), KerasError> {
    validate(model)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io_err = |what: &str, source| KerasError::Io {
        path: path.to_path_buf(),
        what: what.to_string(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".thaw-").suffix(".h5.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile's default 0600 would make the model private to its author.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| io_err("cannot create a temporary file in its folder", e))?;
    write_hdf5(tmp.path(), model).map_err(|(what, source)| KerasError::Hdf5 {
        path: path.to_path_buf(),
        what,
        source,
    })?;
    tmp.persist(path).map_err(|e| {
        io_err(
            "cannot rename the finished temporary file into place",
            e.error,
        )
    })?;
    Ok(())
}

pub(crate) type H5Result<T> = Result<T, (String, hdf5::Error)>;

/// Adds "what we were doing" to an HDF5 error.
pub(crate) trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> H5Result<T>;
}

impl<T> Doing<T> for hdf5::Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> H5Result<T> {
        self.map_err(|e| (what(), e))
    }
}

fn write_hdf5(path: &Path, model: &Model) -> H5Result<()> {
    let file = hdf5::File::create(path).doing(|| "creating the file".into())?;
    let config = model_config(model).to_string();
    write_str_attr(&file, "backend", BACKEND)?;
    write_str_attr(&file, "keras_version", KERAS_VERSION)?;
    write_str_attr(&file, "model_config", &config)?;

    let mw = file
        .create_group("model_weights")
        .doing(|| "creating group model_weights".into())?;
    write_str_attr(&mw, "backend", BACKEND)?;
    write_str_attr(&mw, "keras_version", KERAS_VERSION)?;
    // Both loaders assign weights by position in this list: Keras's own order.
    write_str_list_attr(&mw, "layer_names", &keras_layer_order(model))?;

    for input in &model.inputs {
        let g = mw
            .create_group(&input.name)
            .doing(|| format!("creating the weights group of input '{}'", input.name))?;
        write_str_list_attr(&g, "weight_names", &[])?;
    }
    for layer in &model.layers {
        let what = || format!("writing the weights of layer '{}'", layer.name);
        let g = mw.create_group(&layer.name).doing(what)?;
        let names: Vec<String> = layer
            .weights
            .iter()
            .map(|w| format!("{}/{}:0", layer.name, w.name))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        write_str_list_attr(&g, "weight_names", &refs)?;
        for (w, name) in layer.weights.iter().zip(&names) {
            g.new_dataset_builder()
                .with_data(&w.value.as_standard_layout())
                .create(name.as_str())
                .doing(what)?;
        }
    }
    file.close().doing(|| "closing the file".into())
}

fn vlen(s: &str, attr: &str) -> H5Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>().map_err(|e| {
        (
            format!("writing attribute {attr}"),
            hdf5::Error::from(format!("string {s:?} cannot be stored: {e}")),
        )
    })
}

pub(crate) fn write_str_attr(loc: &Location, name: &str, value: &str) -> H5Result<()> {
    let v = vlen(value, name)?;
    loc.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .and_then(|a| a.as_writer().write_scalar(&v))
        .doing(|| format!("writing attribute {name} of {}", loc.name()))
}

fn write_str_list_attr(loc: &Location, name: &str, values: &[&str]) -> H5Result<()> {
    // An HDF5 object header holds at most 64 KiB of attributes: a longer
    // list is split into `name0`, `name1`, … as Keras does (and [`read`]
    // joins them). Sized as Keras sizes them (fixed-length strings), at
    // least 16 bytes an element (a variable-length string's reference).
    const HEADER_LIMIT: usize = 64512;
    let width = values.iter().map(|s| s.len()).max().unwrap_or(0).max(16);
    let per_chunk = (HEADER_LIMIT / width).max(1);
    let write = |attr: &str, part: &[&str]| {
        let v = part
            .iter()
            .map(|s| vlen(s, name))
            .collect::<H5Result<Vec<_>>>()?;
        loc.new_attr_builder()
            .with_data(&ndarray::Array1::from(v))
            .create(attr)
            .map(|_| ())
            .doing(|| format!("writing attribute {attr} of {}", loc.name()))
    };
    if values.len() <= per_chunk {
        return write(name, values);
    }
    for (i, part) in values.chunks(per_chunk).enumerate() {
        write(&format!("{name}{i}"), part)?;
    }
    Ok(())
}

// ----------------------------------------------------------------------------
// Reading
// ----------------------------------------------------------------------------

/// Reads a Keras `.h5` model (config and weights) into the IR.
pub fn read(path: &Path) -> Result<Model, KerasError> {
    let h5err = |what: String, source| KerasError::Hdf5 {
        path: path.to_path_buf(),
        what,
        source,
    };
    let file = match hdf5::File::open(path) {
        Ok(f) => f,
        Err(e) => return Err(open_error(path, e)),
    };
    if !file
        .attr_names()
        .map_err(|e| h5err("listing root attributes".into(), e))?
        .contains(&"model_config".to_string())
    {
        return Err(KerasError::NoModelConfig {
            path: path.to_path_buf(),
        });
    }
    let config = read_strings(&file, "model_config")
        .map_err(|(w, e)| h5err(w, e))?
        .concat();
    let json: serde_json::Value =
        serde_json::from_str(&config).map_err(|source| KerasError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    let mut model = model_from_config(&json).map_err(|e| e.in_file(path))?;

    let mw = match file.group("model_weights") {
        Ok(g) => g,
        // Only whole-model files are supported; model_config without weights is odd,
        // but a model without weighted layers needs none.
        Err(_)
            if model
                .layers
                .iter()
                .all(|l| weight_names(&l.kind).is_empty()) =>
        {
            return Ok(model);
        }
        Err(e) => return Err(h5err("opening group model_weights".into(), e)),
    };
    for layer in &mut model.layers {
        let wrong = |message: String| KerasError::Weights {
            path: path.to_path_buf(),
            layer: layer.name.clone(),
            message,
        };
        let expected = weight_names(&layer.kind);
        let group = match mw.group(&layer.name) {
            Ok(g) => g,
            Err(_) if expected.is_empty() => continue,
            Err(_) => return Err(wrong("no weights group in model_weights".to_string())),
        };
        let stored = read_strings(&group, "weight_names")
            .map_err(|(w, e)| h5err(format!("{w} of layer '{}'", layer.name), e))?;
        let mut values = Vec::with_capacity(stored.len());
        for name in &stored {
            values.push(read_f32(&group, name).map_err(|e| {
                h5err(
                    format!("reading weight '{name}' of layer '{}'", layer.name),
                    e,
                )
            })?);
        }
        layer.weights = bind_weights(&layer.kind, values)
            .map_err(|m| wrong(format!("{m} (file has [{}])", stored.join(", "))))?;
    }
    Ok(model)
}

/// Why `File::open` failed: missing file, not HDF5 at all, or an HDF5 problem.
fn open_error(path: &Path, e: hdf5::Error) -> KerasError {
    let mut head = Vec::new();
    let opened = std::fs::File::open(path).and_then(|f| f.take(1 << 16).read_to_end(&mut head));
    match opened {
        Err(source) => KerasError::Io {
            path: path.to_path_buf(),
            what: "cannot read the file".to_string(),
            source,
        },
        Ok(_) if !has_hdf5_signature(&head) => KerasError::NotHdf5 {
            path: path.to_path_buf(),
        },
        Ok(_) => KerasError::Hdf5 {
            path: path.to_path_buf(),
            what: "opening the file".to_string(),
            source: e,
        },
    }
}

/// The HDF5 signature sits at offset 0, 512, 1024, 2048, … (after a user block).
fn has_hdf5_signature(head: &[u8]) -> bool {
    const SIG: &[u8] = b"\x89HDF\r\n\x1a\n";
    std::iter::once(0)
        .chain((9..17).map(|p| 1usize << p))
        .any(|off| head.get(off..off + SIG.len()) == Some(SIG))
}

/// A weight dataset as f32 (float16/float64 are converted by HDF5).
fn read_f32(group: &Group, name: &str) -> hdf5::Result<ArrayD<f32>> {
    let ds = group.dataset(name)?;
    let shape = ds.shape();
    // A dataset may declare any shape (720 GB in issue 15) while the file
    // stays small: the size budget refuses it before reading.
    crate::budget::elements(&shape).map_err(|e| hdf5::Error::from(format!("dataset {e}")))?;
    let data = ds.read_raw::<f32>()?;
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .map_err(|e| hdf5::Error::from(format!("dataset shape {shape:?}: {e}")))
}

/// A string attribute (scalar or 1-D list), in any of the string kinds h5py
/// writes; `name0`, `name1`, … chunks are joined as Keras does. An empty
/// non-string array (Keras's empty `weight_names`) is an empty list.
fn read_strings(loc: &Location, name: &str) -> H5Result<Vec<String>> {
    let names = loc.attr_names().doing(|| "listing attributes".into())?;
    if names.iter().any(|n| n == name) {
        let attr = loc
            .attr(name)
            .doing(|| format!("opening attribute {name}"))?;
        return attr_strings(&attr).doing(|| format!("reading attribute {name}"));
    }
    let mut out = Vec::new();
    let mut chunk = 0;
    while names.contains(&format!("{name}{chunk}")) {
        let attr = loc
            .attr(&format!("{name}{chunk}"))
            .doing(|| format!("opening attribute {name}{chunk}"))?;
        out.extend(attr_strings(&attr).doing(|| format!("reading attribute {name}{chunk}"))?);
        chunk += 1;
    }
    if chunk == 0 {
        return Err((
            format!("reading attribute {name}"),
            hdf5::Error::from(format!("{} has no attribute {name}", loc.name())),
        ));
    }
    Ok(out)
}

fn attr_strings(attr: &Attribute) -> hdf5::Result<Vec<String>> {
    if attr.size() == 0 {
        return Ok(Vec::new());
    }
    fn conv<T: H5Type>(a: &Attribute, f: impl Fn(&T) -> String) -> hdf5::Result<Vec<String>> {
        // The attribute's shape is the file's word: weighed against the
        // memory budget before the buffer is allocated (a damaged file's
        // shape overflowed `Vec`'s capacity in the hdf5 crate, a panic:
        // `fuzz_keras_h5_attribute_size_overflow`).
        crate::budget::bytes(&a.shape(), std::mem::size_of::<T>())
            .map_err(|e| hdf5::Error::from(format!("attribute {e}")))?;
        Ok(a.read_raw::<T>()?.iter().map(f).collect())
    }
    fn lossy(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }
    // Fixed-length strings convert to a wider fixed length (HDF5 pads), so read
    // each into the smallest bucket that holds it.
    macro_rules! fixed {
        ($t:ident, $n:expr, $($b:literal),+) => {
            $( if $n <= $b { return conv::<$t<$b>>(attr, |s| lossy(s.as_bytes())); } )+
        };
    }
    match attr.dtype()?.to_descriptor()? {
        // A damaged file may hold invalid UTF-8 where UTF-8 is declared:
        // read lossily (U+FFFD), never as an unchecked `str`.
        TypeDescriptor::VarLenUnicode => conv::<VarLenUnicode>(attr, |s| lossy(s.as_bytes())),
        TypeDescriptor::VarLenAscii => conv::<VarLenAscii>(attr, |s| lossy(s.as_bytes())),
        TypeDescriptor::FixedAscii(n) => {
            fixed!(FixedAscii, n, 64, 1024, 16384, 262144, 4194304);
            Err(format!("fixed-length string of {n} bytes is too long").into())
        }
        TypeDescriptor::FixedUnicode(n) => {
            fixed!(FixedUnicode, n, 64, 1024, 16384, 262144, 4194304);
            Err(format!("fixed-length string of {n} bytes is too long").into())
        }
        other => Err(format!("expected strings, found {other}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::test_models::{
        activations_merges_model, every_layer_model, separable_crop_model, small_cnn_model,
        text_model, two_in_two_out_model,
    };

    #[test]
    fn round_trip_equals_the_ir() {
        let dir = tempfile::tempdir().unwrap();
        for m in [
            every_layer_model(),
            two_in_two_out_model(),
            small_cnn_model(),
            activations_merges_model(),
            separable_crop_model(),
        ] {
            let path = dir.path().join(format!("{}.h5", m.name));
            write(&path, &m).unwrap();
            let back = read(&path).unwrap();
            assert_eq!(back, m, "{}", m.name);
        }
        // Only the finished files are left: no temporary file survives.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "activations_merges.h5",
                "every_layer.h5",
                "separable_crop.h5",
                "small_cnn.h5",
                "two_in_two_out.h5"
            ]
        );
    }

    #[test]
    fn writes_keras_layout_and_string_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.h5");
        let m = small_cnn_model();
        write(&path, &m).unwrap();
        let f = hdf5::File::open(&path).unwrap();
        let desc = |a: hdf5::Attribute| a.dtype().unwrap().to_descriptor().unwrap();
        assert_eq!(
            desc(f.attr("model_config").unwrap()),
            TypeDescriptor::VarLenUnicode
        );
        assert_eq!(read_strings(&f, "backend").unwrap(), ["tensorflow"]);
        let mw = f.group("model_weights").unwrap();
        assert_eq!(
            read_strings(&mw, "layer_names").unwrap(),
            ["x", "conv", "flat", "out"]
        );
        assert_eq!(mw.attr("layer_names").unwrap().shape(), [4]);
        assert_eq!(
            read_strings(&mw.group("conv").unwrap(), "weight_names").unwrap(),
            ["conv/kernel:0", "conv/bias:0"]
        );
        assert!(
            read_strings(&mw.group("flat").unwrap(), "weight_names")
                .unwrap()
                .is_empty()
        );
        let k = f.dataset("model_weights/conv/conv/kernel:0").unwrap();
        assert_eq!(k.shape(), [3, 3, 1, 2]);
        let expected = m.layers[0].weight("kernel").unwrap();
        assert_eq!(k.read_dyn::<f32>().unwrap(), *expected);
    }

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.h5");
        let mut m = small_cnn_model();
        m.layers[0].weights.clear();
        assert!(matches!(
            write(&path, &m),
            Err(KerasError::InvalidModel { .. })
        ));
        // An existing file is not replaced by a failed write.
        std::fs::write(&path, b"previous").unwrap();
        assert!(write(&path, &m).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"previous");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A failure half-way through the HDF5 writing (a layer named "."
        // passes validation, but its weight group `model_weights/.` is the
        // parent group itself) removes the temporary file.
        let mut m = small_cnn_model();
        m.layers[1].name = ".".to_string();
        m.layers[2].inbound = vec![m.layers[1].name.clone()];
        let err = write(&path, &m).unwrap_err();
        assert!(matches!(err, KerasError::Hdf5 { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"previous");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A write into a folder that does not exist names the file.
        let err = write(&dir.path().join("nope/x.h5"), &small_cnn_model()).unwrap_err();
        assert!(err.to_string().contains("nope/x.h5"), "{err}");
    }

    #[test]
    fn clear_errors_for_files_that_are_not_models() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.h5");
        std::fs::write(&text, "not hdf5 at all").unwrap();
        let err = read(&text).unwrap_err();
        assert!(matches!(err, KerasError::NotHdf5 { .. }), "{err}");
        assert!(err.to_string().contains("notes.h5"));

        let weights_only = dir.path().join("weights.h5");
        hdf5::File::create(&weights_only)
            .unwrap()
            .create_group("conv")
            .unwrap();
        let err = read(&weights_only).unwrap_err();
        assert!(matches!(err, KerasError::NoModelConfig { .. }), "{err}");

        let missing = read(&dir.path().join("missing.h5")).unwrap_err();
        assert!(matches!(missing, KerasError::Io { .. }), "{missing}");
    }

    #[test]
    fn weights_that_do_not_fit_name_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.h5");
        write(&path, &small_cnn_model()).unwrap();
        {
            let f = hdf5::File::open_rw(&path).unwrap();
            let g = f.group("model_weights/out/out").unwrap();
            g.unlink("bias:0").unwrap();
            g.new_dataset::<f32>().shape([7]).create("bias:0").unwrap();
        }
        let err = read(&path).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, KerasError::Weights { .. }), "{text}");
        assert!(
            text.contains("layer 'out'") && text.contains("bias"),
            "{text}"
        );
    }

    /// Writes the test models for the real-Keras check
    /// (`src/keras/testdata/load_check.py`, which runs this test itself when
    /// given no files) into `$THAW_KERAS_CHECK_DIR`, default
    /// `<tmp>/thaw-keras-check`, and checks each reads back unchanged.
    #[test]
    fn write_models_for_load_check() {
        let dir = std::env::var_os("THAW_KERAS_CHECK_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("thaw-keras-check"));
        std::fs::create_dir_all(&dir).unwrap();
        for m in [
            every_layer_model(),
            two_in_two_out_model(),
            small_cnn_model(),
            activations_merges_model(),
            separable_crop_model(),
            text_model(),
            crate::keras::test_models::preprocess_model(),
            crate::keras::test_models::upsample_model(),
            crate::keras::test_models::layer_norm_model(),
            // Written as ThawMultiHeadAttention: loads with the thaw_fallbacks.py beside it.
            crate::keras::pymodule::mha_model(),
            crate::keras::layers::recurrent::recurrent_model(),
            crate::keras::layers::recurrent::masked_model(),
        ] {
            let path = dir.join(format!("{}.h5", m.name));
            write(&path, &m).unwrap();
            assert_eq!(read(&path).unwrap(), m);
            crate::keras::pymodule::write_beside(&path, &m).unwrap();
            println!("wrote {}", path.display());
        }
        // Models tf-keras and Keras 3 wrote, read and written again by thaw.
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/keras/testdata");
        for case in ["tk_cnn", "k3_cnn", "tk_seq", "k3_seq"] {
            let m = read(&testdata.join(format!("{case}.h5"))).unwrap();
            let path = dir.join(format!("rewritten_{case}.h5"));
            write(&path, &m).unwrap();
            assert_eq!(read(&path).unwrap(), m);
            println!("wrote {}", path.display());
        }
    }

    /// Files written by tf-keras 2.21 (`model.save`) and Keras 3.15 (legacy h5),
    /// made by `testdata/make_foreign.py`, against what Keras itself reported
    /// about the models (`*.expected.json`).
    #[test]
    fn reads_files_keras_wrote() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/keras/testdata");
        for case in ["tk_cnn", "k3_cnn", "tk_seq", "k3_seq"] {
            let m = read(&dir.join(format!("{case}.h5"))).unwrap_or_else(|e| panic!("{e}"));
            let text = std::fs::read_to_string(dir.join(format!("{case}.expected.json"))).unwrap();
            let want: serde_json::Value = serde_json::from_str(&text).unwrap();
            let names = |v: &serde_json::Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            };
            let inputs: Vec<String> = m.inputs.iter().map(|i| i.name.clone()).collect();
            assert_eq!(inputs, names(&want["inputs"]), "{case}");
            assert_eq!(m.outputs, names(&want["outputs"]), "{case}");
            let layers = want["layers"].as_array().unwrap();
            assert_eq!(m.layers.len(), layers.len(), "{case}");
            for wl in layers {
                let name = wl["name"].as_str().unwrap();
                let l = m
                    .layer(name)
                    .unwrap_or_else(|| panic!("{case}: no layer {name}"));
                assert_eq!(l.kind.class_name(), wl["class"], "{case} {name}");
                assert_eq!(l.inbound, names(&wl["inbound"]), "{case} {name}");
                let ws = wl["weights"].as_array().unwrap();
                assert_eq!(l.weights.len(), ws.len(), "{case} {name}");
                for (w, ww) in l.weights.iter().zip(ws) {
                    let shape: Vec<usize> = ww["shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap() as usize)
                        .collect();
                    assert_eq!(
                        w.value.shape(),
                        shape.as_slice(),
                        "{case} {name}/{}",
                        w.name
                    );
                    // Same f32 values summed in f64 in another order: equal to ~1e-12
                    // relative; a wrong or permuted-in-another-layer weight is off by O(0.1).
                    let sum: f64 = w.value.iter().map(|&x| x as f64).sum();
                    let want_sum = ww["sum"].as_f64().unwrap();
                    assert!(
                        (sum - want_sum).abs() <= 1e-9 * (1.0 + want_sum.abs()),
                        "{case} {name}/{}: sum {sum} vs Keras {want_sum}",
                        w.name
                    );
                }
            }
        }
        // Spot-check typed configs survive: the tf-keras DepthwiseConv2D (with its
        // `groups` key) and the Keras 3 BatchNormalization (DTypePolicy dtype).
        let tk = read(&dir.join("tk_cnn.h5")).unwrap();
        assert!(matches!(
            tk.layer("dw").unwrap().kind,
            crate::keras::LayerKind::DepthwiseConv2D {
                use_bias: false,
                depth_multiplier: 1,
                ..
            }
        ));
        let k3 = read(&dir.join("k3_cnn.h5")).unwrap();
        assert_eq!(
            k3.layer("relu6").unwrap().kind,
            crate::keras::LayerKind::ReLU {
                max_value: Some(6.0),
                negative_slope: 0.0,
                threshold: 0.0
            }
        );
        assert!(matches!(
            k3.layer("bn1").unwrap().kind,
            crate::keras::LayerKind::BatchNormalization { epsilon, center: true, scale: true, .. }
                if epsilon == 1e-3
        ));
    }

    /// Keras files store strings in several ways; all must read the same.
    #[test]
    fn reads_fixed_length_and_chunked_string_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let f = hdf5::File::create(dir.path().join("s.h5")).unwrap();
        let fixed: Vec<FixedAscii<12>> = ["conv", "dense_1"]
            .iter()
            .map(|s| FixedAscii::from_ascii(s).unwrap())
            .collect();
        f.new_attr_builder()
            .with_data(&ndarray::Array1::from(fixed))
            .create("names0")
            .unwrap();
        f.new_attr_builder()
            .with_data(&ndarray::arr1(&[VarLenAscii::from_ascii("last").unwrap()]))
            .create("names1")
            .unwrap();
        f.new_attr::<f64>().shape([0]).create("empty").unwrap();
        assert_eq!(
            read_strings(&f, "names").unwrap(),
            ["conv", "dense_1", "last"]
        );
        assert!(read_strings(&f, "empty").unwrap().is_empty());
        assert!(read_strings(&f, "absent").is_err());
    }
}
