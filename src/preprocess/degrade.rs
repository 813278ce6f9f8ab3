//! Degrading an input on purpose, to show how long another modality's help holds: audio
//! gets white noise at a chosen signal-to-noise ratio, images a Gaussian blur and Gaussian
//! pixel noise. One noise level in `0..=1` (the transfer lab's slider) sets both.
//! Deterministic for a given seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// SNR of the audio noise at the lowest non-zero noise level, in dB.
pub const MIN_LEVEL_SNR_DB: f32 = 30.0;
/// SNR of the audio noise at noise level 1, in dB.
pub const MAX_LEVEL_SNR_DB: f32 = -10.0;
/// Blur of the images at noise level 1 (Gaussian sigma, in model pixels).
pub const MAX_BLUR_SIGMA_PX: f32 = 1.5;
/// Standard deviation of the pixel noise at noise level 1 (pixels in 0..1).
pub const MAX_PIXEL_NOISE_SD: f32 = 0.5;

/// What one noise level does to each modality.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseLevel {
    /// `0..=1`; 0 leaves inputs untouched.
    pub level: f32,
}

impl NoiseLevel {
    /// A level, clamped to `0..=1` (NaN is clean).
    pub fn new(level: f32) -> Self {
        NoiseLevel {
            level: if level.is_nan() {
                0.0
            } else {
                level.clamp(0.0, 1.0)
            },
        }
    }

    /// True when nothing is changed.
    pub fn is_clean(&self) -> bool {
        self.level <= 0.0
    }

    /// SNR of the audio noise, in dB (`None`: clean).
    pub fn audio_snr_db(&self) -> Option<f32> {
        (!self.is_clean())
            .then_some(MIN_LEVEL_SNR_DB + (MAX_LEVEL_SNR_DB - MIN_LEVEL_SNR_DB) * self.level)
    }

    /// Blur sigma (model pixels) and pixel-noise sd of the image degradation.
    pub fn image_blur_noise(&self) -> (f32, f32) {
        (
            MAX_BLUR_SIGMA_PX * self.level,
            MAX_PIXEL_NOISE_SD * self.level,
        )
    }

    /// What this level does to `modality`, in words (`None`: clean).
    pub fn describe(&self, modality: crate::modality::Modality) -> Option<String> {
        use crate::modality::Modality;
        if self.is_clean() {
            return None;
        }
        match modality {
            Modality::Audio => self
                .audio_snr_db()
                .map(|snr| format!("white noise at {snr:.0} dB SNR")),
            Modality::Image => {
                let (sigma, sd) = self.image_blur_noise();
                Some(format!(
                    "blur sigma {sigma:.2} px and pixel noise sd {sd:.2}"
                ))
            }
            Modality::Text => None,
        }
    }
}

/// Mean power (mean square) of samples.
pub fn mean_power(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / samples.len() as f64
}

/// Adds white Gaussian noise whose power is the clip's mean power over `10^(snr_db / 10)`.
/// A silent clip stays silent (its SNR is undefined).
pub fn add_white_noise(samples: &[f32], snr_db: f32, seed: u64) -> Vec<f32> {
    let signal = mean_power(samples);
    let noise_sd = (signal / 10f64.powf(f64::from(snr_db) / 10.0)).sqrt() as f32;
    let Ok(normal) = Normal::new(0.0f32, noise_sd) else {
        return samples.to_vec();
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    samples
        .iter()
        .map(|&x| x + normal.sample(&mut rng))
        .collect()
}

/// SNR of `noisy` against the `clean` signal it was made from, in dB.
pub fn measured_snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
    let noise: Vec<f32> = noisy.iter().zip(clean).map(|(n, c)| n - c).collect();
    10.0 * (mean_power(clean) / mean_power(&noise).max(f64::MIN_POSITIVE)).log10()
}

/// A normalised 1-D Gaussian kernel of radius `ceil(3 sigma)`.
fn gaussian_kernel(sigma_px: f32) -> Vec<f32> {
    let radius = (3.0 * sigma_px).ceil() as isize;
    let mut k: Vec<f32> = (-radius..=radius)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma_px * sigma_px)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Separable Gaussian blur of a `[height, width]` one-channel image (edges clamped).
/// `sigma_px <= 0` returns the image unchanged.
pub fn gaussian_blur(pixels: &[f32], width: usize, height: usize, sigma_px: f32) -> Vec<f32> {
    if sigma_px <= 0.0 || pixels.len() != width * height {
        return pixels.to_vec();
    }
    let k = gaussian_kernel(sigma_px);
    let r = (k.len() / 2) as isize;
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; src.len()];
        for y in 0..height {
            for x in 0..width {
                let mut acc = 0f32;
                for (j, w) in k.iter().enumerate() {
                    let d = j as isize - r;
                    let (sx, sy) = if horizontal {
                        ((x as isize + d).clamp(0, width as isize - 1) as usize, y)
                    } else {
                        (x, (y as isize + d).clamp(0, height as isize - 1) as usize)
                    };
                    acc += w * src[sy * width + sx];
                }
                out[y * width + x] = acc;
            }
        }
        out
    };
    pass(&pass(pixels, true), false)
}

