//! An approximate [`GalleryIndex`]: a hierarchical navigable small-world graph (HNSW, Malkov &
//! Yashunin) built by the `instant-distance` crate over the gallery's unit rows.
//!
//! Why that crate: it is pure Rust with four small dependencies that this project already
//! builds (rand 0.8, rayon, parking_lot, num_cpus; plus ordered-float 3), builds the graph in
//! parallel with rayon and lets us supply the distance (an 8-lane dot product). `hnsw_rs` was
//! tried first and rejected: it pulls `nix`, `mmap-rs`, `jiff` and a libc feature change that
//! rebuilds every crate depending on libc (burn and wgpu included); `usearch` is C++.
//!
//! Departures from the [`GalleryIndex`] contract: the hits are the best of the graph's
//! candidates, not necessarily the true top k (recall@10 against [`crate::index::ExactIndex`] is
//! measured by the bench and floored by a test); at most [`HnswSettings::ef_search`] hits come
//! back per query. Scores are the exact dot products of the returned rows, best first, ties by
//! lower row index.

use instant_distance::{Builder, HnswMap, Point, Search};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::index::gallery_index::GalleryIndex;
use crate::index::hit::{Hit, sort_hits};
use crate::index::rows::Rows;
use crate::index::search::check;

/// Graph build and search settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HnswSettings {
    /// Candidates kept while inserting a row (larger: better graph, slower build).
    pub ef_construction: usize,
    /// Candidates kept while searching; also the most hits one query returns.
    pub ef_search: usize,
    /// Seed of the level draw (the parallel build may still order insertions differently).
    pub seed: u64,
}

/// Default [`HnswSettings::ef_construction`].
pub const DEFAULT_EF_CONSTRUCTION: usize = 100;
/// Default [`HnswSettings::ef_search`].
pub const DEFAULT_EF_SEARCH: usize = 100;

impl Default for HnswSettings {
    fn default() -> Self {
        HnswSettings {
            ef_construction: DEFAULT_EF_CONSTRUCTION,
            ef_search: DEFAULT_EF_SEARCH,
            seed: 0x5eed_4a55,
        }
    }
}

/// Lanes of the dot product's independent partial sums (lets the compiler use SIMD).
const DOT_LANES: usize = 8;

/// Dot product of two equal-length rows, summed in [`DOT_LANES`] partial sums.
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; DOT_LANES];
    let (ca, cb) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..DOT_LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// One unit row as a graph point; distance `1 - cosine`.
#[derive(Clone, Debug)]
struct UnitRow(Box<[f32]>);

impl Point for UnitRow {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot_lanes(&self.0, &other.0)
    }
}

/// An HNSW graph over `[N, dim]` unit rows (which it copies as f32).
pub struct HnswIndex {
    map: HnswMap<UnitRow, u32>,
    len: usize,
    dim: usize,
    settings: HnswSettings,
}

impl HnswIndex {
    /// Builds the graph over `rows` `[N, dim]` (in parallel on the rayon pool).
    pub fn build(rows: Rows<'_>, dim: usize, settings: HnswSettings) -> Result<Self> {
        let values = rows.len_values();
        if dim == 0 || !values.is_multiple_of(dim) {
            return Err(Error::Internal(format!(
                "{values} embedding values are not a whole number of rows of dimension {dim}"
            )));
        }
        let len = values / dim;
        if len >= u32::MAX as usize {
            return Err(Error::InvalidRequest(format!(
                "{len} rows: the approximate index holds fewer than {} rows",
                u32::MAX
            )));
        }
        if settings.ef_search == 0 || settings.ef_construction == 0 {
            return Err(Error::Internal(
                "ef_search and ef_construction must be at least 1".into(),
            ));
        }
        if let Some(row) = rows.first_non_finite(0..len, dim) {
            return Err(Error::InvalidRequest(format!(
                "row {row} holds NaN/infinite values; the approximate index needs finite rows"
            )));
        }
        let points: Vec<UnitRow> = (0..len)
            .into_par_iter()
            .map(|i| UnitRow(rows.row_f32(i, dim).into_owned().into_boxed_slice()))
            .collect();
        let ids: Vec<u32> = (0..len as u32).collect();
        let map = Builder::default()
            .ef_construction(settings.ef_construction)
            .ef_search(settings.ef_search)
            .seed(settings.seed)
            .build(points, ids);
        Ok(HnswIndex {
            map,
            len,
            dim,
            settings,
        })
    }

