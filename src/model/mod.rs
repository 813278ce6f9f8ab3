//! The multimodal model: one semantic encoder per modality and one shared codebook.
//!
//! ```text
//! features --encoder--> [B, T, D] --codebook--> codes [B, T], quantised [B, T, D]
//!                                  pooled, L2-normalised embedding [B, D]
//! ```

pub mod activation;
pub mod audio_encoder;
pub mod codebook;
pub mod decoder;
pub mod image_encoder;
pub mod mlp;
pub mod speech_encoder;
pub mod text_encoder;
pub mod whisper_encoder;

use crate::error::Invalid;
use crate::invalid;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::modality::Modality;
pub use audio_encoder::{AudioEncoder, AudioEncoderConfig};
pub use codebook::{Codebook, CodebookConfig, Quantized};
pub use decoder::{GenerationConfig, GenerationDecoders};
pub use image_encoder::{ImageEncoder, ImageEncoderConfig};
pub use speech_encoder::{SpeechEncoder, SpeechEncoderConfig};
pub use text_encoder::{Bert, BertConfig, TextEncoder, TextEncoderConfig};
pub use whisper_encoder::{WhisperEncoder, WhisperEncoderConfig};

/// Which vectors are pooled into the embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingSource {
    /// Mean of the code vectors the positions were assigned to.
    #[default]
    Quantized,
    /// Mean of the encoder outputs before quantisation.
    Continuous,
}

/// Architecture of the whole model (the `[architecture]` part of the manifest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Shared dimension D.
    pub d_model: usize,
    /// Codebook size K.
    pub codebook_size: usize,
    /// What the pooled embedding averages.
    #[serde(default)]
    pub embedding_source: EmbeddingSource,
    /// Softmax temperature for zero-shot scores.
    pub temperature: f32,
    pub image: Option<ImageEncoderConfig>,
    /// Audio from log-mels by a convolutional encoder trained from scratch (older bundles).
    pub audio: Option<AudioEncoderConfig>,
    /// Audio through the frozen Whisper encoder and a trained adapter; a model has this or
    /// `audio`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<SpeechEncoderConfig>,
    pub text: Option<TextEncoderConfig>,
}

impl ModelConfig {
    /// The modalities this model has, in display order.
    pub fn modalities(&self) -> Vec<Modality> {
        let mut out = Vec::new();
        if self.image.is_some() {
            out.push(Modality::Image);
        }
        if self.audio.is_some() || self.speech.is_some() {
            out.push(Modality::Audio);
        }
        if self.text.is_some() {
            out.push(Modality::Text);
        }
        out
    }

    /// Builds the model with fresh (lazily initialised) weights.
    pub fn init(&self, device: &Device) -> MultimodalModel {
        MultimodalModel {
            image: self.image.as_ref().map(|c| c.init(device)),
            audio: self.audio.as_ref().map(|c| c.init(device)),
            speech: self.speech.as_ref().map(|c| c.init(device)),
            text: self.text.as_ref().map(|c| c.init(device)),
            codebook: CodebookConfig {
                size: self.codebook_size,
                dim: self.d_model,
            }
            .init(device),
        }
    }

    /// Checks internal consistency (every encoder outputs D).
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        self.validate_dims()?;
        if self.modalities().is_empty() {
            return Err("the model has no encoder".into());
        }
        Ok(())
    }

    /// Every check of [`Self::validate`] except that some encoder is present (a vectors-only
    /// bundle has a codebook and embeddings but no encoder).
    pub fn validate_dims(&self) -> std::result::Result<(), Invalid> {
        if self.d_model == 0 || self.codebook_size == 0 {
            return Err("d_model and codebook_size must be positive".into());
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(invalid!(
                "temperature must be > 0, got {}",
                self.temperature
            ));
        }
        if self.audio.is_some() && self.speech.is_some() {
            return Err("the model has two audio encoders ([audio] and [speech]); keep one".into());
        }
        if let Some(speech) = &self.speech {
            speech.validate()?;
        }
        if let Some(image) = &self.image {
            image.validate()?;
        }
        let dims = [
            ("image", self.image.as_ref().map(|c| c.d_model)),
            ("audio", self.audio.as_ref().map(|c| c.d_model)),
            ("speech", self.speech.as_ref().map(|c| c.d_model)),
            ("text", self.text.as_ref().map(|c| c.d_model)),
        ];
        for (name, dim) in dims {
            if let Some(dim) = dim
                && dim != self.d_model
            {
                return Err(invalid!(
                    "{name} encoder outputs {dim} dimensions but d_model is {}",
                    self.d_model
                ));
            }
        }
        Ok(())
    }
}

