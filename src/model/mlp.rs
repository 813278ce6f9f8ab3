//! A two-layer perceptron (linear, ReLU, linear): the CMG trainer's decoders, CLUB and
//! Cross-CPC heads, and the generation decoders a bundle ships.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};

/// Two-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    pub hidden: Linear,
    pub out: Linear,
    pub activation: Relu,
}

impl Mlp {
    /// `d_in -> d_hidden -> d_out`, freshly initialised on `device`.
    pub fn new(d_in: usize, d_hidden: usize, d_out: usize, device: &Device) -> Self {
        Mlp {
            hidden: LinearConfig::new(d_in, d_hidden).init(device),
            out: LinearConfig::new(d_hidden, d_out).init(device),
            activation: Relu::new(),
        }
    }

    /// `[B, d_in]` -> `[B, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out
            .forward(self.activation.forward(self.hidden.forward(x)))
    }
}
