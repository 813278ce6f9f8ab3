//! Audio semantic encoder: 1-D convolutions over log-mel frames; the output time steps are
//! the positions quantised against the shared codebook (128 frames -> 16 steps by default).

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{PaddingConfig1d, Relu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Architecture of the audio encoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioEncoderConfig {
    /// Mel bins per frame (input channels).
    pub n_mels: usize,
    /// Frames per clip (input length).
    pub n_frames: usize,
    /// Channels of the hidden conv layers; every layer after the first halves the length.
    pub hidden_channels: Vec<usize>,
    /// Output dimension D (= codebook dimension).
    pub d_model: usize,
}

impl Default for AudioEncoderConfig {
    fn default() -> Self {
        AudioEncoderConfig {
            n_mels: 40,
            n_frames: 128,
            hidden_channels: vec![64, 128, 128, 128],
            d_model: 256,
        }
    }
}

impl AudioEncoderConfig {
    /// Number of output time steps T.
    pub fn positions(&self) -> usize {
        let mut length = self.n_frames;
        for _ in 1..self.hidden_channels.len() {
            length = length.div_ceil(2);
        }
        length
    }

    /// Builds the module with fresh weights.
    pub fn init(&self, device: &Device) -> AudioEncoder {
        let mut convs = Vec::new();
        let mut channels_in = self.n_mels;
        for (i, &channels_out) in self.hidden_channels.iter().enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            convs.push(
                Conv1dConfig::new(channels_in, channels_out, 5)
                    .with_stride(stride)
                    .with_padding(PaddingConfig1d::Explicit(2, 2))
                    .init(device),
            );
            channels_in = channels_out;
        }
        let head = Conv1dConfig::new(channels_in, self.d_model, 1).init(device);
        AudioEncoder {
            convs,
            head,
            activation: Relu::new(),
        }
    }
}

/// The audio encoder module.
#[derive(Module, Debug)]
pub struct AudioEncoder {
    pub convs: Vec<Conv1d>,
    pub head: Conv1d,
    pub activation: Relu,
}

impl AudioEncoder {
    /// - `mels`: `[B, n_mels, n_frames]` log-mel (normalised by the caller)
    /// - returns `[B, T, D]`
    pub fn forward(&self, mels: Tensor<3>) -> Tensor<3> {
        let mut x = mels;
        for conv in &self.convs {
            x = self.activation.forward(conv.forward(x));
        }
        self.head.forward(x).swap_dims(1, 2)
    }
}
