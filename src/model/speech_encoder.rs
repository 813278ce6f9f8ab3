//! Audio semantic encoder on a frozen pretrained speech model (CMG's semantic encoders sit on
//! frozen feature extractors; DESIGN.md §3):
//!
//! ```text
//! Whisper log-mel [B, 80, F] --frozen Whisper encoder--> [B, ceil(F/2), 384]   (20 ms each)
//!   --mean over `pool_positions` neighbours--> [B, T, 384]                      (80 ms each)
//!   --trained adapter (Linear, GELU, Linear)--> [B, T, D]
//! ```
//!
//! A clip is encoded in a window of silence ([`crate::preprocess::whisper_mel`]); only the
//! first [`SpeechEncoderConfig::clip_positions`] positions carry the clip. The others are
//! padding: the caller's mask gives them no code, no usage and no share of the embedding.
//!
//! Training never runs the frozen part: [`SpeechEncoder::frozen_features`] is cached at
//! data-preparation time and [`SpeechEncoder::adapt`] is trained on the cache, so the app and
//! the trainer compute the same features by the same function.

use crate::error::Invalid;
use crate::invalid;
use burn::module::Module;
use burn::nn::{Gelu, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::whisper_encoder::{WhisperEncoder, WhisperEncoderConfig, n_positions};
use crate::preprocess::whisper_mel::WHISPER_WINDOW_FRAMES;

/// Parameter-path prefix of the frozen Whisper encoder inside the model (its weights live in
/// `models/whisper-tiny-en/`, not in the bundle's weights file).
pub const SPEECH_FROZEN_SCOPE: &str = "speech.whisper";

/// Architecture of the speech encoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechEncoderConfig {
    /// The frozen encoder.
    pub whisper: WhisperEncoderConfig,
    /// Whisper positions (20 ms each) averaged into one position of the sequence.
    pub pool_positions: usize,
    /// Hidden width of the adapter.
    pub adapter_hidden: usize,
    /// Output dimension D (= codebook dimension).
    pub d_model: usize,
}

impl SpeechEncoderConfig {
    /// Whisper tiny.en, 80 ms positions, an adapter of width `adapter_hidden` to `d_model`.
    pub fn tiny_en(adapter_hidden: usize, d_model: usize) -> Self {
        SpeechEncoderConfig {
            whisper: WhisperEncoderConfig::tiny_en(),
            pool_positions: 4,
            adapter_hidden,
            d_model,
        }
    }

    /// Checks that pooling divides every window evenly.
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        let per_window = n_positions(WHISPER_WINDOW_FRAMES);
        if self.pool_positions == 0 || !per_window.is_multiple_of(self.pool_positions) {
            return Err(invalid!(
                "speech.pool_positions must divide the {per_window} encoder positions of a \
                 window, got {}",
                self.pool_positions
            ));
        }
        if self.adapter_hidden == 0 {
            return Err("speech.adapter_hidden must be positive".into());
        }
        Ok(())
    }

    /// Positions that carry the clip when it covers `clip_frames` mel frames (at least one):
    /// every position whose 80 ms span starts inside the clip.
    pub fn clip_positions(&self, clip_frames: usize) -> usize {
        n_positions(clip_frames)
            .div_ceil(self.pool_positions.max(1))
            .max(1)
    }

    /// Builds the module with fresh weights (load the frozen part with
    /// [`crate::bundle::weights::load_whisper_into`]).
    pub fn init(&self, device: &Device) -> SpeechEncoder {
        SpeechEncoder {
            whisper: self.whisper.init(device),
            adapter_in: LinearConfig::new(self.whisper.d_model, self.adapter_hidden).init(device),
            adapter_out: LinearConfig::new(self.adapter_hidden, self.d_model).init(device),
            activation: Gelu::new(),
            pool_positions: self.pool_positions,
        }
    }
}

/// The speech encoder module.
#[derive(Module, Debug)]
pub struct SpeechEncoder {
    pub whisper: WhisperEncoder,
    pub adapter_in: Linear,
    pub adapter_out: Linear,
    pub activation: Gelu,
    pub pool_positions: usize,
}

