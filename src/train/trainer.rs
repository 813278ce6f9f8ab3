//! The training loop: paired class-level batches (an image, a clip and a prompt of the same
//! digit), CMG losses, EMA codebook, checkpoints, resumable and seeded.

use std::path::Path;
use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bundle::weights::{self, HuggingFaceBert, WeightFile};
use crate::error::{Error, Result};
use crate::index::stats::perplexity;
use crate::model::{
    BertConfig, ModelConfig, float_to_vec, int_tensor_from_vec, int_to_vec, l2_normalize,
    masked_mean, tensor_from_vec,
};
use crate::preprocess::mnist::{MNIST_PIXELS, MNIST_SIDE_PX};
use crate::preprocess::text::TextTokenizer;
use crate::train::batches::{TrainingSet, sample_batch};
use crate::train::checkpoint::{self, CheckpointState};
use crate::train::cmg::{CPC_PAIRS, CmgModel, pooled_embedding};
use crate::train::config::TrainConfig;
use crate::train::data::DigitsData;
use crate::train::ema::{EmaCodebook, EmaSettings, ModalityBatch};
use crate::train::losses;
use crate::train::prompts::training_prompts;

/// Frozen transformer states of one prompt.
#[derive(Clone, Debug)]
pub struct PromptStates {
    pub class: usize,
    pub text: String,
    /// `[len, H]`
    pub hidden: Vec<f32>,
    pub len: usize,
}

/// Runs the frozen transformer once over every prompt.
pub fn precompute_prompts(
    prompts: &[(usize, String)],
    transformer_dir: &Path,
    max_tokens: usize,
) -> Result<(Vec<PromptStates>, usize)> {
    let device = Device::flex();
    let bert_cfg = BertConfig::minilm_l6();
    let bert = weights::load_bert(
        &transformer_dir.join("model.safetensors"),
        &bert_cfg,
        &device,
    )?;
    let tokenizer = TextTokenizer::from_file(&transformer_dir.join("tokenizer.json"), max_tokens)?;
    let h = bert_cfg.hidden_size;
    let mut out = Vec::new();
    for chunk in prompts.chunks(64) {
        let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        let (ids, mask, l) = tokenizer.encode_batch(&texts)?;
        let b = chunk.len();
        let hidden = bert.forward(
            int_tensor_from_vec(ids.iter().map(|&i| i as i64).collect(), [b, l], &device),
            tensor_from_vec(mask.iter().map(|&m| m as f32).collect(), [b, l], &device),
        );
        let hidden = float_to_vec(hidden);
        for (i, (class, text)) in chunk.iter().enumerate() {
            let len = mask[i * l..(i + 1) * l].iter().filter(|&&m| m == 1).count();
            out.push(PromptStates {
                class: *class,
                text: text.clone(),
                hidden: hidden[i * l * h..(i * l + len) * h].to_vec(),
                len,
            });
        }
    }
    Ok((out, h))
}

/// Loss values of one step, for the progress bar and the log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StepLog {
    pub step: usize,
    pub total: f32,
    pub reconstruction: f32,
    pub commitment: f32,
    pub cross_cpc: f32,
    pub club: f32,
    pub text_contrastive: f32,
    /// Perplexity of the batch's codes per modality.
    pub perplexity: [f32; 3],
    /// Distinct codes in the batch over all modalities.
    pub active_codes: usize,
    pub resets: usize,
}

/// Result of a training run.
pub struct Trained {
    pub model: CmgModel,
    pub model_config: ModelConfig,
    pub log: Vec<StepLog>,
    pub elapsed_secs: f64,
    pub set: TrainingSet,
}

fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Rows of `[B, T, D]` scaled to unit length.
fn normalize_rows(x: Tensor<3>) -> Tensor<3> {
    let norm = x.clone().powi_scalar(2).sum_dim(2).sqrt().clamp_min(1e-6);
    x / norm
}

