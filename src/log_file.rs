//! The window's log file: what the terminal shows, also kept in a file, so an internal or
//! device failure can be reported with its log (the window names the file in the failure's
//! notification). The command-line tools print to the terminal only.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Name of the log file inside the application's state folder.
pub const LOG_FILE_NAME: &str = "transference.log";

static ACTIVE: OnceLock<PathBuf> = OnceLock::new();

/// Creates (or empties) the log file at `path`, with its folder, and records it as this
/// process's log. Each run of the window starts a fresh log.
pub fn start(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(path)?;
    let _ = ACTIVE.set(path.to_path_buf());
    Ok(file)
}

/// The log file this process writes, if it writes one.
pub fn active() -> Option<&'static Path> {
    ACTIVE.get().map(PathBuf::as_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_a_log_makes_its_folder_and_records_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state/transference").join(LOG_FILE_NAME);
        start(&path).unwrap();
        assert!(path.is_file());
        assert_eq!(active(), Some(path.as_path()));
    }
}
