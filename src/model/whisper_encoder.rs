//! Frozen pretrained speech encoder: the audio encoder of OpenAI's Whisper (tiny.en), read
//! from `models/whisper-tiny-en` (converted from CTranslate2 by `transference convert-whisper`).
//!
//! ```text
//! log-mel [B, 80, T] --GELU(conv1 k3)--> --GELU(conv2 k3 s2)--> [B, ceil(T/2), 384]
//!   + sinusoidal positions (sliced to the length, not padded to 30 s)
//!   --> 4 pre-LayerNorm blocks (6-head self-attention, GELU MLP 384 -> 1536 -> 384)
//!   --> final LayerNorm --> [B, ceil(T/2), 384]
//! ```
//!
//! One position is 20 ms of audio. Whisper itself always sees 30 s (silence after the clip);
//! here a clip is encoded in a window of 2 s of silence ([`crate::preprocess::whisper_mel`]),
//! so clips with the same window batch together. The speech encoder
//! ([`crate::model::speech_encoder`]) puts a trained adapter on top. Parity with an
//! independent numpy reference is tested in `tests/core.rs`
//! (`tests/reference/whisper_reference.py`).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::activation::gelu;

/// LayerNorm epsilon of every Whisper LayerNorm (PyTorch's default).
pub const WHISPER_LAYER_NORM_EPS: f64 = 1e-5;

/// Hyper-parameters of a Whisper audio encoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhisperEncoderConfig {
    /// Mel bins of the input.
    pub n_mels: usize,
    /// Width of the hidden state.
    pub d_model: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Attention heads per block.
    pub n_heads: usize,
    /// Hidden width of each block's MLP.
    pub ffn_dim: usize,
    /// Rows of the positional table: the longest input is `2 * max_positions` mel frames.
    pub max_positions: usize,
}

impl WhisperEncoderConfig {
    /// Whisper tiny.en (8.2M parameters).
    pub fn tiny_en() -> Self {
        WhisperEncoderConfig {
            n_mels: 80,
            d_model: 384,
            n_layers: 4,
            n_heads: 6,
            ffn_dim: 1536,
            max_positions: 1500,
        }
    }

    /// The longest input this encoder takes, in mel frames.
    pub fn max_frames(&self) -> usize {
        2 * self.max_positions
    }

    /// Builds the module with placeholder weights (load the real ones with
    /// [`crate::bundle::weights::load_whisper`]).
    pub fn init(&self, device: &Device) -> WhisperEncoder {
        let norm = |d| {
            LayerNormConfig::new(d)
                .with_epsilon(WHISPER_LAYER_NORM_EPS)
                .init(device)
        };
        let conv = |c_in, stride| {
            Conv1dConfig::new(c_in, self.d_model, 3)
                .with_stride(stride)
                .with_padding(PaddingConfig1d::Explicit(1, 1))
                .init(device)
        };
        let d = self.d_model;
        WhisperEncoder {
            conv1: conv(self.n_mels, 1),
            conv2: conv(d, 2),
            position_encodings: Param::from_tensor(Tensor::zeros([self.max_positions, d], device)),
            layers: (0..self.n_layers)
                .map(|_| WhisperLayer {
                    attention_norm: norm(d),
                    qkv: LinearConfig::new(d, 3 * d).init(device),
                    attention_out: LinearConfig::new(d, d).init(device),
                    ffn_norm: norm(d),
                    ffn_in: LinearConfig::new(d, self.ffn_dim).init(device),
                    ffn_out: LinearConfig::new(self.ffn_dim, d).init(device),
                })
                .collect(),
            layer_norm: norm(d),
            num_heads: self.n_heads,
        }
    }
}

/// One pre-LayerNorm transformer block. `qkv` holds the query, key and value projections
/// fused in that order (the key's bias is zero, as in Whisper).
#[derive(Module, Debug)]
pub struct WhisperLayer {
    pub attention_norm: LayerNorm,
    pub qkv: Linear,
    pub attention_out: Linear,
    pub ffn_norm: LayerNorm,
    pub ffn_in: Linear,
    pub ffn_out: Linear,
}

impl WhisperLayer {
    /// The block for the first `queries` positions: every position is a key and a value,
    /// only the first `queries` (at most `L`) are queries, so the output holds those alone.
    ///
    /// - `x`: `[B, L, H]`
    /// - returns `[B, min(queries, L), H]`
    pub fn forward(&self, x: Tensor<3>, num_heads: usize, queries: usize) -> Tensor<3> {
        let [b, l, h] = x.dims();
        let lq = queries.clamp(1, l);
        let head_dim = h / num_heads;
        let qkv = self.qkv.forward(self.attention_norm.forward(x.clone())); // [B, L, 3H]
        let split = |i: usize, rows: usize| {
            qkv.clone()
                .narrow(2, i * h, h)
                .narrow(1, 0, rows)
                .reshape([b, rows, num_heads, head_dim])
                .swap_dims(1, 2) // [B, nh, rows, hd]
        };
        // softmax(q k^T / sqrt(hd)) v, fused by the backend (the CPU one runs heads in
        // parallel and keeps the scores in cache).
        let context = attention(
            split(0, lq),
            split(1, l),
            split(2, l),
            None,
            None,
            AttentionModuleOptions::default(),
        ) // [B, nh, Lq, hd]
        .swap_dims(1, 2)
        .reshape([b, lq, h]);
        let x = x.narrow(1, 0, lq) + self.attention_out.forward(context);
        let hidden = gelu(self.ffn_in.forward(self.ffn_norm.forward(x.clone())));
        x + self.ffn_out.forward(hidden)
    }
}

