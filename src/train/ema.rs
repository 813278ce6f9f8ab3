//! Exponential-moving-average codebook updates (VQ-VAE-2 / CMG), on host data.
//!
//! For each code k: `N_k <- d N_k + (1-d) n_k` and `m_k <- d m_k + (1-d) s_k`, where n_k is
//! the number of positions assigned to k in the batch and s_k the sum of their update
//! vectors; then `e_k = m_k / N~_k` with Laplace smoothing
//! `N~_k = (N_k + eps) / (N + K eps) * N`. Codes unused for `dead_after_steps` updates are
//! reset to a perturbed copy of a vector assigned in the current batch.
//!
//! **Multi-modal EMA** (CMG): a position's update vector mixes its own encoder output with
//! the paired example's vectors of the other modalities at the same position, so a code
//! chosen by one modality is also pulled toward what the other modalities say there.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// EMA settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmaSettings {
    pub decay: f32,
    pub epsilon: f32,
    pub dead_after_steps: usize,
    /// Weight of the own vector in the multi-modal mix (1.0 = plain EMA).
    pub own_weight: f32,
}

impl Default for EmaSettings {
    fn default() -> Self {
        EmaSettings {
            decay: 0.99,
            epsilon: 1e-5,
            dead_after_steps: 300,
            own_weight: 0.5,
        }
    }
}

/// One modality's batch: encoder outputs and codes, with a valid-position mask.
pub struct ModalityBatch<'a> {
    /// `[B, T, D]` row-major.
    pub vectors: &'a [f32],
    /// `[B, T]`.
    pub codes: &'a [u32],
    /// `[B, T]`, 1 for real positions.
    pub mask: &'a [f32],
    pub t: usize,
}

impl ModalityBatch<'_> {
    fn vector(&self, b: usize, t: usize, d: usize) -> &[f32] {
        let i = (b * self.t + t) * d;
        &self.vectors[i..i + d]
    }

    /// Mean of the valid positions of example b.
    fn pooled(&self, b: usize, d: usize) -> Vec<f32> {
        let mut out = vec![0f32; d];
        let mut n = 0f32;
        for t in 0..self.t {
            if self.mask[b * self.t + t] > 0.5 {
                for (o, v) in out.iter_mut().zip(self.vector(b, t, d)) {
                    *o += v;
                }
                n += 1.0;
            }
        }
        out.iter_mut().for_each(|o| *o /= n.max(1.0));
        out
    }

    /// Partner vector at position t for another modality: the vector at the same position
    /// when the sequences have equal length, else the pooled vector.
    fn partner(&self, b: usize, t: usize, other_t: usize, d: usize, pooled: &[f32]) -> Vec<f32> {
        if self.t == other_t && self.mask[b * self.t + t] > 0.5 {
            self.vector(b, t, d).to_vec()
        } else {
            pooled.to_vec()
        }
    }
}

/// The EMA state of a K x D codebook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmaCodebook {
    pub k: usize,
    pub d: usize,
    /// Smoothed assignment counts `[K]`.
    pub cluster_size: Vec<f32>,
    /// Smoothed vector sums `[K, D]`.
    pub embed_sum: Vec<f32>,
    /// Current code vectors `[K, D]`.
    pub vectors: Vec<f32>,
    /// Updates since each code was last used `[K]`.
    pub idle_steps: Vec<usize>,
    /// Codes reset so far.
    pub resets: usize,
    /// Training step of each code's last reset (codes never reset are absent). Checkpoints
    /// written before it was recorded read as empty.
    #[serde(default)]
    pub last_reset_step: BTreeMap<u32, u64>,
}

impl EmaCodebook {
    /// Starts from the given vectors (counts 1 so the first updates move them gently).
    pub fn new(vectors: Vec<f32>, k: usize, d: usize) -> Self {
        EmaCodebook {
            k,
            d,
            cluster_size: vec![1.0; k],
            embed_sum: vectors.clone(),
            vectors,
            idle_steps: vec![0; k],
            resets: 0,
            last_reset_step: BTreeMap::new(),
        }
    }

