//! Orthogonal Procrustes (plain math): the rotation or reflection, uniform scale and shift
//! that lay one point set onto another, matched row by row, with the least squared distance.
//! The comparison of two models lays model B's map onto model A's with it.
//!
//! With both sets centred on their means (`A0`, `B0`, rows `[N, D]`), the SVD of
//! `B0ᵀ A0 = U Σ Vᵀ` gives the orthogonal `R = U Vᵀ` minimising `‖B0 R − A0‖` (reflections
//! allowed) and the scale `s = trace(Σ) / ‖B0‖²` (Schönemann 1966; Gower 1975). A point `x` of
//! B then lands at `s (x − mean_B) R + mean_A`. Checked against numpy's SVD
//! (`tests/fixtures/procrustes_reference.json`, written by
//! `tests/reference/procrustes_reference.py`).

use nalgebra::DMatrix;
use serde::Serialize;

use crate::error::{Error, Result};

/// Most SVD sweeps before the decomposition counts as failed.
const SVD_MAX_ITERATIONS: usize = 1_000;

/// A fitted similarity transform from set B onto set A.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Procrustes {
    /// Dimensions of a point.
    pub dim: usize,
    /// Orthogonal `[D, D]`, row-major; points are row vectors (`x R`).
    pub rotation: Vec<f64>,
    /// Uniform scale (1 when fitted without scaling).
    pub scale: f64,
    /// Mean of the A points, `[D]`.
    pub mean_a: Vec<f64>,
    /// Mean of the B points, `[D]`.
    pub mean_b: Vec<f64>,
    /// Root mean square distance between the moved B points and their A points.
    pub residual_rms: f64,
    /// `residual_rms` over the root mean square distance of the A points from their mean:
    /// 0 when B's layout is A's up to rotation, reflection, scale and shift; near 1 when
    /// unrelated.
    pub residual_fraction: f64,
}

impl Procrustes {
    /// Fits the transform laying `b` onto `a`: both `[N, dim]` row-major, row i of `b`
    /// matched with row i of `a`; `with_scale` allows a uniform scale (else 1). Refuses fewer
    /// than 2 rows, mismatched lengths, non-finite values, a set of identical points and an SVD
    /// that does not converge.
    pub fn fit(a: &[f64], b: &[f64], dim: usize, with_scale: bool) -> Result<Self> {
        let bad = |why: String| Err(Error::InvalidRequest(format!("alignment: {why}")));
        if dim == 0 || a.len() != b.len() || !a.len().is_multiple_of(dim) {
            // The caller builds both sets from the same matched pairs: a bug, not the input.
            return Err(Error::Internal(format!(
                "alignment: the two point sets must have the same number of {dim}-D rows ({} and \
                 {} values)",
                a.len(),
                b.len()
            )));
        }
        let n = a.len() / dim;
        if n < 2 {
            return bad(format!("needs at least 2 matched points, found {n}"));
        }
        if a.iter().chain(b).any(|v| !v.is_finite()) {
            return bad("a point has a non-finite coordinate".into());
        }
        let mean_a = column_means(a, dim);
        let mean_b = column_means(b, dim);
        let a0 = DMatrix::from_fn(n, dim, |i, j| a[i * dim + j] - mean_a[j]);
        let b0 = DMatrix::from_fn(n, dim, |i, j| b[i * dim + j] - mean_b[j]);
        let b_norm2 = b0.norm_squared();
        if b_norm2 <= f64::EPSILON * n as f64 {
            return bad("the points being moved all lie at one place".into());
        }
        let m = b0.transpose() * &a0;
        let svd = nalgebra::SVD::try_new(m, true, true, f64::EPSILON, SVD_MAX_ITERATIONS)
            .ok_or_else(|| Error::Internal("alignment: the SVD did not converge".into()))?;
        let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
            return Err(Error::Internal("alignment: the SVD gave no vectors".into()));
        };
        let r = u * v_t;
        let scale = if with_scale {
            svd.singular_values.sum() / b_norm2
        } else {
            1.0
        };
        let moved = &b0 * &r * scale;
        let residual_rms = ((moved - &a0).norm_squared() / n as f64).sqrt();
        let spread = (a0.norm_squared() / n as f64).sqrt();
        Ok(Procrustes {
            dim,
            rotation: (0..dim * dim).map(|k| r[(k / dim, k % dim)]).collect(),
            scale,
            mean_a,
            mean_b,
            residual_rms,
            residual_fraction: if spread > 0.0 {
                residual_rms / spread
            } else {
                0.0
            },
        })
    }

    /// Moves one B point (`[dim]`) onto A's frame.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let d = self.dim;
        (0..d)
            .map(|j| {
                let dot: f64 = (0..d)
                    .map(|k| (x[k] - self.mean_b[k]) * self.rotation[k * d + j])
                    .sum();
                self.scale * dot + self.mean_a[j]
            })
            .collect()
    }

    /// True when the transform mirrors (the rotation's determinant is negative).
    pub fn reflects(&self) -> bool {
        let d = self.dim;
        DMatrix::from_row_slice(d, d, &self.rotation).determinant() < 0.0
    }
}

