//! Stage 3 and the last writes: the output folder, the Keras model
//! (`<stem>.h5` and its `model.py`), `alignment.json` and `report.json`.

use super::{KerasAlignment, VerifyError, VerifyOptions};
use crate::convert::Conversion;
use crate::keras;
use crate::report::Report;
use std::path::Path;

/// Creates the output folder.
pub(super) fn out_dir(dir: &Path) -> Result<(), VerifyError> {
    std::fs::create_dir_all(dir).map_err(|source| VerifyError::Io {
        path: dir.display().to_string(),
        source,
    })
}

/// Writes `conv.model` as `<stem>.h5` (and its `model.py`) unless the user
/// gave their own model (`keras_file`); returns the Keras file the report
/// names.
pub(super) fn keras_model(
    opts: &VerifyOptions,
    conv: &Conversion,
    keras_file: Option<&Path>,
) -> Result<String, VerifyError> {
    if let Some(f) = keras_file {
        return Ok(f.display().to_string());
    }
    let stem = opts
        .model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let h5 = opts.out_dir.join(format!("{stem}.h5"));
    keras::h5::write(&h5, &conv.model)?;
    keras::pymodule::write_beside(&h5, &conv.model)?;
    Ok(h5.display().to_string())
}

/// Writes `alignment.json` (creating the folder).
pub(super) fn alignment(dir: &Path, info: &KerasAlignment) -> Result<(), VerifyError> {
    out_dir(dir)?;
    let path = dir.join("alignment.json");
    let json = serde_json::to_string_pretty(info).unwrap_or_default();
    std::fs::write(&path, json).map_err(|source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `report.json`.
pub(super) fn report(report: &Report, dir: &Path) -> Result<(), VerifyError> {
    let path = dir.join("report.json");
    report.write_json(&path).map_err(|source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    })
}