/// Semantic encoders + shared codebook.
#[derive(Module, Debug)]
pub struct MultimodalModel {
    pub image: Option<ImageEncoder>,
    pub audio: Option<AudioEncoder>,
    pub speech: Option<SpeechEncoder>,
    pub text: Option<TextEncoder>,
    pub codebook: Codebook,
}

/// Encoder output for a batch, still as tensors.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    /// Encoder output before quantisation `[B, T, D]`.
    pub continuous: Tensor<3>,
    /// Codes, quantised vectors and distances.
    pub quantized: Quantized,
    /// 1 for real positions, 0 for padding `[B, T]`.
    pub mask: Tensor<2>,
    /// Pooled, L2-normalised embedding `[B, D]`.
    pub embedding: Tensor<2>,
}

/// Encoder output for one item, as plain data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncodedItem {
    pub modality: Modality,
    /// Code per position (padding removed).
    pub codes: Vec<u32>,
    /// The encoder position of each code: a row-major image grid cell, a time step, a token.
    /// Positions without input (blank paper, padding past a clip or a text) have no code and
    /// no entry.
    #[serde(default)]
    pub positions: Vec<u32>,
    /// Squared distance of each position to its code.
    pub distances: Vec<f32>,
    /// L2-normalised embedding `[D]`.
    pub embedding: Vec<f32>,
}

impl EncodedItem {
    /// The grid cell (row-major index) of each code of an image on a `grid` feature map, when
    /// every code has a position on it; `None` otherwise (not laid out on that grid).
    pub fn grid_cells(&self, grid: [usize; 2]) -> Option<Vec<usize>> {
        let cells = grid[0] * grid[1];
        (cells > 0
            && self.positions.len() == self.codes.len()
            && self.positions.iter().all(|&p| (p as usize) < cells))
        .then(|| self.positions.iter().map(|&p| p as usize).collect())
    }
}

impl MultimodalModel {
    /// Quantises a sequence and pools it.
    ///
    /// - `continuous`: `[B, T, D]`, `mask`: `[B, T]`
    pub fn quantize_and_pool(
        &self,
        continuous: Tensor<3>,
        mask: Tensor<2>,
        source: EmbeddingSource,
    ) -> EncodedBatch {
        let quantized = self.codebook.quantize(continuous.clone());
        let pooled = match source {
            EmbeddingSource::Quantized => masked_mean(quantized.vectors.clone(), mask.clone()),
            EmbeddingSource::Continuous => masked_mean(continuous.clone(), mask.clone()),
        };
        EncodedBatch {
            continuous,
            quantized,
            mask,
            embedding: l2_normalize(pooled),
        }
    }

    /// Blank cells (no ink) are masked when the encoder says so
    /// ([`ImageEncoder::ink_mask`]).
    ///
    /// - `images`: `[B, C, H, W]` -> `[B, T, D]` (None if the model has no image encoder)
    pub fn encode_image(&self, images: Tensor<4>, source: EmbeddingSource) -> Option<EncodedBatch> {
        let encoder = self.image.as_ref()?;
        let mask = encoder.ink_mask(images.clone());
        let x = encoder.forward(images);
        Some(self.quantize_and_pool(x, mask, source))
    }

    /// - `mels`: `[B, n_mels, n_frames]` -> `[B, T, D]`
    pub fn encode_audio(&self, mels: Tensor<3>, source: EmbeddingSource) -> Option<EncodedBatch> {
        let encoder = self.audio.as_ref()?;
        let x = encoder.forward(mels);
        let [b, t, _] = x.dims();
        let mask = Tensor::ones([b, t], &x.device());
        Some(self.quantize_and_pool(x, mask, source))
    }

