//! Principal component analysis to 2-D for the embedding map (plain math, power iteration
//! with deflation on the D x D covariance).

use serde::{Deserialize, Serialize};

/// A fitted 2-D projection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pca2 {
    pub mean: Vec<f32>,
    /// Two unit components, `[2][D]`.
    pub components: [Vec<f32>; 2],
    /// Variance along each component.
    pub explained_variance: [f32; 2],
    /// Fraction of the total variance the two components explain.
    pub explained_fraction: f32,
}

const POWER_ITERATIONS: usize = 200;

impl Pca2 {
    /// Fits on rows `[N, dim]`. Returns `None` for fewer than 2 rows or dim 0.
    pub fn fit(rows: &[f32], dim: usize) -> Option<Self> {
        if dim == 0 || rows.len() < 2 * dim || !rows.len().is_multiple_of(dim) {
            return None;
        }
        let n = rows.len() / dim;
        let mut mean = vec![0f64; dim];
        for row in rows.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut cov = vec![0f64; dim * dim];
        let mut centred = vec![0f64; dim];
        for row in rows.chunks_exact(dim) {
            for j in 0..dim {
                centred[j] = row[j] as f64 - mean[j];
            }
            for a in 0..dim {
                let ca = centred[a];
                if ca == 0.0 {
                    continue;
                }
                for b in a..dim {
                    cov[a * dim + b] += ca * centred[b];
                }
            }
        }
        for a in 0..dim {
            for b in a..dim {
                let v = cov[a * dim + b] / (n as f64 - 1.0).max(1.0);
                cov[a * dim + b] = v;
                cov[b * dim + a] = v;
            }
        }
        let total: f64 = (0..dim).map(|i| cov[i * dim + i]).sum();
        let mut comps: Vec<Vec<f64>> = Vec::new();
        let mut vars = Vec::new();
        for c in 0..2 {
            let mut v: Vec<f64> = (0..dim)
                .map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 * 0.1)
                .collect();
            let mut lambda = 0.0;
            for _ in 0..POWER_ITERATIONS {
                let mut w = vec![0f64; dim];
                for a in 0..dim {
                    w[a] = (0..dim).map(|b| cov[a * dim + b] * v[b]).sum();
                }
                for prev in &comps {
                    let p: f64 = w.iter().zip(prev).map(|(x, y)| x * y).sum();
                    w.iter_mut().zip(prev).for_each(|(x, y)| *x -= p * y);
                }
                let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                if norm < 1e-30 {
                    break;
                }
                lambda = norm;
                v = w.into_iter().map(|x| x / norm).collect();
            }
            // Deterministic sign: largest-magnitude coordinate positive.
            if let Some(max) = v.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs()))
                && max < 0.0
            {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            comps.push(v);
            vars.push(lambda);
        }
        let to_f32 = |v: &Vec<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        Some(Pca2 {
            mean: mean.iter().map(|&x| x as f32).collect(),
            components: [to_f32(&comps[0]), to_f32(&comps[1])],
            explained_variance: [vars[0] as f32, vars[1] as f32],
            explained_fraction: if total > 0.0 {
                ((vars[0] + vars[1]) / total) as f32
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

    #[test]
    fn too_few_rows_gives_none() {
        assert!(Pca2::fit(&[1.0, 2.0], 2).is_none());
    }
}
