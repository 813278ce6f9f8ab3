//! Principal component analysis to 2-D for the embedding map (plain math): the two leading
//! eigenvectors of the rows' covariance (`[D, D]`, accumulated in `f64` by one matrix
//! product), found by subspace iteration (matrix products) with an exact Rayleigh-Ritz step
//! (nalgebra) and checked against numpy's `eigh` (tests/fixtures/pca_reference.json). Up to
//! [`MAX_FIT_ROWS`] rows every row is used; a larger set is fitted on an even subsample of
//! that many rows (every k-th), and all rows are then projected with one matrix product per
//! chunk ([`Pca2::project_rows`]).

use std::borrow::Cow;

use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};

/// A fitted 2-D projection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pca2 {
    /// Mean of the fitted rows, `[D]`.
    pub mean: Vec<f32>,
    /// Two unit components, `[2][D]`, by decreasing variance. Sign rule: the largest-magnitude
    /// coordinate of each is positive, so refitting the same data gives the same map. With
    /// `D == 1` the second component is all zeros.
    pub components: [Vec<f32>; 2],
    /// Variance along each component (covariance with the `N - 1` divisor).
    pub explained_variance: [f32; 2],
    /// Fraction of the total variance the two components explain.
    pub explained_fraction: f32,
}

/// Extra vectors the subspace iteration carries beyond the pairs asked for (they speed up
/// the convergence of the leading ones).
const EXTRA_VECTORS: usize = 6;
/// Most subspace iterations; a spectrum with no gap (random vectors) stops here, with axes
/// that span as much variance as any pair does.
const MAX_SUBSPACE_ITERATIONS: usize = 1_000;
/// The iteration stops when the leading vectors move less than this between checks.
const SUBSPACE_TOLERANCE: f64 = 1e-12;

/// Most rows a fit reads; a larger set is fitted on an even subsample of this many rows.
/// (The sampling error of a covariance shrinks as one over the square root of the rows.)
pub const MAX_FIT_ROWS: usize = 50_000;

/// Rows projected per matrix product by [`Pca2::project_rows`].
const PROJECT_CHUNK_ROWS: usize = 65_536;

impl Pca2 {
    /// Fits on rows `[N, dim]`. Returns `None` for fewer than 2 rows, dim 0, a length that is
    /// not a multiple of `dim`, a non-finite value in the rows fitted on, or an
    /// eigen-decomposition that fails to converge.
    pub fn fit(rows: &[f32], dim: usize) -> Option<Self> {
        if dim == 0 || !rows.len().is_multiple_of(dim) {
            return None;
        }
        Self::fit_rows(rows.len() / dim, dim, |i| {
            Cow::Borrowed(&rows[i * dim..(i + 1) * dim])
        })
    }

