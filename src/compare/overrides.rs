//! Per-layer-class and per-layer tolerances from a config file (`thaw.toml` in
//! the current folder, or `--config FILE`):
//!
//! ```toml
//! [tolerance]                      # the whole model (optional)
//! preset = "approximate"           # exact | close | approximate | very-approximate
//! atol = 1e-4                      # any of atol, rtol, stol, ulps overrides the preset's
//!
//! [tolerance.class.Softmax]        # every layer of a Keras class
//! atol = 1e-5
//!
//! [tolerance.layer."block_3_bn"]   # one layer, by its Keras name
//! rtol = 1e-2
//! ```
//!
//! The most specific section wins, part by part: a layer's tolerance starts
//! from the model's (command line over `[tolerance]` over the default preset),
//! then takes what its class section sets, then what its layer section sets.
//! A section's `preset` replaces all three parts before its own `atol`/`rtol`/
//! `stol` apply. Isolated checks derive their rule from the result as usual
//! ([`Tolerance::isolated`]).
//!
//! Unknown keys, unknown presets, negative or non-finite values and class
//! names that are not Keras layer classes are errors naming the file and the
//! key. Layer names can only be checked against a model: [`Overrides::check_layers`].

use super::tolerance::Tolerance;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a config file was refused.
#[derive(Debug, Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

/// The parts of a tolerance one section sets.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    pub preset: Option<String>,
    pub atol: Option<f32>,
    pub rtol: Option<f32>,
    pub stol: Option<f32>,
    /// The isolated noise bar, in ULPs (see [`Tolerance::ulps`]).
    pub ulps: Option<f32>,
}

impl Partial {
    /// `base` with this section's parts applied.
    pub fn apply(&self, base: Tolerance) -> Result<Tolerance, String> {
        let mut t = match &self.preset {
            Some(p) => Tolerance::preset(p)?,
            None => base,
        };
        for (key, v, slot) in [
            ("atol", self.atol, &mut t.atol),
            ("rtol", self.rtol, &mut t.rtol),
            ("stol", self.stol, &mut t.stol),
            ("ulps", self.ulps, &mut t.ulps),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(format!("{key} = {v} is not a finite, non-negative number"));
                }
                *slot = v;
            }
        }
        Ok(t)
    }

    fn is_empty(&self) -> bool {
        *self == Partial::default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    tolerance: Section,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    preset: Option<String>,
    atol: Option<f32>,
    rtol: Option<f32>,
    stol: Option<f32>,
    ulps: Option<f32>,
    #[serde(default)]
    class: BTreeMap<String, Partial>,
    #[serde(default)]
    layer: BTreeMap<String, Partial>,
}

/// The model-wide tolerance and its per-class and per-layer overrides.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// The file they came from (`None`: no file).
    pub file: Option<PathBuf>,
    /// `[tolerance]`: the model-wide parts (the command line overrides them).
    pub model: Partial,
    pub class: BTreeMap<String, Partial>,
    pub layer: BTreeMap<String, Partial>,
}

impl Overrides {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Overrides, ConfigError> {
        let err = |message: String| ConfigError {
            file: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        Overrides::parse(&text, path).map_err(err)
    }

    /// Parses and checks config text (`path` is recorded, not read).
    pub fn parse(text: &str, path: &Path) -> Result<Overrides, String> {
        let cfg: FileConfig = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        let t = cfg.tolerance;
        let model = Partial {
            preset: t.preset,
            atol: t.atol,
            rtol: t.rtol,
            stol: t.stol,
            ulps: t.ulps,
        };
        model
            .apply(Tolerance::default())
            .map_err(|e| format!("[tolerance]: {e}"))?;
        for (class, p) in &t.class {
            if !KERAS_CLASSES.contains(&class.as_str()) {
                return Err(format!(
                    "[tolerance.class.{class}]: '{class}' is not a Keras layer class \
                     (class names are as Keras spells them: Softmax, BatchNormalization, ...)"
                ));
            }
            p.apply(Tolerance::default())
                .map_err(|e| format!("[tolerance.class.{class}]: {e}"))?;
        }
        for (layer, p) in &t.layer {
            p.apply(Tolerance::default())
                .map_err(|e| format!("[tolerance.layer.\"{layer}\"]: {e}"))?;
        }
        Ok(Overrides {
            file: Some(path.to_path_buf()),
            model,
            class: t.class,
            layer: t.layer,
        })
    }

