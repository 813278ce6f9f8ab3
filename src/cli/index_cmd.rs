//! `transference index DIR --out GALLERY`: embed a folder of files into a gallery, in chunks
//! committed to a journal so that an interrupted run resumes (see [`crate::cli::index_journal`]).

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::bundle::GalleryItem;
use crate::cli::index_journal::{ChunkResult, Journal, RunIdentity};
use crate::engine::input::modality_from_extension;
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
    /// Discard the journal of an interrupted run in `--out` and index from the start.
    #[arg(long)]
    pub restart: bool,
    /// Files per chunk (one batch, and one journal commit).
    #[arg(long, default_value_t = INDEX_CHUNK_FILES, hide = true)]
    pub chunk_files: usize,
    /// Test hook: stop with an error before encoding this chunk, as an interruption would.
    #[arg(skip)]
    pub stop_after_chunks: Option<usize>,
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
            if modality_from_extension(&path).is_some() {
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

/// What an index run did.
#[derive(Clone, Debug)]
pub struct IndexReport {
    /// Items in the written gallery.
    pub items: usize,
    /// Chunks taken from the journal of an interrupted run instead of being encoded again.
    pub resumed_chunks: usize,
    /// Chunks in the whole run.
    pub chunks: usize,
    /// Files encoded by this run (resumed chunks excluded).
    pub files_encoded: usize,
    /// Seconds spent encoding them.
    pub encode_seconds: f64,
    /// Skipped files: (path, reason).
    pub skipped: Vec<(String, String)>,
}

impl IndexReport {
    /// Files encoded per second by this run.
    pub fn items_per_second(&self) -> f64 {
        self.files_encoded as f64 / self.encode_seconds.max(1e-9)
    }
}

/// Encodes one chunk of files into gallery items numbered from `first_item`, with their media.
fn encode_part(
    p: &Pipeline,
    args: &IndexArgs,
    chunk: &[PathBuf],
    configs: &crate::engine::batch::FileConfigs,
    first_item: usize,
) -> Result<ChunkResult> {
    let dir = args.dir.as_path();
    let mut part = ChunkResult::default();
    part.gallery.dim = p.bundle.manifest.architecture.d_model;
    for (path, result) in chunk.iter().zip(encode_chunk(p, chunk, configs)) {
        let e = match result {
            Ok(e) => e,
            Err(err) if err.is_bad_input() => {
                part.skipped
                    .push((path.display().to_string(), err.to_string()));
                continue;
            }
            Err(err) => return Err(err),
        };
        let n = first_item + part.gallery.len();
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
                part.media.push((name.clone(), bytes));
                Some(name)
            }
            InputView::Audio { .. } => {
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
                if size <= MAX_CLIP_BYTES {
                    let name = format!("media/{n:06}.wav");
                    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                    part.media.push((name.clone(), bytes));
                    Some(name)
                } else {
                    None
                }
            }
            InputView::Text { .. } | InputView::Stored { .. } => None,
        };
        let item = GalleryItem {
            modality: e.modality,
            label: if args.label_from_name {
                label_from_name(path)
            } else {
                None
            },
            source: path.strip_prefix(dir).unwrap_or(path).display().to_string(),
            media: media_name,
            text: None,
        };
        part.gallery
            .push_at(item, &e.item.embedding, e.item.codes, e.item.positions)?;
    }
    Ok(part)
}

/// Indexes `args.dir` into the gallery `args.out` with the opened model `p`, resuming an
/// interrupted run of the same files and model from its journal (see [`index_journal`]);
/// `show_progress` draws a progress bar on stderr.
pub fn index(p: &Pipeline, args: &IndexArgs, show_progress: bool) -> Result<IndexReport> {
    let (dir, out) = (args.dir.as_path(), args.out.as_path());
    if args.chunk_files == 0 {
        return Err(Error::InvalidRequest(
            "--chunk-files 0: a chunk needs at least one file".into(),
        ));
    }
    let files = collect_files(dir)?;
    if files.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{}: no image or audio files found",
            dir.display()
        )));
    }
    let identity = RunIdentity::new(p, dir, &files, args.chunk_files, args.label_from_name)?;
    let mut journal = Journal::open(out, &identity, args.restart)?;
    let (dim, codebook_size) = (
        p.bundle.manifest.architecture.d_model,
        p.bundle.manifest.architecture.codebook_size,
    );
    let chunks: Vec<&[PathBuf]> = files.chunks(args.chunk_files).collect();
    let resumed_chunks = journal.chunks_done().min(chunks.len());
    let mut all = ChunkResult::default();
    // Media files of the gallery: (chunk holding it in the journal, name).
    let mut media: Vec<(usize, String)> = Vec::new();
    let media_of = |chunk: usize, part: &ChunkResult| {
        part.gallery
            .items
            .iter()
            .filter_map(move |item| item.media.clone().map(|name| (chunk, name)))
            .collect::<Vec<_>>()
    };
    all.gallery.dim = dim;
    for chunk in 0..resumed_chunks {
        let part = journal.read(chunk, dim, codebook_size)?;
        media.extend(media_of(chunk, &part));
        all.extend(part)?;
    }
    let bar = if show_progress {
        ProgressBar::new(files.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let resumed_files: usize = chunks[..resumed_chunks].iter().map(|c| c.len()).sum();
    bar.set_position(resumed_files as u64);
    let started = std::time::Instant::now();
    let configs = p.file_configs();
    for (number, chunk) in chunks.iter().enumerate().skip(resumed_chunks) {
        if args.stop_after_chunks == Some(number) {
            return Err(Error::Internal(format!(
                "index stopped before chunk {number} (test hook)"
            )));
        }
        bar.set_message(
            chunk[0]
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
        );
        let part = encode_part(p, args, chunk, &configs, all.gallery.len())?;
        journal.commit(&part)?;
        media.extend(media_of(number, &part));
        all.extend(part)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let encode_seconds = started.elapsed().as_secs_f64();
    // The finished gallery replaces `out` whole, journal included.
    crate::safe_write::replace_dir(out, |tmp| {
        all.gallery.write(tmp)?;
        for (chunk, name) in &media {
            journal.link_media(*chunk, name, &tmp.join(name))?;
        }
        Ok(())
    })?;
    Ok(IndexReport {
        items: all.gallery.len(),
        resumed_chunks,
        chunks: chunks.len(),
        files_encoded: files.len() - resumed_files,
        encode_seconds,
        skipped: all.skipped,
    })
}

/// Runs the command with the opened model `p`.
pub fn run(p: &Pipeline, args: &IndexArgs, json_out: bool) -> Result<()> {
    let out = args.out.as_path();
    let report = index(p, args, !json_out)?;
    let (seconds, items_per_second) = (report.encode_seconds, report.items_per_second());
    if json_out {
        println!(
            "{}",
            json!({
                "gallery": out,
                "items": report.items,
                "chunks": report.chunks,
                "resumed_chunks": report.resumed_chunks,
                "seconds": seconds,
                "items_per_second": items_per_second,
                "skipped": report.skipped.iter().map(|(p, r)| json!({"file": p, "reason": r})).collect::<Vec<_>>(),
            })
        );
    } else {
        if report.resumed_chunks > 0 {
            println!(
                "resumed an interrupted run: {} of {} chunks were already done",
                report.resumed_chunks, report.chunks
            );
        }
        println!(
            "indexed {} items into {} in {seconds:.1} s ({items_per_second:.0} files/s)",
            report.items,
            out.display()
        );
        for (p, r) in &report.skipped {
            eprintln!("skipped {p}: {r}");
        }
    }
    Ok(())
}
