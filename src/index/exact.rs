//! Exact top-k on the CPU, fused score + select: the base rows are cut into chunks scanned in
//! parallel (rayon); each chunk is scored a block at a time against all queries with one
//! matrix product (`[Q, dim] x [dim, B]`, see [`crate::index::gemm`]) and every query keeps
//! its best k in a bounded heap, so the full `Q x N` score matrix never exists. f16 rows are
//! decoded one block at a time. Ties keep the lower row index; results come best first.

use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::index::gemm::gemm;
use crate::index::hit::{Hit, better, sort_hits};
use crate::index::rows::Rows;

/// Scores per block (`queries x rows`): 256 KiB of f32, so a block stays in cache.
const BLOCK_SCORES: usize = 64 * 1024;
/// Rows scored by one matrix product, at most.
const MAX_BLOCK_ROWS: usize = 1024;
/// Rows scored by one matrix product, at least (many queries).
const MIN_BLOCK_ROWS: usize = 64;
/// Queries scored together; larger batches are searched a tile at a time.
const QUERY_TILE: usize = 256;
/// Rows one parallel task scans.
const CHUNK_ROWS: usize = 8 * 1024;

/// Why a scan stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanError {
    /// Query (0-based) holding NaN/infinite values.
    NonFiniteQuery(usize),
    /// Base row whose scores are NaN/infinite: it holds NaN/infinite (or overflowing) values.
    NonFiniteRow(usize),
}

/// Exact top-k of every query.
///
/// - `queries`: `[Q, dim]` row-major f32; `rows`: `[N, dim]` (f32 or f16)
/// - returns Q lists of `min(k, N)` hits, best first, ties by lower index
///
/// Every score computed is checked: a base row with a NaN/infinite value gives a non-finite
/// score against any finite query, so the scan reports it instead of ranking it.
///
/// Callers check `dim > 0` and that both lengths are multiples of `dim` (the public fronts
/// are [`crate::index::search::top_k_cpu`] and [`crate::index::ExactIndex`]).
pub(crate) fn top_k_exact(
    queries: &[f32],
    rows: Rows<'_>,
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<Hit>>, ScanError> {
    debug_assert!(
        dim > 0 && queries.len().is_multiple_of(dim) && rows.len_values().is_multiple_of(dim)
    );
    if let Some(bad) = queries
        .chunks_exact(dim)
        .position(|q| q.iter().any(|v| !v.is_finite()))
    {
        return Err(ScanError::NonFiniteQuery(bad));
    }
    let n = rows.len_values() / dim;
    let k = k.min(n);
    let q_total = queries.len() / dim;
    if k == 0 {
        return Ok(vec![Vec::new(); q_total]);
    }
    let mut out = Vec::with_capacity(q_total);
    for tile in queries.chunks(QUERY_TILE * dim) {
        out.extend(top_k_tile(tile, rows, dim, n, k)?);
    }
    Ok(out)
}

/// One tile of at most [`QUERY_TILE`] queries against all `n` rows (`k >= 1`).
fn top_k_tile(
    queries: &[f32],
    rows: Rows<'_>,
    dim: usize,
    n: usize,
    k: usize,
) -> Result<Vec<Vec<Hit>>, ScanError> {
    let q = queries.len() / dim;
    let block_rows = (BLOCK_SCORES / q.max(1)).clamp(MIN_BLOCK_ROWS, MAX_BLOCK_ROWS);
    let chunk_rows = CHUNK_ROWS.max(block_rows);
    let n_chunks = n.div_ceil(chunk_rows);
    let per_chunk: Vec<Vec<Vec<Hit>>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let start = c * chunk_rows;
            let end = (start + chunk_rows).min(n);
            scan_chunk(queries, rows, dim, start..end, block_rows, k)
        })
        .collect::<Result<_, _>>()?;
    // Merge: every chunk's best k per query, then the best k of those.
    let mut merged: Vec<Vec<Hit>> = vec![Vec::with_capacity(k * n_chunks); q];
    for chunk in per_chunk {
        for (all, hits) in merged.iter_mut().zip(chunk) {
            all.extend(hits);
        }
    }
    for hits in &mut merged {
        sort_hits(hits);
        hits.truncate(k);
    }
    Ok(merged)
}

/// Best k of rows `range` for each query.
fn scan_chunk(
    queries: &[f32],
    rows: Rows<'_>,
    dim: usize,
    range: std::ops::Range<usize>,
    block_rows: usize,
    k: usize,
) -> Result<Vec<Vec<Hit>>, ScanError> {
    let q = queries.len() / dim;
    let mut best: Vec<Best> = (0..q).map(|_| Best::new(k)).collect();
    let mut scores = vec![0f32; q * block_rows];
    let mut scratch = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let count = block_rows.min(range.end - start);
        let block = rows.block_f32(start, count, dim, &mut scratch);
        let scores = &mut scores[..q * count];
        // scores[Q, count] = queries[Q, dim] . block^T (block is [count, dim] row-major).
        gemm((q, dim, count), (queries, dim, 1), (block, 1, dim), scores);
        // A non-finite row scores non-finite against every finite query: checking the first
        // query's scores checks every row of the block.
        if let Some(j) = scores[..count].iter().position(|s| !s.is_finite()) {
            return Err(ScanError::NonFiniteRow(start + j));
        }
        for (b, row_scores) in best.iter_mut().zip(scores.chunks_exact(count)) {
            b.offer(row_scores, start);
        }
        start += count;
    }
    Ok(best.into_iter().map(Best::into_sorted).collect())
}

/// The best k hits seen so far for one query, fed rows in increasing index order.
struct Best {
    k: usize,
    heap: BinaryHeap<Worst>,
    /// Score a new row must beat once the heap is full (ties lose: their index is higher).
    threshold: f32,
}

