//! Keras 3 `.keras` archives (`model.save("m.keras")`): [`read`] one into the
//! IR (for `thaw verify --keras m.keras`) and [`write`] thaw's IR as one
//! (`thaw convert m.pb -o m.keras`, `thaw verify --formats keras`).
//!
//! A `.keras` file is a zip (entries stored or deflated) holding:
//! - `config.json`: the model's config, the same JSON a Keras 3 `.h5` keeps in
//!   its `model_config` attribute (parsed by [`config::model_from_config`]);
//! - `model.weights.h5`: one group per layer, `layers/<key>/vars/<i>`, with the
//!   variables in creation order (the order of [`config::weight_names`]:
//!   kernel, bias; gamma, beta, moving_mean, moving_variance). `<key>` is NOT
//!   the layer's name: Keras 3 (`saving_lib._save_container_state`) names the
//!   groups after the snake-cased class, numbered per class in `model.layers`
//!   order (`conv2d`, `conv2d_1`, `batch_normalization`, …). Keras 3.15 also
//!   writes the layer's name as the `name` attribute of `vars`; thaw pairs
//!   groups with layers by that attribute and falls back to the class key;
//! - `metadata.json` (Keras version, date): not needed, not read.
//!
//! `model.weights.h5` is extracted to a temporary file (the HDF5 library
//! reads files, not memory) that is removed when reading ends.
//!
//! Layers with sub-layers keep (some of) their variables under
//! `layers/<key>/<sublayer>/vars`: `MultiHeadAttention`'s four projections
//! (`query_dense`, `key_dense`, `value_dense`, `output_dense`), `LSTM`'s
//! `cell`, `Bidirectional`'s `forward_layer/cell` and `backward_layer/cell`
//! (see [`sublayers`]).
//!
//! # Writing
//!
//! [`write`] mirrors what Keras 3.15's `model.save` writes (checked by saving a
//! converted model with it and listing the archive): three stored (not
//! deflated) entries `metadata.json`, `config.json`, `model.weights.h5`.
//! `config.json` is the same Functional config as the `.h5`'s `model_config`
//! ([`config::model_config`], legacy node lists) plus the top-level
//! `"module": "keras.src.models.functional"`: without it Keras 3's
//! `deserialize_keras_object` cannot locate class `Functional`; with it the
//! Functional loader reads the legacy layer entries as it does from an `.h5`.
//! Keras 3's loader walks `model.layers` in order (inputs included) and looks
//! every layer up by its class key, so the groups are written in
//! [`config::keras_layer_order`] with the Python class's snake-cased name
//! (`ThawTfOp` → `thaw_tf_op`). Like Keras, each `vars` group carries the
//! layer's `name` attribute and the root `vars` group the model's.
//! Custom classes (fallbacks, MultiHeadAttention) need `thaw_fallbacks.py`
//! imported before `keras.saving.load_model`, as for the `.h5`.
//!
//! Not handled yet: nested models, archives with assets.

use super::config::{self, bind_weights, keras_layer_order, weight_names, written_class_name};
use super::error::KerasError;
use super::h5::{Doing as _, H5Result, write_str_attr};
use super::ir::{LayerKind, Model};
use hdf5::types::{VarLenAscii, VarLenUnicode};
use hdf5_metno as hdf5;
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

const CONFIG: &str = "config.json";
const WEIGHTS: &str = "model.weights.h5";
const METADATA: &str = "metadata.json";

/// The `keras_version` written in `metadata.json`: the Keras 3 whose loader
/// the layout was checked with (the loader does not act on it).
pub const KERAS3_VERSION: &str = "3.15.1";

