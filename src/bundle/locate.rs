//! Where the default model bundle is found, for the CLI and the window alike.
//!
//! Lookup order (the first folder holding a `manifest.toml` wins):
//!
//! 1. an explicit path (`--model DIR`, or the `info`/`eval` argument): used as given, never
//!    replaced by another model, so a wrong path is reported as such by the loader;
//! 2. beside the executable: `<exe dir>/models/digits` (an unpacked release archive);
//! 3. an install prefix: `<exe dir>/../share/transference/models/digits` (e.g.
//!    `~/.local/bin/transference` with `~/.local/share/transference/models/digits`, or
//!    `/usr/local/bin` with `/usr/local/share/...`);
//! 4. the user data directory: `dirs::data_dir()/transference/models/digits`
//!    (`~/.local/share` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on
//!    Windows) — where a `cargo install`ed binary looks for the model copied there;
//! 5. last resort, for `cargo run` in the source tree: `models/digits` in the crate folder
//!    this binary was built from (`CARGO_MANIFEST_DIR`), only when it exists.
//!
//! When none holds a manifest, [`Error::DefaultModelMissing`] lists every folder looked at.

use std::path::{Path, PathBuf};

use crate::bundle::MANIFEST_FILE;
use crate::error::{Error, Result};

/// The default model's folder, relative to each search root (and to the repository root).
pub const DEFAULT_MODEL_DIR: &str = "models/digits";

/// This application's folder name under a data directory or an install prefix's `share/`.
pub const APP_DIR_NAME: &str = "transference";

/// The roots the default model is searched under; [`SearchRoots::current`] for the real
/// ones, hand-made ones in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchRoots {
    /// The folder holding the running executable.
    pub exe_dir: Option<PathBuf>,
    /// The user data directory (`dirs::data_dir()`).
    pub data_dir: Option<PathBuf>,
    /// The crate's source folder (`CARGO_MANIFEST_DIR` at build time).
    pub source_dir: Option<PathBuf>,
}

impl SearchRoots {
    /// The roots of this process: its executable's folder, the user data directory and the
    /// source folder the binary was built from.
    pub fn current() -> Self {
        SearchRoots {
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf)),
            data_dir: dirs::data_dir(),
            source_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        }
    }

    /// Every candidate folder, in lookup order (see the module docs).
    pub fn candidates(&self) -> Vec<PathBuf> {
        self.roots()
            .into_iter()
            .map(|root| root.join(DEFAULT_MODEL_DIR))
            .collect()
    }

    /// The folders the default model (and lesson files, and bundles named by lessons) are
    /// looked for under, in lookup order: the executable's folder, the install prefix's
    /// `share/transference`, the user data folder's `transference`, the source folder.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(exe) = &self.exe_dir {
            out.push(exe.clone());
            if let Some(prefix) = exe.parent() {
                out.push(prefix.join("share").join(APP_DIR_NAME));
            }
        }
        if let Some(data) = &self.data_dir {
            out.push(data.join(APP_DIR_NAME));
        }
        if let Some(src) = &self.source_dir {
            out.push(src.clone());
        }
        out
    }
}

/// The model folder to open: `explicit` when given, else the first candidate of `roots`
/// holding a manifest; [`Error::DefaultModelMissing`] (listing every candidate) when none does.
pub fn find_model(explicit: Option<&Path>, roots: &SearchRoots) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let candidates = roots.candidates();
    match candidates
        .iter()
        .find(|dir| dir.join(MANIFEST_FILE).is_file())
    {
        Some(dir) => Ok(dir.clone()),
        None => Err(Error::DefaultModelMissing {
            manifest: MANIFEST_FILE,
            searched: candidates,
        }),
    }
}

/// [`find_model`] with this process's roots: `explicit`, else the default model.
pub fn model_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    find_model(explicit, &SearchRoots::current())
}

/// The default model's folder (see the module docs for where it is looked for).
pub fn default_model_dir() -> Result<PathBuf> {
    model_dir(None)
}

/// Where a bundle's frozen encoder file is (MiniLM's weights or tokenizer, Whisper's
/// weights: `relative` as the manifest writes it, from the bundle folder `dir`). The path as
/// written, when it exists. Otherwise the bundle was moved away from where it was trained, and
/// the file's last two parts (`<encoder folder>/<file>`, e.g. `minilm/model.safetensors`) are
/// looked for beside the bundle's folder (a `models/` folder of bundles and encoders), then
/// under each root's `models/`. [`Error::FrozenEncoderMissing`] lists every path looked at.
pub fn find_frozen_file(dir: &Path, relative: &str, roots: &SearchRoots) -> Result<PathBuf> {
    let written = dir.join(relative);
    let mut searched = vec![written];
    let parts: Vec<_> = Path::new(relative)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    if let [.., folder, file] = parts.as_slice() {
        let tail = Path::new(folder).join(file);
        let beside = dir.parent().map(|models| models.join(&tail));
        let under_roots = roots
            .roots()
            .into_iter()
            .map(|r| r.join("models").join(&tail));
        for candidate in beside.into_iter().chain(under_roots) {
            if !searched.contains(&candidate) {
                searched.push(candidate);
            }
        }
    }
    match searched.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(Error::FrozenEncoderMissing {
            model: dir.to_path_buf(),
            relative: relative.to_string(),
            searched,
        }),
    }
}

