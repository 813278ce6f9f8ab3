//! `transference index DIR --out GALLERY`: embed a folder of files into a gallery.

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::bundle::{Gallery, GalleryItem};
use crate::engine::input::{AUDIO_EXTENSIONS, IMAGE_EXTENSIONS};
use crate::engine::{InputView, Pipeline};
use crate::error::{Error, Result};
use image::ImageEncoder as _;

/// Largest audio file copied into a gallery as a playable clip.
pub const MAX_CLIP_BYTES: u64 = 2 * 1024 * 1024;
/// Files preprocessed (in parallel) and encoded (one forward pass per modality) together.
pub const INDEX_CHUNK_FILES: usize = 256;
/// Largest number of files indexed in one run.
pub const MAX_INDEX_FILES: usize = 200_000;

/// Arguments of `index`.
#[derive(Args, Debug, Clone)]
pub struct IndexArgs {
    /// Folder to scan (recursively).
    pub dir: PathBuf,
    /// Output gallery folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Label items by the file name prefix before the first `_` (e.g. `7_x.png` -> 7).
    #[arg(long)]
    pub label_from_name: bool,
}

/// Files with a supported extension under `dir`, sorted.
pub fn collect_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if IMAGE_EXTENSIONS.contains(&ext.as_str()) || AUDIO_EXTENSIONS.contains(&ext.as_str())
            {
                out.push(path);
                if out.len() > MAX_INDEX_FILES {
                    return Err(Error::InvalidRequest(format!(
                        "{}: more than {MAX_INDEX_FILES} files; index a smaller folder",
                        dir.display()
                    )));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Label from a file name `label_anything.ext`.
pub fn label_from_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy().to_string();
    let label = stem.split('_').next()?.to_string();
    (!label.is_empty() && label != stem).then_some(label)
}

/// Encodes `chunk` (image and audio files) as [`Pipeline::encode`] would, one result per file
/// in order: preprocessing in parallel, then one forward pass per modality.
fn encode_chunk(
    p: &Pipeline,
    chunk: &[PathBuf],
    configs: &crate::engine::batch::FileConfigs,
) -> Vec<Result<crate::engine::EncodedInput>> {
    let prepared = crate::engine::batch::prepare_files(chunk, configs);
    let mut ok = Vec::new();
    let mut slots: Vec<Option<Error>> = Vec::with_capacity(prepared.len());
    for r in prepared {
        match r {
            Ok(f) => {
                ok.push(f);
                slots.push(None);
            }
            Err(e) => slots.push(Some(e)),
        }
    }
    let mut encoded = p.encode_prepared_batch(ok).into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Some(e) => Err(e),
            None => encoded
                .next()
                .unwrap_or_else(|| Err(Error::Internal("a batch returned too few items".into()))),
        })
        .collect()
}

/// Runs the command with the opened model `p`.
pub fn run(p: &Pipeline, args: &IndexArgs, json_out: bool) -> Result<()> {
    let (dir, out, use_names) = (args.dir.as_path(), args.out.as_path(), args.label_from_name);
    let files = collect_files(dir)?;
    if files.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{}: no image or audio files found",
            dir.display()
        )));
    }
    let bar = if json_out {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(files.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut gallery = Gallery::default();
    let mut media: Vec<(String, Vec<u8>)> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let started = std::time::Instant::now();
    let configs = p.file_configs();
    // Files go in chunks: preprocessed in parallel, encoded one forward pass per modality.
    let encoded = files.chunks(INDEX_CHUNK_FILES).flat_map(|chunk| {
        bar.set_message(
            chunk[0]
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
        );
        encode_chunk(p, chunk, &configs)
    });
    for (path, result) in files.iter().zip(encoded) {
        match result {
            Ok(e) => {
                let n = gallery.len();
                let media_name = match &e.view {
                    InputView::Image {
                        preview,
                        width,
                        height,
                        channels,
                        ..
                    } => {
                        let name = format!("media/{n:06}.png");
                        let mut bytes = Vec::new();
                        let color = if *channels == 1 {
                            image::ExtendedColorType::L8
                        } else {
                            image::ExtendedColorType::Rgb8
                        };
                        image::codecs::png::PngEncoder::new(&mut bytes)
                            .write_image(preview, *width, *height, color)
                            .map_err(|e| Error::Internal(format!("thumbnail: {e}")))?;
                        media.push((name.clone(), bytes));
                        Some(name)
                    }
                    InputView::Audio { .. } => {
                        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
                        if size <= MAX_CLIP_BYTES {
                            let name = format!("media/{n:06}.wav");
                            media.push((
                                name.clone(),
                                std::fs::read(path).map_err(|e| Error::io(path, e))?,
                            ));
                            Some(name)
                        } else {
                            None
                        }
                    }
                    InputView::Text { .. } | InputView::Stored { .. } => None,
                };
                let item = GalleryItem {
                    modality: e.modality,
                    label: if use_names {
                        label_from_name(path)
                    } else {
                        None
                    },
                    source: path.strip_prefix(dir).unwrap_or(path).display().to_string(),
                    media: media_name,
                    text: None,
                };
                gallery.push(item, &e.item.embedding, e.item.codes)?;
            }
            Err(err) if err.is_bad_input() => {
                skipped.push((path.display().to_string(), err.to_string()))
            }
            Err(err) => return Err(err),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let items_per_second = files.len() as f64 / seconds.max(1e-9);
    gallery.dim = p.bundle.manifest.architecture.d_model;
    crate::bundle::replace_dir(out, |tmp| {
        gallery.write(tmp)?;
        for (name, bytes) in &media {
            crate::bundle::write_file(&tmp.join(name), bytes)?;
        }
        Ok(())
    })?;
    if json_out {
        println!(
            "{}",
            json!({"gallery": out, "items": gallery.len(), "seconds": seconds, "items_per_second": items_per_second, "skipped": skipped.iter().map(|(p, r)| json!({"file": p, "reason": r})).collect::<Vec<_>>()})
        );
    } else {
        println!(
            "indexed {} items into {} in {seconds:.1} s ({items_per_second:.0} files/s)",
            gallery.len(),
            out.display()
        );
        for (p, r) in &skipped {
            eprintln!("skipped {p}: {r}");
        }
    }
    Ok(())
}
