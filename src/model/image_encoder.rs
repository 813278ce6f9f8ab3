//! Image semantic encoder: a small conv net whose last feature map is the sequence of
//! positions quantised against the shared codebook (4x4 = 16 positions for 28x28 input).
//!
//! Each position of the last conv layer sees a 17x17 pixel patch, so a corner cell of a
//! digit sees mostly paper, and looks alike in every digit. With `global_context` the 1x1 head
//! also reads the mean of the whole feature map, so every position knows which digit it is
//! part of and can take that digit's codes (the ones a spoken digit uses too).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::preprocess::mnist::MNIST_SIDE_PX;

/// Architecture of the image encoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageEncoderConfig {
    /// Input channels (1 gray, 3 RGB).
    pub in_channels: usize,
    /// Input height and width in pixels.
    pub input_size: [usize; 2],
    /// Channels of the hidden conv layers; every layer after the first halves the resolution.
    pub hidden_channels: Vec<usize>,
    /// Output dimension D (= codebook dimension).
    pub d_model: usize,
    /// Whether the head reads the feature map's mean beside each position (bundles made
    /// before this option have none).
    #[serde(default)]
    pub global_context: bool,
}

impl Default for ImageEncoderConfig {
    fn default() -> Self {
        ImageEncoderConfig {
            in_channels: 1,
            input_size: [MNIST_SIDE_PX as usize; 2],
            hidden_channels: vec![32, 64, 128, 128],
            d_model: 256,
            global_context: false,
        }
    }
}

impl ImageEncoderConfig {
    /// Feature-map grid `[rows, cols]` the encoder produces for `input_size`.
    pub fn grid(&self) -> [usize; 2] {
        let mut size = self.input_size;
        for _ in 1..self.hidden_channels.len() {
            size = [size[0].div_ceil(2), size[1].div_ceil(2)];
        }
        size
    }

    /// Number of positions T = rows x cols.
    pub fn positions(&self) -> usize {
        let [r, c] = self.grid();
        r * c
    }

    /// Builds the module with fresh weights.
    pub fn init(&self, device: &Device) -> ImageEncoder {
        let mut convs = Vec::new();
        let mut channels_in = self.in_channels;
        for (i, &channels_out) in self.hidden_channels.iter().enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            convs.push(
                Conv2dConfig::new([channels_in, channels_out], [3, 3])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            channels_in = channels_out;
        }
        let head_in = if self.global_context {
            2 * channels_in
        } else {
            channels_in
        };
        let head = Conv2dConfig::new([head_in, self.d_model], [1, 1]).init(device);
        ImageEncoder {
            convs,
            head,
            activation: Relu::new(),
            global_context: self.global_context,
        }
    }
}

/// The image encoder module.
#[derive(Module, Debug)]
pub struct ImageEncoder {
    pub convs: Vec<Conv2d>,
    pub head: Conv2d,
    pub activation: Relu,
    pub global_context: bool,
}

impl ImageEncoder {
    /// - `images`: `[B, C, H, W]`, normalised pixels
    /// - returns `[B, T, D]` with T = rows x cols of the last feature map, row-major
    pub fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        let mut x = images;
        for conv in &self.convs {
            x = self.activation.forward(conv.forward(x));
        }
        if self.global_context {
            let [b, c, r, w] = x.dims();
            let mean = x.clone().mean_dim(3).mean_dim(2); // [B, C, 1, 1]
            x = Tensor::cat(vec![x, mean.expand([b, c, r, w])], 1); // [B, 2C, r, c]
        }
        let x = self.head.forward(x); // [B, D, r, c]
        let [b, d, r, c] = x.dims();
        x.reshape([b, d, r * c]).swap_dims(1, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{float_to_vec, tensor_from_vec};

    /// Position 0's output for a blank image and for one with ink far away (the bottom-right
    /// 10x10 block, outside position 0's 17x17 patch).
    fn corner_outputs(global_context: bool) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex();
        // 16 channels a layer: with 4, a random init can leave every channel of some layer
        // dead at the far corner (ReLU), and then nothing reaches position 0 (seen in CI).
        let config = ImageEncoderConfig {
            hidden_channels: vec![16, 16, 16, 16],
            d_model: 8,
            global_context,
            ..Default::default()
        };
        let encoder = config.init(&device);
        let side = MNIST_SIDE_PX as usize;
        let blank = vec![0.0f32; side * side];
        let mut far = blank.clone();
        for row in side - 10..side {
            far[row * side + side - 10..(row + 1) * side].fill(5.0);
        }
        let first = |pixels: Vec<f32>| {
            let out = encoder.forward(tensor_from_vec(pixels, [1, 1, side, side], &device));
            assert_eq!(out.dims(), [1, config.positions(), 8]);
            float_to_vec(out)[..8].to_vec()
        };
        (first(blank), first(far))
    }

    #[test]
    fn with_global_context_a_corner_position_sees_the_far_corner() {
        let (blank, far) = corner_outputs(false);
        assert_eq!(blank, far, "without it, position 0 sees only its patch");
        let (blank, far) = corner_outputs(true);
        let moved: f32 = blank.iter().zip(&far).map(|(a, b)| (a - b).abs()).sum();
        assert!(
            moved > 1e-6,
            "with it, position 0 changes with the far corner"
        );
    }
}