/// The Whisper audio encoder (no decoder).
#[derive(Module, Debug)]
pub struct WhisperEncoder {
    pub conv1: Conv1d,
    pub conv2: Conv1d,
    /// Sinusoidal position table `[max_positions, d_model]`, as stored in the checkpoint.
    pub position_encodings: Param<Tensor<2>>,
    pub layers: Vec<WhisperLayer>,
    pub layer_norm: LayerNorm,
    pub num_heads: usize,
}

/// Encoder positions for `n_frames` mel frames (conv2 has stride 2 and padding 1).
pub fn n_positions(n_frames: usize) -> usize {
    n_frames.div_ceil(2)
}

impl WhisperEncoder {
    /// - `mel`: `[B, n_mels, T]` Whisper log-mel ([`crate::preprocess::whisper_mel`]), with
    ///   `1 <= T <= 2 * max_positions` (the caller checks the limit)
    /// - returns the last hidden state `[B, ceil(T / 2), d_model]`
    pub fn forward(&self, mel: Tensor<3>) -> Tensor<3> {
        self.forward_first(mel, usize::MAX)
    }

    /// [`Self::forward`] for the first `keep` positions only, the same values: every position
    /// attends and is attended to in every layer, but the last layer computes its queries,
    /// feed-forward and norm for the kept positions alone (a clip's own positions, not the
    /// silence after it).
    ///
    /// - `mel`: as for [`Self::forward`], `keep`: positions wanted (at least one is returned)
    /// - returns `[B, min(keep, ceil(T / 2)), d_model]`
    pub fn forward_first(&self, mel: Tensor<3>, keep: usize) -> Tensor<3> {
        let x = gelu(self.conv1.forward(mel));
        let x = gelu(self.conv2.forward(x)); // [B, H, L]
        let [_, h, l] = x.dims();
        let positions = self
            .position_encodings
            .val()
            .narrow(0, 0, l)
            .reshape([1, l, h]);
        let mut x = x.swap_dims(1, 2) + positions; // [B, L, H]
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            let queries = if i == last { keep } else { l };
            x = layer.forward(x, self.num_heads, queries);
        }
        self.layer_norm.forward(x)
    }
}

/// Tensor name in `models/whisper-tiny-en/model.safetensors` (CTranslate2's variable names
/// with `.` for `/`) for a parameter path inside [`WhisperEncoder`], and whether the stored
/// matrix is the transpose of burn's `Linear` weight (`[out, in]` as in PyTorch).
pub fn whisper_tensor_name(path: &str) -> Option<(String, bool)> {
    if path == "position_encodings" {
        return Some(("encoder.position_encodings.encodings".into(), false));
    }
    let (module, param) = path.rsplit_once('.')?;
    let plain = |name: &str| Some((format!("encoder.{name}.{param}"), false));
    match module {
        "conv1" | "conv2" | "layer_norm" => return plain(module),
        _ => {}
    }
    let (index, sub) = module.strip_prefix("layers.")?.split_once('.')?;
    let (ct2, is_linear) = match sub {
        "attention_norm" => ("self_attention.layer_norm", false),
        "qkv" => ("self_attention.linear_0", true),
        "attention_out" => ("self_attention.linear_1", true),
        "ffn_norm" => ("ffn.layer_norm", false),
        "ffn_in" => ("ffn.linear_0", true),
        "ffn_out" => ("ffn.linear_1", true),
        _ => return None,
    };
    Some((
        format!("encoder.layer_{index}.{ct2}.{param}"),
        is_linear && param == "weight",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_halve_the_frames_rounding_up() {
        assert_eq!(n_positions(1), 1);
        assert_eq!(n_positions(64), 32);
        assert_eq!(n_positions(90), 45);
        assert_eq!(n_positions(91), 46);
        assert_eq!(WhisperEncoderConfig::tiny_en().max_frames(), 3000);
    }

    /// A tiny encoder: 8 mels, 12 dimensions, 2 layers of 3 heads, 10 positions.
    fn tiny() -> WhisperEncoderConfig {
        WhisperEncoderConfig {
            n_mels: 8,
            d_model: 12,
            n_layers: 2,
            n_heads: 3,
            ffn_dim: 16,
            max_positions: 10,
        }
    }

    #[test]
    fn forward_gives_one_vector_per_two_frames() {
        let device = Device::flex();
        let out = tiny()
            .init(&device)
            .forward(Tensor::ones([2, 8, 7], &device));
        assert_eq!(out.dims(), [2, 4, 12]);
    }

    #[test]
    fn the_first_positions_alone_are_the_same_values() {
        let device = Device::flex();
        let encoder = tiny().init(&device);
        let values: Vec<f32> = (0..2 * 8 * 14)
            .map(|i| ((i * 37 % 23) as f32) / 11.0 - 1.0)
            .collect();
        let mel = crate::model::tensor_from_vec(values, [2, 8, 14], &device);
        let all = crate::model::float_to_vec(encoder.forward(mel.clone()).narrow(1, 0, 3));
        let first = encoder.forward_first(mel.clone(), 3);
        assert_eq!(first.dims(), [2, 3, 12]);
        let first = crate::model::float_to_vec(first);
        let worst = all
            .iter()
            .zip(&first)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "largest difference {worst}");
        // More than there are: all of them.
        assert_eq!(encoder.forward_first(mel, 99).dims(), [2, 7, 12]);
    }
}