/// Writes `model` as a Keras 3 `.keras` archive at `path` (replacing it), via a
/// temporary file in the same folder renamed into place on success.
pub fn write(path: &Path, model: &Model) -> Result<(), KerasError> {
    config::validate(model)?;
    let io_err = |what: String, source| KerasError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    let bad = |message: String| KerasError::Archive {
        path: path.to_path_buf(),
        message,
    };
    let mut config = config::model_config(model);
    config["module"] = Value::from("keras.src.models.functional");
    let metadata = serde_json::json!({"keras_version": KERAS3_VERSION});

    let weights_tmp = tempfile::Builder::new()
        .prefix("thaw-keras-weights-")
        .suffix(".h5")
        .tempfile()
        .map_err(|e| io_err(format!("creating a temporary file for {WEIGHTS}"), e))?;
    write_weights(weights_tmp.path(), model).map_err(|(what, source)| KerasError::Hdf5 {
        path: path.to_path_buf(),
        what: format!("{what} (in its {WEIGHTS})"),
        source,
    })?;
    let weights = std::fs::read(weights_tmp.path())
        .map_err(|e| io_err(format!("reading back the temporary {WEIGHTS}"), e))?;

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".thaw-").suffix(".keras.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile's default 0600 would make the model private to its author.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| io_err("cannot create a temporary file in its folder".into(), e))?;
    let mut zip = zip::ZipWriter::new(tmp.as_file());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in [
        (METADATA, metadata.to_string().into_bytes()),
        (CONFIG, config.to_string().into_bytes()),
        (WEIGHTS, weights),
    ] {
        zip.start_file(name, opts)
            .map_err(|e| bad(format!("writing entry `{name}`: {e}")))?;
        std::io::Write::write_all(&mut zip, &bytes)
            .map_err(|e| io_err(format!("writing entry `{name}`"), e))?;
    }
    zip.finish()
        .map_err(|e| bad(format!("finishing the zip: {e}")))?;
    tmp.persist(path).map_err(|e| {
        io_err(
            "cannot rename the finished temporary file into place".into(),
            e.error,
        )
    })?;
    Ok(())
}

/// `model.weights.h5`: `layers/<class key>/vars/<i>` per layer in Keras's
/// `model.layers` order, sub-layer variables under `<class key>/<sublayer>/vars`.
fn write_weights(path: &Path, model: &Model) -> H5Result<()> {
    let file = hdf5::File::create(path).doing(|| "creating the file".into())?;
    let layers = file
        .create_group("layers")
        .doing(|| "creating group layers".into())?;
    let mut used: HashMap<String, usize> = HashMap::new();
    for name in keras_layer_order(model) {
        let layer = model.layer(name);
        let class = layer.map_or("InputLayer", |l| written_class_name(&l.kind));
        let key = unique_key(snake_case(class), &mut used);
        let what = || format!("writing the variables of layer '{name}' (group layers/{key})");
        let vars = layers.create_group(&format!("{key}/vars")).doing(what)?;
        write_str_attr(&vars, "name", name)?;
        let Some(layer) = layer else { continue };
        let subs = sublayers(&layer.kind);
        // Keras's own variables first; a layer with sub-layers keeps none
        // itself and splits them evenly among the sub-layers, in order.
        let per = if subs.is_empty() {
            layer.weights.len()
        } else {
            layer.weights.len().div_ceil(subs.len())
        };
        let mut weights = layer.weights.iter();
        let groups: Vec<hdf5::Group> = if subs.is_empty() {
            vec![vars]
        } else {
            subs.iter()
                .map(|s| layers.create_group(&format!("{key}/{s}/vars")))
                .collect::<hdf5::Result<_>>()
                .doing(what)?
        };
        for g in groups {
            for (i, w) in weights.by_ref().take(per).enumerate() {
                g.new_dataset_builder()
                    .with_data(&w.value.as_standard_layout())
                    .create(i.to_string().as_str())
                    .doing(what)?;
            }
        }
    }
    let root = file
        .create_group("vars")
        .doing(|| "creating group vars".into())?;
    write_str_attr(&root, "name", &model.name)?;
    file.close().doing(|| "closing the file".into())
}

/// Keras 3's `_get_unique_name`: `base`, then `base_1`, `base_2`, …
fn unique_key(base: String, used: &mut HashMap<String, usize>) -> String {
    let n = used.entry(base.clone()).or_insert(0);
    let key = if *n == 0 { base } else { format!("{base}_{n}") };
    *n += 1;
    key
}

