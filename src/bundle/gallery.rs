//! The gallery: reference items of every modality with their embeddings and codes, shown as
//! neighbours, on the embedding map and in the codebook statistics.
//!
//! On disk (folder `gallery/` of a bundle):
//! - `gallery.safetensors`: `embeddings` F32 or F16 `[N, D]` (chosen when written, see
//!   [`Gallery::write_as`]; memory-mapped when read, see [`EmbeddingStore`]), `codes` I32 `[total]`,
//!   `code_offsets` I64 `[N + 1]` (item i uses `codes[offsets[i]..offsets[i+1]]`),
//!   `code_positions` I32 `[total]` (the encoder position each code sits at: image grid cell,
//!   time step, token; galleries written before 2026-12-07 have none, and their codes sit at
//!   positions 0, 1, 2, …);
//! - `items.json`: per item modality, label, source, optional media file and text;
//! - media files (PNG thumbnails, short WAV clips) referenced by `items.json`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::bundle::embedding_store::{EmbeddingStore, map_file};
use crate::error::{Error, Result};
use crate::index::RowDtype;
use crate::modality::Modality;

/// Tensor file inside the gallery folder.
pub const GALLERY_TENSORS: &str = "gallery.safetensors";
/// Item list inside the gallery folder.
pub const GALLERY_ITEMS: &str = "items.json";
/// Name of the embeddings tensor in [`GALLERY_TENSORS`].
pub const EMBEDDINGS_TENSOR: &str = "embeddings";

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
    /// Row-major `[N, D]`, rows L2-normalised: owned, or mapped from the gallery file.
    pub embeddings: EmbeddingStore,
    pub dim: usize,
    /// Codes of each item.
    pub codes: Vec<Vec<u32>>,
    /// Encoder position of each of an item's codes (positions without input, such as blank
    /// paper or padding, have no code and no entry).
    pub positions: Vec<Vec<u32>>,
}

