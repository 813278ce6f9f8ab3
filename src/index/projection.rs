//! Non-linear 2-D maps of the gallery: t-SNE (Barnes-Hut, the `bhtsne` crate) and UMAP (the
//! `umap-rs` crate's graph), beside the instant PCA of [`crate::index::pca`]. Both take the gallery
//! embeddings as plain data — `[N, D]` row-major, L2-normalised f32 — and return one `[x, y]`
//! per row, in row order. Both report progress through a callback that can stop them, with an
//! intermediate layout every [`SNAPSHOT_EVERY_EPOCHS`] epochs (both crates allow it: `bhtsne`
//! through its epoch callback, `umap-rs` by stepping its optimizer a few epochs at a time).
//!
//! Neighbours are found once, exactly, by a blocked matrix product (cosine similarity of unit
//! rows; Euclidean distance `sqrt(2 - 2 cos)`), and handed to both crates, so neither runs its
//! own neighbour search. That product costs `N² · D` multiply-adds, hence the limit
//! [`MAX_PROJECTION_POINTS`].
//!
//! Determinism: t-SNE starts from a Gaussian layout drawn from [`TsneParams::seed`] and is the
//! same for the same seed and data. UMAP starts from the (deterministic) PCA layout, but
//! `umap-rs` draws its negative samples from a thread-local generator and updates in parallel
//! (Hogwild), so two UMAP runs give different, equally valid, layouts; it takes no seed.
//!
//! New inputs are placed on a non-linear map by [`place_by_neighbours`].

use std::panic::AssertUnwindSafe;

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most gallery items a t-SNE or UMAP map is computed for. The exact neighbour search costs
/// `N² · D` multiply-adds (100,000 × 256-d: 2.6 T); measured in release on two cores, 100k
/// clustered points take 68 s for the neighbours, 152 s for the whole t-SNE on both cores and
/// 99 s for UMAP (`cargo bench --bench throughput -- --maps-only --maps-100k`). A larger gallery
/// is refused with a message, not subsampled, so every point on the map is a real item.
pub const MAX_PROJECTION_POINTS: usize = 100_000;
/// Fewest gallery items a non-linear map is computed for.
pub const MIN_PROJECTION_POINTS: usize = 5;
/// An intermediate layout is reported every this many epochs.
pub const SNAPSHOT_EVERY_EPOCHS: usize = 10;
/// Gallery neighbours that place a new input on a non-linear map (see [`place_by_neighbours`]).
pub const PLACEMENT_NEIGHBOURS: usize = 10;

/// Which 2-D map of the gallery the window shows.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Projection {
    /// Principal components: linear, instant, computed when the model loads.
    #[default]
    Pca,
    /// t-SNE (Barnes-Hut): local neighbourhoods, computed in the background.
    Tsne,
    /// UMAP: local neighbourhoods with more global shape, computed in the background.
    Umap,
}

impl Projection {
    pub const ALL: [Projection; 3] = [Projection::Pca, Projection::Tsne, Projection::Umap];

    /// Display name ("PCA", "t-SNE", "UMAP").
    pub fn name(self) -> &'static str {
        match self {
            Projection::Pca => "PCA",
            Projection::Tsne => "t-SNE",
            Projection::Umap => "UMAP",
        }
    }

    /// Whether the map is linear (inputs are projected, not placed by neighbours).
    pub fn is_linear(self) -> bool {
        self == Projection::Pca
    }
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// t-SNE settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TsneParams {
    /// Effective number of neighbours (the crate needs `N - 1 >= 3 · perplexity`; see
    /// [`TsneParams::effective_perplexity`]).
    pub perplexity: f32,
    pub epochs: usize,
    /// Barnes-Hut accuracy (0 < theta; smaller is slower and more exact).
    pub theta: f32,
    /// Seed of the initial layout.
    pub seed: u64,
    /// Threads the fit runs on (0: all cores). The layout is the same for the same seed only
    /// with one thread: the crate sums forces in parallel in an order that varies run to run.
    /// One thread also leaves the other cores to analyses.
    pub threads: usize,
    /// Most rows fitted (default [`MAX_PROJECTION_POINTS`], what the window uses); more are
    /// refused. The bench raises it to time larger maps.
    pub max_points: usize,
}