    /// Speech through the frozen encoder and the adapter; positions past each clip are
    /// padding (masked).
    ///
    /// - `mels`: `[B, 80, F]` Whisper log-mel windows, `clip_positions`: `[B]` -> `[B, T, D]`
    pub fn encode_speech(
        &self,
        mels: Tensor<3>,
        clip_positions: &[usize],
        source: EmbeddingSource,
    ) -> Option<EncodedBatch> {
        let encoder = self.speech.as_ref()?;
        // Nothing past the longest clip is kept, so Whisper's last layer skips it.
        let longest = clip_positions.iter().copied().max().unwrap_or(1);
        let x = encoder.forward(mels, longest);
        let mask = positions_mask(clip_positions, x.dims()[1], &x.device());
        Some(self.quantize_and_pool(x, mask, source))
    }

    /// - `ids`, `mask`: `[B, L]` -> `[B, L, D]`
    pub fn encode_text(
        &self,
        ids: Tensor<2, Int>,
        mask: Tensor<2>,
        source: EmbeddingSource,
    ) -> Option<EncodedBatch> {
        let encoder = self.text.as_ref()?;
        let x = encoder.forward(ids, mask.clone());
        Some(self.quantize_and_pool(x, mask, source))
    }
}

impl EncodedBatch {
    /// Converts the batch to plain data, dropping padded positions.
    pub fn to_items(&self, modality: Modality) -> Vec<EncodedItem> {
        let [b, t] = self.quantized.codes.dims();
        let d = self.embedding.dims()[1];
        let codes = int_to_vec(self.quantized.codes.clone());
        let distances = float_to_vec(self.quantized.distances.clone());
        let mask = float_to_vec(self.mask.clone());
        let embedding = float_to_vec(self.embedding.clone());
        (0..b)
            .map(|i| {
                let keep: Vec<usize> = (0..t).filter(|&j| mask[i * t + j] > 0.5).collect();
                EncodedItem {
                    modality,
                    codes: keep.iter().map(|&j| codes[i * t + j] as u32).collect(),
                    positions: keep.iter().map(|&j| j as u32).collect(),
                    distances: keep.iter().map(|&j| distances[i * t + j]).collect(),
                    embedding: embedding[i * d..(i + 1) * d].to_vec(),
                }
            })
            .collect()
    }
}

/// A `[B, T]` mask with the first `real[b]` positions of row b set to 1 (at most T).
pub fn positions_mask(real: &[usize], t: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = real
        .iter()
        .flat_map(|&n| (0..t).map(move |j| if j < n { 1.0 } else { 0.0 }))
        .collect();
    tensor_from_vec(values, [real.len(), t], device)
}

/// Mean over positions where `mask` is 1.
///
/// - `x`: `[B, T, D]`, `mask`: `[B, T]`
/// - returns `[B, D]`
pub fn masked_mean(x: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
    let [b, t, d] = x.dims();
    let m = mask.reshape([b, t, 1]);
    let summed = (x * m.clone()).sum_dim(1).reshape([b, d]);
    let count = m.sum_dim(1).reshape([b, 1]).clamp_min(1.0);
    summed / count
}

/// Smallest norm divided by when scaling to unit L2 norm, here and in
/// [`crate::index::l2_normalize_rows`]: rows shorter than this (all-zero rows) stay (near) zero.
pub const L2_NORM_FLOOR: f32 = 1e-12;

/// Rows scaled to unit L2 norm (rows of zeros stay zero). For tensors only: plain `f32` rows
/// use [`crate::index::l2_normalize_rows`], with the same [`L2_NORM_FLOOR`].
///
/// - `x`: `[B, D]` -> `[B, D]`
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .clamp_min(L2_NORM_FLOOR);
    x / norm
}

/// Reads a float tensor back to the host.
pub fn float_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// Reads an int tensor back to the host.
pub fn int_to_vec<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap_or_default()
}

/// Uploads host floats as a tensor of the given shape.
pub fn tensor_from_vec<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Uploads host ints as a tensor of the given shape.
pub fn int_tensor_from_vec<const D: usize>(
    values: Vec<i64>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}
