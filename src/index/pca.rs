//! Principal component analysis to 2-D for the embedding map (plain math): a thin singular
//! value decomposition of the centred `[N, D]` rows (nalgebra, in `f64`). The right singular
//! vectors are the principal axes and `s^2 / (N - 1)` their variances, so the answer is exact
//! up to rounding, with no iteration count to tune.

use nalgebra::DMatrix;
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

/// SVD iterations allowed per singular value before the fit gives up (typical is a few).
const SVD_ITERATIONS_PER_VALUE: usize = 100;

impl Pca2 {
    /// Fits on rows `[N, dim]`. Returns `None` for fewer than 2 rows, dim 0, a length that is
    /// not a multiple of `dim`, a non-finite value, or an SVD that fails to converge.
    pub fn fit(rows: &[f32], dim: usize) -> Option<Self> {
        if dim == 0
            || rows.len() < 2 * dim
            || !rows.len().is_multiple_of(dim)
            || rows.iter().any(|x| !x.is_finite())
        {
            return None;
        }
        let n = rows.len() / dim;
        let mut mean = vec![0f64; dim];
        for row in rows.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let centred =
            DMatrix::<f64>::from_fn(n, dim, |i, j| f64::from(rows[i * dim + j]) - mean[j]);
        let divisor = (n as f64 - 1.0).max(1.0);
        let total = centred.iter().map(|x| x * x).sum::<f64>() / divisor;
        let svd = centred.try_svd(
            false,
            true,
            f64::EPSILON,
            SVD_ITERATIONS_PER_VALUE * n.min(dim),
        )?;
        let v_t = svd.v_t.as_ref()?;
        // Axes by decreasing singular value (`try_svd` sorts them; kept explicit here).
        let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
        order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
        let axis = |k: usize| -> (Vec<f64>, f64) {
            let Some(&i) = order.get(k) else {
                return (vec![0.0; dim], 0.0);
            };
            let mut v: Vec<f64> = v_t.row(i).iter().copied().collect();
            // Deterministic sign: largest-magnitude coordinate positive.
            if let Some(max) = v.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs()))
                && max < 0.0
            {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            let s = svd.singular_values[i];
            (v, s * s / divisor)
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

    #[test]
    fn too_few_rows_gives_none() {
        assert!(Pca2::fit(&[1.0, 2.0], 2).is_none());
    }
}
