//! Stage 3 and the last writes: the output folder, the Keras model
//! (`<stem>.h5`, `thaw_fallbacks.py`, and `<stem>.keras`/`<stem>.py` with
//! `--formats`), `alignment.json`, `report.json` and `timings.json`. Every
//! file is written to a temporary file in its folder and renamed into place.

use super::{KerasAlignment, VerifyError, VerifyOptions, VerifySettings};
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

/// Writes `conv.model` as `<stem>.h5` (with `thaw_fallbacks.py` when needed,
/// and the other formats of `--formats` beside it, see
/// [`keras::formats::write_beside_h5`]) unless the user gave their own model
/// (`keras_file`); returns the Keras file the report names and every file
/// written.
pub(super) fn keras_model(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
    keras_file: Option<&Path>,
) -> Result<(String, Vec<String>), VerifyError> {
    if let Some(f) = keras_file {
        return Ok((f.display().to_string(), Vec::new()));
    }
    let stem = opts
        .model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let h5 = opts.out_dir.join(format!("{stem}.h5"));
    let written =
        keras::formats::write_beside_h5(&h5, &conv.model, &settings.formats, &conv.origins())?;
    Ok((
        h5.display().to_string(),
        written.iter().map(|p| p.display().to_string()).collect(),
    ))
}

/// Writes `alignment.json` (creating the folder).
pub(super) fn alignment(dir: &Path, info: &KerasAlignment) -> Result<(), VerifyError> {
    out_dir(dir)?;
    let path = dir.join("alignment.json");
    let json = serde_json::to_string_pretty(info).unwrap_or_default();
    crate::report::outputs::write_atomic(&path, json.as_bytes()).map_err(|source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `timings.json` (the run's wall-clock times, kept out of
/// `report.json` so that the report is deterministic).
pub(super) fn timings(timings: &crate::report::Timings, dir: &Path) -> Result<(), VerifyError> {
    let path = dir.join("timings.json");
    timings.write_json(&path).map_err(|source| VerifyError::Io {
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