    /// Fits on `n` rows of `dim` values that `row(i)` gives (a mapped or half-precision
    /// gallery decodes only the rows fitted on: every row up to [`MAX_FIT_ROWS`], else an
    /// even subsample of that many).
    pub fn fit_rows<'a>(
        n: usize,
        dim: usize,
        row: impl Fn(usize) -> Cow<'a, [f32]>,
    ) -> Option<Self> {
        if dim == 0 || n < 2 {
            return None;
        }
        let step = n.div_ceil(MAX_FIT_ROWS);
        let mut sample: Vec<f64> = Vec::with_capacity(n.div_ceil(step) * dim);
        for i in (0..n).step_by(step) {
            let r = row(i);
            if r.len() != dim || r.iter().any(|x| !x.is_finite()) {
                return None;
            }
            sample.extend(r.iter().map(|&x| f64::from(x)));
        }
        let s = sample.len() / dim;
        let mut mean = vec![0f64; dim];
        for r in sample.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(r) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= s as f64);
        for r in sample.chunks_exact_mut(dim) {
            for (x, m) in r.iter_mut().zip(&mean) {
                *x -= m;
            }
        }
        let divisor = (s as f64 - 1.0).max(1.0);
        // Covariance [dim, dim] = X^T X / (s - 1), X the centred sample [s, dim].
        let mut cov = vec![0f64; dim * dim];
        crate::index::gemm::gemm(
            (dim, s, dim),
            (&sample, 1, dim),
            (&sample, dim, 1),
            &mut cov,
        );
        // Symmetrise (the two halves differ by rounding) and scale.
        for i in 0..dim {
            for j in 0..i {
                let v = (cov[i * dim + j] + cov[j * dim + i]) / (2.0 * divisor);
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
            cov[i * dim + i] /= divisor;
        }
        let total: f64 = (0..dim).map(|i| cov[i * dim + i]).sum();
        let pairs = leading_eigenpairs(&cov, dim, 2)?;
        let axis = |k: usize| -> (Vec<f64>, f64) {
            let Some((value, vector)) = pairs.get(k) else {
                return (vec![0.0; dim], 0.0);
            };
            let mut v = vector.clone();
            // Deterministic sign: largest-magnitude coordinate positive.
            if let Some(max) = v.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs()))
                && max < 0.0
            {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            (v, value.max(0.0))
        };
        let (c0, var0) = axis(0);
        let (c1, var1) = axis(1);
        let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        Some(Pca2 {
            mean: to_f32(&mean),
            components: [to_f32(&c0), to_f32(&c1)],
            explained_variance: [var0 as f32, var1 as f32],
            explained_fraction: if total > 0.0 {
                ((var0 + var1) / total) as f32
            } else {
                0.0
            },
        })
    }

    /// Projects rows `[N, dim]` (as [`Pca2::project`] does each), one matrix product per
    /// chunk of rows. Empty when `rows` is not a whole number of `dim`-rows or `dim` is not
    /// the fitted one.
    pub fn project_rows(&self, rows: &[f32], dim: usize) -> Vec<[f32; 2]> {
        if dim == 0 || dim != self.mean.len() || !rows.len().is_multiple_of(dim) {
            return Vec::new();
        }
        // B [dim, 2]: column j is component j; the mean's projection is subtracted after.
        let b: Vec<f32> = (0..dim)
            .flat_map(|k| [self.components[0][k], self.components[1][k]])
            .collect();
        let offset = [0, 1].map(|j| {
            self.mean
                .iter()
                .zip(&self.components[j])
                .map(|(m, c)| m * c)
                .sum::<f32>()
        });
        let mut out = Vec::with_capacity(rows.len() / dim);
        let mut product = Vec::new();
        for chunk in rows.chunks(PROJECT_CHUNK_ROWS * dim) {
            let m = chunk.len() / dim;
            product.resize(m * 2, 0.0);
            crate::index::gemm::gemm((m, dim, 2), (chunk, dim, 1), (&b, 2, 1), &mut product);
            out.extend(
                product
                    .chunks_exact(2)
                    .map(|p| [p[0] - offset[0], p[1] - offset[1]]),
            );
        }
        out
    }

    /// Projects one vector.
    pub fn project(&self, x: &[f32]) -> [f32; 2] {
        let mut out = [0f32; 2];
        for (c, comp) in self.components.iter().enumerate() {
            out[c] = x
                .iter()
                .zip(&self.mean)
                .zip(comp)
                .map(|((v, m), w)| (v - m) * w)
                .sum();
        }
        out
    }
}

/// The `k` leading eigenpairs (value, unit vector) of the symmetric `[dim, dim]` matrix `m`,
/// by decreasing value: subspace iteration with a block of `k` + [`EXTRA_VECTORS`] vectors
/// (one matrix product per step), then the exact eigenpairs of the small projected matrix
/// (Rayleigh-Ritz, nalgebra). `None` when that small decomposition fails.
fn leading_eigenpairs(m: &[f64], dim: usize, k: usize) -> Option<Vec<(f64, Vec<f64>)>> {
    let b = (k + EXTRA_VECTORS).min(dim);
    // Start from a fixed spread of directions (column j of q: [dim, b] row-major).
    let mut q: Vec<f64> = (0..dim * b)
        .map(|i| (((i * 7_919 + 13) % 1_009) as f64 / 1_009.0) - 0.5)
        .collect();
    orthonormalise(&mut q, dim, b);
    let mut next = vec![0f64; dim * b];
    let mut previous: Option<Vec<(f64, Vec<f64>)>> = None;
    for step in 1..=MAX_SUBSPACE_ITERATIONS {
        crate::index::gemm::gemm((dim, dim, b), (m, dim, 1), (&q, b, 1), &mut next);
        std::mem::swap(&mut q, &mut next);
        orthonormalise(&mut q, dim, b);
        if step % 10 != 0 && step != MAX_SUBSPACE_ITERATIONS {
            continue;
        }
        let pairs = ritz(m, &q, dim, b, k)?;
        let settled = previous.as_ref().is_some_and(|old| {
            old.iter().zip(&pairs).all(|((_, u), (_, v))| {
                let dot: f64 = u.iter().zip(v).map(|(a, b)| a * b).sum();
                1.0 - dot.abs() < SUBSPACE_TOLERANCE
            })
        });
        if settled || step == MAX_SUBSPACE_ITERATIONS {
            return Some(pairs);
        }
        previous = Some(pairs);
    }
    None
}

