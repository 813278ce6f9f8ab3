//! Cosine top-k over a set of L2-normalised embeddings: one matrix product for a batch of
//! queries on the chosen device, or the fused exact CPU scan of [`crate::index::exact`].

use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::index::exact::{ScanError, top_k_exact};
pub use crate::index::hit::{Hit, sort_hits};
use crate::index::rows::Rows;
use crate::model::{float_to_vec, int_to_vec, tensor_from_vec};

pub(crate) fn check(queries: &[f32], base: &[f32], dim: usize) -> Result<()> {
    if dim == 0 || !queries.len().is_multiple_of(dim) || !base.len().is_multiple_of(dim) {
        return Err(Error::Internal(format!(
            "embedding sizes {} and {} are not multiples of the dimension {dim}",
            queries.len(),
            base.len()
        )));
    }
    Ok(())
}

/// Exact top-k on the CPU (blocked, parallel, fused score + select: see
/// [`crate::index::exact`]). Scores are dot products; ties keep the lower index.
///
/// - `queries`: `[Q, dim]`, `base`: `[N, dim]` row-major
/// - returns Q lists of `min(k, N)` hits, best first
pub fn top_k_cpu(queries: &[f32], base: &[f32], dim: usize, k: usize) -> Result<Vec<Vec<Hit>>> {
    check(queries, base, dim)?;
    top_k_exact(queries, Rows::F32(base), dim, k).map_err(|e| scan_error(e, "the search base"))
}

/// The error for a failed scan of `what` (a description naming the data).
pub fn scan_error(e: ScanError, what: &str) -> Error {
    match e {
        ScanError::NonFiniteQuery(q) => {
            Error::InvalidRequest(format!("query {q} holds NaN/infinite values"))
        }
        ScanError::NonFiniteRow(r) => Error::InvalidRequest(format!(
            "{what}: row {r} holds NaN/infinite values (its scores are not finite)"
        )),
    }
}

/// Dot product.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A search base uploaded once to a device, for repeated queries.
pub struct DeviceIndex {
    /// `[D, N]` (transposed so a query batch is one matmul).
    base_t: Tensor<2>,
    n: usize,
    dim: usize,
    device: Device,
}

impl DeviceIndex {
    /// Uploads `base` `[N, dim]`.
    pub fn new(base: &[f32], dim: usize, device: &Device) -> Result<Self> {
        check(&[], base, dim)?;
        let n = base.len() / dim;
        let base_t = tensor_from_vec(base.to_vec(), [n, dim], device).transpose();
        Ok(DeviceIndex {
            base_t,
            n,
            dim,
            device: device.clone(),
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the index holds no rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Top-k for a batch of queries `[Q, dim]`: one `[Q, dim] x [dim, N]` product and a
    /// device top-k; only `Q x k` scores and indices come back to the host.
    pub fn top_k(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>> {
        check(queries, &[], self.dim)?;
        let q = queries.len() / self.dim;
        let k = k.min(self.n);
        if q == 0 || k == 0 {
            return Ok(vec![Vec::new(); q]);
        }
        let queries = tensor_from_vec(queries.to_vec(), [q, self.dim], &self.device);
        let scores = queries.matmul(self.base_t.clone()); // [Q, N]
        let (values, indices) = scores.topk_with_indices(k, 1); // [Q, k]
        let values = float_to_vec(values);
        let indices = int_to_vec(indices);
        let mut out = Vec::with_capacity(q);
        for row in 0..q {
            let mut hits: Vec<Hit> = (0..k)
                .map(|j| Hit {
                    index: indices[row * k + j] as usize,
                    score: values[row * k + j],
                })
                .collect();
            sort_hits(&mut hits);
            out.push(hits);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn normalized(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..rows * dim)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 1.0
            })
            .collect();
        crate::index::l2_normalize_rows(&mut v, dim);
        v
    }

    fn brute(queries: &[f32], base: &[f32], dim: usize, k: usize) -> Vec<Vec<usize>> {
        queries
            .chunks_exact(dim)
            .map(|q| {
                let mut all: Vec<Hit> = base
                    .chunks_exact(dim)
                    .enumerate()
                    .map(|(index, row)| Hit {
                        index,
                        score: dot(q, row),
                    })
                    .collect();
                sort_hits(&mut all);
                all.truncate(k);
                all.iter().map(|h| h.index).collect()
            })
            .collect()
    }

    proptest! {
        #[test]
        fn cpu_top_k_matches_full_sort_up_to_float_error(n in 1usize..200, q in 1usize..5, dim in 1usize..16, k in 0usize..20, seed in 0u64..1000) {
            // Random floats: the blocked product sums in another order than `dot`, so ids may
            // differ only between rows whose scores agree to float error (exact ties and
            // integer data are checked in `index::exact`).
            let base = normalized(n, dim, seed);
            let queries = normalized(q, dim, seed + 7);
            let hits = top_k_cpu(&queries, &base, dim, k).unwrap();
            let expected = brute(&queries, &base, dim, k);
            for ((h, e), qv) in hits.iter().zip(expected).zip(queries.chunks_exact(dim)) {
                prop_assert_eq!(h.len(), e.len());
                for (a, &want) in h.iter().zip(&e) {
                    let want_score = dot(qv, &base[want * dim..(want + 1) * dim]);
                    prop_assert!(a.index == want || (a.score - want_score).abs() < 1e-5);
                    prop_assert!((a.score - dot(qv, &base[a.index * dim..(a.index + 1) * dim])).abs() < 1e-5);
                }
            }
        }

        #[test]
        fn device_top_k_matches_cpu_scores(n in 1usize..120, q in 1usize..4, dim in 1usize..12, k in 1usize..10, seed in 0u64..1000) {
            let base = normalized(n, dim, seed);
            let queries = normalized(q, dim, seed + 3);
            let index = DeviceIndex::new(&base, dim, &Device::flex()).unwrap();
            let device_hits = index.top_k(&queries, k).unwrap();
            let cpu_hits = top_k_cpu(&queries, &base, dim, k).unwrap();
            let expected = brute(&queries, &base, dim, k);
            let per_query = device_hits.iter().zip(&cpu_hits).zip(&expected).zip(queries.chunks_exact(dim));
            for (((d, c), e), q) in per_query {
                prop_assert_eq!(d.len(), c.len());
                for ((a, b), &want) in d.iter().zip(c).zip(e) {
                    prop_assert!((a.score - b.score).abs() < 1e-5, "{} vs {}", a.score, b.score);
                    // The brute-force id, unless that item ties with it to within float error.
                    let want_score = dot(q, &base[want * dim..(want + 1) * dim]);
                    prop_assert!(
                        a.index == want || (a.score - want_score).abs() < 1e-5,
                        "device id {} (score {}) where brute force has {} (score {})",
                        a.index, a.score, want, want_score
                    );
                }
            }
        }
    }

    #[test]
    fn mismatched_dimensions_are_refused() {
        let err = top_k_cpu(&[1.0, 0.0, 0.0], &[1.0, 0.0], 2, 1).unwrap_err();
        assert!(err.to_string().contains("dimension 2"), "{err}");
    }
}