    /// The model-wide tolerance: the file's `[tolerance]` over the default
    /// preset (the command line then overrides parts of it).
    pub fn model_tolerance(&self) -> Tolerance {
        // Checked in `parse`; the default is only reached for a hand-built value.
        self.model.apply(Tolerance::default()).unwrap_or_default()
    }

    /// Refuses layer sections naming no layer of the model.
    pub fn check_layers(&self, names: &[&str]) -> Result<(), ConfigError> {
        for layer in self.layer.keys() {
            if !names.contains(&layer.as_str()) {
                return Err(ConfigError {
                    file: self.file_name(),
                    message: format!(
                        "[tolerance.layer.\"{layer}\"]: the model has no layer '{layer}'"
                    ),
                });
            }
        }
        Ok(())
    }

    fn file_name(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(|| "tolerance overrides".into(), |f| f.display().to_string())
    }

    /// The tolerance of layer `name` of class `class`, starting from the
    /// model-wide `base`, and where it came from (`None`: the model-wide one).
    pub fn for_layer(
        &self,
        name: &str,
        class: &str,
        base: Tolerance,
    ) -> (Tolerance, Option<String>) {
        let mut t = base;
        let mut from = Vec::new();
        if let Some(p) = self.class.get(class).filter(|p| !p.is_empty()) {
            t = p.apply(t).unwrap_or(t);
            from.push(format!("[tolerance.class.{class}]"));
        }
        if let Some(p) = self.layer.get(name).filter(|p| !p.is_empty()) {
            t = p.apply(t).unwrap_or(t);
            from.push(format!("[tolerance.layer.\"{name}\"]"));
        }
        if from.is_empty() {
            return (t, None);
        }
        (
            t,
            Some(format!("{} {}", self.file_name(), from.join(" + "))),
        )
    }
}

/// The layer classes of Keras 3.15 and tf-keras 2.21 (`keras.layers`,
/// `tf_keras.layers`), plus thaw's own `ThawTfOp`.
pub const KERAS_CLASSES: &[&str] = &[
    "AbstractRNNCell",
    "Activation",
    "ActivityRegularization",
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
    "Add",
    "AdditiveAttention",
    "AlphaDropout",
    "Attention",
    "AugMix",
    "AutoContrast",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "BatchNormalization",
    "Bidirectional",
    "CategoryEncoding",
    "CenterCrop",
    "Concatenate",
    "ContrastLimitedAdaptiveHistogramEqualization",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "Convolution1D",
    "Convolution1DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "CutMix",
    "Dense",
    "DenseFeatures",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Discretization",
    "Dot",
    "Dropout",
    "ELU",
    "EinsumDense",
    "Embedding",
    "Equalization",
    "Flatten",
    "FlaxLayer",
    "GRU",
    "GRUCell",
    "GaussianDropout",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GroupNormalization",
    "GroupQueryAttention",
    "HashedCrossing",
    "Hashing",
    "Identity",
    "InputLayer",
    "IntegerLookup",
    "JaxLayer",
    "LSTM",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "LocallyConnected1D",
    "LocallyConnected2D",
    "Masking",
    "MaxNumBoundingBoxes",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "Maximum",
    "MelSpectrogram",
    "Minimum",
    "MixUp",
    "MultiHeadAttention",
    "Multiply",
    "Normalization",
    "PReLU",
    "Permute",
    "Pipeline",
    "RMSNormalization",
    "RNN",
    "RandAugment",
    "RandomBrightness",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "RandomContrast",
    "RandomCrop",
    "RandomElasticTransform",
    "RandomErasing",
    "RandomFlip",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHeight",
    "RandomHue",
    "RandomInvert",
    "RandomPerspective",
    "RandomPosterization",
    "RandomRotation",
    "RandomSaturation",
    "RandomSharpness",
    "RandomShear",
    "RandomTranslation",
    "RandomWidth",
    "RandomZoom",
    "ReLU",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "Resizing",
    "ReversibleEmbedding",
    "STFTSpectrogram",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
    "SimpleRNN",
    "SimpleRNNCell",
    "Softmax",
    "Solarization",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "SpectralNormalization",
    "StackedRNNCells",
    "StringLookup",
    "Subtract",
    "TFSMLayer",
    "TextVectorization",
    "ThresholdedReLU",
    "TimeDistributed",
    "TorchModuleWrapper",
    "UnitNormalization",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "Wrapper",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "ThawTfOp",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Overrides, String> {
        Overrides::parse(text, Path::new("thaw.toml"))
    }

    const SAMPLE: &str = r#"
[tolerance]
preset = "close"
atol = 2e-5

[tolerance.class.Softmax]
atol = 1e-6

[tolerance.class.BatchNormalization]
preset = "very-approximate"

[tolerance.layer."block_3_bn"]
rtol = 0.05
"#;

    #[test]
    fn most_specific_section_wins_part_by_part() {
        let o = parse(SAMPLE).unwrap();
        let base = o.model_tolerance();
        // close (1e-5, 1e-4, 1e-6) with atol 2e-5
        assert_eq!((base.atol, base.rtol, base.stol), (2e-5, 1e-4, 1e-6));
        let (t, from) = o.for_layer("dense", "Dense", base);
        assert_eq!((t, from), (base, None));
        let (t, from) = o.for_layer("probs", "Softmax", base);
        assert_eq!((t.atol, t.rtol), (1e-6, 1e-4));
        assert_eq!(from.unwrap(), "thaw.toml [tolerance.class.Softmax]");
        // The class's preset replaces the base, then the layer's rtol applies.
        let (t, from) = o.for_layer("block_3_bn", "BatchNormalization", base);
        assert_eq!((t.atol, t.rtol, t.stol), (1e-2, 0.05, 1e-3));
        assert!(from.unwrap().ends_with("[tolerance.layer.\"block_3_bn\"]"));
    }

    #[test]
    fn unknown_keys_classes_and_bad_values_name_the_key() {
        let e = parse("[tolerance]\natoll = 1e-3\n").unwrap_err();
        assert!(e.contains("atoll"), "{e}");
        let e = parse("[tolerances]\natol = 1e-3\n").unwrap_err();
        assert!(e.contains("tolerances"), "{e}");
        let e = parse("[tolerance.class.Softmx]\natol = 1e-3\n").unwrap_err();
        assert!(e.contains("[tolerance.class.Softmx]"), "{e}");
        let e = parse("[tolerance.layer.x]\nrtol = -1\n").unwrap_err();
        assert!(
            e.contains("[tolerance.layer.\"x\"]") && e.contains("rtol"),
            "{e}"
        );
        let e = parse("[tolerance.class.Dense]\npreset = \"loose\"\n").unwrap_err();
        assert!(e.contains("loose") && e.contains("Dense"), "{e}");
        let e = parse("[tolerance.class.Dense]\nfactor = 2\n").unwrap_err();
        assert!(e.contains("factor"), "{e}");
    }

    #[test]
    fn layer_sections_must_name_a_layer_of_the_model() {
        let o = parse(SAMPLE).unwrap();
        assert!(o.check_layers(&["block_3_bn", "dense"]).is_ok());
        let e = o.check_layers(&["dense"]).unwrap_err().to_string();
        assert!(
            e.starts_with("thaw.toml: ") && e.contains("block_3_bn"),
            "{e}"
        );
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("thaw.toml");
        std::fs::write(&f, "[tolerance]\nrtol = \"big\"\n").unwrap();
        let e = Overrides::load(&f).unwrap_err().to_string();
        assert!(
            e.starts_with(&f.display().to_string()) && e.contains("rtol"),
            "{e}"
        );
        let e = Overrides::load(&dir.path().join("none.toml")).unwrap_err();
        assert!(e.to_string().contains("none.toml"));
    }
}
