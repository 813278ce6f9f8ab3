//! The gallery: reference items of every modality with their embeddings and codes, shown as
//! neighbours, on the embedding map and in the codebook statistics.
//!
//! On disk (folder `gallery/` of a bundle):
//! - `gallery.safetensors`: `embeddings` F32 `[N, D]`, `codes` I32 `[total]`,
//!   `code_offsets` I64 `[N + 1]` (item i uses `codes[offsets[i]..offsets[i+1]]`);
//! - `items.json`: per item modality, label, source, optional media file and text;
//! - media files (PNG thumbnails, short WAV clips) referenced by `items.json`.

use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::modality::Modality;

/// Tensor file inside the gallery folder.
pub const GALLERY_TENSORS: &str = "gallery.safetensors";
/// Item list inside the gallery folder.
pub const GALLERY_ITEMS: &str = "items.json";

/// One reference item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryItem {
    pub modality: Modality,
    /// Class label, if known.
    #[serde(default)]
    pub label: Option<String>,
    /// Where the item came from (data set and index, or file name).
    pub source: String,
    /// Thumbnail (PNG) or clip (WAV) relative to the gallery folder.
    #[serde(default)]
    pub media: Option<String>,
    /// The text itself, for text items.
    #[serde(default)]
    pub text: Option<String>,
}

/// Gallery items with their embeddings and codes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gallery {
    /// Folder the gallery was read from (media paths are relative to it).
    pub dir: PathBuf,
    pub items: Vec<GalleryItem>,
    /// Row-major `[N, D]`, rows L2-normalised.
    pub embeddings: Vec<f32>,
    pub dim: usize,
    /// Codes of each item.
    pub codes: Vec<Vec<u32>>,
}

impl Gallery {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Embedding of item `i`.
    pub fn embedding(&self, i: usize) -> &[f32] {
        &self.embeddings[i * self.dim..(i + 1) * self.dim]
    }

    /// Adds one item.
    pub fn push(&mut self, item: GalleryItem, embedding: &[f32], codes: Vec<u32>) -> Result<()> {
        if self.dim == 0 {
            self.dim = embedding.len();
        }
        if embedding.len() != self.dim {
            return Err(Error::InvalidRequest(format!(
                "gallery embedding has {} dimensions, expected {}",
                embedding.len(),
                self.dim
            )));
        }
        self.items.push(item);
        self.embeddings.extend_from_slice(embedding);
        self.codes.push(codes);
        Ok(())
    }

