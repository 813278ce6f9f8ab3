//! The training loop: paired class-level batches (an image, a clip and a prompt of the same
//! digit), one [`CmgModel::step`] each (the losses), the EMA codebook update, checkpoints;
//! resumable and seeded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bundle::weights::{self, HuggingFaceBert, WeightFile};
use crate::error::{Error, Result};
use crate::model::{BertConfig, ModelConfig, float_to_vec, tensor_from_vec};
use crate::train::batches::{TrainingSet, sample_batch};
use crate::train::checkpoint::{self, CheckpointState};
use crate::train::cmg::CmgModel;
use crate::train::config::TrainConfig;
use crate::train::data::DigitsData;
use crate::train::data::speech_cache::file_sha256;
use crate::train::ema::{EmaCodebook, EmaSettings, ModalityBatch};
use crate::train::prompts::{precompute_prompts, training_prompts};
pub use crate::train::step::StepLog;
use crate::train::step::{DeviceBatch, MODALITIES};

/// Result of a training run.
pub struct Trained {
    pub model: CmgModel,
    pub model_config: ModelConfig,
    pub log: Vec<StepLog>,
    pub elapsed_secs: f64,
    pub set: TrainingSet,
    /// Training step of each code's last dead-code reset (codes never reset are absent).
    pub last_reset_step: BTreeMap<u32, u64>,
}

fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
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
    cfg.validate().map_err(|e| Error::InvalidRequest(e.0))?;
    check_speech_cache(cfg, data)?;
    let prompts = training_prompts();
    let (states, hidden) = precompute_prompts(&prompts, &cfg.transformer_dir, 32)?;
    let set = TrainingSet::new(data, states, hidden, cfg)?;
    let speech_width = set.speech_width;
    let model_config = cfg.model_config(BertConfig::minilm_l6());
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
            .ok_or_else(|| Error::Internal("resume asked without a checkpoint folder".into()))?;
        let restored = checkpoint::load(dir, model, &ad)?;
        model = restored.model;
        optimizer_record = restored.optimizer;
        ema = restored.state.ema;
        start_step = restored.state.step;
        elapsed_before = restored.state.elapsed_secs;
    }
    if !resume && cfg.components.codebook {
        let mut rng = step_rng(cfg.seed, usize::MAX);
        let hb = sample_batch(&set, cfg.batch_size, &mut rng);
        let batch = DeviceBatch::upload(&hb, speech_width, hidden, &ad);
        let init = data_dependent_codebook(&model, &batch, cfg, &mut rng);
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
    for step in start_step..cfg.steps {
        let mut rng = step_rng(cfg.seed, step);
        let hb = sample_batch(&set, cfg.batch_size, &mut rng);
        let batch = DeviceBatch::upload(&hb, speech_width, hidden, &ad);
        let out = model.step(&batch, cfg, step + 1)?;
        let mut entry = out.log;
        let grads = GradientsParams::from_grads(out.total.backward(), &model);
        model = optim.step(cfg.learning_rate, model, grads);
        if let Some(host) = &out.host {
            let batches: Vec<ModalityBatch<'_>> = (0..MODALITIES)
                .map(|m| ModalityBatch {
                    vectors: &host.vectors[m],
                    codes: &host.codes[m],
                    mask: &host.masks[m],
                    t: host.masks[m].len() / batch.size,
                })
                .collect();
            ema.update(
                (step + 1) as u64,
                &batches,
                batch.size,
                cfg.components.multimodal_ema,
                ema_settings,
                &mut rng,
            );
            let id = model.semantic.codebook.vectors.id;
            let vectors =
                tensor_from_vec(ema.vectors.clone(), [cfg.codebook_size, cfg.d_model], &ad);
            model.semantic.codebook.vectors =
                Param::initialized(id, vectors.set_require_grad(false));
            let mut all: Vec<u32> = host.codes.iter().flatten().copied().collect();
            all.sort_unstable();
            all.dedup();
            entry.active_codes = all.len();
            entry.resets = ema.resets;
        }
        bar.set_message(format!(
            "loss {:.3} rec {:.3} cpc {:.3} txt {:.3} cm {:.3} agree {:.3} sep {:.3} ppl {:.0}/{:.0}/{:.0} shared {:.2}/{:.2}/{:.2} active {}",
            entry.total,
            entry.reconstruction,
            entry.cross_cpc,
            entry.text_contrastive,
            entry.code_matching,
            entry.code_agreement,
            entry.code_separation,
            entry.perplexity[0],
            entry.perplexity[1],
            entry.perplexity[2],
            entry.shared_positions[0],
            entry.shared_positions[1],
            entry.shared_positions[2],
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
        last_reset_step: ema.last_reset_step,
    })
}

/// Refuses data whose speech cache came from other frozen weights than `cfg.speech_weights`.
fn check_speech_cache(cfg: &TrainConfig, data: &DigitsData) -> Result<()> {
    let cached = data
        .speech
        .as_ref()
        .map(|s| s.weights_sha256.as_str())
        .unwrap_or_default();
    let expected = file_sha256(&cfg.speech_weights)?;
    if cached != expected {
        return Err(Error::InvalidRequest(format!(
            "the data's speech features were computed with frozen weights of sha256 {cached:?}, \
             but speech_weights {} has {expected}; prepare the data again with --whisper {}",
            cfg.speech_weights.display(),
            cfg.speech_weights.display()
        )));
    }
    Ok(())
}

/// Data-dependent initialisation: codes start on encoder outputs of a first batch of every
/// modality's unpadded positions (plus a little noise), so no code starts dead far from the
/// data. Runs on the training model itself: cloning it off the autodiff device would
/// materialise the lazily initialised parameters without gradient tracking.
fn data_dependent_codebook(
    model: &CmgModel,
    batch: &DeviceBatch,
    cfg: &TrainConfig,
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let out = model.semantic_forward(
        batch.images.clone(),
        batch.speech.clone(),
        batch.speech_mask.clone(),
        batch.text_hidden.clone(),
        batch.text_mask.clone(),
    );
    let mut pool: Vec<Vec<f32>> = Vec::new();
    for m in 0..MODALITIES {
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
    init
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