/// Reads a Keras 3 `.keras` archive (config and weights) into the IR.
pub fn read(path: &Path) -> Result<Model, KerasError> {
    let bad = |message: String| KerasError::Archive {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| KerasError::Io {
        path: path.to_path_buf(),
        what: "cannot read the file".to_string(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        bad(format!(
            "not a .keras archive (a zip file with {CONFIG} and {WEIGHTS}, as written by \
             Keras 3's model.save(\"m.keras\")): {e}"
        ))
    })?;
    let entries: Vec<String> = zip.file_names().map(str::to_string).collect();
    let mut entry = |name: &str| -> Result<Vec<u8>, KerasError> {
        let mut f = zip.by_name(name).map_err(|e| {
            bad(format!(
                "no readable `{name}` entry ({e}); the archive holds [{}]",
                entries.join(", ")
            ))
        })?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| bad(format!("reading entry `{name}`: {e}")))?;
        Ok(bytes)
    };
    let config_bytes = entry(CONFIG)?;
    let weights_bytes = entry(WEIGHTS)?;

    let json: Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| bad(format!("{CONFIG}: not JSON: {e}")))?;
    let mut model = config::model_from_config(&json).map_err(|e| e.in_file(path))?;

    let mut tmp = tempfile::Builder::new()
        .prefix("thaw-keras-weights-")
        .suffix(".h5")
        .tempfile()
        .map_err(|source| KerasError::Io {
            path: path.to_path_buf(),
            what: format!("creating a temporary file for {WEIGHTS}"),
            source,
        })?;
    std::io::Write::write_all(&mut tmp, &weights_bytes).map_err(|source| KerasError::Io {
        path: path.to_path_buf(),
        what: format!("extracting {WEIGHTS}"),
        source,
    })?;
    let h5err = |what: String, source| KerasError::Hdf5 {
        path: path.to_path_buf(),
        what: format!("{what} (in its {WEIGHTS})"),
        source,
    };
    let weights = hdf5::File::open(tmp.path()).map_err(|e| h5err("opening".into(), e))?;
    let groups = layer_groups(&weights, &json);

    for layer in &mut model.layers {
        let expected = weight_names(&layer.kind);
        if expected.is_empty() {
            continue;
        }
        let wrong = |message: String| KerasError::Weights {
            path: path.to_path_buf(),
            layer: layer.name.clone(),
            message,
        };
        let Some(key) = groups.get(&layer.name) else {
            return Err(wrong(format!("no weights group for it in {WEIGHTS}")));
        };
        // The layer's own variables, then those of its sub-layers, in the order
        // that matches `weight_names`.
        let mut groups = vec![format!("layers/{key}/vars")];
        groups.extend(
            sublayers(&layer.kind)
                .iter()
                .map(|sub| format!("layers/{key}/{sub}/vars")),
        );
        let mut values = Vec::with_capacity(expected.len());
        for group in &groups {
            let vars = weights
                .group(group)
                .map_err(|e| wrong(format!("no readable {group} in {WEIGHTS} ({e})")))?;
            // Variables are datasets 0, 1, … ; read them all, in order.
            for i in 0.. {
                let Ok(ds) = vars.dataset(&i.to_string()) else {
                    break;
                };
                values.push(read_f32(&ds).map_err(|e| h5err(format!("reading {group}/{i}"), e))?);
            }
        }
        let count = values.len();
        layer.weights = bind_weights(&layer.kind, values).map_err(|m| {
            wrong(format!(
                "{m} ({} hold {count} variables)",
                groups.join(", "),
            ))
        })?;
    }
    Ok(model)
}

/// The sub-layer groups under `layers/<key>/` that hold the rest of a layer's
/// variables, in [`weight_names`] order. Keras 3's `MultiHeadAttention` keeps
/// none in its own `vars`: each projection is an `EinsumDense` sub-layer
/// (`vars/0` kernel, `vars/1` bias when `use_bias`); its `_softmax` and
/// `_dropout_layer` sub-groups have no variables. `LSTM` keeps its three in
/// its `cell` (an `LSTMCell`).
fn sublayers(kind: &LayerKind) -> &'static [&'static str] {
    match kind {
        LayerKind::MultiHeadAttention { .. } => {
            &["query_dense", "key_dense", "value_dense", "output_dense"]
        }
        LayerKind::Lstm { .. } | LayerKind::Gru { .. } | LayerKind::SimpleRnn { .. } => &["cell"],
        LayerKind::Bidirectional { .. } => &["forward_layer/cell", "backward_layer/cell"],
        _ => &[],
    }
}

