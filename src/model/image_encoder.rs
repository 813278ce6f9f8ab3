//! Image semantic encoder: a small conv net whose last feature map is the sequence of
//! positions quantised against the shared codebook (4x4 = 16 positions for 28x28 input).
//!
//! Each position of the last conv layer sees a 17x17 pixel patch, so a corner cell of a
//! digit sees mostly paper, and looks alike in every digit. With `global_context` the 1x1 head
//! also reads the mean of the whole feature map, so every position knows which digit it is
//! part of and can take that digit's codes (the ones a spoken digit uses too).
//!
//! With `blank_cell_max` set, a grid cell whose input block holds no ink (its largest input
//! value at most that) is blank paper: [`ImageEncoder::ink_mask`] marks it like padding, so it
//! gets no code, trains no code and counts in no usage, as trailing silence does for a clip.
//! Without it (bundles made before the option) every cell is a position.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::invalid;
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
    /// A cell whose input block's largest value (normalised input units, channel mean) is at
    /// most this is blank and masked; `None`: no cell is masked (bundles made before this
    /// option). The input side must be a multiple of the grid's.
    #[serde(default)]
    pub blank_cell_max: Option<f32>,
}

impl Default for ImageEncoderConfig {
    fn default() -> Self {
        ImageEncoderConfig {
            in_channels: 1,
            input_size: [MNIST_SIDE_PX as usize; 2],
            hidden_channels: vec![32, 64, 128, 128],
            d_model: 256,
            global_context: false,
            blank_cell_max: None,
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

    /// Checks that the blank-cell mask can be applied: its threshold is finite and the input
    /// splits into whole blocks, one per grid cell.
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        let Some(max) = self.blank_cell_max else {
            return Ok(());
        };
        if !max.is_finite() {
            return Err(invalid!("image.blank_cell_max must be finite, got {max}"));
        }
        let ([h, w], [rows, cols]) = (self.input_size, self.grid());
        if !(h.is_multiple_of(rows) && w.is_multiple_of(cols)) {
            return Err(invalid!(
                "image.blank_cell_max needs an input of whole blocks per grid cell, but a \
                 {h}x{w} input does not split into the {rows}x{cols} feature grid; use a \
                 side that is a multiple of the grid's or remove blank_cell_max"
            ));
        }
        Ok(())
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
            grid: self.grid(),
            blank_cell_max: self.blank_cell_max,
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
    /// `[rows, cols]` of the last feature map.
    pub grid: [usize; 2],
    /// See [`ImageEncoderConfig::blank_cell_max`].
    pub blank_cell_max: Option<f32>,
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

    /// 1 for the cells of the feature map that carry ink, 0 for blank paper (row-major, as the
    /// positions of [`Self::forward`]). Every cell counts when the encoder has no
    /// `blank_cell_max`, and in an image with no ink at all (an empty canvas still gets codes).
    ///
    /// - `images`: `[B, C, H, W]` normalised pixels -> `[B, rows * cols]`
    pub fn ink_mask(&self, images: Tensor<4>) -> Tensor<2> {
        let [b, _, h, w] = images.dims();
        let [rows, cols] = self.grid;
        let device = images.device();
        // A validated config always splits evenly ([`ImageEncoderConfig::validate`]); an
        // encoder built from an unchecked one masks nothing rather than failing.
        let Some(max) = self
            .blank_cell_max
            .filter(|_| h % rows == 0 && w % cols == 0)
        else {
            return Tensor::ones([b, rows * cols], &device);
        };
        let (kh, kw) = (h / rows, w / cols);
        let cells = images
            .mean_dim(1) // [B, 1, H, W]
            .reshape([b, rows, kh, cols, kw])
            .max_dim(4)
            .max_dim(2) // [B, rows, 1, cols, 1]
            .reshape([b, rows * cols]);
        let ink = cells.greater_elem(max).float(); // [B, T]
        let no_ink = ink.clone().sum_dim(1).lower_equal_elem(0.0).float(); // [B, 1]
        ink.add(no_ink.expand([b, rows * cols])).clamp_max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{float_to_vec, tensor_from_vec};

    #[test]
    fn a_blank_cell_mask_needs_whole_blocks_per_grid_cell() {
        let mut config = ImageEncoderConfig {
            blank_cell_max: Some(0.5),
            ..Default::default()
        };
        assert_eq!(config.grid(), [4, 4]);
        assert!(config.validate().is_ok(), "28x28 splits into 7x7 blocks");
        config.input_size = [30, 28];
        let e = config.validate().unwrap_err().to_string();
        assert!(
            e.contains("but a 30x28 input does not split into the 4x4 feature grid; use a side"),
            "{e}"
        );
        config.blank_cell_max = None;
        assert!(config.validate().is_ok(), "no mask, any size");
        config.input_size = [28, 28];
        config.blank_cell_max = Some(f32::NAN);
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("finite")
        );
    }

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
    fn blank_cells_are_masked_and_an_image_without_ink_keeps_every_cell() {
        let device = Device::flex();
        let config = ImageEncoderConfig {
            hidden_channels: vec![4, 4, 4, 4],
            d_model: 8,
            blank_cell_max: Some(0.0),
            ..Default::default()
        };
        let encoder = config.init(&device);
        let side = MNIST_SIDE_PX as usize;
        let paper = -0.4f32;
        let mut one_stroke = vec![paper; side * side];
        // One pixel of ink in cell (1, 2): rows 7..14, cols 14..21 of the 7x7 blocks.
        one_stroke[9 * side + 16] = 2.0;
        let mut pixels = one_stroke;
        pixels.extend(vec![paper; side * side]);
        let mask =
            float_to_vec(encoder.ink_mask(tensor_from_vec(pixels, [2, 1, side, side], &device)));
        let mut want = vec![0.0; 16];
        want[4 + 2] = 1.0;
        want.extend(vec![1.0; 16]);
        assert_eq!(mask, want);
        let unmasked = ImageEncoderConfig {
            blank_cell_max: None,
            ..config
        }
        .init(&device);
        let blank = tensor_from_vec(vec![paper; side * side], [1, 1, side, side], &device);
        assert_eq!(float_to_vec(unmasked.ink_mask(blank)), vec![1.0; 16]);
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
