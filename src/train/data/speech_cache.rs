//! The frozen speech features of every audio set, computed once at data-preparation time
//! ([`SPEECH_FILE`]) so that training runs only the trained adapter
//! ([`crate::model::speech_encoder`]). Each clip goes through the app's own path: the
//! prepared (resampled, trimmed, loudness-normalised) waveform, [`speech_windows`], the frozen
//! Whisper encoder and the pooling of [`SpeechEncoder::frozen_features`].
//!
//! Per clip the first [`CACHED_POSITIONS`] positions are kept (one 2 s window of 80 ms
//! positions) with the number of them that carry the clip; a clip longer than the window
//! keeps its first 2 s (counted in [`SpeechFeatures::truncated`]).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use super::store::{OutTensor, RERUN_HINT, SetReader, read_required, write_tensor_file};
use super::tensor_names as tn;
use super::{DigitsData, LabeledSet};
use crate::bundle::weights::load_speech_frozen;
use crate::error::{Error, Result};
use crate::model::speech_encoder::leading_feature_rows;
use crate::model::{SpeechEncoder, SpeechEncoderConfig, float_to_vec, tensor_from_vec};
use crate::preprocess::waveform::Waveform;
use crate::preprocess::whisper_mel::{WHISPER_N_MELS, speech_windows, window_batches};

/// The cache file in a data folder.
pub const SPEECH_FILE: &str = "speech.safetensors";
/// Positions kept per clip: one 2 s window of 80 ms positions.
pub const CACHED_POSITIONS: usize = 25;
/// Metadata key of the frozen weights' sha256.
const SHA_KEY: &str = "speech_weights_sha256";

/// Frozen features of one set, in the set's item order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpeechFeatures {
    /// `[N, CACHED_POSITIONS, width]`, zero past each clip's positions.
    pub values: Vec<f32>,
    /// Positions that carry the clip, per item (1..=CACHED_POSITIONS).
    pub positions: Vec<u32>,
    /// Width H of a feature.
    pub width: usize,
    /// Clips longer than the window (their first 2 s are kept).
    pub truncated: usize,
}

impl SpeechFeatures {
    /// Number of clips.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// True when the set holds no clip.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// `[CACHED_POSITIONS, width]` features of clip `i`.
    pub fn item(&self, i: usize) -> &[f32] {
        let n = CACHED_POSITIONS * self.width;
        &self.values[i * n..(i + 1) * n]
    }
}

/// The cache of a data folder: features per audio set name, and the frozen weights they came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpeechCache {
    pub sets: BTreeMap<String, SpeechFeatures>,
    /// sha256 (hex) of the frozen weights file.
    pub weights_sha256: String,
}

impl SpeechCache {
    /// The features of set `name`, or an error that says how to make them.
    pub fn set(&self, name: &str) -> Result<&SpeechFeatures> {
        self.sets.get(name).ok_or_else(|| Error::Data {
            path: SPEECH_FILE.into(),
            reason: format!("no features for {name}; {RERUN_HINT}"),
        })
    }
}

/// sha256 (hex) of a file.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// The frozen part of the speech encoder, loaded from `weights` (the converted Whisper file).
pub fn frozen_encoder(
    weights: &Path,
    device: &Device,
) -> Result<(SpeechEncoder, SpeechEncoderConfig)> {
    // The adapter's sizes do not matter here: only the frozen part runs.
    let cfg = SpeechEncoderConfig::tiny_en(1, 1);
    Ok((load_speech_frozen(weights, &cfg, device)?, cfg))
}

/// Features of prepared clips (see the module docs), `progress` called after each batch with
/// the clips done.
pub fn speech_features(
    waves: &[&Waveform],
    encoder: &SpeechEncoder,
    cfg: &SpeechEncoderConfig,
    device: &Device,
    progress: &dyn Fn(usize),
) -> Result<SpeechFeatures> {
    let width = cfg.whisper.d_model;
    let mut out = SpeechFeatures {
        values: vec![0.0; waves.len() * CACHED_POSITIONS * width],
        positions: vec![0; waves.len()],
        width,
        truncated: 0,
    };
    let mut done = 0;
    let windows = speech_windows(waves)?;
    for group in window_batches(&windows) {
        let n = group.items.len();
        let x = tensor_from_vec(group.mel, [n, WHISPER_N_MELS, group.frames], device);
        let clips: Vec<usize> = group
            .clip_frames
            .iter()
            .map(|&f| cfg.clip_positions(f))
            .collect();
        let longest = clips
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .min(CACHED_POSITIONS);
        let features = encoder.frozen_features(x, longest);
        let t = features.dims()[1];
        let features = float_to_vec(features);
        for (row, (&i, &clip)) in group.items.iter().zip(&clips).enumerate() {
            if clip > CACHED_POSITIONS {
                out.truncated += 1;
            }
            let keep = clip.min(CACHED_POSITIONS);
            out.positions[i] = keep as u32;
            let src = &features[row * t * width..(row * t + keep) * width];
            let dst = i * CACHED_POSITIONS * width;
            out.values[dst..dst + keep * width].copy_from_slice(src);
        }
        done += n;
        progress(done);
    }
    Ok(out)
}