/// Layer name → its group key under `layers/`: by the `name` attribute of
/// `layers/<key>/vars` when present, else by Keras 3's class-based key.
fn layer_groups(weights: &hdf5::File, config: &Value) -> HashMap<String, String> {
    let mut out = HashMap::new();
    // Fallback first: the keys Keras 3 derives from classes, in config order.
    let entries = config.get("config").and_then(|c| {
        c.as_array()
            .or_else(|| c.get("layers").and_then(Value::as_array))
    });
    let mut used: HashMap<String, usize> = HashMap::new();
    for e in entries.into_iter().flatten() {
        let class = e.get("class_name").and_then(Value::as_str).unwrap_or("");
        let name = e
            .get("name")
            .or_else(|| e.get("config").and_then(|c| c.get("name")))
            .and_then(Value::as_str);
        let key = unique_key(snake_case(class), &mut used);
        if let Some(name) = name {
            out.insert(name.to_string(), key);
        }
    }
    // Then what the file says, which wins.
    if let Ok(layers) = weights.group("layers")
        && let Ok(keys) = layers.member_names()
    {
        for key in keys {
            let name = layers
                .group(&format!("{key}/vars"))
                .ok()
                .and_then(|g| g.attr("name").ok())
                .and_then(|a| {
                    // Lossy: a damaged file may hold invalid UTF-8 here.
                    a.read_scalar::<VarLenUnicode>()
                        .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
                        .or_else(|_| {
                            a.read_scalar::<VarLenAscii>()
                                .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
                        })
                        .ok()
                });
            if let Some(name) = name {
                out.insert(name, key);
            }
        }
    }
    out
}