/// [`find_frozen_file`] with this process's roots.
pub fn frozen_file(dir: &Path, relative: &str) -> Result<PathBuf> {
    find_frozen_file(dir, relative, &SearchRoots::current())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roots under `base`: `base/prefix/bin`, `base/data`, `base/src`.
    fn roots(base: &Path) -> SearchRoots {
        SearchRoots {
            exe_dir: Some(base.join("prefix").join("bin")),
            data_dir: Some(base.join("data")),
            source_dir: Some(base.join("src")),
        }
    }

    fn put_model(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(MANIFEST_FILE), "").unwrap();
    }

    #[test]
    fn candidates_follow_the_documented_order() {
        let base = Path::new("/base");
        assert_eq!(
            roots(base).candidates(),
            vec![
                base.join("prefix/bin/models/digits"),
                base.join("prefix/share/transference/models/digits"),
                base.join("data/transference/models/digits"),
                base.join("src/models/digits"),
            ]
        );
    }

    #[test]
    fn the_first_folder_with_a_manifest_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let r = roots(tmp.path());
        let all = r.candidates();
        // Fill from the last candidate to the first; each time the earliest one wins.
        for i in (0..all.len()).rev() {
            put_model(&all[i]);
            assert_eq!(find_model(None, &r).unwrap(), all[i]);
        }
        // A folder without a manifest does not count.
        std::fs::remove_file(all[0].join(MANIFEST_FILE)).unwrap();
        assert_eq!(find_model(None, &r).unwrap(), all[1]);
    }

    #[test]
    fn an_explicit_path_is_used_as_given() {
        let tmp = tempfile::tempdir().unwrap();
        let r = roots(tmp.path());
        put_model(&r.candidates()[0]);
        let named = tmp.path().join("nowhere");
        assert_eq!(find_model(Some(&named), &r).unwrap(), named);
    }

    #[test]
    fn missing_everywhere_lists_every_place_looked() {
        let tmp = tempfile::tempdir().unwrap();
        let r = roots(tmp.path());
        let err = find_model(None, &r).unwrap_err();
        assert!(err.is_bad_input());
        let text = err.to_string();
        for dir in r.candidates() {
            assert!(text.contains(&dir.display().to_string()), "{text}");
        }
        assert!(text.contains("--model"), "{text}");
        // Missing roots are skipped, not invented.
        let none = SearchRoots::default();
        assert!(none.candidates().is_empty());
        assert!(matches!(
            find_model(None, &none),
            Err(Error::DefaultModelMissing { .. })
        ));
    }

    fn put_file(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"weights").unwrap();
    }

    #[test]
    fn a_moved_bundle_finds_its_frozen_encoder_beside_it_then_under_the_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let r = roots(tmp.path());
        // Trained in work/exp/run with the encoder at work/main/models/minilm, then moved to
        // moved/run: the written path no longer leads anywhere.
        let bundle = tmp.path().join("moved").join("run");
        std::fs::create_dir_all(&bundle).unwrap();
        let written = "../../main/models/minilm/model.safetensors";
        let err = find_frozen_file(&bundle, written, &r).unwrap_err();
        assert!(matches!(err, Error::FrozenEncoderMissing { .. }), "{err}");
        assert!(err.is_bad_input());
        let text = err.to_string();
        assert!(text.contains(written) && text.contains("minilm"), "{text}");
        // Under a root's models/ (the source folder, last in order).
        let in_source = tmp.path().join("src/models/minilm/model.safetensors");
        put_file(&in_source);
        assert!(text.contains(&in_source.display().to_string()), "{text}");
        assert_eq!(find_frozen_file(&bundle, written, &r).unwrap(), in_source);
        // Beside the bundle's folder wins over the roots.
        let beside = tmp.path().join("moved/minilm/model.safetensors");
        put_file(&beside);
        assert_eq!(find_frozen_file(&bundle, written, &r).unwrap(), beside);
        // The written path, when it exists, wins over both.
        let exact = bundle.join("../enc/model.safetensors");
        put_file(&exact);
        assert_eq!(
            find_frozen_file(&bundle, "../enc/model.safetensors", &r).unwrap(),
            exact
        );
    }
}
