//! A borrowed matrix of embedding rows, stored as f32 or f16: what the exact search scans.
//! f16 rows are decoded to f32 one block at a time, never as a whole.

use half::f16;
use half::slice::HalfFloatSliceExt as _;

/// Storage type of embedding rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowDtype {
    /// 4 bytes a value.
    #[default]
    F32,
    /// 2 bytes a value (IEEE half precision): half the disk and memory, about 3 significant
    /// digits, plenty for unit-norm embeddings.
    F16,
}

impl RowDtype {
    /// Bytes one value takes.
    pub fn size_bytes(self) -> usize {
        match self {
            RowDtype::F32 => 4,
            RowDtype::F16 => 2,
        }
    }
}

impl std::fmt::Display for RowDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RowDtype::F32 => "f32",
            RowDtype::F16 => "f16",
        })
    }
}

/// Row-major `[N, dim]` values, borrowed (from a `Vec` or a memory-mapped file).
#[derive(Clone, Copy, Debug)]
pub enum Rows<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl<'a> Rows<'a> {
    /// Number of values (`N * dim`).
    pub fn len_values(&self) -> usize {
        match self {
            Rows::F32(v) => v.len(),
            Rows::F16(v) => v.len(),
        }
    }

    /// Storage type.
    pub fn dtype(&self) -> RowDtype {
        match self {
            Rows::F32(_) => RowDtype::F32,
            Rows::F16(_) => RowDtype::F16,
        }
    }

    /// Rows `start..start + count` as f32 `[count, dim]`: borrowed when stored as f32,
    /// decoded into `scratch` when stored as f16.
    ///
    /// # Panics
    /// When the rows reach past the end (callers iterate within `len_values() / dim`).
    pub fn block_f32<'s>(
        &self,
        start: usize,
        count: usize,
        dim: usize,
        scratch: &'s mut Vec<f32>,
    ) -> &'s [f32]
    where
        'a: 's,
    {
        let range = start * dim..(start + count) * dim;
        match self {
            Rows::F32(v) => &v[range],
            Rows::F16(v) => {
                scratch.resize(range.len(), 0.0);
                v[range].convert_to_f32_slice(scratch);
                scratch
            }
        }
    }

    /// Row `i` as f32 values.
    pub fn row_f32(&self, i: usize, dim: usize) -> std::borrow::Cow<'a, [f32]> {
        let range = i * dim..(i + 1) * dim;
        match *self {
            Rows::F32(v) => std::borrow::Cow::Borrowed(&v[range]),
            Rows::F16(v) => std::borrow::Cow::Owned(v[range].to_f32_vec()),
        }
    }

    /// Index of the first non-finite value among rows `rows` (each `dim` long), if any.
    pub fn first_non_finite(&self, rows: impl Iterator<Item = usize>, dim: usize) -> Option<usize> {
        for r in rows {
            let range = r * dim..(r + 1) * dim;
            let bad = match self {
                Rows::F32(v) => v[range].iter().any(|x| !x.is_finite()),
                Rows::F16(v) => v[range].iter().any(|x| !x.is_finite()),
            };
            if bad {
                return Some(r);
            }
        }
        None
    }
}
