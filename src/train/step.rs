//! One training step's forward pass and losses, as a method of the training model (burn's
//! pattern): [`CmgModel::step`] takes a paired batch on the device and returns the total loss
//! with every term logged and the host copies the EMA codebook update needs. The loop in
//! [`crate::train::trainer`] only samples, steps, updates and saves.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::stats::perplexity;
use crate::model::{float_to_vec, int_to_vec, l2_normalize, masked_mean, tensor_from_vec};
use crate::preprocess::mnist::{MNIST_PIXELS, MNIST_SIDE_PX};
use crate::train::batches::HostBatch;
use crate::train::cmg::{CPC_PAIRS, CmgModel, pooled_embedding};
use crate::train::config::TrainConfig;
use crate::train::data::speech_cache::CACHED_POSITIONS;
use crate::train::losses;

/// Modalities in the order of every per-modality array of a step (image, audio, text).
pub const MODALITIES: usize = 3;
/// Pairs of modalities for code matching, cross commitment and the shared-position log.
pub const MODALITY_PAIRS: [(usize, usize); 3] = [(0, 1), (0, 2), (1, 2)];

/// Loss values of one step, for the progress bar and the log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StepLog {
    pub step: usize,
    pub total: f32,
    pub reconstruction: f32,
    pub commitment: f32,
    #[serde(default)]
    pub cross_commitment: f32,
    #[serde(default)]
    pub code_matching: f32,
    #[serde(default)]
    pub code_agreement: f32,
    #[serde(default)]
    pub code_separation: f32,
    pub cross_cpc: f32,
    pub club: f32,
    pub text_contrastive: f32,
    /// Perplexity of the batch's codes per modality.
    pub perplexity: [f32; 3],
    /// Per pair of [`MODALITY_PAIRS`]: the share of the first modality's unpadded positions
    /// whose code the paired item of the second modality also uses.
    #[serde(default)]
    pub shared_positions: [f32; 3],
    /// Distinct codes in the batch over all modalities.
    pub active_codes: usize,
    pub resets: usize,
}

/// A paired batch on the device.
pub struct DeviceBatch {
    pub size: usize,
    /// `[B, 1, 28, 28]`
    pub images: Tensor<4>,
    /// `[B, CACHED_POSITIONS, H]` frozen speech features.
    pub speech: Tensor<3>,
    /// `[B, CACHED_POSITIONS]`, 0 past each clip.
    pub speech_mask: Tensor<2>,
    /// `[B, L, H]` frozen transformer states.
    pub text_hidden: Tensor<3>,
    /// `[B, L]`
    pub text_mask: Tensor<2>,
    /// `[B, B]` same-class soft targets.
    pub targets: Tensor<2>,
}

impl DeviceBatch {
    /// Uploads a host batch; `speech_width` and `text_width` are the frozen features' widths.
    pub fn upload(hb: &HostBatch, speech_width: usize, text_width: usize, device: &Device) -> Self {
        let b = hb.labels.len();
        let side = MNIST_SIDE_PX as usize;
        DeviceBatch {
            size: b,
            images: tensor_from_vec(hb.images.clone(), [b, 1, side, side], device),
            speech: tensor_from_vec(
                hb.speech.clone(),
                [b, CACHED_POSITIONS, speech_width],
                device,
            ),
            speech_mask: crate::model::positions_mask(
                &hb.speech_positions,
                CACHED_POSITIONS,
                device,
            ),
            text_hidden: tensor_from_vec(
                hb.text_hidden.clone(),
                [b, hb.text_len, text_width],
                device,
            ),
            text_mask: tensor_from_vec(hb.text_mask.clone(), [b, hb.text_len], device),
            targets: tensor_from_vec(losses::soft_targets(&hb.labels, &hb.labels), [b, b], device),
        }
    }
}

/// What the EMA codebook update needs, per modality, on the host.
pub struct HostCodes {
    /// `[B, T, D]` encoder outputs.
    pub vectors: [Vec<f32>; 3],
    /// `[B, T]`
    pub codes: [Vec<u32>; 3],
    /// `[B, T]`
    pub masks: [Vec<f32>; 3],
}

