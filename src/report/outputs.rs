//! Writes the human and CI renderings of a report next to `report.json`:
//! `report.html` ([`super::html`]), `junit.xml` ([`super::junit`]) and
//! `summary.md` ([`super::markdown`]). Each file is written atomically
//! (temporary file in the same folder, then rename), so a reader never sees
//! half a file.

use super::view::ReportView;
use std::io;
use std::path::{Path, PathBuf};

/// File names written by [`write_all`], in order.
pub const FILES: [&str; 3] = ["report.html", "junit.xml", "summary.md"];

/// Renders `view` and writes the three files into `dir`; returns their paths.
/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// renamed into place, so a crash never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    io::Write::write_all(&mut tmp, bytes)?;
    // Temporary files are private (0600); reports are meant to be shared
    // (CI artifacts, web servers): readable by all, like any new file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub fn write_all(view: &ReportView, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let texts = [
        super::html::render(view),
        super::junit::render(view),
        super::markdown::render(view),
    ];
    let mut paths = Vec::new();
    for (name, text) in FILES.iter().zip(texts) {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_three_files_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let view = ReportView::from_json(
            r#"{"model":"m.pb","verdict":"pass","layers":[{"name":"d","class_name":"Dense","status":"pass","max_abs":0}]}"#,
        )
        .unwrap();
        let paths = write_all(&view, dir.path()).unwrap();
        assert_eq!(paths.len(), 3);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["junit.xml", "report.html", "summary.md"]);
        for p in paths {
            let meta = std::fs::metadata(p).unwrap();
            assert!(meta.len() > 100);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                assert_eq!(meta.permissions().mode() & 0o777, 0o644);
            }
        }
    }
}
