//! Batch encoding of already prepared items (evaluation, index building): the encoders and
//! normalisation of [`Pipeline::encode`], many items per forward pass, no per-item views.

use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::{EncodedItem, tensor_from_vec};

/// Items per forward pass.
pub const BATCH_ITEMS: usize = 256;

impl Pipeline {
    /// Encodes model-view images: `pixels` is `[N, H * W]` (one channel, values in 0..1, the
    /// bundle's image size), normalised here with the bundle's mean and std. One item per image.
    pub fn encode_image_batch(&self, pixels: &[f32]) -> Result<Vec<EncodedItem>> {
        let cfg = self.image_config()?;
        let (h, w) = (cfg.height as usize, cfg.width as usize);
        let (mean, std) = (cfg.mean[0], cfg.std[0]);
        self.batched(pixels, h * w, Modality::Image, |values, n| {
            let x: Vec<f32> = values.iter().map(|v| (v - mean) / std).collect();
            let x = tensor_from_vec(x, [n, 1, h, w], &self.device.device);
            self.bundle.model.encode_image(x, self.source())
        })
    }

    /// Encodes log-mel spectrograms: `mels` is `[N, n_mels * n_frames]` as the preprocessing
    /// computes them, normalised here with the bundle's feature normalisation.
    pub fn encode_mel_batch(&self, mels: &[f32]) -> Result<Vec<EncodedItem>> {
        let pre = self.audio_config()?;
        let (m, f) = (pre.audio.n_mels, pre.audio.n_frames);
        let norm = pre.normalization;
        self.batched(mels, m * f, Modality::Audio, |values, n| {
            let x: Vec<f32> = values.iter().map(|v| (v - norm.mean) / norm.std).collect();
            let x = tensor_from_vec(x, [n, m, f], &self.device.device);
            self.bundle.model.encode_audio(x, self.source())
        })
    }

    /// Runs `encode` on chunks of [`BATCH_ITEMS`] items of `item_len` floats each.
    fn batched(
        &self,
        values: &[f32],
        item_len: usize,
        modality: Modality,
        encode: impl Fn(&[f32], usize) -> Option<crate::model::EncodedBatch>,
    ) -> Result<Vec<EncodedItem>> {
        if item_len == 0 || !values.len().is_multiple_of(item_len) {
            return Err(Error::InvalidRequest(format!(
                "{} {modality} values are not a whole number of items of {item_len}",
                values.len()
            )));
        }
        let mut out = Vec::with_capacity(values.len() / item_len);
        for chunk in values.chunks(BATCH_ITEMS * item_len) {
            let batch =
                encode(chunk, chunk.len() / item_len).ok_or_else(|| self.missing(modality))?;
            out.extend(batch.to_items(modality));
        }
        Ok(out)
    }
}