    /// The settings the graph was built with.
    pub fn settings(&self) -> HnswSettings {
        self.settings
    }
}

impl GalleryIndex for HnswIndex {
    fn len(&self) -> usize {
        self.len
    }

    fn dim(&self) -> usize {
        self.dim
    }

    /// Approximate top-k (see the module docs); `k` may not exceed `ef_search`.
    fn top_k(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>> {
        check(queries, &[], self.dim)?;
        if k > self.settings.ef_search {
            return Err(Error::InvalidRequest(format!(
                "-k {k}: the approximate index returns at most {} hits per query (its ef_search); \
                 ask for fewer or use the exact index",
                self.settings.ef_search
            )));
        }
        if let Some(q) = queries
            .chunks_exact(self.dim)
            .position(|r| r.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::InvalidRequest(format!(
                "query {q} holds NaN/infinite values"
            )));
        }
        Ok(queries
            .par_chunks_exact(self.dim)
            .map_init(Search::default, |search, q| {
                let point = UnitRow(q.into());
                let mut hits: Vec<Hit> = self
                    .map
                    .search(&point, search)
                    .map(|item| Hit {
                        index: *item.value as usize,
                        score: dot_lanes(q, &item.point.0),
                    })
                    .collect();
                sort_hits(&mut hits);
                hits.truncate(k.min(self.len));
                hits
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ExactIndex;
    use rand::{Rng as _, SeedableRng as _};

    fn random_unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v: Vec<f32> = (0..n * dim)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        crate::index::l2_normalize_rows(&mut v, dim);
        v
    }

    /// Recall@10 of the graph against the exact scan on 2k random unit rows of dimension 32
    /// (the hardest case for a graph: no clusters to follow) stays above a floor; the exact
    /// scores of the rows it returns come back best first. (Small, with small ef: the graph
    /// code is generic, so it compiles at this crate's opt-level 0 in tests; 5k x 64 with the
    /// default ef took minutes.)
    #[test]
    fn recall_at_10_against_the_exact_index_stays_above_the_floor() {
        let (n, dim, q, k) = (2_000, 32, 100, 10);
        let settings = HnswSettings {
            ef_construction: 40,
            ef_search: 40,
            ..HnswSettings::default()
        };
        let rows = random_unit_rows(n, dim, 7);
        let queries = random_unit_rows(q, dim, 8);
        let exact = ExactIndex::new(Rows::F32(&rows), dim)
            .unwrap()
            .top_k(&queries, k)
            .unwrap();
        let hnsw = HnswIndex::build(Rows::F32(&rows), dim, settings).unwrap();
        assert_eq!((hnsw.len(), hnsw.dim()), (n, dim));
        let approx = hnsw.top_k(&queries, k).unwrap();
        let found: usize = approx
            .iter()
            .zip(&exact)
            .map(|(a, e)| {
                a.iter()
                    .filter(|h| e.iter().any(|x| x.index == h.index))
                    .count()
            })
            .sum();
        let recall = found as f64 / (q * k) as f64;
        assert!(recall >= 0.9, "recall@10 {recall}");
        for (qi, hits) in approx.iter().enumerate() {
            assert_eq!(hits.len(), k);
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
            let query = &queries[qi * dim..(qi + 1) * dim];
            for h in hits {
                let row = &rows[h.index * dim..(h.index + 1) * dim];
                assert_eq!(h.score, dot_lanes(query, row), "the exact score of the row");
            }
        }
        // A query equal to a stored row finds that row first.
        let probe = &rows[123 * dim..124 * dim];
        assert_eq!(hnsw.top_k(probe, 1).unwrap()[0][0].index, 123);
    }

    #[test]
    fn too_many_hits_and_bad_rows_are_refused() {
        let rows = random_unit_rows(50, 8, 1);
        let settings = HnswSettings {
            ef_search: 16,
            ..HnswSettings::default()
        };
        let hnsw = HnswIndex::build(Rows::F32(&rows), 8, settings).unwrap();
        let err = hnsw.top_k(&rows[..8], 17).unwrap_err().to_string();
        assert!(err.contains("at most 16"), "{err}");
        assert_eq!(hnsw.top_k(&rows[..8], 16).unwrap()[0].len(), 16);
        let mut bad = rows.clone();
        bad[8 * 3] = f32::NAN;
        let err = HnswIndex::build(Rows::F32(&bad), 8, settings)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("row 3"), "{err}");
        assert!(HnswIndex::build(Rows::F32(&rows[..7]), 8, settings).is_err());
    }
}
