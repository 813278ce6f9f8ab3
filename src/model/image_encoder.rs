//! Image semantic encoder: a small conv net whose last feature map is the sequence of
//! positions quantised against the shared codebook (4x4 = 16 positions for 28x28 input).

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
}

impl Default for ImageEncoderConfig {
    fn default() -> Self {
        ImageEncoderConfig {
            in_channels: 1,
            input_size: [MNIST_SIDE_PX as usize; 2],
            hidden_channels: vec![32, 64, 128, 128],
            d_model: 256,
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
        let head = Conv2dConfig::new([channels_in, self.d_model], [1, 1]).init(device);
        ImageEncoder {
            convs,
            head,
            activation: Relu::new(),
        }
    }
}

/// The image encoder module.
#[derive(Module, Debug)]
pub struct ImageEncoder {
    pub convs: Vec<Conv2d>,
    pub head: Conv2d,
    pub activation: Relu,
}

impl ImageEncoder {
    /// - `images`: `[B, C, H, W]`, normalised pixels
    /// - returns `[B, T, D]` with T = rows x cols of the last feature map, row-major
    pub fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        let mut x = images;
        for conv in &self.convs {
            x = self.activation.forward(conv.forward(x));
        }
        let x = self.head.forward(x); // [B, D, r, c]
        let [b, d, r, c] = x.dims();
        x.reshape([b, d, r * c]).swap_dims(1, 2)
    }
}