impl Default for TsneParams {
    fn default() -> Self {
        TsneParams {
            perplexity: 30.0,
            epochs: 750,
            theta: 0.5,
            seed: 0,
            threads: 1,
            max_points: MAX_PROJECTION_POINTS,
        }
    }
}

impl TsneParams {
    /// The perplexity used for `n` points: the asked one, lowered to `(n - 1) / 3` for small
    /// galleries (the crate's limit), at least 1.
    pub fn effective_perplexity(&self, n: usize) -> f32 {
        let cap = (n.saturating_sub(1) / 3) as f32;
        self.perplexity.min(cap).max(1.0)
    }
}

/// UMAP settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UmapParams {
    /// Neighbours of the fuzzy graph (at least 2; lowered to `N - 1` for small galleries).
    pub neighbours: usize,
    pub epochs: usize,
    /// Smallest distance between points in the layout (0 ≤ min_dist ≤ 1).
    pub min_dist: f32,
    /// Seed of the negative sampling.
    pub seed: u64,
    /// Most rows fitted, as [`TsneParams::max_points`].
    pub max_points: usize,
}

impl Default for UmapParams {
    fn default() -> Self {
        UmapParams {
            neighbours: 15,
            epochs: 200,
            min_dist: 0.1,
            seed: 0,
            max_points: MAX_PROJECTION_POINTS,
        }
    }
}

impl UmapParams {
    /// Neighbours used for `n` points.
    pub fn effective_neighbours(&self, n: usize) -> usize {
        self.neighbours.min(n.saturating_sub(1)).max(2)
    }
}

/// How far a layout has got.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutProgress {
    /// 0..1.
    pub fraction: f32,
    /// The layout so far, when this step has one.
    pub xy: Option<Vec<[f32; 2]>>,
}

/// What a progress callback answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Marker unwound out of `bhtsne`'s epoch callback to stop a fit (the crate has no stop hook).
/// Raised with `resume_unwind`, so no panic message is printed, and caught in [`tsne_layout`].
struct StopFit;

fn check_rows(rows: &[f32], dim: usize, max_points: usize) -> Result<usize> {
    if dim == 0 || !rows.len().is_multiple_of(dim) {
        return Err(Error::Internal(format!(
            "gallery embeddings: {} values is not a whole number of {dim}-d rows",
            rows.len()
        )));
    }
    let n = rows.len() / dim;
    if n < MIN_PROJECTION_POINTS {
        return Err(Error::InvalidRequest(format!(
            "a t-SNE or UMAP map needs at least {MIN_PROJECTION_POINTS} gallery items; this gallery has {n}"
        )));
    }
    if n > max_points {
        return Err(Error::InvalidRequest(format!(
            "a t-SNE or UMAP map is computed for at most {max_points} gallery items; this gallery has {n} (use PCA)"
        )));
    }
    if rows.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidRequest(
            "gallery embeddings hold a non-finite value".into(),
        ));
    }
    Ok(n)
}

/// Exact `k` nearest neighbours of every row among the others (itself excluded), nearest
/// first, ties by index. `rows`: `[N, D]` row-major, unit rows. Returns `[N, k]` indices and
/// Euclidean distances (`sqrt(2 - 2 cos)`), row-major. Needs `k < N`.
pub fn nearest_neighbours(rows: &[f32], dim: usize, k: usize) -> (Vec<u32>, Vec<f32>) {
    /// Rows whose similarities are computed in one matrix product.
    const BLOCK_ROWS: usize = 128;
    let n = rows.len() / dim;
    let blocks: Vec<(Vec<u32>, Vec<f32>)> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let start = b * BLOCK_ROWS;
            let m = BLOCK_ROWS.min(n - start);
            let mut sims = vec![0.0f32; m * n];
            crate::index::gemm::gemm(
                (m, dim, n),
                (&rows[start * dim..(start + m) * dim], dim, 1),
                (rows, 1, dim),
                &mut sims,
            );
            let mut idx = Vec::with_capacity(m * k);
            let mut dist = Vec::with_capacity(m * k);
            let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
            for (r, row) in sims.chunks_exact(n).enumerate() {
                best.clear();
                let me = start + r;
                for (j, &s) in row.iter().enumerate() {
                    if j == me || (best.len() == k && s <= best[k - 1].0) {
                        continue;
                    }
                    let at = best.partition_point(|&(bs, _)| bs >= s);
                    best.insert(at, (s, j as u32));
                    best.truncate(k);
                }
                for &(s, j) in &best {
                    idx.push(j);
                    dist.push((2.0 - 2.0 * s).max(0.0).sqrt());
                }
            }
            (idx, dist)
        })
        .collect();
    let mut idx = Vec::with_capacity(n * k);
    let mut dist = Vec::with_capacity(n * k);
    for (i, d) in blocks {
        idx.extend(i);
        dist.extend(d);
    }
    (idx, dist)
}

