//! The shared discrete codebook: K code vectors of dimension D, one for all modalities.
//! Lookup is the nearest code by squared L2 distance. During training the vectors are
//! updated by exponential moving averages (see `train::ema`), never by gradients.

use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Int, Tensor};
use serde::{Deserialize, Serialize};

/// Codebook size and dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodebookConfig {
    /// Number of codes K.
    pub size: usize,
    /// Dimension D of every code (= the encoders' output dimension).
    pub dim: usize,
}

impl CodebookConfig {
    /// A codebook with vectors drawn uniformly from [-1/K, 1/K] (as in VQ-VAE).
    pub fn init(&self, device: &Device) -> Codebook {
        let bound = 1.0 / self.size as f64;
        let vectors = Tensor::<2>::random(
            [self.size, self.dim],
            Distribution::Uniform(-bound, bound),
            device,
        );
        Codebook {
            vectors: Param::from_tensor(vectors).set_require_grad(false),
        }
    }
}

/// The codebook module. Its single tensor is saved as `codebook.vectors` `[K, D]`.
#[derive(Module, Debug)]
pub struct Codebook {
    /// `[K, D]`
    pub vectors: Param<Tensor<2>>,
}

/// Result of quantising a batch of sequences.
#[derive(Debug, Clone)]
pub struct Quantized {
    /// Code index per position: `[B, T]`.
    pub codes: Tensor<2, Int>,
    /// Code vector per position: `[B, T, D]`.
    pub vectors: Tensor<3>,
    /// Squared distance to the chosen code per position: `[B, T]`.
    pub distances: Tensor<2>,
}

impl Codebook {
    /// Number of codes K.
    pub fn size(&self) -> usize {
        self.vectors.lazy_shape().dims::<2>()[0]
    }

    /// Code dimension D.
    pub fn dim(&self) -> usize {
        self.vectors.lazy_shape().dims::<2>()[1]
    }

    /// Squared L2 distances from every row of `x` to every code.
    ///
    /// - `x`: `[N, D]`
    /// - returns `[N, K]`
    pub fn distances(&self, x: Tensor<2>) -> Tensor<2> {
        let codes = self.vectors.val(); // [K, D]
        let x_sq = x.clone().powi_scalar(2).sum_dim(1); // [N, 1]
        let c_sq = codes.clone().powi_scalar(2).sum_dim(1).transpose(); // [1, K]
        let cross = x.matmul(codes.transpose()); // [N, K]
        (x_sq + c_sq - cross.mul_scalar(2.0)).clamp_min(0.0)
    }

    /// Nearest code for every position.
    ///
    /// - `x`: `[B, T, D]`
    /// - returns codes `[B, T]`, quantised vectors `[B, T, D]`, distances `[B, T]`
    pub fn quantize(&self, x: Tensor<3>) -> Quantized {
        let [b, t, d] = x.dims();
        let flat = x.reshape([b * t, d]);
        let dist = self.distances(flat); // [B*T, K]
        let (min_dist, codes) = dist.min_dim_with_indices(1); // [B*T, 1] each
        let codes_flat = codes.reshape([b * t]);
        let vectors = self
            .vectors
            .val()
            .select(0, codes_flat.clone())
            .reshape([b, t, d]);
        Quantized {
            codes: codes_flat.reshape([b, t]),
            vectors,
            distances: min_dist.reshape([b, t]),
        }
    }
}