/// Positions `0..n`: codes of a sequence with no gaps.
pub fn contiguous_positions(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
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

    /// Embedding of item `i`: borrowed when stored as f32, decoded when stored as f16.
    pub fn embedding(&self, i: usize) -> Cow<'_, [f32]> {
        self.embeddings.row(i, self.dim)
    }

    /// An exact search index over every item's embedding (borrowing the gallery).
    pub fn index(&self) -> Result<crate::index::ExactIndex<'_>> {
        let index = crate::index::ExactIndex::new(self.embeddings.rows(), self.dim.max(1))?;
        Ok(match self.embeddings.source() {
            Some((path, tensor)) => index.with_source(path, tensor),
            None => index,
        })
    }

    /// Adds one item whose codes sit at positions 0, 1, 2, … (vectors imported from elsewhere).
    pub fn push(&mut self, item: GalleryItem, embedding: &[f32], codes: Vec<u32>) -> Result<()> {
        let positions = contiguous_positions(codes.len());
        self.push_at(item, embedding, codes, positions)
    }

    /// Adds one item, each code at its encoder position.
    pub fn push_at(
        &mut self,
        item: GalleryItem,
        embedding: &[f32],
        codes: Vec<u32>,
        positions: Vec<u32>,
    ) -> Result<()> {
        if positions.len() != codes.len() {
            return Err(Error::Internal(format!(
                "gallery item with {} codes at {} positions",
                codes.len(),
                positions.len()
            )));
        }
        if self.dim == 0 {
            self.dim = embedding.len();
        }
        if embedding.len() != self.dim {
            return Err(Error::Internal(format!(
                "gallery embedding has {} dimensions, expected {}",
                embedding.len(),
                self.dim
            )));
        }
        self.items.push(item);
        self.embeddings.make_owned().extend_from_slice(embedding);
        self.codes.push(codes);
        self.positions.push(positions);
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
        let map = Arc::new(map_file(&tensors_path)?);
        let n = items.len();
        let (embeddings, _) = EmbeddingStore::from_map(
            map.clone(),
            &tensors_path,
            EMBEDDINGS_TENSOR,
            Some(n),
            Some(expected_dim),
        )?;
        let st = SafeTensors::deserialize(&map).map_err(|e| Error::Safetensors {
            path: tensors_path.clone(),
            reason: e.to_string(),
        })?;
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
        let positions = match st.tensor("code_positions") {
            Err(_) => codes
                .iter()
                .map(|c| contiguous_positions(c.len()))
                .collect(),
            Ok(view) => {
                if view.dtype() != Dtype::I32 || view.shape() != [flat.len()] {
                    return Err(Error::TensorShape {
                        path: tensors_path.clone(),
                        tensor: "code_positions".into(),
                        expected: vec![flat.len()],
                        found: view.shape().to_vec(),
                    });
                }
                let all: Vec<u32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]).max(0) as u32)
                    .collect();
                (0..n)
                    .map(|i| all[offsets[i] as usize..offsets[i + 1] as usize].to_vec())
                    .collect()
            }
        };
        Ok(Gallery {
            dir: dir.to_path_buf(),
            items,
            embeddings,
            dim: expected_dim,
            codes,
            positions,
        })
    }

    /// Writes `items.json` and `gallery.safetensors` (embeddings as f32) into `dir` (media
    /// files are the caller's). The folder must exist.
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.write_as(dir, RowDtype::F32)
    }

    /// [`Gallery::write`] with the embeddings stored as `dtype` (f16 halves the file and the
    /// memory a search maps). Each file is written beside its destination and renamed into
    /// place, so a gallery that is memory-mapped from `dir` can be rewritten safely.
    pub fn write_as(&self, dir: &Path, dtype: RowDtype) -> Result<()> {
        let items_path = dir.join(GALLERY_ITEMS);
        let json = serde_json::to_string_pretty(&self.items)
            .map_err(|e| Error::Internal(e.to_string()))?;
        write_replacing(&items_path, |tmp| {
            std::fs::write(tmp, json.as_bytes()).map_err(|e| Error::Write {
                path: tmp.to_path_buf(),
                source: e,
            })
        })?;
        let emb_bytes = self.embeddings.to_le_bytes(dtype);
        let mut offsets = vec![0i64];
        let mut flat = Vec::new();
        for item_codes in &self.codes {
            flat.extend(item_codes.iter().map(|&c| c as i32));
            offsets.push(flat.len() as i64);
        }
        let flat_positions: Vec<i32> = self.positions.iter().flatten().map(|&p| p as i32).collect();
        if flat_positions.len() != flat.len() {
            return Err(Error::Internal(format!(
                "the gallery has {} codes but {} code positions",
                flat.len(),
                flat_positions.len()
            )));
        }
        let off_bytes: Vec<u8> = offsets.iter().flat_map(|v| v.to_le_bytes()).collect();
        let code_bytes: Vec<u8> = flat.iter().flat_map(|v| v.to_le_bytes()).collect();
        let position_bytes: Vec<u8> = flat_positions
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
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
                view(
                    match dtype {
                        RowDtype::F32 => Dtype::F32,
                        RowDtype::F16 => Dtype::F16,
                    },
                    vec![n, self.dim],
                    &emb_bytes,
                )?,
            ),
            (
                "code_offsets".to_string(),
                view(Dtype::I64, vec![n + 1], &off_bytes)?,
            ),
            (
                "codes".to_string(),
                view(Dtype::I32, vec![flat.len()], &code_bytes)?,
            ),
            (
                "code_positions".to_string(),
                view(Dtype::I32, vec![flat.len()], &position_bytes)?,
            ),
        ];
        let path = dir.join(GALLERY_TENSORS);
        write_replacing(&path, |tmp| {
            safetensors::serialize_to_file(views, None, tmp).map_err(|e| Error::Write {
                path: tmp.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })
        })
    }
}

