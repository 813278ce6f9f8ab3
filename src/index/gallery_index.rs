//! What a searchable gallery is: [`GalleryIndex`], and the exact in-memory (or memory-mapped)
//! implementation behind it, [`ExactIndex`]. The approximate implementation, an HNSW graph, is
//! [`crate::index::HnswIndex`] (`transference search --approx`).
//!
//! # A store larger than one machine
//!
//! Everything that searches (the CLI's `search`, evaluation, the pipeline's neighbours) only
//! needs `len`, `dim` and a batched `top_k`, so a gallery that outgrows one machine's disk or
//! memory would sit behind this trait as a client of a vector database rather than as code of
//! ours: a `LanceDbIndex` holding a LanceDB table (its IVF-PQ or flat index on the embedding
//! column, rows keyed by the gallery row index) or a `QdrantIndex` holding a Qdrant collection
//! (points whose id is the row index, cosine distance), each turning `top_k` into one batched
//! query call and mapping the returned ids and scores to [`Hit`]s. Sharding, replication and
//! approximate-index tuning stay the database's job; this crate keeps no distributed code.
//! Such an implementation must keep the contract below (best first, ties by lower index,
//! scores as cosine similarity) or document where its approximation departs from it.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::index::exact::{ScanError, top_k_exact};
use crate::index::rows::Rows;
use crate::index::search::{DeviceIndex, Hit, check, scan_error};

/// A searchable set of `[N, dim]` L2-normalised embeddings.
pub trait GalleryIndex {
    /// Number of rows N.
    fn len(&self) -> usize;

    /// True when the index holds no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Embedding dimension.
    fn dim(&self) -> usize;

    /// Top-k rows of each query by dot product (cosine for unit rows).
    ///
    /// - `queries`: `[Q, dim]` row-major
    /// - returns Q lists of `min(k, N)` hits, best first, ties by lower row index
    fn top_k(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>>;
}

/// Exact search over borrowed rows (a `Vec`, or a memory-mapped gallery file), f32 or f16.
#[derive(Clone, Copy, Debug)]
pub struct ExactIndex<'a> {
    rows: Rows<'a>,
    dim: usize,
    /// File and tensor the rows come from, named in errors.
    source: Option<(&'a std::path::Path, &'a str)>,
}

impl<'a> ExactIndex<'a> {
    /// Rows `[N, dim]`.
    pub fn new(rows: Rows<'a>, dim: usize) -> Result<Self> {
        let len = rows.len_values();
        if dim == 0 || !len.is_multiple_of(dim) {
            return Err(Error::Internal(format!(
                "{len} embedding values are not a whole number of rows of dimension {dim}"
            )));
        }
        Ok(ExactIndex {
            rows,
            dim,
            source: None,
        })
    }

    /// Names the file and tensor the rows come from, for error messages.
    pub fn with_source(mut self, path: &'a std::path::Path, tensor: &'a str) -> Self {
        self.source = Some((path, tensor));
        self
    }

    fn error(&self, e: ScanError) -> Error {
        match (e, self.source) {
            (ScanError::NonFiniteRow(row), Some((path, tensor))) => Error::Gallery {
                path: PathBuf::from(path),
                reason: format!("tensor `{tensor}` row {row} holds NaN/infinite values"),
            },
            _ => scan_error(e, "the gallery"),
        }
    }
}

impl GalleryIndex for ExactIndex<'_> {
    fn len(&self) -> usize {
        self.rows.len_values() / self.dim
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn top_k(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>> {
        check(queries, &[], self.dim)?;
        top_k_exact(queries, self.rows, self.dim, k).map_err(|e| self.error(e))
    }
}

impl GalleryIndex for DeviceIndex {
    fn len(&self) -> usize {
        DeviceIndex::len(self)
    }

    fn dim(&self) -> usize {
        DeviceIndex::dim(self)
    }

    fn top_k(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>> {
        DeviceIndex::top_k(self, queries, k)
    }
}
