//! Training batches: the data as weighted pools per source, and paired class-level batches
//! (an image, a clip and a prompt of the same digit) with light on-the-fly augmentation of
//! the images. Clips are the frozen speech encoder's cached features
//! ([`crate::train::data::speech_cache`]); their positions past the clip are zero rows and
//! masked.

use rand::Rng;

use crate::error::{Error, Result};
use crate::model::speech_encoder::leading_feature_rows;
use crate::preprocess::mnist::{MNIST_PIXELS, MNIST_SIDE_PX};
use crate::train::config::TrainConfig;
use crate::train::data::speech_cache::CACHED_POSITIONS;
use crate::train::data::{DigitsData, LabeledSet};
use crate::train::prompts::PromptStates;

/// Items of one modality from one source, drawn with a weight.
#[derive(Clone, Debug)]
pub struct Pool {
    /// Where the items came from (for messages).
    pub name: &'static str,
    pub set: LabeledSet,
    /// Relative share of the batches this pool supplies (among pools that hold the class).
    pub weight: f32,
    /// Item indices of each class 0..9.
    by_class: Vec<Vec<usize>>,
}

impl Pool {
    /// A pool over `set`.
    pub fn new(name: &'static str, set: LabeledSet, weight: f32) -> Self {
        let mut by_class = vec![Vec::new(); 10];
        for (i, &l) in set.labels.iter().enumerate() {
            if let Some(v) = by_class.get_mut(usize::from(l)) {
                v.push(i);
            }
        }
        Pool {
            name,
            set,
            weight,
            by_class,
        }
    }

    fn has_class(&self, c: usize) -> bool {
        self.weight > 0.0 && !self.by_class[c].is_empty()
    }
}

/// Picks an item of class `c`: a pool by weight among those that hold `c`, then an item.
fn pick<'a>(pools: &'a [Pool], c: usize, rng: &mut impl Rng) -> &'a [f32] {
    let total: f32 = pools
        .iter()
        .filter(|p| p.has_class(c))
        .map(|p| p.weight)
        .sum();
    let mut r = rng.random_range(0.0..total.max(f32::MIN_POSITIVE));
    let pool = pools
        .iter()
        .filter(|p| p.has_class(c))
        .find(|p| {
            r -= p.weight;
            r < 0.0
        })
        .or_else(|| pools.iter().rfind(|p| p.has_class(c)))
        .expect("TrainingSet::new checked that every class has a pool");
    let items = &pool.by_class[c];
    pool.set.item(items[rng.random_range(0..items.len())])
}

/// The training data: image and speech pools and the class prompts.
pub struct TrainingSet {
    pub images: Vec<Pool>,
    /// Pools of cached speech features `[CACHED_POSITIONS, speech_width]` per clip.
    pub audio: Vec<Pool>,
    pub prompts: Vec<PromptStates>,
    pub hidden_size: usize,
    /// Width of a cached speech feature.
    pub speech_width: usize,
    /// Image normalisation of the data's preprocessing (the bundle's `ImageConfig`).
    pub image_mean: f32,
    pub image_std: f32,
    prompts_by_class: Vec<Vec<usize>>,
    /// Classes batches are drawn from (every class but the held-out ones).
    classes: Vec<usize>,
}