    /// One EMA update, at training step `step`, from a paired batch of several modalities
    /// (all with the same B). With `multimodal`, each position's update vector is
    /// `own_weight * own + (1 - own_weight) * mean(partners)`.
    pub fn update(
        &mut self,
        step: u64,
        batches: &[ModalityBatch<'_>],
        batch_size: usize,
        multimodal: bool,
        settings: EmaSettings,
        rng: &mut impl Rng,
    ) {
        let (k, d) = (self.k, self.d);
        let mut counts = vec![0f32; k];
        let mut sums = vec![0f32; k * d];
        let mut assigned: Vec<(usize, usize, usize)> = Vec::new(); // (modality, b, t)
        for b in 0..batch_size {
            let pooled: Vec<Vec<f32>> = batches.iter().map(|m| m.pooled(b, d)).collect();
            for (mi, m) in batches.iter().enumerate() {
                for t in 0..m.t {
                    if m.mask[b * m.t + t] <= 0.5 {
                        continue;
                    }
                    let code = m.codes[b * m.t + t] as usize;
                    if code >= k {
                        continue;
                    }
                    let own = m.vector(b, t, d);
                    let slot = &mut sums[code * d..(code + 1) * d];
                    if multimodal && batches.len() > 1 {
                        let mut partner = vec![0f32; d];
                        for (oi, other) in batches.iter().enumerate() {
                            if oi == mi {
                                continue;
                            }
                            let p = other.partner(b, t, m.t, d, &pooled[oi]);
                            partner.iter_mut().zip(&p).for_each(|(a, v)| *a += v);
                        }
                        let n_other = (batches.len() - 1) as f32;
                        let w = settings.own_weight;
                        for ((s, o), p) in slot.iter_mut().zip(own).zip(&partner) {
                            *s += w * o + (1.0 - w) * p / n_other;
                        }
                    } else {
                        slot.iter_mut().zip(own).for_each(|(s, o)| *s += o);
                    }
                    counts[code] += 1.0;
                    assigned.push((mi, b, t));
                }
            }
        }
        let decay = settings.decay;
        for (size, &count) in self.cluster_size.iter_mut().zip(&counts) {
            *size = decay * *size + (1.0 - decay) * count;
        }
        for (sum, &batch_sum) in self.embed_sum.iter_mut().zip(&sums) {
            *sum = decay * *sum + (1.0 - decay) * batch_sum;
        }
        let n: f32 = self.cluster_size.iter().sum();
        let eps = settings.epsilon;
        for (c, &count) in counts.iter().enumerate() {
            let smoothed = (self.cluster_size[c] + eps) / (n + k as f32 * eps) * n;
            let (row, sum) = (
                &mut self.vectors[c * d..(c + 1) * d],
                &self.embed_sum[c * d..(c + 1) * d],
            );
            row.iter_mut()
                .zip(sum)
                .for_each(|(v, s)| *v = s / smoothed.max(1e-12));
            if count > 0.0 {
                self.idle_steps[c] = 0;
            } else {
                self.idle_steps[c] += 1;
            }
        }
        // Dead-code reset: perturbed copies of vectors assigned in this batch.
        if assigned.is_empty() {
            return;
        }
        for c in 0..k {
            if self.idle_steps[c] < settings.dead_after_steps {
                continue;
            }
            let (mi, b, t) = assigned[rng.random_range(0..assigned.len())];
            let source = batches[mi].vector(b, t, d);
            let scale = source.iter().map(|x| x.abs()).sum::<f32>() / d as f32 * 0.01 + 1e-4;
            for (v, &x) in self.vectors[c * d..(c + 1) * d].iter_mut().zip(source) {
                let noise: f32 = rng.random_range(-1.0..1.0);
                *v = x + noise * scale;
            }
            self.embed_sum[c * d..(c + 1) * d].copy_from_slice(&self.vectors[c * d..(c + 1) * d]);
            self.cluster_size[c] = 1.0;
            self.idle_steps[c] = 0;
            self.resets += 1;
            self.last_reset_step.insert(c as u32, step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plain_update_moves_codes_toward_their_vectors() {
        // K=2, D=1, decay 0.5, no smoothing effect to speak of (eps tiny).
        let mut cb = EmaCodebook::new(vec![0.0, 10.0], 2, 1);
        let vectors = [2.0f32, 2.0];
        let codes = [0u32, 0];
        let mask = [1.0f32, 1.0];
        let batch = ModalityBatch {
            vectors: &vectors,
            codes: &codes,
            mask: &mask,
            t: 2,
        };
        let settings = EmaSettings {
            decay: 0.5,
            epsilon: 1e-9,
            dead_after_steps: 100,
            own_weight: 0.5,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        cb.update(1, &[batch], 1, false, settings, &mut rng);
        // code 0: N = 0.5*1 + 0.5*2 = 1.5, m = 0.5*0 + 0.5*4 = 2 ; code 1: N = 0.5, m = 5
        // n = 2.0, smoothing ~ identity -> e0 = 2/1.5, e1 = 5/0.5
        assert!((cb.vectors[0] - 2.0 / 1.5).abs() < 1e-4, "{:?}", cb.vectors);
        assert!((cb.vectors[1] - 10.0).abs() < 1e-3, "{:?}", cb.vectors);
        assert_eq!(cb.idle_steps, vec![0, 1]);
    }

    #[test]
    fn multimodal_update_mixes_the_paired_vector_at_the_same_position() {
        let mut cb = EmaCodebook::new(vec![0.0, 0.0], 2, 1);
        // Image position 0 -> code 0 with value 1; audio position 0 -> code 1 with value 3.
        let (iv, ic, im) = ([1.0f32], [0u32], [1.0f32]);
        let (av, ac, am) = ([3.0f32], [1u32], [1.0f32]);
        let image = ModalityBatch {
            vectors: &iv,
            codes: &ic,
            mask: &im,
            t: 1,
        };
        let audio = ModalityBatch {
            vectors: &av,
            codes: &ac,
            mask: &am,
            t: 1,
        };
        let settings = EmaSettings {
            decay: 0.0,
            epsilon: 1e-9,
            dead_after_steps: 100,
            own_weight: 0.5,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        cb.update(1, &[image, audio], 1, true, settings, &mut rng);
        // decay 0: code 0 = 0.5*1 + 0.5*3 = 2, code 1 = 0.5*3 + 0.5*1 = 2
        assert!(
            (cb.vectors[0] - 2.0).abs() < 1e-4 && (cb.vectors[1] - 2.0).abs() < 1e-4,
            "{:?}",
            cb.vectors
        );
    }

    #[test]
    fn dead_codes_are_reset_to_perturbed_active_vectors() {
        let mut cb = EmaCodebook::new(vec![0.0, 0.0, 100.0, 100.0], 2, 2);
        let vectors = [5.0f32, -5.0];
        let codes = [0u32];
        let mask = [1.0f32];
        let settings = EmaSettings {
            decay: 0.9,
            epsilon: 1e-5,
            dead_after_steps: 3,
            own_weight: 0.5,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for step in 1..=3 {
            let batch = ModalityBatch {
                vectors: &vectors,
                codes: &codes,
                mask: &mask,
                t: 1,
            };
            cb.update(step, &[batch], 1, false, settings, &mut rng);
        }
        assert_eq!(cb.resets, 1);
        assert_eq!(cb.idle_steps[1], 0);
        // Code 1, idle for three updates, was reset at the third; code 0 never was.
        assert_eq!(cb.last_reset_step, BTreeMap::from([(1, 3)]));
        assert!(
            (cb.vectors[2] - 5.0).abs() < 0.2 && (cb.vectors[3] + 5.0).abs() < 0.2,
            "{:?}",
            cb.vectors
        );
    }
}
