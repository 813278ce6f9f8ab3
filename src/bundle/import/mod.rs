//! `transference import`: builds a vectors-only bundle from embeddings (and optionally
//! metadata, per-item codes and a codebook) computed elsewhere, e.g. by a CMG checkpoint in
//! PyTorch, so the codebook views (map, usage, neighbours, transfer lab) work on them.
//!
//! ```text
//! OUT/
//!   manifest.toml        [vectors] section, [architecture] with no encoder
//!   model.safetensors    only when a codebook was imported: `codebook.vectors` [K, D]
//!   README.md            what was imported
//!   gallery/             items.json, gallery.safetensors, media/ (copied media files)
//! ```
//! Embeddings are L2-normalised on import (the gallery stores unit rows; neighbours are
//! cosine). Media files named in the metadata are copied into `gallery/media/`, so the bundle
//! stays whole when moved or shared (a reference outside it would break). The folder is
//! written through [`crate::safe_write::replace_dir`]: a failed import leaves nothing behind.

pub mod arrays;
pub mod ctranslate2;
pub mod metadata;
pub mod whisper;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::manifest::{FORMAT_VERSION, Labels, Preprocess, Provenance, VectorsSection};
use crate::bundle::weights::{HostTensor, to_safetensors_bytes};
use crate::bundle::{Gallery, GalleryItem, MANIFEST_FILE, Manifest};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::{EmbeddingSource, ModelConfig};
use crate::safe_write::{replace_dir, write_file};
use arrays::{MAX_ROWS, Matrix, read_floats, read_ints};
use metadata::{MetadataRow, read_metadata};

/// Parameter path of the codebook inside the bundle weights (`MultimodalModel.codebook
/// .vectors`; [`crate::bundle::Bundle::load`] rejects a file whose names do not match).
pub const CODEBOOK_PARAM: &str = "codebook.vectors";
/// Tensor name looked up first in a safetensors input of each kind.
pub const EMBEDDINGS_TENSOR: &str = "embeddings";
pub const CODES_TENSOR: &str = "codes";
pub const CODEBOOK_TENSOR: &str = "codebook";
/// Code value marking padding in a `[N, T]` codes array (ragged items).
pub const CODE_PADDING: i64 = -1;
/// Largest media file copied into the bundle, in bytes (a thumbnail or a short clip).
pub const MAX_MEDIA_BYTES: u64 = 32 << 20;
/// Folder of copied media inside the gallery folder.
pub const MEDIA_DIR: &str = "media";
/// Gallery folder inside the bundle.
const GALLERY_DIR: &str = "gallery";
/// Zero-shot temperature written into the manifest; unused (a vectors-only bundle has no
/// text encoder to classify with) but required by the architecture section.
const UNUSED_TEMPERATURE: f32 = 0.1;

/// What to import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRequest {
    /// Float array `[N, D]`.
    pub embeddings: PathBuf,
    /// Metadata TSV, one line per item (see [`metadata`]).
    pub metadata: Option<PathBuf>,
    /// Integer array `[N, T]`, `-1` padding for items with fewer codes.
    pub codes: Option<PathBuf>,
    /// Float array `[K, D]`.
    pub codebook: Option<PathBuf>,
    /// Codebook size when codes come without a codebook (default: largest code + 1).
    pub codebook_size: Option<usize>,
    /// Modality of items whose metadata names none.
    pub default_modality: Modality,
    /// Bundle name (default: the output folder's name).
    pub name: Option<String>,
    /// Output bundle folder (replaced if it exists).
    pub out: PathBuf,
}

/// What was imported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportReport {
    pub out: PathBuf,
    pub items: usize,
    pub dim: usize,
    /// Items per modality name.
    pub per_modality: BTreeMap<String, usize>,
    pub codebook_size: usize,
    pub has_codebook: bool,
    pub has_codes: bool,
    /// Codes over all items (padding dropped).
    pub code_positions: usize,
    pub labelled_items: usize,
    pub media_copied: usize,
    /// Metadata columns that were not read.
    pub ignored_columns: Vec<String>,
    /// Items given the default modality because the metadata named none.
    pub defaulted_modality: usize,
}