/// Rayleigh-Ritz: the `k` leading eigenpairs of `m` within the span of `q`'s columns.
fn ritz(m: &[f64], q: &[f64], dim: usize, b: usize, k: usize) -> Option<Vec<(f64, Vec<f64>)>> {
    let mut mq = vec![0f64; dim * b];
    crate::index::gemm::gemm((dim, dim, b), (m, dim, 1), (q, b, 1), &mut mq);
    let mut h = vec![0f64; b * b];
    crate::index::gemm::gemm((b, dim, b), (q, 1, b), (&mq, b, 1), &mut h);
    let h = DMatrix::<f64>::from_fn(b, b, |i, j| (h[i * b + j] + h[j * b + i]) / 2.0);
    let eigen = SymmetricEigen::try_new(h, f64::EPSILON, 100 * b.max(1))?;
    let mut order: Vec<usize> = (0..b).collect();
    order.sort_by(|&x, &y| eigen.eigenvalues[y].total_cmp(&eigen.eigenvalues[x]));
    Some(
        order
            .into_iter()
            .take(k)
            .map(|c| {
                let y = eigen.eigenvectors.column(c);
                let v: Vec<f64> = (0..dim)
                    .map(|i| (0..b).map(|j| q[i * b + j] * y[j]).sum())
                    .collect();
                (eigen.eigenvalues[c], v)
            })
            .collect(),
    )
}

