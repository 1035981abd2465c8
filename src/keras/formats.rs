//! The model files thaw writes, chosen by name: `.h5` ([`super::h5`], loads in
//! Keras 3 and tf-keras), `.keras` ([`super::archive`], Keras 3's own format),
//! `.py` ([`super::pycode`], Functional-API source plus the `.h5` it loads its
//! weights from). Every format also gets `thaw_fallbacks.py` beside it when the
//! model needs a custom class ([`super::pymodule`]).

use super::error::KerasError;
use super::ir::Model;
use std::path::{Path, PathBuf};

/// A model file format thaw writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    H5,
    Keras,
    Py,
}

impl Format {
    /// Every format, in the order `--formats` lists them.
    pub const ALL: [Format; 3] = [Format::H5, Format::Keras, Format::Py];

    /// The file extension (without the dot), also the `--formats` name.
    pub fn extension(self) -> &'static str {
        match self {
            Format::H5 => "h5",
            Format::Keras => "keras",
            Format::Py => "py",
        }
    }

    /// The format named `h5`, `keras` or `py` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.trim().to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.extension() == name)
    }

    /// The format a file name asks for, by its extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_name)
    }

    /// `h5, keras, py`: for error messages.
    pub fn names() -> String {
        Format::ALL.map(Format::extension).join(", ")
    }
}

/// Writes `model` at `path` in `format`, plus `thaw_fallbacks.py` beside it when
/// needed; returns every file written (the model's first). `.py` also writes
/// the `.h5` its `build_model()` loads weights from (same stem); `origins`
/// (layer → TF nodes) feed its comments.
pub fn write(
    path: &Path,
    model: &Model,
    format: Format,
    origins: &super::pycode::Origins,
) -> Result<Vec<PathBuf>, KerasError> {
    let mut written = vec![path.to_path_buf()];
    match format {
        Format::H5 => super::h5::write(path, model)?,
        Format::Keras => super::archive::write(path, model)?,
        Format::Py => {
            let h5 = path.with_extension("h5");
            super::h5::write(&h5, model)?;
            super::pycode::write(path, model, &h5, origins)?;
            written.push(h5);
        }
    }
    if let Some(m) = super::pymodule::write_beside(path, model)? {
        written.push(m);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_by_extension() {
        assert_eq!(Format::from_path(Path::new("a/m.h5")), Some(Format::H5));
        assert_eq!(Format::from_path(Path::new("m.KERAS")), Some(Format::Keras));
        assert_eq!(Format::from_path(Path::new("model.py")), Some(Format::Py));
        assert_eq!(Format::from_path(Path::new("m.onnx")), None);
        assert_eq!(Format::from_path(Path::new("m")), None);
        assert_eq!(Format::names(), "h5, keras, py");
    }
}
