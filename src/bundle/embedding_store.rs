//! Gallery embeddings: owned (built in memory) or a memory-mapped view of the gallery's
//! safetensors file, stored as f32 or f16 (chosen when the gallery is written).
//!
//! Opening maps the file and reads only the header, so a 1M x 256 gallery opens without
//! reading its gigabyte of embeddings. Validation on open: the tensor's dtype (F32 or F16) and
//! 2-D shape (and its dimension when one is expected), and finiteness of every row when the
//! tensor holds at most [`FULL_CHECK_MAX_VALUES`] values, else of [`SAMPLE_ROWS`] evenly
//! spaced rows; beyond that, every search checks every score it computes, and a NaN/infinite
//! row is reported (file, tensor, row) the first time a search reaches it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use half::f16;
use half::slice::{HalfBitsSliceExt as _, HalfFloatSliceExt as _};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::index::{RowDtype, Rows};

/// Tensors with at most this many values are checked for finiteness in full on open (64 MiB
/// of f32).
pub const FULL_CHECK_MAX_VALUES: usize = 16 * 1024 * 1024;
/// Rows checked for finiteness on open in a larger tensor.
pub const SAMPLE_ROWS: usize = 4096;

/// Embedding rows `[N, D]`, row-major.
#[derive(Clone)]
pub enum EmbeddingStore {
    /// Built in memory (by [`crate::bundle::Gallery::push`]).
    Owned(Vec<f32>),
    /// A view into a memory-mapped safetensors file.
    Mapped(MappedEmbeddings),
}

/// The embeddings tensor of a memory-mapped safetensors file.
#[derive(Clone)]
pub struct MappedEmbeddings {
    map: Arc<Mmap>,
    /// Byte range of the tensor's data inside the map.
    start: usize,
    end: usize,
    dtype: RowDtype,
    path: PathBuf,
    tensor: String,
}

impl Default for EmbeddingStore {
    fn default() -> Self {
        EmbeddingStore::Owned(Vec::new())
    }
}

impl From<Vec<f32>> for EmbeddingStore {
    fn from(v: Vec<f32>) -> Self {
        EmbeddingStore::Owned(v)
    }
}

impl std::fmt::Debug for EmbeddingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmbeddingStore::Owned(v) => write!(f, "Owned({} f32 values)", v.len()),
            EmbeddingStore::Mapped(m) => write!(
                f,
                "Mapped({} `{}`, {} {} values)",
                m.path.display(),
                m.tensor,
                self.len_values(),
                m.dtype
            ),
        }
    }
}

impl PartialEq for EmbeddingStore {
    /// Equal values (f16 rows compare after decoding to f32).
    fn eq(&self, other: &Self) -> bool {
        self.to_f32() == other.to_f32()
    }
}

impl MappedEmbeddings {
    fn rows(&self) -> Rows<'_> {
        let bytes = &self.map[self.start..self.end];
        // `open` made sure the data is aligned and little-endian on a little-endian machine.
        match self.dtype {
            RowDtype::F32 => Rows::F32(bytemuck::try_cast_slice(bytes).unwrap_or(&[])),
            RowDtype::F16 => {
                let bits: &[u16] = bytemuck::try_cast_slice(bytes).unwrap_or(&[]);
                Rows::F16(bits.reinterpret_cast::<f16>())
            }
        }
    }
}