/// Trains with `cfg` on `data`; `checkpoint_dir` receives checkpoints (and is read when
/// `resume`). `progress` shows a bar.
pub fn train(
    cfg: &TrainConfig,
    data: &DigitsData,
    device: &Device,
    checkpoint_dir: Option<&Path>,
    resume: bool,
    progress: bool,
) -> Result<Trained> {
    cfg.validate().map_err(Error::InvalidRequest)?;
    let audio_cfg = &data.meta.audio_config;
    let (n_mels, n_frames) = (audio_cfg.n_mels, audio_cfg.n_frames);
    let prompts = training_prompts();
    let (states, hidden) = precompute_prompts(&prompts, &cfg.transformer_dir, 32)?;
    let set = TrainingSet::new(data, states, hidden, cfg)?;
    let model_config = cfg.model_config(n_mels, n_frames, BertConfig::minilm_l6());
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let mut model = cfg.init_cmg(&model_config, &ad);
    let init_codebook = float_to_vec(model.semantic.codebook.vectors.val());
    let mut ema = EmaCodebook::new(init_codebook, cfg.codebook_size, cfg.d_model);
    let mut start_step = 0;
    let mut elapsed_before = 0.0;
    let mut optimizer_record = None;
    if resume {
        let dir = checkpoint_dir
            .ok_or_else(|| Error::InvalidRequest("--resume needs a checkpoint folder".into()))?;
        let restored = checkpoint::load(dir, model, &ad)?;
        model = restored.model;
        optimizer_record = restored.optimizer;
        ema = restored.state.ema;
        start_step = restored.state.step;
        elapsed_before = restored.state.elapsed_secs;
    }
    if !resume && cfg.components.codebook {
        // Data-dependent initialisation: codes start on encoder outputs of a first batch of
        // every modality (plus a little noise), so no code starts dead far from the data.
        let mut rng = step_rng(cfg.seed, usize::MAX);
        let hb = sample_batch(&set, cfg.batch_size, &mut rng, n_mels, n_frames);
        let b = cfg.batch_size;
        // Probe on the training model itself: cloning and moving it off the autodiff device
        // would materialise the lazily initialised parameters without gradient tracking.
        let out = model.semantic_forward(
            tensor_from_vec(
                hb.images,
                [b, 1, MNIST_SIDE_PX as usize, MNIST_SIDE_PX as usize],
                &ad,
            ),
            tensor_from_vec(hb.mels, [b, n_mels, n_frames], &ad),
            tensor_from_vec(hb.text_hidden, [b, hb.text_len, hidden], &ad),
            tensor_from_vec(hb.text_mask.clone(), [b, hb.text_len], &ad),
        );
        let mut pool: Vec<Vec<f32>> = Vec::new();
        for m in 0..3 {
            let v = float_to_vec(out.continuous[m].clone().detach());
            let mask = float_to_vec(out.masks[m].clone());
            for (row, mv) in v.chunks_exact(cfg.d_model).zip(&mask) {
                if *mv > 0.5 {
                    pool.push(row.to_vec());
                }
            }
        }
        let mut init = Vec::with_capacity(cfg.codebook_size * cfg.d_model);
        for _ in 0..cfg.codebook_size {
            let row = &pool[rng.random_range(0..pool.len())];
            let scale = row.iter().map(|x| x.abs()).sum::<f32>() / cfg.d_model as f32 * 0.05 + 1e-4;
            init.extend(
                row.iter()
                    .map(|x| x + rng.random_range(-1.0f32..1.0) * scale),
            );
        }
        ema = EmaCodebook::new(init.clone(), cfg.codebook_size, cfg.d_model);
        let id = model.semantic.codebook.vectors.id;
        model.semantic.codebook.vectors = Param::initialized(
            id,
            tensor_from_vec(init, [cfg.codebook_size, cfg.d_model], &ad).set_require_grad(false),
        );
    }
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.grad_clip_norm)))
        .init();
    if let Some(record) = optimizer_record {
        optim = optim.load_record(record);
    }
    let ema_settings = EmaSettings {
        decay: cfg.ema_decay,
        epsilon: cfg.ema_epsilon,
        dead_after_steps: cfg.dead_code_steps,
        own_weight: 0.5,
    };
    let bar = if progress {
        ProgressBar::new(cfg.steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start_step as u64);
    let t0 = Instant::now();
    let mut log = Vec::new();
    let temp = cfg.contrastive_temperature as f64;
    let c = cfg.components;
    let w = cfg.weights;
    for step in start_step..cfg.steps {
        let mut rng = step_rng(cfg.seed, step);
        let hb = sample_batch(&set, cfg.batch_size, &mut rng, n_mels, n_frames);
        let b = cfg.batch_size;
        let images = tensor_from_vec(
            hb.images.clone(),
            [b, 1, MNIST_SIDE_PX as usize, MNIST_SIDE_PX as usize],
            &ad,
        );
        let mels = tensor_from_vec(hb.mels.clone(), [b, n_mels, n_frames], &ad);
        let text_hidden = tensor_from_vec(hb.text_hidden.clone(), [b, hb.text_len, hidden], &ad);
        let text_mask = tensor_from_vec(hb.text_mask.clone(), [b, hb.text_len], &ad);
        let targets = tensor_from_vec(losses::soft_targets(&hb.labels, &hb.labels), [b, b], &ad);

        let sem = model.semantic_forward(
            images.clone(),
            mels.clone(),
            text_hidden.clone(),
            text_mask.clone(),
        );
        let mut total = Tensor::<1>::zeros([1], &ad);
        let mut entry = StepLog {
            step: step + 1,
            ..Default::default()
        };
        let mut embeddings = Vec::new();
        let mut contexts = Vec::new();
        let mut quantized_for_decoder = Vec::new();
        let mut host_codes: Vec<Vec<u32>> = Vec::new();
        let mut host_vectors: Vec<Vec<f32>> = Vec::new();
        let mut host_masks: Vec<Vec<f32>> = Vec::new();
        for m in 0..3 {
            let z = sem.continuous[m].clone();
            let mask = sem.masks[m].clone();
            let [bb, t, d] = z.dims();
            let q_st = if c.codebook {
                let q = model.semantic.codebook.quantize(z.clone().detach());
                let qv = q.vectors.clone().detach();
                let m3 = mask.clone().reshape([bb, t, 1]);
                let commit = ((z.clone() - qv.clone()).powi_scalar(2) * m3.clone()).sum()
                    / (m3.sum().mul_scalar(d as f64).clamp_min(1.0));
                total = total + commit.clone().mul_scalar(w.commitment as f64);
                entry.commitment += float_to_vec(commit)[0];
                let codes: Vec<u32> = int_to_vec(q.codes).into_iter().map(|c| c as u32).collect();
                let maskv = float_to_vec(mask.clone());
                let mut counts = vec![0u64; cfg.codebook_size];
                for (code, mv) in codes.iter().zip(&maskv) {
                    if *mv > 0.5 {
                        counts[*code as usize] += 1;
                    }
                }
                entry.perplexity[m] = perplexity(&counts);
                host_vectors.push(float_to_vec(z.clone().detach()));
                host_codes.push(codes);
                host_masks.push(maskv);
                z.clone() + (qv - z.clone()).detach()
            } else {
                z.clone()
            };
            embeddings.push(pooled_embedding(q_st.clone(), mask.clone()));
            contexts.push(masked_mean(z.clone(), mask.clone()));
            quantized_for_decoder.push(masked_mean(q_st, mask));
        }
        if c.text_contrastive {
            // On the pooled continuous vectors (a direct gradient) and on the pooled code
            // vectors that the bundle's embedding is made of (through the straight-through path).
            let mut l = Tensor::<1>::zeros([1], &ad);
            let continuous: Vec<Tensor<2>> =
                contexts.iter().map(|x| l2_normalize(x.clone())).collect();
            for set in [&continuous, &embeddings] {
                for m in 0..2 {
                    l = l + losses::info_nce(
                        set[m].clone(),
                        set[2].clone(),
                        targets.clone(),
                        targets.clone(),
                        temp,
                    );
                }
            }
            let l = l.div_scalar(2.0);
            entry.text_contrastive = float_to_vec(l.clone())[0];
            total = total + l.mul_scalar(w.text_contrastive as f64);
        }
        if c.cross_cpc {
            let mut l = Tensor::<1>::zeros([1], &ad);
            for (i, &(a, bm)) in CPC_PAIRS.iter().enumerate() {
                let pred = l2_normalize(model.cpc[i].forward(contexts[a].clone()));
                let steps = if bm == 2 {
                    let [bb, d] = contexts[2].dims();
                    normalize_rows(contexts[2].clone().reshape([bb, 1, d]))
                } else {
                    normalize_rows(sem.continuous[bm].clone())
                };
                l = l + losses::cross_cpc(pred, steps, targets.clone(), temp);
            }
            let l = l.div_scalar(CPC_PAIRS.len() as f64);
            entry.cross_cpc = float_to_vec(l.clone())[0];
            total = total + l.mul_scalar(w.cross_cpc as f64);
        }
        let text_pooled_hidden = masked_mean(text_hidden.clone(), text_mask.clone());
        let need_specific = c.club || c.reconstruction;
        if need_specific {
            let specific =
                model.specific_forward(images.clone(), mels.clone(), text_pooled_hidden.clone());
            if c.club {
                let mut mi = Tensor::<1>::zeros([1], &ad);
                let mut fit = Tensor::<1>::zeros([1], &ad);
                for m in 0..3 {
                    // Unit-length features keep the Gaussian bound on a fixed scale: without
                    // it the encoders can "lower" the estimate just by growing the vectors.
                    let sem_n = l2_normalize(contexts[m].clone());
                    let spec_n = l2_normalize(specific[m].clone());
                    let net = model.club(m);
                    let (mu_d, lv_d) = net.forward(sem_n.clone().detach());
                    fit =
                        fit + losses::club_log_likelihood_loss(mu_d, lv_d, spec_n.clone().detach());
                    let frozen = net.clone().no_grad();
                    let (mu, lv) = frozen.forward(sem_n);
                    mi = mi + losses::club_upper_bound(mu, lv, spec_n);
                }
                entry.club = float_to_vec(mi.clone())[0] / 3.0;
                total = total + mi.mul_scalar(w.club as f64 / 3.0) + fit.div_scalar(3.0);
            }
            if c.reconstruction {
                let targets_rec = [
                    images.clone().reshape([b, MNIST_PIXELS]),
                    mels.clone().reshape([b, n_mels * n_frames]),
                    text_pooled_hidden.clone(),
                ];
                let mut rec = Tensor::<1>::zeros([1], &ad);
                for m in 0..3 {
                    let input = Tensor::cat(
                        vec![quantized_for_decoder[m].clone(), specific[m].clone()],
                        1,
                    );
                    rec =
                        rec + losses::mse(model.decoder(m).forward(input), targets_rec[m].clone());
                }
                entry.reconstruction = float_to_vec(rec.clone())[0] / 3.0;
                total = total + rec.mul_scalar(w.reconstruction as f64 / 3.0);
            }
        }
        entry.total = float_to_vec(total.clone())[0];
        if !entry.total.is_finite() {
            return Err(Error::Internal(format!(
                "loss became {} at step {}",
                entry.total,
                step + 1
            )));
        }
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optim.step(cfg.learning_rate, model, grads);
        if c.codebook {
            let batches: Vec<ModalityBatch<'_>> = (0..3)
                .map(|m| ModalityBatch {
                    vectors: &host_vectors[m],
                    codes: &host_codes[m],
                    mask: &host_masks[m],
                    t: host_masks[m].len() / b,
                })
                .collect();
            ema.update(&batches, b, c.multimodal_ema, ema_settings, &mut rng);
            let id = model.semantic.codebook.vectors.id;
            let vectors =
                tensor_from_vec(ema.vectors.clone(), [cfg.codebook_size, cfg.d_model], &ad);
            model.semantic.codebook.vectors =
                Param::initialized(id, vectors.set_require_grad(false));
            let mut all: Vec<u32> = host_codes.iter().flatten().copied().collect();
            all.sort_unstable();
            all.dedup();
            entry.active_codes = all.len();
            entry.resets = ema.resets;
        }
        bar.set_message(format!(
            "loss {:.3} rec {:.3} cpc {:.3} txt {:.3} club {:.3} ppl {:.0}/{:.0}/{:.0} active {}",
            entry.total,
            entry.reconstruction,
            entry.cross_cpc,
            entry.text_contrastive,
            entry.club,
            entry.perplexity[0],
            entry.perplexity[1],
            entry.perplexity[2],
            entry.active_codes
        ));
        bar.inc(1);
        let done = step + 1;
        if done % 50 == 0 || done == cfg.steps {
            tracing::info!(?entry, "step");
        }
        log.push(entry);
        if let Some(dir) = checkpoint_dir
            && cfg.checkpoint_every > 0
            && (done % cfg.checkpoint_every == 0 || done == cfg.steps)
        {
            checkpoint::save(
                dir,
                &model,
                &optim,
                &CheckpointState {
                    step: done,
                    config: cfg.clone(),
                    ema: ema.clone(),
                    elapsed_secs: elapsed_before + t0.elapsed().as_secs_f64(),
                    param_ids: Default::default(),
                },
            )?;
        }
    }
    bar.finish_and_clear();
    Ok(Trained {
        model,
        model_config,
        log,
        elapsed_secs: elapsed_before + t0.elapsed().as_secs_f64(),
        set,
    })
}

/// The inference model (semantic encoders + codebook) moved off the autodiff device.
pub fn inference_model(trained: &CmgModel) -> crate::model::MultimodalModel {
    trained.semantic.clone().valid()
}

/// Loads the frozen transformer into an inference model for export or evaluation.
pub fn attach_transformer(
    model: crate::model::MultimodalModel,
    transformer_dir: &Path,
    device: &Device,
) -> Result<crate::model::MultimodalModel> {
    let file = WeightFile::read(&transformer_dir.join("model.safetensors"), &HuggingFaceBert)?;
    weights::load_into(
        model,
        &file,
        &HuggingFaceBert,
        crate::bundle::TRANSFORMER_SCOPE,
        true,
        device,
    )
}