/// Blurs a `[height, width]` image of values in `0..1`, adds Gaussian pixel noise of sd
/// `noise_sd` and clamps back to `0..1`.
pub fn blur_and_noise(
    pixels: &[f32],
    width: usize,
    height: usize,
    sigma_px: f32,
    noise_sd: f32,
    seed: u64,
) -> Vec<f32> {
    let mut out = gaussian_blur(pixels, width, height, sigma_px);
    if let Ok(normal) = Normal::new(0.0f32, noise_sd)
        && noise_sd > 0.0
    {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for v in &mut out {
            *v += normal.sample(&mut rng);
        }
    }
    out.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Energy of the differences between neighbouring pixels: the image's high frequencies.
    fn high_frequency_energy(p: &[f32], w: usize, h: usize) -> f32 {
        let mut e = 0.0;
        for y in 0..h {
            for x in 0..w {
                let v = p[y * w + x];
                if x + 1 < w {
                    e += (p[y * w + x + 1] - v).powi(2);
                }
                if y + 1 < h {
                    e += (p[(y + 1) * w + x] - v).powi(2);
                }
            }
        }
        e
    }

    #[test]
    fn added_noise_measures_back_at_the_requested_snr() {
        // A 0.5 s tone with a quiet half, at 16 kHz.
        let clean: Vec<f32> = (0..8_000)
            .map(|i| {
                let a = if i < 4_000 { 0.5 } else { 0.05 };
                a * (i as f32 * 0.07).sin()
            })
            .collect();
        for snr in [30.0, 10.0, 0.0, -10.0] {
            let noisy = add_white_noise(&clean, snr, 3);
            let measured = measured_snr_db(&clean, &noisy);
            assert!(
                (measured - f64::from(snr)).abs() < 0.2,
                "asked {snr} dB, measured {measured:.3} dB"
            );
        }
        // Seeded, and a silent clip stays silent.
        assert_eq!(
            add_white_noise(&clean, 5.0, 1),
            add_white_noise(&clean, 5.0, 1)
        );
        assert_ne!(
            add_white_noise(&clean, 5.0, 1),
            add_white_noise(&clean, 5.0, 2)
        );
        assert_eq!(add_white_noise(&[0.0; 10], 5.0, 1), vec![0.0; 10]);
    }

    #[test]
    fn blur_removes_high_frequencies_and_keeps_the_mean() {
        // A checkerboard of 2-pixel squares on a 28x28 image: all high frequencies.
        let (w, h) = (28, 28);
        let img: Vec<f32> = (0..w * h)
            .map(|i| f32::from(u8::from(((i % w) / 2 + (i / w) / 2) % 2 == 0)))
            .collect();
        let blurred = gaussian_blur(&img, w, h, 1.5);
        let (before, after) = (
            high_frequency_energy(&img, w, h),
            high_frequency_energy(&blurred, w, h),
        );
        assert!(after < 0.1 * before, "{before} -> {after}");
        let mean = |p: &[f32]| p.iter().sum::<f32>() / p.len() as f32;
        assert!((mean(&img) - mean(&blurred)).abs() < 0.02);
        assert_eq!(gaussian_blur(&img, w, h, 0.0), img);
        // Blur + noise stays in 0..1 and is seeded.
        let d = blur_and_noise(&img, w, h, 1.0, 0.5, 4);
        assert!(d.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(d, blur_and_noise(&img, w, h, 1.0, 0.5, 4));
        assert_ne!(d, blurred);
    }

    #[test]
    fn the_slider_maps_to_snr_and_blur() {
        assert_eq!(NoiseLevel::new(0.0).audio_snr_db(), None);
        assert_eq!(NoiseLevel::new(1.0).audio_snr_db(), Some(MAX_LEVEL_SNR_DB));
        assert_eq!(NoiseLevel::new(7.0).level, 1.0);
        assert_eq!(NoiseLevel::new(f32::NAN).level, 0.0);
        let half = NoiseLevel::new(0.5);
        assert_eq!(half.audio_snr_db(), Some(10.0));
        assert_eq!(
            half.describe(crate::modality::Modality::Audio).unwrap(),
            "white noise at 10 dB SNR"
        );
        assert_eq!(half.image_blur_noise(), (0.75, 0.25));
    }
}