/// Modified Gram-Schmidt on the `b` columns of `q` (`[dim, b]` row-major), twice for
/// accuracy; a column that vanishes is replaced by a unit axis.
fn orthonormalise(q: &mut [f64], dim: usize, b: usize) {
    for _ in 0..2 {
        for j in 0..b {
            for p in 0..j {
                let dot: f64 = (0..dim).map(|i| q[i * b + j] * q[i * b + p]).sum();
                for i in 0..dim {
                    q[i * b + j] -= dot * q[i * b + p];
                }
            }
            let norm = (0..dim).map(|i| q[i * b + j].powi(2)).sum::<f64>().sqrt();
            if norm > 1e-300 {
                (0..dim).for_each(|i| q[i * b + j] /= norm);
            } else {
                (0..dim).for_each(|i| q[i * b + j] = f64::from(u8::from(i == j % dim)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_dominant_directions() {
        // Points spread 10x along (1,1,0)/sqrt2 and 3x along (0,0,1), little elsewhere.
        let mut rows = Vec::new();
        for i in 0..200 {
            let t = (i as f32 / 199.0 - 0.5) * 20.0;
            let s = ((i * 37 % 200) as f32 / 199.0 - 0.5) * 6.0;
            let e = ((i * 91 % 200) as f32 / 199.0 - 0.5) * 0.1;
            let a = t / 2f32.sqrt();
            rows.extend_from_slice(&[a + e, a - e, s]);
        }
        let pca = Pca2::fit(&rows, 3).unwrap();
        let c0 = &pca.components[0];
        assert!(
            (c0[0].abs() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3
                && (c0[1].abs() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3,
            "{c0:?}"
        );
        assert!(
            pca.components[1][2].abs() > 0.999,
            "{:?}",
            pca.components[1]
        );
        assert!(pca.explained_fraction > 0.99);
        let p = pca.project(&rows[0..3]);
        assert!(p[0].abs() > 9.0, "{p:?}");
    }

    const REFERENCE_JSON: &str = include_str!("../../tests/fixtures/pca_reference.json");

    #[derive(serde::Deserialize)]
    struct Reference {
        n_rows: usize,
        dim: usize,
        rows: Vec<f32>,
        mean: Vec<f64>,
        components: Vec<Vec<f64>>,
        explained_variance: Vec<f64>,
        explained_fraction: f64,
    }

    fn reference() -> Reference {
        serde_json::from_str(REFERENCE_JSON).expect("tests/fixtures/pca_reference.json parses")
    }

    #[test]
    fn matches_the_numpy_eigh_reference() {
        let r = reference();
        assert_eq!(r.rows.len(), r.n_rows * r.dim);
        let pca = Pca2::fit(&r.rows, r.dim).unwrap();
        for (got, want) in pca.mean.iter().zip(&r.mean) {
            assert!(
                (f64::from(*got) - want).abs() < 1e-4,
                "mean {got} vs {want}"
            );
        }
        for k in 0..2 {
            let (got, want) = (&pca.components[k], &r.components[k]);
            for (g, w) in got.iter().zip(want) {
                // Same axis and the same sign (the sign rule is part of the output).
                assert!(
                    (f64::from(*g) - w).abs() < 1e-4,
                    "component {k}: {got:?} vs {want:?}"
                );
            }
            let (gv, wv) = (
                f64::from(pca.explained_variance[k]),
                r.explained_variance[k],
            );
            assert!((gv - wv).abs() < 1e-4 * wv, "variance {k}: {gv} vs {wv}");
        }
        assert!((f64::from(pca.explained_fraction) - r.explained_fraction).abs() < 1e-5);
    }

    #[test]
    fn output_is_sign_stable_under_row_order_and_negation() {
        let r = reference();
        let pca = Pca2::fit(&r.rows, r.dim).unwrap();
        // Rows in reverse order: the same data, so the same axes with the same signs.
        let reversed: Vec<f32> = r
            .rows
            .chunks_exact(r.dim)
            .rev()
            .flatten()
            .copied()
            .collect();
        let again = Pca2::fit(&reversed, r.dim).unwrap();
        // Every row negated: the axes are the same lines, and the sign rule picks the same
        // direction on each.
        let negated: Vec<f32> = r.rows.iter().map(|x| -x).collect();
        let flipped = Pca2::fit(&negated, r.dim).unwrap();
        for other in [&again, &flipped] {
            for k in 0..2 {
                for (a, b) in pca.components[k].iter().zip(&other.components[k]) {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "{:?} vs {:?}",
                        pca.components[k],
                        other.components[k]
                    );
                }
            }
        }
    }

    #[test]
    fn one_dimension_gives_a_zero_second_axis() {
        let pca = Pca2::fit(&[1.0, 2.0, 4.0], 1).unwrap();
        assert_eq!(pca.components, [vec![1.0], vec![0.0]]);
        assert_eq!(pca.explained_variance[1], 0.0);
        assert!((pca.explained_fraction - 1.0).abs() < 1e-6);
    }

    #[test]
    fn non_finite_rows_give_none() {
        assert!(Pca2::fit(&[1.0, 2.0, f32::NAN, 0.0], 2).is_none());
        assert!(Pca2::fit(&[1.0, 2.0, f32::INFINITY, 0.0], 2).is_none());
    }

    /// Rows `[n, 3]` spread 10x along (1, 1, 0)/sqrt2, 3x along z, little elsewhere.
    fn spread_rows(n: usize) -> Vec<f32> {
        (0..n)
            .flat_map(|i| {
                let t = ((i * 7919 % n) as f32 / n as f32 - 0.5) * 20.0;
                let s = ((i * 104_729 % n) as f32 / n as f32 - 0.5) * 6.0;
                let e = ((i * 15_485_863 % n) as f32 / n as f32 - 0.5) * 0.1;
                let a = t / 2f32.sqrt();
                [a + e, a - e, s]
            })
            .collect()
    }

    #[test]
    fn project_rows_matches_project_for_every_row() {
        let rows = spread_rows(300);
        let pca = Pca2::fit(&rows, 3).unwrap();
        let all = pca.project_rows(&rows, 3);
        assert_eq!(all.len(), 300);
        for (row, got) in rows.chunks_exact(3).zip(&all) {
            let want = pca.project(row);
            assert!((got[0] - want[0]).abs() < 1e-4 && (got[1] - want[1]).abs() < 1e-4);
        }
        assert!(pca.project_rows(&rows, 2).is_empty(), "another dim");
    }

    #[test]
    fn a_set_past_the_fit_limit_is_fitted_on_a_subsample_with_the_same_axes() {
        let n = MAX_FIT_ROWS * 2 + 17;
        let rows = spread_rows(n);
        let big = Pca2::fit(&rows, 3).unwrap();
        let small = Pca2::fit(&rows[..3000 * 3], 3).unwrap();
        let c0 = &big.components[0];
        assert!(
            (c0[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3
                && (c0[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3,
            "{c0:?}"
        );
        assert!(big.components[1][2].abs() > 0.999);
        for k in 0..2 {
            for (a, b) in big.components[k].iter().zip(&small.components[k]) {
                assert!((a - b).abs() < 1e-2, "{big:?} vs {small:?}");
            }
        }
        // A non-finite value in a row the fit does not read is not looked at; in one it
        // reads, the fit refuses.
        let mut bad = rows.clone();
        bad[3] = f32::NAN;
        assert!(
            Pca2::fit(&bad, 3).is_some(),
            "row 1 is not in the subsample"
        );
        bad[0] = f32::NAN;
        assert!(Pca2::fit(&bad, 3).is_none());
    }

    #[test]
    fn too_few_rows_gives_none() {
        assert!(Pca2::fit(&[1.0, 2.0], 2).is_none());
    }
}
