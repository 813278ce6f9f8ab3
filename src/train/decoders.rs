//! Training the cross-modal generation decoders ([`crate::model::decoder`]) of a finished
//! bundle, on its frozen encoders, and adding them to the bundle.
//!
//! Every training item is encoded once; its embedding is the decoder input. Two kinds of pairs
//! are mixed in each batch, for each decoder:
//! - *self* pairs: an image's embedding -> that image (an audio clip's -> its log-mel);
//! - *cross* pairs: an audio clip's embedding -> an image of the same class (and an image's ->
//!   a clip of the same class), the class-level pairing the CMG model itself was trained on.
//!
//! The loss is the squared error in the decoder's output space (pixels in 0..1; the normalised
//! log-mel), to the nearest of several same-class targets for cross pairs (see [`sample`]).
//! The decoders are written to `decoders.safetensors` first and the manifest's `[generation]` section (with the cycle figures in `[metrics]`) after it, each
//! through the one safe-write routine, so a failed run leaves the bundle as it was.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::bundle::weights::{self, Identity};
use crate::bundle::{MANIFEST_FILE, decoder_output_lens};
use crate::device::ComputeDevice;
use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::{GenerationConfig, float_to_vec, tensor_from_vec};
use crate::safe_write::write_file;
use crate::train::data::{DigitsData, LabeledSet};
use crate::train::eval::generation::{
    GenerationReport, card_section, direction_key, replace_card_section, report,
};
use crate::train::eval::{EncodedSet, encode_set};
use crate::train::losses;

/// The decoders' weights file inside a bundle.
pub const DECODERS_FILE: &str = "decoders.safetensors";

/// Settings of a decoder run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecoderOptions {
    pub hidden: usize,
    pub steps: usize,
    /// Pairs per decoder per step (half self, half cross).
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            hidden: 512,
            steps: 3000,
            batch_size: 128,
            learning_rate: 1e-3,
            seed: 17,
        }
    }
}

/// What a run did and measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DecoderReport {
    pub bundle: String,
    pub train_secs: f64,
    pub steps: usize,
    pub image_items: usize,
    pub audio_items: usize,
    /// Final training loss (mean of the last 100 steps) of each decoder.
    pub final_loss: BTreeMap<String, f32>,
    /// Cycle accuracy on the held-out primary test sets (`image_to_audio`, `audio_to_image`).
    pub generation: BTreeMap<String, GenerationReport>,
}

/// Items of one modality: embeddings `[N, D]`, targets `[N, out]` and labels.
struct Pairs {
    embeddings: Vec<f32>,
    targets: Vec<f32>,
    labels: Vec<usize>,
    by_class: Vec<Vec<usize>>,
    target_len: usize,
}