/// Writes `path` through `write` into a temporary sibling, then renames it into place.
fn write_replacing(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: e,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::GalleryIndex as _;

    fn item(i: usize) -> GalleryItem {
        GalleryItem {
            modality: Modality::Image,
            label: Some(format!("{}", i % 3)),
            source: format!("row {i}"),
            media: None,
            text: None,
        }
    }

    /// A gallery of `n` unit rows of dimension `dim` (values are multiples of 1/8, exact in f16).
    fn gallery(n: usize, dim: usize) -> Gallery {
        let mut g = Gallery::default();
        for i in 0..n {
            let mut e: Vec<f32> = (0..dim)
                .map(|j| ((i * 7 + j * 3) % 9) as f32 / 8.0)
                .collect();
            e[i % dim] += 1.0;
            crate::index::l2_normalize(&mut e);
            g.push(item(i), &e, vec![(i % 4) as u32]).unwrap();
        }
        g
    }

    #[test]
    fn code_positions_round_trip_and_older_galleries_read_as_contiguous() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = gallery(3, 4);
        // An image with blank cells: codes at grid cells 5, 6 and 9 only.
        g.push_at(item(3), &[1.0, 0.0, 0.0, 0.0], vec![2, 2, 3], vec![5, 6, 9])
            .unwrap();
        assert!(
            g.push_at(item(4), &[1.0, 0.0, 0.0, 0.0], vec![1, 2], vec![0])
                .is_err(),
            "codes and positions must pair up"
        );
        g.write(dir.path()).unwrap();
        let back = Gallery::read(dir.path(), 4, 4).unwrap();
        assert_eq!(
            back.positions,
            vec![vec![0], vec![0], vec![0], vec![5, 6, 9]]
        );
        // A gallery written before positions were stored: the same file without the tensor.
        let path = dir.path().join(GALLERY_TENSORS);
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
            .tensors()
            .into_iter()
            .filter(|(name, _)| name != "code_positions")
            .collect();
        let old = safetensors::serialize(views, None).unwrap();
        std::fs::write(&path, old).unwrap();
        let back = Gallery::read(dir.path(), 4, 4).unwrap();
        assert_eq!(back.codes[3], vec![2, 2, 3]);
        assert_eq!(back.positions[3], vec![0, 1, 2]);
    }

    #[test]
    fn read_maps_the_file_and_round_trips_f32_and_f16() {
        let dir = tempfile::tempdir().unwrap();
        let g = gallery(50, 6);
        for dtype in [RowDtype::F32, RowDtype::F16] {
            g.write_as(dir.path(), dtype).unwrap();
            let back = Gallery::read(dir.path(), 6, 4).unwrap();
            assert!(
                matches!(back.embeddings, EmbeddingStore::Mapped(_)),
                "{dtype}"
            );
            assert_eq!(back.embeddings.dtype(), dtype);
            assert_eq!(back.len(), 50);
            assert_eq!(back.items, g.items);
            assert_eq!(back.codes, g.codes);
            for i in 0..50 {
                let tolerance = if dtype == RowDtype::F16 { 1e-3 } else { 0.0 };
                for (a, b) in back.embedding(i).iter().zip(g.embedding(i).iter()) {
                    assert!((a - b).abs() <= tolerance, "{dtype} row {i}: {a} vs {b}");
                }
            }
            // Searching the mapped rows equals searching the in-memory ones (f16: the same
            // ids; the rows are far enough apart that rounding does not reorder them).
            let queries: Vec<f32> = (0..3).flat_map(|i| g.embedding(i * 7).to_vec()).collect();
            let want = g.index().unwrap().top_k(&queries, 5).unwrap();
            let got = back.index().unwrap().top_k(&queries, 5).unwrap();
            for (w, h) in want.iter().zip(&got) {
                assert_eq!(w[0].index, h[0].index, "{dtype}");
            }
        }
        // f16 saves two bytes a value.
        g.write_as(dir.path(), RowDtype::F32).unwrap();
        let f32_len = std::fs::metadata(dir.path().join(GALLERY_TENSORS))
            .unwrap()
            .len();
        g.write_as(dir.path(), RowDtype::F16).unwrap();
        let f16_len = std::fs::metadata(dir.path().join(GALLERY_TENSORS))
            .unwrap()
            .len();
        assert!(f32_len - f16_len >= 50 * 6 * 2, "{f16_len} vs {f32_len}");
    }

    #[test]
    fn a_mapped_gallery_can_grow_and_be_rewritten_in_place() {
        let dir = tempfile::tempdir().unwrap();
        gallery(10, 4).write(dir.path()).unwrap();
        let mut g = Gallery::read(dir.path(), 4, 4).unwrap();
        // Rewriting the file it is mapped from (rename into place) keeps the map valid.
        g.write_as(dir.path(), RowDtype::F16).unwrap();
        assert_eq!(g.embedding(3).len(), 4);
        let extra = [0.0, 0.0, 0.6, 0.8];
        g.push(item(10), &extra, vec![1]).unwrap();
        assert!(matches!(g.embeddings, EmbeddingStore::Owned(_)));
        g.write(dir.path()).unwrap();
        let back = Gallery::read(dir.path(), 4, 4).unwrap();
        assert_eq!(back.len(), 11);
        assert_eq!(&*back.embedding(10), &extra);
    }

    #[test]
    fn bad_embeddings_are_refused_naming_file_tensor_and_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = gallery(5, 4);
        g.embeddings.make_owned()[3 * 4 + 1] = f32::NAN;
        g.write(dir.path()).unwrap();
        let err = Gallery::read(dir.path(), 4, 4).unwrap_err().to_string();
        assert!(
            err.contains(GALLERY_TENSORS) && err.contains("`embeddings` row 3"),
            "{err}"
        );
        let err = Gallery::read(dir.path(), 5, 4).unwrap_err().to_string();
        assert!(err.contains("[5, 5]") && err.contains("[5, 4]"), "{err}");
    }
}