/// Writes the cache safely.
pub fn write_speech_file(path: &Path, cache: &SpeechCache) -> Result<()> {
    let mut tensors: Vec<(String, OutTensor<'_>)> = Vec::new();
    for (name, f) in &cache.sets {
        tensors.push((
            format!("{name}_speech"),
            OutTensor::F32(&f.values, vec![f.len(), CACHED_POSITIONS, f.width]),
        ));
        tensors.push((
            format!("{name}_speech_positions"),
            OutTensor::I64(
                f.positions.iter().map(|&p| i64::from(p)).collect(),
                vec![f.len()],
            ),
        ));
    }
    let mut info = std::collections::HashMap::new();
    info.insert(SHA_KEY.to_string(), cache.weights_sha256.clone());
    write_tensor_file(path, &tensors, info)
}

/// Reads `dir`'s cache for the named sets with their item counts; `None` when the folder has
/// no [`SPEECH_FILE`] (data prepared without the frozen speech encoder).
pub fn read_speech_file(dir: &Path, sets: &[(&str, usize)]) -> Result<Option<SpeechCache>> {
    let path = dir.join(SPEECH_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_required(&path)?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| Error::Safetensors {
        path: path.clone(),
        reason: format!("{e}; {RERUN_HINT}"),
    })?;
    let weights_sha256 = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(SHA_KEY).cloned())
        .unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
        path: path.clone(),
        reason: format!("{e}; {RERUN_HINT}"),
    })?;
    let reader = SetReader {
        st: &st,
        path: &path,
    };
    let mut cache = SpeechCache {
        sets: BTreeMap::new(),
        weights_sha256,
    };
    for &(name, n) in sets {
        let features = format!("{name}_speech");
        let (shape, data) = reader.tensor(&features, Dtype::F32)?;
        if shape.len() != 3 || shape[0] != n || shape[1] != CACHED_POSITIONS {
            return Err(reader.bad(format!(
                "tensor {features} has shape {shape:?}, expected [{n}, {CACHED_POSITIONS}, H]"
            )));
        }
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(reader.bad(format!("tensor {features} holds NaN/infinite values")));
        }
        let positions =
            reader.ints(&format!("{name}_speech_positions"), n, CACHED_POSITIONS + 1)?;
        let width = shape[2];
        let per_item = CACHED_POSITIONS * width;
        if let Some(i) = (0..n).find(|&i| {
            positions[i] == 0
                || leading_feature_rows(&values[i * per_item..(i + 1) * per_item], width)
                    != positions[i] as usize
        }) {
            return Err(reader.bad(format!(
                "clip {i} of {name}: {} positions recorded, but its features say otherwise",
                positions[i]
            )));
        }
        cache.sets.insert(
            name.to_string(),
            SpeechFeatures {
                values,
                positions,
                width,
                truncated: 0,
            },
        );
    }
    Ok(Some(cache))
}

impl SpeechFeatures {
    /// The features as a set of items `[CACHED_POSITIONS, width]` with `like`'s labels and
    /// groups (the set they were computed from, in the same order).
    pub fn as_set(&self, like: &LabeledSet) -> Result<LabeledSet> {
        if like.len() != self.len() {
            return Err(Error::Data {
                path: SPEECH_FILE.into(),
                reason: format!(
                    "holds {} clips for a set of {}; {RERUN_HINT}",
                    self.len(),
                    like.len()
                ),
            });
        }
        Ok(LabeledSet {
            features: self.values.clone(),
            feature_shape: vec![CACHED_POSITIONS, self.width],
            labels: like.labels.clone(),
            groups: like.groups.clone(),
        })
    }
}

impl DigitsData {
    /// The data as `model` reads it: audio as cached speech features for a model on the frozen
    /// speech encoder, as log-mels otherwise.
    pub fn for_model(self, model: &crate::model::ModelConfig) -> Result<Self> {
        if model.speech.is_some() {
            self.with_speech_audio()
        } else {
            Ok(self)
        }
    }

    /// The data with every audio set replaced by its cached speech features: what a model on
    /// the frozen speech encoder trains and is evaluated on. Errors when the data has no cache.
    pub fn with_speech_audio(mut self) -> Result<Self> {
        let cache = self.speech.take().ok_or_else(|| Error::Data {
            path: SPEECH_FILE.into(),
            reason: format!(
                "missing: the data was prepared with --no-speech-features or by an older \
                     build; {RERUN_HINT}"
            ),
        })?;
        for (name, set) in [
            (tn::AUDIO_TRAIN, &mut self.audio_train),
            (tn::AUDIO_VAL, &mut self.audio_val),
            (tn::AUDIO_SYNTH, &mut self.audio_synth),
            (tn::AUDIO_SYNTH_VAL, &mut self.audio_synth_val),
            (tn::AUDIO_AUG, &mut self.audio_aug),
        ] {
            *set = cache.set(name)?.as_set(set)?;
        }
        self.speech = Some(SpeechCache {
            sets: BTreeMap::new(),
            weights_sha256: cache.weights_sha256,
        });
        Ok(self)
    }
}