    /// Indices of the items of one modality.
    pub fn indices_of(&self, modality: Modality) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.items[i].modality == modality)
            .collect()
    }

    /// Absolute path of an item's media file.
    pub fn media_path(&self, i: usize) -> Option<PathBuf> {
        self.items[i].media.as_ref().map(|m| self.dir.join(m))
    }

    /// Reads a gallery folder; `expected_dim` and `codebook_size` are checked.
    pub fn read(dir: &Path, expected_dim: usize, codebook_size: usize) -> Result<Self> {
        let items_path = dir.join(GALLERY_ITEMS);
        let gerr = |path: &Path, reason: String| Error::Gallery {
            path: path.to_path_buf(),
            reason,
        };
        let items_text =
            std::fs::read_to_string(&items_path).map_err(|e| Error::io(&items_path, e))?;
        let items: Vec<GalleryItem> =
            serde_json::from_str(&items_text).map_err(|e| gerr(&items_path, e.to_string()))?;
        let tensors_path = dir.join(GALLERY_TENSORS);
        let bytes = std::fs::read(&tensors_path).map_err(|e| Error::io(&tensors_path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
            path: tensors_path.clone(),
            reason: e.to_string(),
        })?;
        let n = items.len();
        let get = |name: &str, dtype: Dtype| {
            let view = st.tensor(name).map_err(|_| Error::MissingTensor {
                path: tensors_path.clone(),
                tensor: name.to_string(),
                expected: vec![],
            })?;
            if view.dtype() != dtype {
                return Err(Error::TensorDtype {
                    path: tensors_path.clone(),
                    tensor: name.to_string(),
                    found: format!("{:?} (expected {dtype:?})", view.dtype()),
                });
            }
            Ok(view)
        };
        let emb = get("embeddings", Dtype::F32)?;
        if emb.shape() != [n, expected_dim] {
            return Err(Error::TensorShape {
                path: tensors_path.clone(),
                tensor: "embeddings".into(),
                expected: vec![n, expected_dim],
                found: emb.shape().to_vec(),
            });
        }
        let embeddings: Vec<f32> = emb
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let bad = embeddings.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(Error::NonFinite {
                path: tensors_path.clone(),
                tensor: "embeddings".into(),
                count: bad,
            });
        }
        let offsets_view = get("code_offsets", Dtype::I64)?;
        if offsets_view.shape() != [n + 1] {
            return Err(Error::TensorShape {
                path: tensors_path.clone(),
                tensor: "code_offsets".into(),
                expected: vec![n + 1],
                found: offsets_view.shape().to_vec(),
            });
        }
        let offsets: Vec<i64> = offsets_view
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let codes_view = get("codes", Dtype::I32)?;
        let flat: Vec<i32> = codes_view
            .data()
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut codes = Vec::with_capacity(n);
        for i in 0..n {
            let (start, end) = (offsets[i], offsets[i + 1]);
            if start < 0 || end < start || end as usize > flat.len() {
                return Err(gerr(
                    &tensors_path,
                    format!(
                        "code_offsets[{i}..{}] = {start}..{end} is out of range",
                        i + 1
                    ),
                ));
            }
            let item_codes: Vec<u32> = flat[start as usize..end as usize]
                .iter()
                .map(|&c| c as u32)
                .collect();
            if let Some(&bad) = item_codes.iter().find(|&&c| c as usize >= codebook_size) {
                return Err(gerr(
                    &tensors_path,
                    format!("item {i} uses code {bad}, but the codebook has {codebook_size} codes"),
                ));
            }
            codes.push(item_codes);
        }
        Ok(Gallery {
            dir: dir.to_path_buf(),
            items,
            embeddings,
            dim: expected_dim,
            codes,
        })
    }

    /// Writes `items.json` and `gallery.safetensors` into `dir` (media files are the
    /// caller's). The folder must exist.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let items_path = dir.join(GALLERY_ITEMS);
        let json = serde_json::to_string_pretty(&self.items)
            .map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(&items_path, json).map_err(|e| Error::Write {
            path: items_path.clone(),
            source: e,
        })?;
        let emb_bytes: Vec<u8> = self
            .embeddings
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut offsets = vec![0i64];
        let mut flat = Vec::new();
        for item_codes in &self.codes {
            flat.extend(item_codes.iter().map(|&c| c as i32));
            offsets.push(flat.len() as i64);
        }
        let off_bytes: Vec<u8> = offsets.iter().flat_map(|v| v.to_le_bytes()).collect();
        let code_bytes: Vec<u8> = flat.iter().flat_map(|v| v.to_le_bytes()).collect();
        let n = self.items.len();
        fn view(
            dtype: Dtype,
            shape: Vec<usize>,
            bytes: &[u8],
        ) -> Result<safetensors::tensor::TensorView<'_>> {
            safetensors::tensor::TensorView::new(dtype, shape, bytes)
                .map_err(|e| Error::Internal(e.to_string()))
        }
        let views = vec![
            (
                "embeddings".to_string(),
                view(Dtype::F32, vec![n, self.dim], &emb_bytes)?,
            ),
            (
                "code_offsets".to_string(),
                view(Dtype::I64, vec![n + 1], &off_bytes)?,
            ),
            (
                "codes".to_string(),
                view(Dtype::I32, vec![flat.len()], &code_bytes)?,
            ),
        ];
        let bytes =
            safetensors::serialize(views, None).map_err(|e| Error::Internal(e.to_string()))?;
        let path = dir.join(GALLERY_TENSORS);
        std::fs::write(&path, bytes).map_err(|e| Error::Write { path, source: e })
    }
}
