//! Writing files and folders so that a failure never leaves a part behind: a file is written
//! to a temporary sibling, flushed and renamed over its name; a folder is filled beside its
//! name and renamed into place, the old one kept until then. Bundles, checkpoints, prepared
//! data, indexes, exports and recordings are all written through here.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Replaces the folder `dir` safely: `fill` writes the new contents into a temporary sibling
/// folder, which is renamed into place only when complete; the old folder is kept as a backup
/// until then and restored if the rename fails. A failed `fill` leaves `dir` untouched (and
/// the temporary folder is removed).
pub fn replace_dir(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = parent_folder(dir)?;
    let stem = folder_stem(dir);
    let tmp = sibling_tempdir(dir, "tmp")?;
    // On any error below, dropping `tmp` removes the temporary folder.
    fill(tmp.path())?;
    let backup = parent.join(format!(".{stem}.old-{}", std::process::id()));
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &backup).map_err(|e| Error::Write {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    if let Err(e) = std::fs::rename(tmp.path(), dir) {
        if had_old {
            let _ = std::fs::rename(&backup, dir);
        }
        return Err(Error::Write {
            path: dir.to_path_buf(),
            source: e,
        });
    }
    // Renamed into place: nothing left to clean up.
    let _ = tmp.keep();
    if had_old {
        let _ = std::fs::remove_dir_all(&backup);
    }
    Ok(())
}

/// The folder name of `dir`, for the names of its temporary siblings.
fn folder_stem(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "folder".into())
}

/// A new empty hidden folder beside `dir` (`.NAME.KIND-XXXXXX`, in the same parent, so paths
/// relative to `dir` hold in it too), removed when dropped: where a folder is filled or staged
/// before it takes `dir`'s place.
pub fn sibling_tempdir(dir: &Path, kind: &str) -> Result<tempfile::TempDir> {
    let parent = parent_folder(dir)?;
    let prefix = format!(".{}.{kind}-", folder_stem(dir));
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        // The default mode of a new folder (the umask applies), not the temporary 0o700.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    builder.tempdir_in(&parent).map_err(|e| Error::Write {
        path: parent.clone(),
        source: e,
    })
}

/// Writes `bytes` to `path` safely (see [`write_file_with`]), creating its parent folders.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file_with(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// Writes the file `path` safely, creating its parent folders: `fill` writes the new contents
/// to the temporary file at the path it is given (a new file in the same folder), which is
/// flushed to disk and renamed over `path` only when `fill` succeeds. So `path` holds either
/// its previous contents or the complete new ones, never a part; the temporary file is removed
/// on failure.
pub fn write_file_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = parent_folder(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        // The default mode of a new file (the umask applies), not the temporary 0o600.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(&parent).map_err(|e| Error::Write {
        path: parent.clone(),
        source: e,
    })?;
    fill(tmp.path())?;
    let write_err = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    // `fill` may have replaced the file at the temporary path: sync what is there now.
    std::fs::File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// Writes the CSV file `path` safely (see [`write_file_with`]): `fill` writes the records.
pub fn write_csv_with(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<std::fs::File>) -> csv::Result<()>,
) -> Result<()> {
    write_file_with(path, |tmp| {
        let werr = |e: csv::Error| Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        };
        let mut w = csv::Writer::from_path(tmp).map_err(werr)?;
        fill(&mut w).map_err(werr)?;
        w.flush().map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// Writes `rows` as the CSV file `path` safely, one record each, the header from their
/// field names.
pub fn write_csv<R: serde::Serialize>(path: &Path, rows: &[R]) -> Result<()> {
    write_csv_with(path, |w| rows.iter().try_for_each(|r| w.serialize(r)))
}

/// The folder holding `path` (`.` for a bare name), created if missing.
pub fn parent_folder(path: &Path) -> Result<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::Write {
        path: parent.to_path_buf(),
        source: e,
    })?;
    Ok(parent.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn write_file_replaces_whole_files_and_leaves_nothing_on_failure() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a").join("meta.json");
        write_file(&path, b"first").expect("write");
        write_file(&path, b"second").expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        let failed = write_file_with(&path, |tmp| {
            std::fs::write(tmp, b"half").expect("partial write");
            Err(Error::Internal("stopped half-way".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        assert_eq!(names(&tmp.path().join("a")), ["meta.json"]);
        #[cfg(unix)]
        {
            // The mode a plain new file gets here, not the temporary file's 0o600.
            use std::os::unix::fs::PermissionsExt;
            let plain = tmp.path().join("plain");
            std::fs::write(&plain, b"x").expect("plain");
            let mode = |p: &Path| p.metadata().expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), mode(&plain));
        }
    }

    #[test]
    fn a_sibling_tempdir_is_hidden_beside_its_folder_and_removed_when_dropped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let staging = sibling_tempdir(&tmp.path().join("bundle"), "staging").expect("staging");
        let name = staging
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert_eq!(staging.path().parent(), Some(tmp.path()));
        assert!(name.starts_with(".bundle.staging-"), "{name}");
        let path = staging.path().to_path_buf();
        drop(staging);
        assert!(!path.exists());
    }

    #[test]
    fn replace_dir_swaps_whole_folders_and_keeps_the_old_one_on_failure() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("bundle");
        replace_dir(&dir, |t| write_file(&t.join("a.txt"), b"old")).expect("first");
        replace_dir(&dir, |t| write_file(&t.join("b.txt"), b"new")).expect("replace");
        assert_eq!(names(&dir), ["b.txt"]);
        let failed = replace_dir(&dir, |t| {
            write_file(&t.join("c.txt"), b"half")?;
            Err(Error::Internal("stopped half-way".into()))
        });
        assert!(failed.is_err());
        assert_eq!(names(&dir), ["b.txt"]);
        assert_eq!(
            names(tmp.path()),
            ["bundle"],
            "no temporary or backup folder left"
        );
    }
}