/// The result of [`CmgModel::step`].
pub struct StepOutput {
    pub total: Tensor<1>,
    pub log: StepLog,
    /// `None` when the codebook is off.
    pub host: Option<HostCodes>,
}

/// Rows of `[B, T, D]` scaled to unit length.
fn normalize_rows(x: Tensor<3>) -> Tensor<3> {
    let norm = x.clone().powi_scalar(2).sum_dim(2).sqrt().clamp_min(1e-6);
    x / norm
}

fn value(t: &Tensor<1>) -> f32 {
    float_to_vec(t.clone()).first().copied().unwrap_or(f32::NAN)
}

/// Share of the unpadded positions of `a` whose code row-partner `b` also uses.
fn shared_positions(
    codes_a: &[u32],
    mask_a: &[f32],
    codes_b: &[u32],
    mask_b: &[f32],
    batch: usize,
) -> f32 {
    let (ta, tb) = (codes_a.len() / batch, codes_b.len() / batch);
    let (mut shared, mut total) = (0usize, 0usize);
    for i in 0..batch {
        let partner: Vec<u32> = (0..tb)
            .filter(|&t| mask_b[i * tb + t] > 0.5)
            .map(|t| codes_b[i * tb + t])
            .collect();
        for t in (0..ta).filter(|&t| mask_a[i * ta + t] > 0.5) {
            total += 1;
            shared += usize::from(partner.contains(&codes_a[i * ta + t]));
        }
    }
    shared as f32 / total.max(1) as f32
}

/// `term(dists[a], dists[b], targets)` for every pair `(a, b)` of [`MODALITY_PAIRS`], in order:
/// the per-pair terms that read two modalities' code distributions and the batch's class targets.
fn per_pair<T>(
    dists: &[Tensor<2>],
    targets: &Tensor<2>,
    term: fn(Tensor<2>, Tensor<2>, Tensor<2>) -> T,
) -> Vec<T> {
    MODALITY_PAIRS
        .iter()
        .map(|&(a, b)| term(dists[a].clone(), dists[b].clone(), targets.clone()))
        .collect()
}