/// Keras's `naming.to_snake_case`: `Conv2D` → `conv2d`, `BatchNormalization`
/// → `batch_normalization`, `ReLU` → `re_lu`, `DepthwiseConv2D` →
/// `depthwise_conv2d`. (Its two regexes: `_` before an upper-case letter that
/// starts a lower-case run, then between a lower-case and an upper-case one.)
fn snake_case(class: &str) -> String {
    let c: Vec<char> = class
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let mut out = String::new();
    for (i, &ch) in c.iter().enumerate() {
        let starts_word = i > 0
            && ch.is_ascii_uppercase()
            && c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        let after_lower = i > 0 && ch.is_ascii_uppercase() && c[i - 1].is_ascii_lowercase();
        if (starts_word || after_lower) && !out.ends_with('_') {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// A variable as f32 (float16/float64 are converted by HDF5).
fn read_f32(ds: &hdf5::Dataset) -> hdf5::Result<ArrayD<f32>> {
    let shape = ds.shape();
    // The shape is the file's word: refused over the budget before the
    // buffer is allocated, as the `.h5` reader does.
    crate::budget::elements(&shape).map_err(|e| hdf5::Error::from(format!("dataset {e}")))?;
    let data = ds.read_raw::<f32>()?;
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .map_err(|e| hdf5::Error::from(format!("dataset shape {shape:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn snake_case_matches_keras() {
        // Values from keras.src.utils.naming.to_snake_case (Keras 3.15).
        for (class, key) in [
            ("Conv2D", "conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("ReLU", "re_lu"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("Dense", "dense"),
            ("ZeroPadding2D", "zero_padding2d"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("InputLayer", "input_layer"),
        ] {
            assert_eq!(snake_case(class), key, "{class}");
        }
    }

    fn zip_with(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let f = tempfile::Builder::new()
            .suffix(".keras")
            .tempfile()
            .unwrap();
        let mut z = zip::ZipWriter::new(f.reopen().unwrap());
        for (name, bytes) in entries {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
        f
    }

    /// A Keras 3 MultiHeadAttention keeps its variables in sub-groups: when one is
    /// missing, the error names the layer and the group (not "got 0 weights").
    /// (The positive path, a real Keras 3 archive, is in tests/keras_flag.rs.)
    #[test]
    fn attention_sub_groups_are_read_and_a_missing_one_is_named() {
        let config = br#"{"class_name": "Functional", "config": {"name": "m", "layers": [
            {"class_name": "InputLayer", "name": "q",
             "config": {"name": "q", "batch_shape": [null, 3, 4]}, "inbound_nodes": []},
            {"class_name": "MultiHeadAttention", "name": "mha",
             "config": {"name": "mha", "num_heads": 1, "key_dim": 2, "use_bias": false},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
               "config": {"keras_history": ["q", 0, 0]}}],
               "kwargs": {"value": {"class_name": "__keras_tensor__",
               "config": {"keras_history": ["q", 0, 0]}}}}]}],
            "input_layers": [["q", 0, 0]], "output_layers": [["mha", 0, 0]]}}"#;
        let weights_file = |parts: &[(&str, Vec<usize>)]| {
            let f = tempfile::Builder::new().suffix(".h5").tempfile().unwrap();
            let h = hdf5::File::create(f.path()).unwrap();
            h.create_group("layers/multi_head_attention/vars").unwrap();
            for (i, (part, shape)) in parts.iter().enumerate() {
                let n: usize = shape.iter().product();
                let data: Vec<f32> = (0..n).map(|k| (i * 100 + k) as f32).collect();
                let g = h
                    .create_group(&format!("layers/multi_head_attention/{part}/vars"))
                    .unwrap();
                g.new_dataset_builder()
                    .with_data(&ndarray::ArrayD::from_shape_vec(IxDyn(shape), data).unwrap())
                    .create("0")
                    .unwrap();
            }
            drop(h);
            std::fs::read(f.path()).unwrap()
        };
        let all = [
            ("query_dense", vec![4, 1, 2]),
            ("key_dense", vec![4, 1, 2]),
            ("value_dense", vec![4, 1, 2]),
            ("output_dense", vec![1, 2, 4]),
        ];
        let ok = zip_with(&[
            ("config.json", config),
            ("model.weights.h5", &weights_file(&all)),
        ]);
        let m = read(ok.path()).unwrap();
        let mha = m.layer("mha").unwrap();
        let names: Vec<&str> = mha.weights.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "query/kernel",
                "key/kernel",
                "value/kernel",
                "attention_output/kernel"
            ]
        );
        // Each sub-group's values land on its own weight (value_dense's start at 200).
        assert_eq!(
            mha.weight("value/kernel").unwrap().iter().next(),
            Some(&200.0)
        );

        let missing = zip_with(&[
            ("config.json", config),
            ("model.weights.h5", &weights_file(&all[..3])),
        ]);
        let err = read(missing.path()).unwrap_err().to_string();
        assert!(
            err.contains("'mha'") && err.contains("layers/multi_head_attention/output_dense/vars"),
            "{err}"
        );
    }

    /// What [`write`] writes, [`read`] reads back: same layers, same weights.
    /// That Keras 3 loads it and matches TensorFlow (MultiHeadAttention and LSTM
    /// sub-layer groups included) is checked on every fixture by
    /// `harness/roundtrip.py` in .ci/run.
    #[test]
    fn written_archive_reads_back_with_every_weight() {
        let dir = tempfile::tempdir().unwrap();
        for model in [
            crate::keras::test_models::every_layer_model(),
            crate::keras::test_models::text_model(),
        ] {
            let path = dir.path().join(format!("{}.keras", model.name));
            write(&path, &model).unwrap();
            let back = read(&path).unwrap();
            assert_eq!(back.layers.len(), model.layers.len());
            for (a, b) in model.layers.iter().zip(&back.layers) {
                assert_eq!(a.name, b.name);
                assert_eq!(a.kind, b.kind, "layer {}", a.name);
                let wa: Vec<_> = a.weights.iter().map(|w| (&w.name, &w.value)).collect();
                let wb: Vec<_> = b.weights.iter().map(|w| (&w.name, &w.value)).collect();
                assert_eq!(wa, wb, "layer {}", a.name);
            }
            let names: Vec<String> = zip::ZipArchive::new(std::fs::File::open(&path).unwrap())
                .unwrap()
                .file_names()
                .map(str::to_string)
                .collect();
            assert_eq!(names, [METADATA, CONFIG, WEIGHTS]);
        }
    }

    #[test]
    fn not_a_zip_and_missing_entries_are_named() {
        let mut junk = tempfile::Builder::new()
            .suffix(".keras")
            .tempfile()
            .unwrap();
        junk.write_all(b"definitely not a zip").unwrap();
        let err = read(junk.path()).unwrap_err();
        assert!(matches!(err, KerasError::Archive { .. }), "{err}");
        assert!(err.to_string().contains("not a .keras archive"), "{err}");

        let only_meta = zip_with(&[("metadata.json", b"{}")]);
        let err = read(only_meta.path()).unwrap_err().to_string();
        assert!(
            err.contains("`config.json`") && err.contains("metadata.json"),
            "{err}"
        );

        let no_weights = zip_with(&[("config.json", b"{}")]);
        let err = read(no_weights.path()).unwrap_err().to_string();
        assert!(err.contains("`model.weights.h5`"), "{err}");

        let bad_json = zip_with(&[("config.json", b"{"), ("model.weights.h5", b"")]);
        let err = read(bad_json.path()).unwrap_err().to_string();
        assert!(err.contains("config.json: not JSON"), "{err}");

        let missing = read(Path::new("no/such/model.keras")).unwrap_err();
        assert!(matches!(missing, KerasError::Io { .. }), "{missing}");
    }
}