/// t-SNE layout of `rows` (`[N, D]` row-major, unit rows): `[N]` points. `progress` is called
/// every [`SNAPSHOT_EVERY_EPOCHS`] epochs with the layout so far; when it answers
/// [`Flow::Stop`] the fit stops and `Ok(None)` comes back. Deterministic for a seed with
/// [`TsneParams::threads`] = 1 (the default).
pub fn tsne_layout(
    rows: &[f32],
    dim: usize,
    params: &TsneParams,
    progress: &mut (dyn FnMut(LayoutProgress) -> Flow + Send),
) -> Result<Option<Vec<[f32; 2]>>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()
        .map_err(|e| Error::Internal(format!("t-SNE thread pool: {e}")))?;
    pool.install(|| tsne_in_pool(rows, dim, params, progress))
}

fn tsne_in_pool(
    rows: &[f32],
    dim: usize,
    params: &TsneParams,
    progress: &mut (dyn FnMut(LayoutProgress) -> Flow + Send),
) -> Result<Option<Vec<[f32; 2]>>> {
    let n = check_rows(rows, dim, params.max_points)?;
    if params.theta.is_nan() || params.theta <= 0.0 || params.epochs == 0 {
        return Err(Error::Internal(format!(
            "t-SNE needs theta > 0 and at least one epoch (got theta {}, {} epochs)",
            params.theta, params.epochs
        )));
    }
    let perplexity = params.effective_perplexity(n);
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    if progress(LayoutProgress {
        fraction: 0.0,
        xy: None,
    }) == Flow::Stop
    {
        return Ok(None);
    }
    let (idx, dist) = nearest_neighbours(rows, dim, k);
    let neighbours: Vec<Vec<bhtsne::Neighbor<f32>>> = idx
        .chunks_exact(k)
        .zip(dist.chunks_exact(k))
        .map(|(i, d)| {
            i.iter()
                .zip(d)
                .map(|(&index, &distance)| bhtsne::Neighbor {
                    index: index as usize,
                    distance,
                })
                .collect()
        })
        .collect();
    // bhtsne's own random start uses a thread-local generator; start from a seeded one.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed);
    let normal = Normal::new(0.0f32, 1e-4).map_err(|e| Error::Internal(e.to_string()))?;
    let init: Vec<f32> = (0..n * 2).map(|_| normal.sample(&mut rng)).collect();
    let samples = vec![(); n];
    let epochs = params.epochs;
    let outcome = {
        let progress = &mut *progress;
        std::panic::catch_unwind(AssertUnwindSafe(move || {
            let mut tsne: bhtsne::tSNE<f32, (), 2> = bhtsne::tSNE::new(&samples);
            tsne.perplexity(perplexity)
                .epochs(epochs)
                .initial_embedding(init)
                .epoch_callback(move |epoch, y: &[f32]| {
                    let done = epoch + 1;
                    if done % SNAPSHOT_EVERY_EPOCHS != 0 && done != epochs {
                        return;
                    }
                    let xy = to_points(y);
                    let flow = progress(LayoutProgress {
                        fraction: done as f32 / epochs as f32,
                        xy: (done != epochs).then_some(xy),
                    });
                    if flow == Flow::Stop {
                        std::panic::resume_unwind(Box::new(StopFit));
                    }
                })
                .barnes_hut_with_neighbors(params.theta, &neighbours);
            to_points(&tsne.embedding())
        }))
    };
    match outcome {
        Ok(xy) => Ok(Some(xy)),
        Err(payload) if payload.is::<StopFit>() => Ok(None),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// UMAP layout of `rows` (`[N, D]` row-major, unit rows): `[N]` points, starting from the
/// PCA layout. `progress` is called every [`SNAPSHOT_EVERY_EPOCHS`] epochs with the layout so
/// far; when it answers [`Flow::Stop`] the fit stops and `Ok(None)` comes back. Deterministic
/// for a seed.
pub fn umap_layout(
    rows: &[f32],
    dim: usize,
    params: &UmapParams,
    progress: &mut (dyn FnMut(LayoutProgress) -> Flow + Send),
) -> Result<Option<Vec<[f32; 2]>>> {
    let n = check_rows(rows, dim, params.max_points)?;
    if params.epochs == 0 || !(0.0..=1.0).contains(&params.min_dist) {
        return Err(Error::Internal(format!(
            "UMAP needs at least one epoch and 0 ≤ min_dist ≤ 1 (got {} epochs, min_dist {})",
            params.epochs, params.min_dist
        )));
    }
    if progress(LayoutProgress {
        fraction: 0.0,
        xy: None,
    }) == Flow::Stop
    {
        return Ok(None);
    }
    let k = params.effective_neighbours(n);
    // umap-rs expects each point's neighbour list to start with the point itself (distance 0),
    // as umap-learn's does.
    let (idx, dist) = nearest_neighbours(rows, dim, k - 1);
    let mut knn_idx = Vec::with_capacity(n * k);
    let mut knn_dist = Vec::with_capacity(n * k);
    for i in 0..n {
        knn_idx.push(i as u32);
        knn_dist.push(0.0);
        knn_idx.extend_from_slice(&idx[i * (k - 1)..(i + 1) * (k - 1)]);
        knn_dist.extend_from_slice(&dist[i * (k - 1)..(i + 1) * (k - 1)]);
    }
    let shape_err = |e: ndarray::ShapeError| Error::Internal(format!("UMAP arrays: {e}"));
    let knn_idx = ndarray::Array2::from_shape_vec((n, k), knn_idx).map_err(shape_err)?;
    let knn_dist = ndarray::Array2::from_shape_vec((n, k), knn_dist).map_err(shape_err)?;
    let data = ndarray::ArrayView2::from_shape((n, dim), rows).map_err(shape_err)?;
    let init: Vec<f32> = match crate::index::pca::Pca2::fit(rows, dim) {
        Some(pca) => rows
            .chunks_exact(dim)
            .flat_map(|r| pca.project(r))
            .collect(),
        None => (0..n * 2).map(|i| (i % 7) as f32).collect(),
    };
    let init = ndarray::Array2::from_shape_vec((n, 2), init).map_err(shape_err)?;
    let config = umap_rs::UmapConfig {
        n_components: 2,
        graph: umap_rs::GraphParams {
            n_neighbors: k,
            ..Default::default()
        },
        manifold: umap_rs::ManifoldParams {
            min_dist: params.min_dist,
            ..Default::default()
        },
        ..Default::default()
    };
    let umap = umap_rs::Umap::new(config);
    let manifold = umap.learn_manifold(data, knn_idx.view(), knn_dist.view());
    let graph = manifold.graph();
    let (a, b) = manifold.curve_params();
    let mut edges: Vec<(u32, u32, f32)> = Vec::new();
    for (row, vec) in graph.outer_iterator().enumerate() {
        for (col, &w) in vec.iter() {
            edges.push((row as u32, col as u32, w));
        }
    }
    let mut xy: Vec<[f32; 2]> = init.rows().into_iter().map(|r| [r[0], r[1]]).collect();
    scale_to_box(&mut xy, UMAP_INIT_BOX);
    let mut sgd = UmapSgd::new(edges, params.epochs, (a, b), params.seed);
    for epoch in 0..params.epochs {
        sgd.epoch(&mut xy, epoch);
        let done = epoch + 1;
        if done == params.epochs || done % SNAPSHOT_EVERY_EPOCHS != 0 {
            continue;
        }
        let flow = progress(LayoutProgress {
            fraction: done as f32 / params.epochs as f32,
            xy: Some(xy.clone()),
        });
        if flow == Flow::Stop {
            return Ok(None);
        }
    }
    Ok(Some(xy))
}

/// Side of the square the UMAP start is scaled into (umap-learn's: 10).
const UMAP_INIT_BOX: f32 = 10.0;
/// Negative samples per positive one (umap-learn's default).
const UMAP_NEGATIVE_RATE: f64 = 5.0;
/// Largest gradient step per coordinate (umap-learn's clip).
const UMAP_CLIP: f32 = 4.0;

fn scale_to_box(xy: &mut [[f32; 2]], side: f32) {
    for d in 0..2 {
        let lo = xy.iter().map(|p| p[d]).fold(f32::INFINITY, f32::min);
        let hi = xy.iter().map(|p| p[d]).fold(f32::NEG_INFINITY, f32::max);
        let scale = if hi > lo { side / (hi - lo) } else { 0.0 };
        for p in xy.iter_mut() {
            p[d] = (p[d] - lo) * scale;
        }
    }
}

/// umap-learn's layout optimisation (`optimize_layout_euclidean`, sequential, one seeded
/// generator), over the fuzzy graph `umap-rs` builds: each edge is sampled in proportion to
/// its weight, pulled together, and pushed away from [`UMAP_NEGATIVE_RATE`] random points per
/// sample; the learning rate falls linearly to 0.
struct UmapSgd {
    edges: Vec<(u32, u32)>,
    epochs_per_sample: Vec<f64>,
    next_sample: Vec<f64>,
    next_negative: Vec<f64>,
    epochs: usize,
    a: f32,
    b: f32,
    rng: rand_chacha::ChaCha8Rng,
}

impl UmapSgd {
    fn new(edges: Vec<(u32, u32, f32)>, epochs: usize, (a, b): (f32, f32), seed: u64) -> Self {
        let max_w = edges.iter().map(|e| e.2).fold(0.0f32, f32::max);
        // Edges too weak to be sampled once in the run are dropped, as umap-learn does.
        let kept: Vec<(u32, u32, f32)> = edges
            .into_iter()
            .filter(|e| max_w > 0.0 && e.2 >= max_w / epochs as f32)
            .collect();
        let epochs_per_sample: Vec<f64> = kept.iter().map(|e| max_w as f64 / e.2 as f64).collect();
        UmapSgd {
            edges: kept.iter().map(|e| (e.0, e.1)).collect(),
            next_sample: epochs_per_sample.clone(),
            next_negative: epochs_per_sample
                .iter()
                .map(|e| e / UMAP_NEGATIVE_RATE)
                .collect(),
            epochs_per_sample,
            epochs,
            a,
            b,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn epoch(&mut self, xy: &mut [[f32; 2]], epoch: usize) {
        use rand::Rng;
        let n = xy.len();
        let (a, b) = (self.a, self.b);
        let alpha = 1.0 - epoch as f32 / self.epochs as f32;
        let now = epoch as f64;
        for (i, &(j, k)) in self.edges.iter().enumerate() {
            if self.next_sample[i] > now {
                continue;
            }
            let (j, k) = (j as usize, k as usize);
            let diff = [xy[j][0] - xy[k][0], xy[j][1] - xy[k][1]];
            let d2 = diff[0] * diff[0] + diff[1] * diff[1];
            let coeff = if d2 > 0.0 {
                -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0)
            } else {
                0.0
            };
            for d in 0..2 {
                let g = (coeff * diff[d]).clamp(-UMAP_CLIP, UMAP_CLIP) * alpha;
                xy[j][d] += g;
                xy[k][d] -= g;
            }
            self.next_sample[i] += self.epochs_per_sample[i];
            let per_negative = self.epochs_per_sample[i] / UMAP_NEGATIVE_RATE;
            let negatives = ((now - self.next_negative[i]) / per_negative).max(0.0) as usize;
            for _ in 0..negatives {
                let other = self.rng.random_range(0..n);
                if other == j {
                    continue;
                }
                let diff = [xy[j][0] - xy[other][0], xy[j][1] - xy[other][1]];
                let d2 = diff[0] * diff[0] + diff[1] * diff[1];
                let coeff = if d2 > 0.0 {
                    2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
                } else {
                    0.0
                };
                for d in 0..2 {
                    let g = if coeff > 0.0 {
                        (coeff * diff[d]).clamp(-UMAP_CLIP, UMAP_CLIP)
                    } else {
                        UMAP_CLIP
                    };
                    xy[j][d] += g * alpha;
                }
            }
            self.next_negative[i] += negatives as f64 * per_negative;
        }
    }
}

fn to_points(y: &[f32]) -> Vec<[f32; 2]> {
    y.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Position of a new input on a non-linear map, from its nearest gallery items: the mean of
/// their 2-D positions weighted by similarity, over the [`PLACEMENT_NEIGHBOURS`] (k = 10) most
/// similar. `neighbours`: (gallery index, cosine similarity), any order; indices past the
/// layout are skipped; weights are the similarities shifted to be positive (`1 + cos`), so an
/// item at cosine 1 weighs twice one at 0. `None` when no neighbour is on the layout.
pub fn place_by_neighbours(layout: &[[f32; 2]], neighbours: &[(usize, f32)]) -> Option<[f32; 2]> {
    let mut near: Vec<(usize, f32)> = neighbours
        .iter()
        .copied()
        .filter(|(i, s)| *i < layout.len() && s.is_finite())
        .collect();
    near.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    near.truncate(PLACEMENT_NEIGHBOURS);
    let (mut x, mut y, mut w_sum) = (0.0f64, 0.0f64, 0.0f64);
    for (i, s) in near {
        let w = (1.0 + s as f64).max(1e-6);
        x += w * layout[i][0] as f64;
        y += w * layout[i][1] as f64;
        w_sum += w;
    }
    (w_sum > 0.0).then(|| [(x / w_sum) as f32, (y / w_sum) as f32])
}

/// Fraction of points whose `k` nearest neighbours on the layout mostly (majority vote) share
/// their class: how well a map keeps classes apart. `layout`: `[N]` points; `classes`: `[N]`.
pub fn knn_class_agreement(layout: &[[f32; 2]], classes: &[usize], k: usize) -> f32 {
    let n = layout.len();
    if n < 2 || k == 0 {
        return 0.0;
    }
    let mut agree = 0usize;
    for i in 0..n {
        let mut d: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let dx = layout[i][0] - layout[j][0];
                let dy = layout[i][1] - layout[j][1];
                (dx * dx + dy * dy, j)
            })
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        let same = d
            .iter()
            .take(k)
            .filter(|(_, j)| classes[*j] == classes[i])
            .count();
        if 2 * same > k.min(n - 1) {
            agree += 1;
        }
    }
    agree as f32 / n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_rows_than_the_limit_are_refused_with_the_count() {
        let (rows, _) = blobs(2, 6, 4, 1);
        let tsne = TsneParams {
            max_points: 11,
            ..Default::default()
        };
        let err = tsne_layout(&rows, 4, &tsne, &mut |_| Flow::Continue)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at most 11") && err.contains("has 12"),
            "{err}"
        );
        let umap = UmapParams {
            max_points: 11,
            ..Default::default()
        };
        assert!(umap_layout(&rows, 4, &umap, &mut |_| Flow::Continue).is_err());
        assert_eq!(TsneParams::default().max_points, MAX_PROJECTION_POINTS);
    }

    /// `per` points in each of `centres` blobs in `dim` dimensions, unit rows, with classes.
    fn blobs(centres: usize, per: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let unit = Normal::new(0.0f32, 1.0).unwrap();
        let noise = Normal::new(0.0f32, 0.15).unwrap();
        let mut rows = Vec::new();
        let mut classes = Vec::new();
        for c in 0..centres {
            let centre: Vec<f32> = (0..dim).map(|_| unit.sample(&mut rng)).collect();
            let norm = centre.iter().map(|v| v * v).sum::<f32>().sqrt();
            for _ in 0..per {
                let mut row: Vec<f32> = centre
                    .iter()
                    .map(|v| v / norm + noise.sample(&mut rng) / (dim as f32).sqrt())
                    .collect();
                crate::index::l2_normalize(&mut row);
                rows.extend(row);
                classes.push(c);
            }
        }
        (rows, classes)
    }

    #[test]
    fn neighbours_are_exact_and_exclude_self() {
        let rows = [1.0, 0.0, 0.8, 0.6, 0.0, 1.0, -1.0, 0.0];
        let (idx, dist) = nearest_neighbours(&rows, 2, 2);
        assert_eq!(&idx[0..2], &[1, 2]);
        assert_eq!(&idx[4..6], &[1, 0]);
        assert_eq!(&idx[6..8], &[2, 1]);
        assert!((dist[0] - (2.0f32 - 1.6).sqrt()).abs() < 1e-5);
    }

    #[test]
    fn tsne_separates_blobs_and_is_deterministic_for_a_seed() {
        let (rows, classes) = blobs(3, 60, 32, 7);
        let params = TsneParams {
            epochs: 300,
            ..Default::default()
        };
        let mut snapshots = 0;
        let a = tsne_layout(&rows, 32, &params, &mut |p| {
            snapshots += p.xy.is_some() as usize;
            Flow::Continue
        })
        .unwrap()
        .unwrap();
        let b = tsne_layout(&rows, 32, &params, &mut |_| Flow::Continue)
            .unwrap()
            .unwrap();
        assert_eq!(a.len(), 180);
        assert_eq!(a, b, "same seed, same layout");
        assert!(snapshots >= 4, "intermediate layouts: {snapshots}");
        let agreement = knn_class_agreement(&a, &classes, 5);
        assert!(agreement >= 0.95, "kNN class agreement {agreement}");
    }

    #[test]
    fn tsne_stops_when_asked() {
        let (rows, _) = blobs(2, 30, 8, 1);
        let mut calls = 0;
        let out = tsne_layout(&rows, 8, &TsneParams::default(), &mut |_| {
            calls += 1;
            if calls >= 2 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
        assert_eq!(out, None);
        assert_eq!(calls, 2);
    }

    #[test]
    fn umap_separates_blobs_and_is_deterministic_for_a_seed() {
        let (rows, classes) = blobs(3, 60, 32, 11);
        let mut snapshots = 0;
        let xy = umap_layout(&rows, 32, &UmapParams::default(), &mut |p| {
            snapshots += p.xy.is_some() as usize;
            Flow::Continue
        })
        .unwrap()
        .unwrap();
        let again = umap_layout(&rows, 32, &UmapParams::default(), &mut |_| Flow::Continue);
        assert_eq!(again.unwrap().unwrap(), xy, "same seed, same layout");
        assert_eq!(xy.len(), 180);
        assert!(xy.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
        assert!(snapshots >= 4, "intermediate layouts: {snapshots}");
        let agreement = knn_class_agreement(&xy, &classes, 5);
        assert!(agreement >= 0.95, "kNN class agreement {agreement}");
    }

    #[test]
    fn limits_are_explicit() {
        let few = vec![1.0f32; 3 * 4];
        let e = tsne_layout(&few, 4, &TsneParams::default(), &mut |_| Flow::Continue);
        assert!(e.unwrap_err().to_string().contains("at least"));
        let ragged = vec![1.0f32; 7];
        assert!(umap_layout(&ragged, 4, &UmapParams::default(), &mut |_| Flow::Continue).is_err());
        assert_eq!(TsneParams::default().effective_perplexity(31), 10.0);
        assert_eq!(TsneParams::default().effective_perplexity(1000), 30.0);
    }

    #[test]
    fn inputs_sit_at_the_weighted_mean_of_their_nearest_items() {
        let layout = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [100.0, 100.0]];
        // Two equally similar neighbours: the midpoint.
        let p = place_by_neighbours(&layout, &[(0, 0.5), (1, 0.5)]).unwrap();
        assert_eq!(p, [5.0, 0.0]);
        // Weights 1 + cos: (1.0 → 2, 0.0 → 1): a third of the way to the less similar.
        let p = place_by_neighbours(&layout, &[(2, 0.0), (0, 1.0)]).unwrap();
        assert!((p[1] - 10.0 / 3.0).abs() < 1e-5);
        // Only the 10 most similar count; out-of-layout indices are skipped.
        let mut many: Vec<(usize, f32)> = (0..10).map(|_| (0, 0.9)).collect();
        many.push((3, 0.1));
        many.push((99, 1.0));
        assert_eq!(place_by_neighbours(&layout, &many), Some([0.0, 0.0]));
        assert_eq!(place_by_neighbours(&layout, &[(99, 1.0)]), None);
    }
}