impl Pairs {
    fn new(set: &EncodedSet, targets: Vec<f32>, target_len: usize) -> Self {
        let mut by_class = vec![Vec::new(); 10];
        for (i, &l) in set.labels.iter().enumerate() {
            if let Some(v) = by_class.get_mut(l) {
                v.push(i);
            }
        }
        Pairs {
            embeddings: set
                .items
                .iter()
                .flat_map(|i| i.embedding.iter().copied())
                .collect(),
            targets,
            labels: set.labels.clone(),
            by_class,
            target_len,
        }
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn target(&self, i: usize) -> &[f32] {
        &self.targets[i * self.target_len..(i + 1) * self.target_len]
    }

    fn embedding(&self, i: usize, d: usize) -> &[f32] {
        &self.embeddings[i * d..(i + 1) * d]
    }
}

/// Candidate targets of one cross pair: the loss takes the nearest of them (see [`sample`]).
const CROSS_CANDIDATES: usize = 48;

/// A batch for the decoder whose targets are `own`: inputs `[B, D]` and, per row, the items of
/// `own` whose targets are its candidates. Even rows are self pairs (the item's own target
/// only); odd rows are cross pairs: an embedding from `other` and [`CROSS_CANDIDATES`] items of
/// its class from `own`. Scored by the nearest candidate ("multiple choice" loss, see
/// [`nearest_targets`]), a cross pair teaches one sharp member of the class rather than the
/// blurred class mean a plain squared error would.
fn sample(
    own: &Pairs,
    other: &Pairs,
    batch: usize,
    d: usize,
    rng: &mut impl Rng,
) -> (Vec<f32>, Vec<Vec<usize>>) {
    let mut inputs = Vec::with_capacity(batch * d);
    let mut candidates = Vec::with_capacity(batch);
    for b in 0..batch {
        if b % 2 == 0 {
            let i = rng.random_range(0..own.len());
            inputs.extend_from_slice(own.embedding(i, d));
            candidates.push(vec![i]);
        } else {
            let j = rng.random_range(0..other.len());
            let same = &own.by_class[other.labels[j]];
            inputs.extend_from_slice(other.embedding(j, d));
            candidates.push(
                (0..CROSS_CANDIDATES)
                    .map(|_| {
                        if same.is_empty() {
                            rng.random_range(0..own.len())
                        } else {
                            same[rng.random_range(0..same.len())]
                        }
                    })
                    .collect(),
            );
        }
    }
    (inputs, candidates)
}

/// The target of each row: of its candidates in `own`, the one nearest (squared error) to the
/// decoder's output `outputs` (`[B, P]` on the host). The squared error to this target has
/// the gradient of the minimum over the candidates, so the loss is the multiple-choice loss
/// without putting `[B, K, P]` candidates on the device.
fn nearest_targets(own: &Pairs, outputs: &[f32], candidates: &[Vec<usize>]) -> Vec<f32> {
    let p = own.target_len;
    let mut targets = Vec::with_capacity(candidates.len() * p);
    for (row, items) in candidates.iter().enumerate() {
        let out = &outputs[row * p..(row + 1) * p];
        let distance = |i: usize| -> f32 {
            own.target(i)
                .iter()
                .zip(out)
                .map(|(t, o)| (t - o) * (t - o))
                .sum()
        };
        let best = items
            .iter()
            .map(|&i| (i, distance(i)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i);
        targets.extend_from_slice(own.target(best));
    }
    targets
}

/// Trains image and audio decoders for the bundle at `dir` on `data`'s training splits,
/// measures their cycle accuracy on its test splits and writes them into the bundle.
/// `on_step(step, steps)` hears progress.
pub fn train_decoders(
    dir: &Path,
    data: &DigitsData,
    opts: &DecoderOptions,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<DecoderReport> {
    if opts.steps == 0 || opts.batch_size < 2 || opts.hidden == 0 {
        return Err(Error::InvalidRequest(format!(
            "decoders need steps >= 1, batch size >= 2 and a positive hidden width (got steps {}, \
             batch size {}, hidden {})",
            opts.steps, opts.batch_size, opts.hidden
        )));
    }
    let t0 = Instant::now();
    let mut p = Pipeline::open_on(dir, ComputeDevice::cpu(""))?;
    let manifest = p.bundle.manifest.clone();
    let modalities = manifest.architecture.modalities();
    if !modalities.contains(&Modality::Image) || !modalities.contains(&Modality::Audio) {
        return Err(Error::InvalidRequest(format!(
            "{}: generation decoders need a model with image and audio encoders",
            dir.display()
        )));
    }
    let d = manifest.architecture.d_model;
    let (image_len, audio_len) = decoder_output_lens(&manifest);
    let norm = p.audio_config()?.normalization;
    // The model reads its own audio features (the speech cache for a model on the frozen
    // speech encoder); the audio decoder's targets are always the clips' log-mels.
    let model_view = if manifest.architecture.speech.is_some() {
        Some(data.clone().with_speech_audio()?)
    } else {
        None
    };
    let seen = model_view.as_ref().unwrap_or(data);
    let images = encode_set(&p, Modality::Image, &seen.image_train)?;
    let joined = |a: &LabeledSet, b: &LabeledSet| {
        let mut set = a.clone();
        set.features.extend_from_slice(&b.features);
        set.labels.extend_from_slice(&b.labels);
        set.groups.extend_from_slice(&b.groups);
        set
    };
    let audio_set = joined(&data.audio_train, &data.audio_synth);
    let audio = encode_set(
        &p,
        Modality::Audio,
        &joined(&seen.audio_train, &seen.audio_synth),
    )?;
    let image_pairs = Pairs::new(&images, data.image_train.features.clone(), image_len);
    let audio_targets: Vec<f32> = audio_set
        .features
        .iter()
        .map(|v| (v - norm.mean) / norm.std)
        .collect();
    let audio_pairs = Pairs::new(&audio, audio_targets, audio_len);

    let config = GenerationConfig {
        weights: DECODERS_FILE.into(),
        hidden: opts.hidden,
        modalities: vec![Modality::Image, Modality::Audio],
    };
    let ad = p.device.device.clone().autodiff();
    ad.seed(opts.seed);
    let mut decoders = config.init(d, image_len, audio_len, &ad);
    let mut optim = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let b = opts.batch_size;
    let mut recent: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for step in 0..opts.steps {
        let (xi, ci) = sample(&image_pairs, &audio_pairs, b, d, &mut rng);
        let (xa, ca) = sample(&audio_pairs, &image_pairs, b, d, &mut rng);
        let image_out = decoders
            .forward(tensor_from_vec(xi, [b, d], &ad), Modality::Image)
            .ok_or_else(|| Error::Internal("image decoder missing".into()))?;
        let audio_out = decoders
            .forward(tensor_from_vec(xa, [b, d], &ad), Modality::Audio)
            .ok_or_else(|| Error::Internal("audio decoder missing".into()))?;
        let ti = nearest_targets(&image_pairs, &float_to_vec(image_out.clone().detach()), &ci);
        let ta = nearest_targets(&audio_pairs, &float_to_vec(audio_out.clone().detach()), &ca);
        let image_loss = losses::mse(image_out, tensor_from_vec(ti, [b, image_len], &ad));
        let audio_loss = losses::mse(audio_out, tensor_from_vec(ta, [b, audio_len], &ad));
        for (name, l) in [("image", &image_loss), ("audio", &audio_loss)] {
            let v = recent.entry(name.into()).or_default();
            v.push(float_to_vec(l.clone().detach())[0]);
            if v.len() > 100 {
                v.remove(0);
            }
        }
        let total = image_loss + audio_loss;
        let grads = GradientsParams::from_grads(total.backward(), &decoders);
        decoders = optim.step(opts.learning_rate, decoders, grads);
        on_step(step + 1, opts.steps);
    }
    // Stored as float16 (half the file); the figures are measured on the stored weights.
    let tensors = weights::export_with_naming(&decoders.valid(), &Identity);
    let metadata = std::collections::HashMap::from([(
        "settings".to_string(),
        serde_json::to_string(opts).unwrap_or_default(),
    )]);
    let bytes = weights::to_safetensors_bytes_as(&tensors, Some(metadata), true)?;
    let path = dir.join(DECODERS_FILE);
    let stored = weights::WeightFile::from_bytes(&bytes, &path, &Identity)?;
    let fresh = config.init(d, image_len, audio_len, &p.device.device);
    let decoders = weights::load_into(fresh, &stored, &Identity, "", true, &p.device.device)?;

    // Measure before writing: the pipeline reads the new decoders from memory.
    p.bundle.decoders = Some(decoders);
    p.bundle.manifest.generation = Some(config.clone());
    let names = manifest.labels.names.clone();
    let classes: Vec<Vec<f32>> = p
        .class_embeddings(&names, &manifest.labels.prompts)?
        .chunks_exact(d)
        .map(<[f32]>::to_vec)
        .collect();
    let mut generation = BTreeMap::new();
    for (from, to, set, source) in [
        (
            Modality::Image,
            Modality::Audio,
            &seen.image_test,
            "held-out MNIST test split",
        ),
        (
            Modality::Audio,
            Modality::Image,
            &seen.audio_val,
            "FSDD validation speaker, never trained on",
        ),
    ] {
        let encoded = encode_set(&p, from, set)?;
        generation.insert(
            direction_key(from, to),
            report(&p, &encoded, to, &classes, source)?,
        );
    }

    write_file(&path, &bytes)?;
    let mut updated = manifest;
    updated.generation = Some(config);
    for (k, v) in &generation {
        updated.metrics.insert(
            format!("generation.{k}.cycle_accuracy"),
            f64::from(v.cycle_accuracy),
        );
    }
    let card_path = dir.join(&updated.card);
    if let Ok(card) = std::fs::read_to_string(&card_path) {
        let how = format!(
            "Two decoders (a {}-wide hidden layer each, stored as float16 in `{DECODERS_FILE}`) \
             map an input's embedding to a 28x28 picture and to a log-mel spectrogram (made \
             audible by Griffin-Lim). They were trained after the model, on its frozen encoders, \
             for {} steps: each picture's (clip's) own embedding to itself, and the embedding of \
             a clip (picture) of the same digit to the nearest of {CROSS_CANDIDATES} pictures \
             (clips) of that digit. Training data: {} MNIST training digits and {} FSDD and \
             synthetic training clips (`transference decoders --bundle models/{} --data \
             data/digits`).",
            opts.hidden,
            opts.steps,
            image_pairs.len(),
            audio_pairs.len(),
            updated.name
        );
        let section = card_section(&generation, &how);
        write_file(&card_path, replace_card_section(&card, &section).as_bytes())?;
    }
    write_file(&dir.join(MANIFEST_FILE), updated.to_toml()?.as_bytes())?;

    Ok(DecoderReport {
        bundle: dir.display().to_string(),
        train_secs: t0.elapsed().as_secs_f64(),
        steps: opts.steps,
        image_items: image_pairs.len(),
        audio_items: audio_pairs.len(),
        final_loss: recent
            .into_iter()
            .map(|(k, v)| (k, v.iter().sum::<f32>() / v.len().max(1) as f32))
            .collect(),
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_gets_its_nearest_candidate() {
        // Three items with 2-value targets; rows output [0.9, 0.9] and [0.1, 0.0].
        let own = Pairs {
            embeddings: vec![0.0; 3],
            targets: vec![0.0, 0.0, 1.0, 1.0, 0.5, 0.5],
            labels: vec![0, 0, 0],
            by_class: vec![vec![0, 1, 2]],
            target_len: 2,
        };
        let targets = nearest_targets(&own, &[0.9, 0.9, 0.1, 0.0], &[vec![0, 1, 2], vec![1, 2]]);
        // Row 0: item 1 is nearest; row 1 may only choose from 1 and 2, and 2 is nearer.
        assert_eq!(targets, vec![1.0, 1.0, 0.5, 0.5]);
    }
}
