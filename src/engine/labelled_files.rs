//! Labelled test folders: files named `{digit}_{anything}.ext`, or kept in a subfolder named
//! by the digit (`7/clip.wav`). The one reader behind `transference eval --audio DIR` and
//! `transference compare --audio DIR` (and their `--images DIR`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Image files a labelled folder may hold.
pub const LABELLED_IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp"];

/// Label of a file named `{digit}_{anything}.ext` (or just `{digit}.ext`).
pub fn digit_from_name(path: &Path) -> Option<usize> {
    let stem = path.file_stem()?.to_string_lossy().to_string();
    let first = stem.split('_').next()?;
    digit_of(first)
}

/// `0`..`9` as a class index.
fn digit_of(text: &str) -> Option<usize> {
    text.parse::<usize>().ok().filter(|&d| d < 10)
}

/// True when `path` ends in one of `exts` (lowercase, no dot), in any case.
fn has_extension(path: &Path, exts: &[&str]) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    exts.contains(&ext.as_str())
}

/// Every file of `dir` with one of `exts` and a label, sorted by path: named
/// `{digit}_{anything}.ext` directly in `dir`, or any name inside a subfolder `{digit}/`.
/// Refuses, naming the folder and what was expected, when there is none.
pub fn labelled_files(dir: &Path, exts: &[&str]) -> Result<Vec<(PathBuf, usize)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            let Some(label) = path
                .file_name()
                .and_then(|n| digit_of(&n.to_string_lossy()))
            else {
                continue;
            };
            for inner in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
                let file = inner.map_err(|e| Error::io(&path, e))?.path();
                if file.is_file() && has_extension(&file, exts) {
                    out.push((file, label));
                }
            }
        } else if has_extension(&path, exts)
            && let Some(label) = digit_from_name(&path)
        {
            out.push((path, label));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{}: no files named {{digit}}_{{anything}}.{} nor in subfolders 0 to 9",
            dir.display(),
            exts.join("|")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_name_or_the_digit_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for name in ["7_a.wav", "3.WAV", "x_1.wav", "2_b.png", "notes.txt"] {
            std::fs::write(d.join(name), b"").unwrap();
        }
        std::fs::create_dir(d.join("5")).unwrap();
        std::fs::write(d.join("5").join("voice.wav"), b"").unwrap();
        std::fs::create_dir(d.join("other")).unwrap();
        std::fs::write(d.join("other").join("9_c.wav"), b"").unwrap();
        let got: Vec<(String, usize)> = labelled_files(d, &["wav"])
            .unwrap()
            .into_iter()
            .map(|(p, l)| (p.strip_prefix(d).unwrap().display().to_string(), l))
            .collect();
        assert_eq!(
            got,
            vec![
                ("3.WAV".to_string(), 3),
                ("5/voice.wav".to_string(), 5),
                ("7_a.wav".to_string(), 7),
            ]
        );
    }

    #[test]
    fn a_folder_without_labelled_files_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("clip.wav"), b"").unwrap();
        let msg = labelled_files(tmp.path(), &["wav"])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&tmp.path().display().to_string()) && msg.contains("{digit}_"),
            "{msg}"
        );
    }
}
