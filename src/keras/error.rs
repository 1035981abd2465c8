//! Errors of the Keras side (config JSON and `.h5` files). Every message names
//! the file and/or the layer it is about.

use hdf5_metno as hdf5;
use std::path::PathBuf;

/// What went wrong while writing or reading a Keras model.
#[derive(Debug, thiserror::Error)]
pub enum KerasError {
    /// The file exists but is not an HDF5 file at all.
    #[error("{}: not an HDF5 file (expected a Keras .h5 model saved with model.save(\"x.h5\"))", path.display())]
    NotHdf5 { path: PathBuf },

    /// An HDF5 file without the root `model_config` attribute.
    #[error(
        "{}: no `model_config` attribute: this is not a whole Keras model (a weights-only file from \
         save_weights? save the model with model.save(\"x.h5\") instead)",
        path.display()
    )]
    NoModelConfig { path: PathBuf },

    /// An HDF5 library error, with what thaw was doing at the time.
    #[error("{}: HDF5 error while {what}: {source}", path.display())]
    Hdf5 {
        path: PathBuf,
        what: String,
        #[source]
        source: hdf5::Error,
    },

    /// A filesystem error (temporary file, rename, …).
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// `model_config` is not JSON.
    #[error("{}: `model_config` is not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A config the IR cannot express (unknown class, unsupported key value,
    /// malformed structure). All problems found are listed, each naming its layer.
    #[error("{}Keras model config not supported:\n  - {}", file_prefix(file), problems.join("\n  - "))]
    Config {
        file: Option<PathBuf>,
        problems: Vec<String>,
    },

    /// A `.keras` file that is not a readable Keras 3 archive (not a zip, or
    /// an entry missing or unreadable).
    #[error("{}: {message}", path.display())]
    Archive { path: PathBuf, message: String },

    /// A layer's weights in the file do not fit its class/config.
    #[error("{}: layer '{layer}': {message}", path.display())]
    Weights {
        path: PathBuf,
        layer: String,
        message: String,
    },

    /// The IR model cannot be written as a Keras model (duplicate or invalid
    /// names, dangling inbound names, weights that do not fit the class).
    #[error("model '{model}' cannot be written as a Keras model:\n  - {}", problems.join("\n  - "))]
    InvalidModel {
        model: String,
        problems: Vec<String>,
    },
}

fn file_prefix(file: &Option<PathBuf>) -> String {
    match file {
        Some(p) => format!("{}: ", p.display()),
        None => String::new(),
    }
}

impl KerasError {
    /// Attach the file a config error came from (no-op for other variants).
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            KerasError::Config {
                file: None,
                problems,
            } => KerasError::Config {
                file: Some(path.to_path_buf()),
                problems,
            },
            other => other,
        }
    }
}