impl EmbeddingStore {
    /// The rows, borrowed.
    pub fn rows(&self) -> Rows<'_> {
        match self {
            EmbeddingStore::Owned(v) => Rows::F32(v),
            EmbeddingStore::Mapped(m) => m.rows(),
        }
    }

    /// Number of values (`N * D`).
    pub fn len_values(&self) -> usize {
        self.rows().len_values()
    }

    /// Storage type.
    pub fn dtype(&self) -> RowDtype {
        self.rows().dtype()
    }

    /// File and tensor the rows are mapped from, if any.
    pub fn source(&self) -> Option<(&Path, &str)> {
        match self {
            EmbeddingStore::Owned(_) => None,
            EmbeddingStore::Mapped(m) => Some((&m.path, &m.tensor)),
        }
    }

    /// Row `i` (`dim` values) as f32: borrowed for f32 storage, decoded for f16.
    pub fn row(&self, i: usize, dim: usize) -> Cow<'_, [f32]> {
        self.rows().row_f32(i, dim)
    }

    /// All values as f32: borrowed for f32 storage, decoded for f16.
    pub fn to_f32(&self) -> Cow<'_, [f32]> {
        match self.rows() {
            Rows::F32(v) => Cow::Borrowed(v),
            Rows::F16(v) => Cow::Owned(v.to_f32_vec()),
        }
    }

    /// The values as an owned, growable vector (a mapped store is copied once).
    pub fn make_owned(&mut self) -> &mut Vec<f32> {
        if let EmbeddingStore::Mapped(_) = self {
            *self = EmbeddingStore::Owned(self.to_f32().into_owned());
        }
        match self {
            EmbeddingStore::Owned(v) => v,
            EmbeddingStore::Mapped(_) => unreachable!("converted to owned above"),
        }
    }

    /// Maps `path` and views its 2-D `tensor` (F32 or F16) without reading the data; checks
    /// the dimension when `expected_dim` is given and the row count when `expected_rows` is.
    /// Returns the store and its dimension.
    pub fn open(
        path: &Path,
        tensor: &str,
        expected_rows: Option<usize>,
        expected_dim: Option<usize>,
    ) -> Result<(Self, usize)> {
        Self::from_map(
            Arc::new(map_file(path)?),
            path,
            tensor,
            expected_rows,
            expected_dim,
        )
    }

    /// [`EmbeddingStore::open`] on an already mapped file.
    pub fn from_map(
        map: Arc<Mmap>,
        path: &Path,
        tensor: &str,
        expected_rows: Option<usize>,
        expected_dim: Option<usize>,
    ) -> Result<(Self, usize)> {
        let st = SafeTensors::deserialize(&map).map_err(|e| Error::Safetensors {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let view = st.tensor(tensor).map_err(|_| Error::MissingTensor {
            path: path.to_path_buf(),
            tensor: tensor.to_string(),
            expected: match (expected_rows, expected_dim) {
                (Some(n), Some(d)) => vec![n, d],
                _ => vec![],
            },
        })?;
        let dtype = match view.dtype() {
            Dtype::F32 => RowDtype::F32,
            Dtype::F16 => RowDtype::F16,
            other => {
                return Err(Error::Gallery {
                    path: path.to_path_buf(),
                    reason: format!("tensor `{tensor}` has dtype {other:?}, expected F32 or F16"),
                });
            }
        };
        let shape = view.shape().to_vec();
        let shape_ok = shape.len() == 2
            && shape[1] > 0
            && expected_rows.is_none_or(|n| shape[0] == n)
            && expected_dim.is_none_or(|d| shape[1] == d);
        if !shape_ok {
            return Err(Error::TensorShape {
                path: path.to_path_buf(),
                tensor: tensor.to_string(),
                expected: vec![
                    expected_rows.unwrap_or(shape.first().copied().unwrap_or(0)),
                    expected_dim.unwrap_or(shape.get(1).copied().unwrap_or(1).max(1)),
                ],
                found: shape,
            });
        }
        let dim = shape[1];
        let data = view.data();
        let start = data.as_ptr() as usize - map.as_ptr() as usize;
        let end = start + data.len();
        let aligned = (data.as_ptr() as usize).is_multiple_of(dtype.size_bytes());
        let store = if aligned && cfg!(target_endian = "little") {
            drop(st);
            EmbeddingStore::Mapped(MappedEmbeddings {
                map,
                start,
                end,
                dtype,
                path: path.to_path_buf(),
                tensor: tensor.to_string(),
            })
        } else {
            // Unaligned (a file from another writer) or big-endian: decode once.
            EmbeddingStore::Owned(decode_le(data, dtype))
        };
        store.check_finite_on_open(dim, path, tensor)?;
        Ok((store, dim))
    }

    /// The finiteness check done on open (see the module documentation).
    fn check_finite_on_open(&self, dim: usize, path: &Path, tensor: &str) -> Result<()> {
        let rows = self.rows();
        let n = rows.len_values() / dim;
        let bad = if rows.len_values() <= FULL_CHECK_MAX_VALUES {
            rows.first_non_finite(0..n, dim)
        } else {
            let step = n.div_ceil(SAMPLE_ROWS).max(1);
            rows.first_non_finite((0..n).step_by(step).chain([n - 1]), dim)
        };
        match bad {
            None => Ok(()),
            Some(row) => Err(Error::Gallery {
                path: path.to_path_buf(),
                reason: format!("tensor `{tensor}` row {row} holds NaN/infinite values"),
            }),
        }
    }

    /// The values as little-endian bytes in `dtype` (borrowed when already stored so).
    pub fn to_le_bytes(&self, dtype: RowDtype) -> Cow<'_, [u8]> {
        match (self.rows(), dtype) {
            (Rows::F32(v), RowDtype::F32) if cfg!(target_endian = "little") => {
                Cow::Borrowed(bytemuck::cast_slice(v))
            }
            (Rows::F16(v), RowDtype::F16) if cfg!(target_endian = "little") => {
                Cow::Borrowed(bytemuck::cast_slice(v.reinterpret_cast()))
            }
            (_, RowDtype::F32) => {
                let values = self.to_f32();
                Cow::Owned(if cfg!(target_endian = "little") {
                    bytemuck::cast_slice(&values).to_vec()
                } else {
                    values.iter().flat_map(|v| v.to_le_bytes()).collect()
                })
            }
            (rows, RowDtype::F16) => {
                let values: Vec<f16> = match rows {
                    Rows::F32(v) => {
                        let mut out = vec![f16::ZERO; v.len()];
                        out.convert_from_f32_slice(v);
                        out
                    }
                    Rows::F16(v) => v.to_vec(),
                };
                let bits: &[u16] = values.reinterpret_cast();
                Cow::Owned(if cfg!(target_endian = "little") {
                    bytemuck::cast_slice(bits).to_vec()
                } else {
                    bits.iter().flat_map(|v| v.to_le_bytes()).collect()
                })
            }
        }
    }
}

/// Maps `path` read-only.
pub fn map_file(path: &Path) -> Result<Mmap> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the map is read-only; the gallery writer replaces files by renaming a new one
    // into place rather than writing into them, so a map never sees its file change under
    // it (another program truncating the file could still fault it: the documented limit of
    // memory-mapped files).
    unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

/// Little-endian `dtype` bytes decoded to f32.
fn decode_le(data: &[u8], dtype: RowDtype) -> Vec<f32> {
    match dtype {
        RowDtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        RowDtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
    }
}