impl TrainingSet {
    /// Builds the set from prepared data (its audio sets as speech features, see
    /// [`DigitsData::with_speech_audio`]), with the pools and weights of `cfg.mix`.
    pub fn new(
        data: &DigitsData,
        prompts: Vec<PromptStates>,
        hidden_size: usize,
        cfg: &TrainConfig,
    ) -> Result<Self> {
        let mix = &cfg.mix;
        let images = vec![
            Pool::new("MNIST training split", data.image_train.clone(), mix.mnist),
            Pool::new(
                "scanned MNIST training digits",
                data.image_scan_train.clone(),
                mix.scan,
            ),
            Pool::new(
                "printed digits, training typefaces",
                data.image_print_train.clone(),
                mix.print,
            ),
        ];
        let mut audio = vec![
            Pool::new("FSDD training speakers", data.audio_train.clone(), mix.fsdd),
            Pool::new(
                "augmented training clips",
                data.audio_aug.clone(),
                mix.augmented,
            ),
        ];
        if cfg.use_synthetic_speech {
            audio.push(Pool::new(
                "synthetic voices",
                data.audio_synth.clone(),
                mix.synth,
            ));
        }
        let mut prompts_by_class = vec![Vec::new(); 10];
        for (i, p) in prompts.iter().enumerate() {
            if let Some(v) = prompts_by_class.get_mut(p.class) {
                v.push(i);
            }
        }
        let classes = cfg
            .trained_classes()
            .map_err(|e| Error::InvalidRequest(e.0))?;
        for (name, pools) in [("image", &images), ("audio", &audio)] {
            if let Some(&c) = classes
                .iter()
                .find(|&&c| !pools.iter().any(|p| p.has_class(c)))
            {
                return Err(Error::InvalidRequest(format!(
                    "training data has no {name} item of class {c}"
                )));
            }
        }
        if let Some(&c) = classes.iter().find(|&&c| prompts_by_class[c].is_empty()) {
            return Err(Error::InvalidRequest(format!(
                "training data has no text item of class {c}"
            )));
        }
        let speech_width = match audio.first().map(|p| p.set.feature_shape.as_slice()) {
            Some(&[CACHED_POSITIONS, width]) => width,
            other => {
                return Err(Error::InvalidRequest(format!(
                    "training audio must be cached speech features [{CACHED_POSITIONS}, H], \
                     got items of shape {other:?}"
                )));
            }
        };
        Ok(TrainingSet {
            images,
            audio,
            prompts,
            hidden_size,
            speech_width,
            image_mean: data.meta.image_config.mean.first().copied().unwrap_or(0.0),
            image_std: data
                .meta
                .image_config
                .std
                .first()
                .copied()
                .unwrap_or(1.0)
                .max(1e-6),
            prompts_by_class,
            classes,
        })
    }
}

/// One paired batch on the host.
pub struct HostBatch {
    pub labels: Vec<usize>,
    /// `[B, 28*28]` ([`MNIST_PIXELS`] per image) normalised.
    pub images: Vec<f32>,
    /// `[B, CACHED_POSITIONS, speech_width]` cached speech features, zero past each clip.
    pub speech: Vec<f32>,
    /// Positions that carry each clip `[B]`.
    pub speech_positions: Vec<usize>,
    /// `[B, L, H]` zero-padded.
    pub text_hidden: Vec<f32>,
    /// `[B, L]`
    pub text_mask: Vec<f32>,
    pub text_len: usize,
}

/// Largest random shift of training images, pixels.
const MAX_SHIFT_PX: i32 = 2;

/// Samples a paired batch: B classes (among the trained ones; held-out classes never appear),
/// and for each an image, a clip and a prompt of it.
pub fn sample_batch(set: &TrainingSet, batch: usize, rng: &mut impl Rng) -> HostBatch {
    let labels: Vec<usize> = (0..batch)
        .map(|_| set.classes[rng.random_range(0..set.classes.len())])
        .collect();
    let mut images = Vec::with_capacity(batch * MNIST_PIXELS);
    let mut speech = Vec::with_capacity(batch * CACHED_POSITIONS * set.speech_width);
    let mut speech_positions = Vec::with_capacity(batch);
    let picks: Vec<usize> = labels
        .iter()
        .map(|&c| set.prompts_by_class[c][rng.random_range(0..set.prompts_by_class[c].len())])
        .collect();
    let text_len = picks.iter().map(|&p| set.prompts[p].len).max().unwrap_or(1);
    let h = set.hidden_size;
    let mut text_hidden = vec![0f32; batch * text_len * h];
    let mut text_mask = vec![0f32; batch * text_len];
    for (b, &c) in labels.iter().enumerate() {
        let img = pick(&set.images, c, rng);
        let (dx, dy) = (
            rng.random_range(-MAX_SHIFT_PX..=MAX_SHIFT_PX),
            rng.random_range(-MAX_SHIFT_PX..=MAX_SHIFT_PX),
        );
        let side = MNIST_SIDE_PX as i32;
        for y in 0..side {
            for x in 0..side {
                let (sx, sy) = (x - dx, y - dy);
                let v = if (0..side).contains(&sx) && (0..side).contains(&sy) {
                    img[(sy * side + sx) as usize]
                } else {
                    0.0
                };
                images.push((v - set.image_mean) / set.image_std);
            }
        }
        let clip = pick(&set.audio, c, rng);
        speech.extend_from_slice(clip);
        speech_positions.push(leading_feature_rows(clip, set.speech_width));
        let p = &set.prompts[picks[b]];
        let dst = b * text_len * h;
        text_hidden[dst..dst + p.len * h].copy_from_slice(&p.hidden);
        for t in 0..p.len {
            text_mask[b * text_len + t] = 1.0;
        }
    }
    HostBatch {
        labels,
        images,
        speech,
        speech_positions,
        text_hidden,
        text_mask,
        text_len,
    }
}
