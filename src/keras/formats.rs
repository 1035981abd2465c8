//! The model files thaw writes, chosen by name: `.h5` ([`super::h5`], loads in
//! Keras 3 and tf-keras), `.keras` ([`super::archive`], Keras 3's own format),
//! `.py` ([`super::pycode`], Functional-API source plus the `.h5` it loads its
//! weights from). Every format also gets `thaw_fallbacks.py` beside it when the
//! model needs a custom class ([`super::pymodule`]).
//!
//! Every file is written atomically ([`write_atomically`], or the same
//! temporary-file-and-rename in `h5`/`archive`): an error never leaves a
//! half-written file under the target's name.

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

/// `thaw verify --formats`: the `.h5` at `h5` (always; the report's model),
/// `thaw_fallbacks.py` beside it when needed, then each other format in
/// `formats` beside it under the same stem: `.keras`, and `.py` whose
/// `build_model()` loads its weights from that same `.h5`. Returns every file
/// written, the `.h5` first.
pub fn write_beside_h5(
    h5: &Path,
    model: &Model,
    formats: &[Format],
    origins: &super::pycode::Origins,
) -> Result<Vec<PathBuf>, KerasError> {
    super::h5::write(h5, model)?;
    let mut written = vec![h5.to_path_buf()];
    written.extend(super::pymodule::write_beside(h5, model)?);
    for format in Format::ALL {
        if format == Format::H5 || !formats.contains(&format) {
            continue;
        }
        let path = h5.with_extension(format.extension());
        match format {
            Format::H5 => {}
            Format::Keras => super::archive::write(&path, model)?,
            Format::Py => super::pycode::write(&path, model, h5, origins)?,
        }
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` at `path` through a temporary file in the same folder,
/// renamed into place once complete (mode 0644 on Unix, like the models);
/// `what` says what the file is, for the error.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], what: &str) -> Result<(), KerasError> {
    let io_err = |doing: &str, source| KerasError::Io {
        path: path.to_path_buf(),
        what: format!("{what}: {doing}"),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".thaw-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile's default 0600 would make the file private to its author.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| io_err("cannot create a temporary file in its folder", e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| io_err("cannot write it", e))?;
    tmp.persist(path).map_err(|e| {
        io_err(
            "cannot rename the finished temporary file into place",
            e.error,
        )
    })?;
    Ok(())
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

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.py");
        std::fs::write(&p, "old").unwrap();
        write_atomically(&p, b"new", "a module").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A folder that does not exist: an error naming the file, nothing written.
        let missing = dir.path().join("no/such/b.py");
        let e = write_atomically(&missing, b"x", "a module").unwrap_err();
        assert!(e.to_string().contains("b.py"), "{e}");
        assert!(!missing.exists());
    }
}