fn import_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Import {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Fails on the first row holding NaN or an infinite value.
fn check_finite(m: &Matrix<f32>, path: &Path) -> Result<()> {
    if let Some(i) = (0..m.rows).find(|&i| m.row(i).iter().any(|v| !v.is_finite())) {
        return Err(import_err(
            path,
            format!("row {i} (0-based) holds NaN or an infinite value; every value must be finite"),
        ));
    }
    Ok(())
}

/// Each item's codes from `[N, T]` with padding dropped, checked against `codebook_size`.
fn item_codes(m: &Matrix<i64>, path: &Path, codebook_size: usize) -> Result<Vec<Vec<u32>>> {
    (0..m.rows)
        .map(|i| {
            let mut out = Vec::with_capacity(m.cols);
            for (j, &c) in m.row(i).iter().enumerate() {
                if c == CODE_PADDING {
                    continue;
                }
                if c < 0 || c as u64 >= codebook_size as u64 {
                    return Err(import_err(
                        path,
                        format!(
                            "row {i}, position {j}: code {c} is outside 0..{codebook_size} \
                             (the codebook has {codebook_size} codes; -1 marks padding)"
                        ),
                    ));
                }
                out.push(c as u32);
            }
            Ok(out)
        })
        .collect()
}

/// The codebook size: the codebook's rows, else `requested`, else the largest code + 1,
/// else 1 (no codes at all).
fn codebook_size(
    req: &ImportRequest,
    codebook: Option<&Matrix<f32>>,
    codes: Option<&Matrix<i64>>,
) -> Result<usize> {
    match (codebook, req.codebook_size) {
        (Some(cb), Some(k)) if cb.rows != k => {
            let path = req.codebook.as_deref().unwrap_or(Path::new("codebook"));
            Err(import_err(
                path,
                format!("codebook has {} rows but --codebook-size is {k}", cb.rows),
            ))
        }
        (Some(cb), _) => Ok(cb.rows),
        (None, Some(0)) => Err(Error::InvalidRequest(
            "--codebook-size must be positive".into(),
        )),
        (None, Some(k)) => Ok(k),
        (None, None) => Ok(codes
            .and_then(|c| c.values.iter().copied().filter(|&v| v >= 0).max())
            .map_or(1, |max| {
                usize::try_from(max).unwrap_or(usize::MAX).saturating_add(1)
            })),
    }
}

/// Checks a media file and returns its name inside the gallery folder.
fn media_name(i: usize, path: &Path, metadata_path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|_| {
        import_err(
            metadata_path,
            format!("row {i}: media file {} does not exist", path.display()),
        )
    })?;
    if !meta.is_file() {
        return Err(import_err(
            metadata_path,
            format!("row {i}: media path {} is not a file", path.display()),
        ));
    }
    if meta.len() > MAX_MEDIA_BYTES {
        return Err(import_err(
            metadata_path,
            format!(
                "row {i}: media file {} is {} bytes; the limit is {MAX_MEDIA_BYTES}",
                path.display(),
                meta.len()
            ),
        ));
    }
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "media".into());
    Ok(format!("{MEDIA_DIR}/{i:06}-{file}"))
}