impl CmgModel {
    /// Forward pass and every loss of `cfg.components` on one paired batch.
    ///
    /// Errors: [`Error::Internal`] when the total loss is not finite.
    pub fn step(&self, batch: &DeviceBatch, cfg: &TrainConfig, step: usize) -> Result<StepOutput> {
        let device = batch.images.device();
        let b = batch.size;
        let (c, w) = (cfg.components, cfg.weights);
        let temp = cfg.contrastive_temperature as f64;
        // Without the padding mask, every position counts (padding included).
        let mask = |m: &Tensor<2>| match c.padding_mask {
            true => m.clone(),
            false => Tensor::ones(m.dims(), &device),
        };
        let mut sem = self.semantic_forward(
            batch.images.clone(),
            batch.speech.clone(),
            mask(&batch.speech_mask),
            batch.text_hidden.clone(),
            mask(&batch.text_mask),
        );
        // Blank image cells are the images' padding.
        sem.masks[0] = mask(&sem.masks[0]);
        let mut total = Tensor::<1>::zeros([1], &device);
        let mut log = StepLog {
            step,
            ..Default::default()
        };
        let mut embeddings = Vec::new();
        let mut contexts = Vec::new();
        let mut pooled_quantized = Vec::new();
        let mut quantized = Vec::new();
        let mut host: Option<HostCodes> = c.codebook.then(|| HostCodes {
            vectors: Default::default(),
            codes: Default::default(),
            masks: Default::default(),
        });
        for m in 0..MODALITIES {
            let z = sem.continuous[m].clone();
            let mask = sem.masks[m].clone();
            let [bb, t, d] = z.dims();
            let q_st = if let Some(host) = host.as_mut() {
                let q = self.semantic.codebook.quantize(z.clone().detach());
                let qv = q.vectors.clone().detach();
                let m3 = mask.clone().reshape([bb, t, 1]);
                let commit = ((z.clone() - qv.clone()).powi_scalar(2) * m3.clone()).sum()
                    / (m3.sum().mul_scalar(d as f64).clamp_min(1.0));
                log.commitment += value(&commit);
                total = total + commit.mul_scalar(w.commitment as f64);
                let codes: Vec<u32> = int_to_vec(q.codes).into_iter().map(|c| c as u32).collect();
                let maskv = float_to_vec(mask.clone());
                let mut counts = vec![0u64; cfg.codebook_size];
                for (code, mv) in codes.iter().zip(&maskv) {
                    if *mv > 0.5 {
                        counts[*code as usize] += 1;
                    }
                }
                log.perplexity[m] = perplexity(&counts);
                host.vectors[m] = float_to_vec(z.clone().detach());
                host.codes[m] = codes;
                host.masks[m] = maskv;
                quantized.push(qv.clone());
                z.clone() + (qv - z.clone()).detach()
            } else {
                z.clone()
            };
            embeddings.push(pooled_embedding(q_st.clone(), mask.clone()));
            contexts.push(masked_mean(z.clone(), mask.clone()));
            pooled_quantized.push(masked_mean(q_st, mask));
        }
        if let Some(host) = &host {
            for (i, &(a, bm)) in MODALITY_PAIRS.iter().enumerate() {
                log.shared_positions[i] = shared_positions(
                    &host.codes[a],
                    &host.masks[a],
                    &host.codes[bm],
                    &host.masks[bm],
                    b,
                );
            }
        }
        if c.codebook && c.cross_commitment {
            let mut l = Tensor::<1>::zeros([1], &device);
            for &(a, bm) in &MODALITY_PAIRS {
                for (x, y) in [(a, bm), (bm, a)] {
                    l = l + losses::cross_commitment(
                        sem.continuous[x].clone(),
                        sem.masks[x].clone(),
                        quantized[y].clone(),
                        sem.masks[y].clone(),
                    );
                }
            }
            let l = l.div_scalar((2 * MODALITY_PAIRS.len()) as f64);
            log.cross_commitment = value(&l);
            total = total + l.mul_scalar(w.cross_commitment as f64);
        }
        if c.codebook && (c.code_matching || c.code_agreement || c.code_separation) {
            let codebook = self.semantic.codebook.vectors.val().detach();
            let dists: Vec<Tensor<2>> = (0..MODALITIES)
                .map(|m| {
                    losses::soft_code_distribution(
                        sem.continuous[m].clone(),
                        codebook.clone(),
                        sem.masks[m].clone(),
                        cfg.code_matching_temperature as f64,
                    )
                })
                .collect();
            // One term per pair of modalities, averaged.
            let over_pairs = |terms: Vec<Tensor<1>>| {
                terms
                    .into_iter()
                    .fold(Tensor::<1>::zeros([1], &device), |l, t| l + t)
                    .div_scalar(MODALITY_PAIRS.len() as f64)
            };
            if c.code_matching {
                let l = over_pairs(per_pair(&dists, &batch.targets, losses::code_matching));
                log.code_matching = value(&l);
                total = total + l.mul_scalar(w.code_matching as f64);
            }
            // Code agreement and separation read the same class-level overlaps of each pair.
            let overlaps: Vec<Tensor<2>> = if c.code_agreement || c.code_separation {
                per_pair(&dists, &batch.targets, losses::class_code_overlaps)
            } else {
                Vec::new()
            };
            if c.code_agreement {
                let l = over_pairs(
                    overlaps
                        .iter()
                        .cloned()
                        .map(losses::code_agreement)
                        .collect(),
                );
                log.code_agreement = value(&l);
                total = total + l.mul_scalar(w.code_agreement as f64);
            }
            if c.code_separation {
                let l = over_pairs(
                    overlaps
                        .iter()
                        .map(|o| losses::code_separation(o.clone(), batch.targets.clone()))
                        .collect(),
                );
                log.code_separation = value(&l);
                total = total + l.mul_scalar(w.code_separation as f64);
            }
        }
        if c.text_contrastive {
            // On the pooled continuous vectors (a direct gradient) and on the pooled code
            // vectors that the bundle's embedding is made of (through the straight-through path).
            let mut l = Tensor::<1>::zeros([1], &device);
            let continuous: Vec<Tensor<2>> =
                contexts.iter().map(|x| l2_normalize(x.clone())).collect();
            for set in [&continuous, &embeddings] {
                for m in 0..2 {
                    l = l + losses::info_nce(
                        set[m].clone(),
                        set[2].clone(),
                        batch.targets.clone(),
                        batch.targets.clone(),
                        temp,
                    );
                }
            }
            let l = l.div_scalar(2.0);
            log.text_contrastive = value(&l);
            total = total + l.mul_scalar(w.text_contrastive as f64);
        }
        if c.cross_cpc {
            let mut l = Tensor::<1>::zeros([1], &device);
            for (i, &(a, bm)) in CPC_PAIRS.iter().enumerate() {
                let pred = l2_normalize(self.cpc[i].forward(contexts[a].clone()));
                let steps = if bm == 2 {
                    let [bb, d] = contexts[2].dims();
                    normalize_rows(contexts[2].clone().reshape([bb, 1, d]))
                } else {
                    normalize_rows(sem.continuous[bm].clone())
                };
                l = l + losses::cross_cpc(pred, steps, batch.targets.clone(), temp);
            }
            let l = l.div_scalar(CPC_PAIRS.len() as f64);
            log.cross_cpc = value(&l);
            total = total + l.mul_scalar(w.cross_cpc as f64);
        }
        if c.club || c.reconstruction {
            let speech_pooled = masked_mean(batch.speech.clone(), batch.speech_mask.clone());
            let text_pooled = masked_mean(batch.text_hidden.clone(), batch.text_mask.clone());
            let specific = self.specific_forward(
                batch.images.clone(),
                speech_pooled.clone(),
                text_pooled.clone(),
            );
            if c.club {
                let mut mi = Tensor::<1>::zeros([1], &device);
                let mut fit = Tensor::<1>::zeros([1], &device);
                for m in 0..MODALITIES {
                    // Unit-length features keep the Gaussian bound on a fixed scale: without
                    // it the encoders can "lower" the estimate just by growing the vectors.
                    let sem_n = l2_normalize(contexts[m].clone());
                    let spec_n = l2_normalize(specific[m].clone());
                    let net = self.club(m);
                    let (mu_d, lv_d) = net.forward(sem_n.clone().detach());
                    fit =
                        fit + losses::club_log_likelihood_loss(mu_d, lv_d, spec_n.clone().detach());
                    let frozen = net.clone().no_grad();
                    let (mu, lv) = frozen.forward(sem_n);
                    mi = mi + losses::club_upper_bound(mu, lv, spec_n);
                }
                log.club = value(&mi) / MODALITIES as f32;
                total = total
                    + mi.mul_scalar(w.club as f64 / MODALITIES as f64)
                    + fit.div_scalar(MODALITIES as f64);
            }
            if c.reconstruction {
                let targets = [
                    batch.images.clone().reshape([b, MNIST_PIXELS]),
                    speech_pooled,
                    text_pooled,
                ];
                let mut rec = Tensor::<1>::zeros([1], &device);
                for (m, target) in targets.into_iter().enumerate() {
                    let input =
                        Tensor::cat(vec![pooled_quantized[m].clone(), specific[m].clone()], 1);
                    rec = rec + losses::mse(self.decoder(m).forward(input), target);
                }
                log.reconstruction = value(&rec) / MODALITIES as f32;
                total = total + rec.mul_scalar(w.reconstruction as f64 / MODALITIES as f64);
            }
        }
        log.total = value(&total);
        if !log.total.is_finite() {
            return Err(Error::Internal(format!(
                "loss became {} at step {step}",
                log.total
            )));
        }
        Ok(StepOutput { total, log, host })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_positions_count_only_unpadded_positions_of_both() {
        // Row 0: A uses [1, 2], B uses [2, 9 (padded)] -> 1 of 2 shared.
        // Row 1: A uses [9 (padded), 3], B uses [3, 4] -> 1 of 1 shared.
        let share = shared_positions(
            &[1, 2, 9, 3],
            &[1.0, 1.0, 0.0, 1.0],
            &[2, 9, 3, 4],
            &[1.0, 0.0, 1.0, 1.0],
            2,
        );
        assert!((share - 2.0 / 3.0).abs() < 1e-6, "{share}");
    }
}