impl Best {
    fn new(k: usize) -> Self {
        Best {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            threshold: f32::NEG_INFINITY,
        }
    }

    /// Offers the scores of rows `first_index..`.
    fn offer(&mut self, scores: &[f32], first_index: usize) {
        // Fill the heap, then only scores above the threshold reach it (the common case is
        // one comparison per score).
        let mut j = 0;
        while self.heap.len() < self.k && j < scores.len() {
            self.push(Hit {
                index: first_index + j,
                score: scores[j],
            });
            j += 1;
        }
        let mut threshold = self.threshold;
        for (offset, &score) in scores[j..].iter().enumerate() {
            if score > threshold {
                self.push(Hit {
                    index: first_index + j + offset,
                    score,
                });
                threshold = self.threshold;
            }
        }
    }

    fn push(&mut self, hit: Hit) {
        if self.heap.len() < self.k {
            self.heap.push(Worst(hit));
        } else if let Some(worst) = self.heap.peek()
            && better(hit.score, hit.index, worst.0.score, worst.0.index)
        {
            self.heap.pop();
            self.heap.push(Worst(hit));
        }
        if self.heap.len() == self.k
            && let Some(worst) = self.heap.peek()
        {
            self.threshold = worst.0.score;
        }
    }

    fn into_sorted(self) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        sort_hits(&mut hits);
        hits
    }
}

/// Heap entry whose maximum is the worst hit.
#[derive(PartialEq)]
struct Worst(Hit);
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if better(self.0.score, self.0.index, other.0.score, other.0.index) {
            std::cmp::Ordering::Less
        } else if better(other.0.score, other.0.index, self.0.score, self.0.index) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    }
}

#[cfg(test)]
mod tests {
    use half::f16;
    use proptest::prelude::*;

    use super::*;

    /// Values in {-2, -1, 0, 1, 2}: every dot product is a small integer, exact in any
    /// summation order, and ties are frequent.
    fn grid(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
        (0..rows * dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 5) as f32 - 2.0
            })
            .collect()
    }

    /// Independent reference: every score, a full sort (score descending, index ascending).
    fn brute(queries: &[f32], base: &[f32], dim: usize, k: usize) -> Vec<Vec<(usize, f32)>> {
        queries
            .chunks_exact(dim)
            .map(|q| {
                let mut all: Vec<(usize, f32)> = base
                    .chunks_exact(dim)
                    .enumerate()
                    .map(|(i, r)| (i, q.iter().zip(r).map(|(a, b)| a * b).sum()))
                    .collect();
                // partial_cmp: -0.0 and 0.0 are the same score.
                all.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
                all.truncate(k);
                all
            })
            .collect()
    }

    fn as_pairs(hits: &[Vec<Hit>]) -> Vec<Vec<(usize, f32)>> {
        hits.iter()
            .map(|h| h.iter().map(|x| (x.index, x.score)).collect())
            .collect()
    }

    fn to_f16(v: &[f32]) -> Vec<f16> {
        v.iter().map(|&x| f16::from_f32(x)).collect()
    }

    proptest! {
        #[test]
        fn equals_brute_force_with_ties_f32_and_f16(
            n in 1usize..2500, q in 1usize..6, dim in 1usize..12, k in 0usize..40, seed in 0u64..1000
        ) {
            let base = grid(n, dim, seed);
            let queries = grid(q, dim, seed + 11);
            let want = brute(&queries, &base, dim, k);
            let got = top_k_exact(&queries, Rows::F32(&base), dim, k).unwrap();
            prop_assert_eq!(as_pairs(&got), want.clone());
            let half = to_f16(&base);
            let got16 = top_k_exact(&queries, Rows::F16(&half), dim, k).unwrap();
            prop_assert_eq!(as_pairs(&got16), want);
        }
    }

    #[test]
    fn many_chunks_and_query_tiles_equal_brute_force() {
        // More rows than one chunk and more queries than one tile; k larger than N too.
        let (n, q, dim) = (CHUNK_ROWS * 2 + 37, QUERY_TILE + 5, 6);
        let base = grid(n, dim, 3);
        let queries = grid(q, dim, 4);
        for k in [1, 9, n + 10] {
            let got = top_k_exact(&queries, Rows::F32(&base), dim, k).unwrap();
            assert_eq!(got.len(), q);
            // Not assert_eq: the lists are long.
            assert!(as_pairs(&got) == brute(&queries, &base, dim, k), "k = {k}");
        }
    }

    #[test]
    fn duplicate_rows_keep_the_lower_index_first() {
        let base = [1.0, 0.0, 0.5, 0.5, 1.0, 0.0, 1.0, 0.0];
        let got = top_k_exact(&[1.0, 0.0], Rows::F32(&base), 2, 3).unwrap();
        let ids: Vec<usize> = got[0].iter().map(|h| h.index).collect();
        assert_eq!(ids, [0, 2, 3]);
    }

    #[test]
    fn non_finite_rows_and_queries_are_reported() {
        let mut base = grid(3000, 4, 1);
        base[2345 * 4 + 2] = f32::NAN;
        let err = top_k_exact(&grid(2, 4, 2), Rows::F32(&base), 4, 5).unwrap_err();
        assert_eq!(err, ScanError::NonFiniteRow(2345));
        base[2345 * 4 + 2] = f32::INFINITY;
        let err = top_k_exact(&[0.0; 4], Rows::F32(&base), 4, 5).unwrap_err();
        assert_eq!(err, ScanError::NonFiniteRow(2345));
        let err = top_k_exact(&[1.0, 0.0, 0.0, f32::NAN], Rows::F32(&base[..8]), 4, 1);
        assert_eq!(err.unwrap_err(), ScanError::NonFiniteQuery(0));
    }
}