/// Imports `req` into a new vectors-only bundle at `req.out`.
pub fn import(req: &ImportRequest) -> Result<ImportReport> {
    let emb = read_floats(&req.embeddings, EMBEDDINGS_TENSOR)?;
    check_finite(&emb, &req.embeddings)?;
    let n = emb.rows;
    let d = emb.cols;
    if let Some(i) = (0..n).find(|&i| emb.row(i).iter().all(|&v| v == 0.0)) {
        return Err(import_err(
            &req.embeddings,
            format!("row {i} (0-based) is all zeros; an embedding needs a direction"),
        ));
    }
    let meta = match &req.metadata {
        Some(path) => {
            let m = read_metadata(path, MAX_ROWS)?;
            if m.rows.len() != n {
                // A header line in a single-column file is read as a label (the Projector's rule).
                let hint = if !m.has_header && m.rows.len() == n + 1 {
                    " (a single-column file has no header line: its first line is a label)"
                } else {
                    ""
                };
                return Err(import_err(
                    path,
                    format!(
                        "{} metadata rows but {} has {n} embeddings; expected one row per \
                         embedding{hint}",
                        m.rows.len(),
                        req.embeddings.display()
                    ),
                ));
            }
            Some(m)
        }
        None => None,
    };
    let codes = match &req.codes {
        Some(path) => {
            let c = read_ints(path, CODES_TENSOR)?;
            if c.rows != n {
                return Err(import_err(
                    path,
                    format!(
                        "{} rows of codes but {} has {n} embeddings; expected one row per embedding",
                        c.rows,
                        req.embeddings.display()
                    ),
                ));
            }
            Some(c)
        }
        None => None,
    };
    let codebook = match &req.codebook {
        Some(path) => {
            let cb = read_floats(path, CODEBOOK_TENSOR)?;
            if cb.cols != d {
                return Err(import_err(
                    path,
                    format!(
                        "codebook vectors have {} dimensions but the embeddings have {d}; \
                         expected [K, {d}]",
                        cb.cols
                    ),
                ));
            }
            check_finite(&cb, path)?;
            Some(cb)
        }
        None => None,
    };
    let k = codebook_size(req, codebook.as_ref(), codes.as_ref())?;
    let per_item_codes = match (&codes, &req.codes) {
        (Some(c), Some(path)) => item_codes(c, path, k)?,
        _ => vec![Vec::new(); n],
    };
    let rows: Vec<MetadataRow> = match &meta {
        Some(m) => m.rows.clone(),
        None => vec![MetadataRow::default(); n],
    };
    let stem = req
        .embeddings
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut gallery = Gallery::default();
    let mut media: Vec<(PathBuf, String)> = Vec::new();
    let mut defaulted_modality = 0;
    for (i, (row, item_codes)) in rows.iter().zip(per_item_codes).enumerate() {
        let media_rel = match (&row.path, &req.metadata) {
            (Some(p), Some(meta_path)) => {
                let name = media_name(i, p, meta_path)?;
                media.push((p.clone(), name.clone()));
                Some(name)
            }
            _ => None,
        };
        if row.modality.is_none() {
            defaulted_modality += 1;
        }
        let mut unit = emb.row(i).to_vec();
        crate::index::l2_normalize(&mut unit);
        let item = GalleryItem {
            modality: row.modality.unwrap_or(req.default_modality),
            label: row.label.clone(),
            source: row.source.clone().unwrap_or_else(|| format!("{stem}:{i}")),
            media: media_rel,
            text: row.text.clone(),
        };
        gallery.push(item, &unit, item_codes)?;
    }
    let mut per_modality = BTreeMap::new();
    for item in &gallery.items {
        *per_modality
            .entry(item.modality.name().to_string())
            .or_insert(0) += 1;
    }
    let imported_from: Vec<String> = [
        Some(&req.embeddings),
        req.metadata.as_ref(),
        req.codes.as_ref(),
        req.codebook.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|p| p.display().to_string())
    .collect();
    let name = req.name.clone().unwrap_or_else(|| {
        req.out
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "imported".into())
    });
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: name.clone(),
        description: format!(
            "{n} vectors of {d} dimensions imported by `transference import` (no encoders)."
        ),
        weights: "model.safetensors".into(),
        gallery: Some(GALLERY_DIR.into()),
        card: "README.md".into(),
        architecture: ModelConfig {
            d_model: d,
            codebook_size: k,
            embedding_source: EmbeddingSource::default(),
            temperature: UNUSED_TEMPERATURE,
            image: None,
            audio: None,
            speech: None,
            text: None,
        },
        preprocess: Preprocess::default(),
        labels: Labels::default(),
        provenance: Provenance {
            created_by: format!("transference {} import", env!("CARGO_PKG_VERSION")),
            data: imported_from,
            ..Provenance::default()
        },
        metrics: BTreeMap::new(),
        vectors: Some(VectorsSection {
            codebook: codebook.is_some(),
            codes: codes.is_some(),
        }),
        generation: None,
    };
    manifest.validate().map_err(|reason| Error::Manifest {
        path: req.out.join(MANIFEST_FILE),
        reason: reason.0,
    })?;
    let card = format!(
        "# `{name}`: imported vectors\n\n{}\n\nThis bundle has no encoders: it can show its \
         items on the map, their neighbours, codebook usage and the transfer lab, but cannot \
         analyse new images, sounds or text.\n",
        manifest.description
    );
    replace_dir(&req.out, |tmp| {
        if let Some(cb) = &codebook {
            let tensors = BTreeMap::from([(
                CODEBOOK_PARAM.to_string(),
                HostTensor {
                    shape: vec![cb.rows, cb.cols],
                    values: cb.values.clone(),
                },
            )]);
            write_file(
                &tmp.join(&manifest.weights),
                &to_safetensors_bytes(&tensors, None)?,
            )?;
        }
        write_file(&tmp.join(&manifest.card), card.as_bytes())?;
        let gdir = tmp.join(GALLERY_DIR);
        std::fs::create_dir_all(gdir.join(MEDIA_DIR)).map_err(|e| Error::Write {
            path: gdir.clone(),
            source: e,
        })?;
        gallery.write(&gdir)?;
        for (from, name) in &media {
            std::fs::copy(from, gdir.join(name)).map_err(|e| Error::io(from, e))?;
        }
        // The manifest goes last: a folder without one is never mistaken for a bundle.
        write_file(&tmp.join(MANIFEST_FILE), manifest.to_toml()?.as_bytes())
    })?;
    Ok(ImportReport {
        out: req.out.clone(),
        items: n,
        dim: d,
        per_modality,
        codebook_size: k,
        has_codebook: codebook.is_some(),
        has_codes: codes.is_some(),
        code_positions: gallery.codes.iter().map(Vec::len).sum(),
        labelled_items: gallery.items.iter().filter(|i| i.label.is_some()).count(),
        media_copied: media.len(),
        ignored_columns: meta.map(|m| m.ignored_columns).unwrap_or_default(),
        defaulted_modality,
    })
}