/// Mean of each column of row-major `[N, dim]`.
fn column_means(rows: &[f64], dim: usize) -> Vec<f64> {
    let n = (rows.len() / dim).max(1) as f64;
    let mut mean = vec![0.0; dim];
    for row in rows.chunks_exact(dim) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed, irregular 2-D point set.
    fn points() -> Vec<f64> {
        let mut s = 11u32;
        (0..40)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f64 / (1u32 << 24) as f64 * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn a_rotated_reflected_scaled_shifted_set_is_laid_back_exactly() {
        let b = points();
        // A = 1.7 * B * (reflection across x, then rotation by 37°) + (3, -2).
        let t = 37f64.to_radians();
        let rot = [t.cos(), t.sin(), -t.sin(), t.cos()];
        let refl = [1.0, 0.0, 0.0, -1.0];
        let r = [
            refl[0] * rot[0] + refl[1] * rot[2],
            refl[0] * rot[1] + refl[1] * rot[3],
            refl[2] * rot[0] + refl[3] * rot[2],
            refl[2] * rot[1] + refl[3] * rot[3],
        ];
        let a: Vec<f64> = b
            .chunks_exact(2)
            .flat_map(|p| {
                [
                    1.7 * (p[0] * r[0] + p[1] * r[2]) + 3.0,
                    1.7 * (p[0] * r[1] + p[1] * r[3]) - 2.0,
                ]
            })
            .collect();
        let fit = Procrustes::fit(&a, &b, 2, true).unwrap();
        for (got, want) in fit.rotation.iter().zip(r) {
            assert!((got - want).abs() < 1e-5, "{:?} vs {r:?}", fit.rotation);
        }
        assert!((fit.scale - 1.7).abs() < 1e-5, "{}", fit.scale);
        assert!(fit.reflects());
        assert!(fit.residual_rms < 1e-5 && fit.residual_fraction < 1e-5);
        for (pa, pb) in a.chunks_exact(2).zip(b.chunks_exact(2)) {
            let moved = fit.apply(pb);
            assert!((moved[0] - pa[0]).abs() < 1e-5 && (moved[1] - pa[1]).abs() < 1e-5);
        }
        // Without scaling the rotation is the same; the residual is what the scale explained.
        let rigid = Procrustes::fit(&a, &b, 2, false).unwrap();
        assert!((rigid.scale - 1.0).abs() < 1e-12);
        assert!((rigid.rotation[0] - r[0]).abs() < 1e-5);
        assert!(rigid.residual_rms > 0.1);
    }

    #[test]
    fn unrelated_sets_leave_a_large_residual() {
        let p = points();
        let (a, b) = p.split_at(20);
        let fit = Procrustes::fit(a, b, 2, true).unwrap();
        assert!(fit.residual_fraction > 0.5, "{}", fit.residual_fraction);
    }

    #[test]
    fn bad_point_sets_are_refused_with_the_reason() {
        let msg = |r: Result<Procrustes>| r.unwrap_err().to_string();
        assert!(msg(Procrustes::fit(&[0.0, 1.0], &[2.0, 3.0], 2, true)).contains("at least 2"));
        assert!(msg(Procrustes::fit(&[0.0; 4], &[0.0; 6], 2, true)).contains("same number"));
        assert!(
            msg(Procrustes::fit(&[0.0, 1.0, 2.0, 3.0], &[1.0; 4], 2, true)).contains("one place")
        );
        assert!(
            msg(Procrustes::fit(
                &[0.0, f64::NAN, 2.0, 3.0],
                &[0.0, 1.0, 2.0, 3.0],
                2,
                true
            ))
            .contains("non-finite")
        );
    }

    #[derive(serde::Deserialize)]
    struct Reference {
        dim: usize,
        a: Vec<f64>,
        b: Vec<f64>,
        rotation: Vec<f64>,
        scale: f64,
        residual_rms: f64,
        rigid_residual_rms: f64,
    }

    #[test]
    fn matches_the_numpy_svd_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/procrustes_reference.json"
        );
        let r: Reference = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let fit = Procrustes::fit(&r.a, &r.b, r.dim, true).unwrap();
        for (got, want) in fit.rotation.iter().zip(&r.rotation) {
            assert!(
                (got - want).abs() < 1e-9,
                "{:?} vs {:?}",
                fit.rotation,
                r.rotation
            );
        }
        assert!((fit.scale - r.scale).abs() < 1e-9);
        assert!((fit.residual_rms - r.residual_rms).abs() < 1e-9);
        let rigid = Procrustes::fit(&r.a, &r.b, r.dim, false).unwrap();
        assert!((rigid.residual_rms - r.rigid_residual_rms).abs() < 1e-9);
    }
}