impl SpeechEncoder {
    /// The frozen part for the first `keep` positions (80 ms steps): Whisper, then the mean
    /// over `pool_positions` neighbours. Positions past `keep` (the silence after the clips)
    /// are attended to but not computed in Whisper's last layer
    /// ([`WhisperEncoder::forward_first`]).
    ///
    /// - `mel`: `[B, 80, F]` Whisper log-mel windows (`F` a multiple of the window)
    /// - returns `[B, min(keep, T), H]` with `T = ceil(F / 2) / pool_positions`
    pub fn frozen_features(&self, mel: Tensor<3>, keep: usize) -> Tensor<3> {
        let pool = self.pool_positions.max(1);
        let x = self
            .whisper
            .forward_first(mel, keep.saturating_mul(pool))
            .detach();
        pool_positions(x, pool)
    }

    /// The trained part.
    ///
    /// - `features`: `[B, T, H]` from [`Self::frozen_features`]
    /// - returns `[B, T, D]`
    pub fn adapt(&self, features: Tensor<3>) -> Tensor<3> {
        let hidden = self.activation.forward(self.adapter_in.forward(features));
        self.adapter_out.forward(hidden)
    }

    /// - `mel`: `[B, 80, F]`, `keep`: positions wanted -> `[B, min(keep, T), D]`
    pub fn forward(&self, mel: Tensor<3>, keep: usize) -> Tensor<3> {
        self.adapt(self.frozen_features(mel, keep))
    }
}

/// Positions that carry a clip in a row-major `[T, width]` block of frozen features whose
/// positions past the clip are zero rows (the speech cache's layout): the rows before the
/// first all-zero row. A Whisper feature after its final LayerNorm is never all zero.
pub fn leading_feature_rows(item: &[f32], width: usize) -> usize {
    let width = width.max(1);
    item.chunks_exact(width)
        .position(|row| row.iter().all(|&v| v == 0.0))
        .unwrap_or(item.len() / width)
}

/// Mean over groups of `pool` consecutive positions (the last group may be shorter).
///
/// - `x`: `[B, L, H]` -> `[B, ceil(L / pool), H]`
pub fn pool_positions(x: Tensor<3>, pool: usize) -> Tensor<3> {
    let [b, l, h] = x.dims();
    let pool = pool.max(1);
    if pool == 1 {
        return x;
    }
    let t = l.div_ceil(pool);
    let full = l / pool;
    let mut parts = Vec::new();
    if full > 0 {
        parts.push(
            x.clone()
                .narrow(1, 0, full * pool)
                .reshape([b, full, pool, h])
                .mean_dim(2)
                .reshape([b, full, h]),
        );
    }
    if t > full {
        let rest = l - full * pool;
        parts.push(x.narrow(1, full * pool, rest).mean_dim(1));
    }
    Tensor::cat(parts, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{float_to_vec, tensor_from_vec};

    #[test]
    fn pooling_averages_neighbours_and_keeps_a_short_tail() {
        let x = tensor_from_vec(
            (0..5).map(|v| v as f32).collect(),
            [1, 5, 1],
            &Device::flex(),
        );
        assert_eq!(float_to_vec(pool_positions(x, 2)), vec![0.5, 2.5, 4.0]);
    }

    #[test]
    fn a_clip_keeps_the_positions_its_frames_reach() {
        let cfg = SpeechEncoderConfig::tiny_en(8, 4);
        // A whole 2 s window: 200 frames -> 100 Whisper positions -> 25 positions of 80 ms.
        assert_eq!(cfg.clip_positions(200), 25);
        // 0.61 s = 61 frames -> 31 Whisper positions -> 8 positions.
        assert_eq!(cfg.clip_positions(61), 8);
        assert_eq!(cfg.clip_positions(0), 1);
        assert!(cfg.validate().is_ok());
        let bad = SpeechEncoderConfig {
            pool_positions: 3,
            ..cfg
        };
        assert!(bad.validate().unwrap_err().0.contains("pool_positions"));
    }
}
