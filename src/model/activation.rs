//! GELU for the frozen Whisper encoder, as element-wise tensor ops.
//!
//! `gelu(x) = x/2 * (1 + erf(x / sqrt 2))`, with erf by the rational approximation that XLA
//! and Eigen use for f32: the argument clamped to [-4, 4] (erf is ±1 in f32 beyond), then
//! `z * P(z²) / Q(z²)` with an odd numerator of degree 13 and an even denominator of degree 8.
//! Largest error against float64 erf over [-10, 10]: 4.2e-7 (the test below checks values from
//! scipy's `erf` and burn's own GELU).
//!
//! Why not `burn::nn::Gelu` there: the CPU backend evaluates it with libm's scalar `erff`, one
//! call per element, 17 % of the encoder's time on the 2-core machine (perf, release); these
//! two dozen multiply-adds run vectorised (and wgpu fuses them). That pays on Whisper's
//! tensors (154k elements per layer for a 2 s window) and loses on small ones, where the
//! per-op overhead dominates: MiniLM on a short prompt (a few thousand elements per layer) was
//! slower with it (one text, p50 18.0 against 13.5 ms), so MiniLM and the heads this project
//! trains keep `burn::nn::Gelu`.

use burn::tensor::Tensor;

/// Beyond this |z|, erf(z) rounds to ±1 in f32.
const ERF_CLAMP: f64 = 4.0;
/// Numerator coefficients, highest power of z² first (then multiplied by z).
const ERF_NUMERATOR: [f64; 7] = [
    -2.726_142_258_013_06e-10,
    2.770_681_424_959_02e-8,
    -2.101_024_020_825_08e-6,
    -5.692_506_394_623_46e-5,
    -7.349_906_303_268_55e-4,
    -2.954_599_808_540_25e-3,
    -1.609_603_332_624_15e-2,
];
/// Denominator coefficients, highest power of z² first.
const ERF_DENOMINATOR: [f64; 5] = [
    -1.456_607_184_649_96e-5,
    -2.133_740_552_789_05e-4,
    -1.682_826_974_382_03e-3,
    -7.373_329_167_204_68e-3,
    -1.426_473_905_141_89e-2,
];

/// Horner's rule in `z2` over `coefficients` (highest power first).
fn horner<const D: usize, const N: usize>(z2: &Tensor<D>, coefficients: &[f64; N]) -> Tensor<D> {
    const { assert!(N >= 2, "a polynomial of degree at least one") };
    coefficients[2..].iter().fold(
        z2.clone()
            .mul_scalar(coefficients[0])
            .add_scalar(coefficients[1]),
        |acc, &c| acc.mul(z2.clone()).add_scalar(c),
    )
}

/// erf, element-wise (see the module docs for the approximation and its error).
pub fn erf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let z = x.clamp(-ERF_CLAMP, ERF_CLAMP);
    let z2 = z.clone().mul(z.clone());
    let numerator = horner(&z2, &ERF_NUMERATOR).mul(z);
    numerator.div(horner(&z2, &ERF_DENOMINATOR))
}

/// GELU with erf, element-wise: `x/2 * (1 + erf(x / sqrt 2))`.
///
/// - `x`: any shape; returns the same shape
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let cdf = erf(x.clone().div_scalar(std::f64::consts::SQRT_2)).add_scalar(1.0);
    x.mul(cdf).mul_scalar(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{float_to_vec, tensor_from_vec};
    use burn::nn::Gelu;
    use burn::tensor::Device;

    /// `x/2 * (1 + erf(x / sqrt 2))` in float64 by scipy.special.erf.
    const SCIPY_GELU: [(f32, f64); 14] = [
        (-9.0, -0.0),
        (-5.8, -1.923132654e-08),
        (-3.7, -3.988590139e-04),
        (-2.2, -3.058758453e-02),
        (-1.0, -1.586552539e-01),
        (-0.5, -1.542687694e-01),
        (-0.001, -4.996010578e-04),
        (0.0, 0.0),
        (0.25, 1.496765814e-01),
        (1.0, 8.413447461e-01),
        (2.2, 2.169412415e+00),
        (3.7, 3.699601141e+00),
        (5.8, 5.799999981e+00),
        (9.0, 9.000000000e+00),
    ];

    #[test]
    fn gelu_equals_scipy_and_burns_exact_gelu() {
        let device = Device::default();
        let xs: Vec<f32> = SCIPY_GELU.iter().map(|&(x, _)| x).collect();
        let ours = float_to_vec(gelu(tensor_from_vec(xs, [SCIPY_GELU.len()], &device)));
        for (&(x, want), got) in SCIPY_GELU.iter().zip(&ours) {
            let tolerance = 1e-6 * (1.0 + want.abs());
            assert!(
                (f64::from(*got) - want).abs() <= tolerance,
                "gelu({x}) = {got}, scipy {want}"
            );
        }
        // Against burn's GELU (libm erff) on a dense grid over the range activations take.
        let grid: Vec<f32> = (0..=4000).map(|i| -12.0 + i as f32 * 0.006).collect();
        let exact =
            float_to_vec(Gelu::new().forward(tensor_from_vec(grid.clone(), [4001], &device)));
        let ours = float_to_vec(gelu(tensor_from_vec(grid.clone(), [4001], &device)));
        let worst = exact
            .iter()
            .zip(&ours)
            .zip(&grid)
            .map(|((e, o), x)| (e - o).abs() / (1.0 + x.abs()))
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-6,
            "largest relative difference from burn's GELU: {worst}"
        );
    }
}
