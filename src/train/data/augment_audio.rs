//! Audio augmentation for training: plain functions on `&[f32]` samples at `sample_rate_hz`,
//! and a sampler that draws a random combination from named ranges ([`Augmentation::sample`]).
//! `crate::train::data::augment_clips` writes the augmented copies of every training clip (the
//! `audio_aug` set of `transference data`).
//!
//! The effects, in the order [`Augmentation::apply`] runs them:
//!
//! 1. **speed** ([`speed_perturb`]): resampling by a factor `f` in [`SPEED_FACTOR_RANGE`] and
//!    playing back at the original rate: `1/f` times as long, every frequency `f` times higher
//!    (the "speed perturbation" of Ko et al., Interspeech 2015);
//! 2. **vocal-tract length** ([`vtlp`]): the frequency axis of an STFT warped piecewise
//!    linearly by `alpha` in [`VTLP_ALPHA_RANGE`] (Jaitly & Hinton, 2013), resynthesised by a
//!    phase vocoder and weighted overlap-add; `alpha = 1` is the identity;
//! 3. **silence padding** ([`PAD_SECS_RANGE`] before and after), so noise also fills the
//!    pauses a real recording has around the word;
//! 4. **room reverb** ([`room_impulse_response`], [`convolve`]): a direct path plus an
//!    exponentially decaying noise tail of RT60 in [`RT60_SECS_RANGE`] at a direct-to-reverberant
//!    ratio in [`DRR_DB_RANGE`];
//! 5. **noise** ([`add_noise`]): white, pink ([`pink_noise`]) or babble ([`babble_noise`]: other
//!    training clips mixed) at an SNR in [`SNR_DB_RANGE`] relative to the speech's RMS;
//! 6. **gain** ([`apply_gain_db`]) in [`GAIN_DB_RANGE`], clipped to full scale (loud inputs
//!    saturate as a real recording would; the preprocessing's loudness normalisation undoes
//!    the level itself).
//!
//! Everything is seeded: the same seed gives the same copy on every machine and run.

use rand::Rng;
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::preprocess::audio::{Waveform, resample};

/// Speed factors drawn for [`speed_perturb`] (1.15 = 15 % faster and higher).
pub const SPEED_FACTOR_RANGE: (f32, f32) = (0.85, 1.15);
/// [`speed_perturb`] resamples to a multiple of `sample_rate_hz / SPEED_RATE_STEPS` (40 Hz at
/// 8 kHz), so the resampler's blocks stay small; the factor is exact to about 0.5 %.
pub const SPEED_RATE_STEPS: u32 = 200;
/// Frequency warp factors drawn for [`vtlp`].
pub const VTLP_ALPHA_RANGE: (f32, f32) = (0.9, 1.1);
/// FFT size of the [`vtlp`] STFT (32 ms at 8 kHz).
pub const VTLP_N_FFT: usize = 256;
/// Hop of the [`vtlp`] STFT (75 % overlap).
pub const VTLP_HOP: usize = 64;
/// The warp is `f -> alpha f` up to `VTLP_BOUNDARY_FRACTION * nyquist * min(alpha, 1) /
/// alpha`, then linear up to the Nyquist frequency (which stays in place).
pub const VTLP_BOUNDARY_FRACTION: f64 = 0.8;
/// Signal-to-noise ratios drawn for [`add_noise`], in dB.
pub const SNR_DB_RANGE: (f32, f32) = (5.0, 30.0);
/// Number of other clips mixed into babble noise (inclusive range).
pub const BABBLE_TALKERS: (usize, usize) = (2, 4);
/// Reverberation times drawn for [`room_impulse_response`], in seconds.
pub const RT60_SECS_RANGE: (f32, f32) = (0.15, 0.8);
/// Direct-to-reverberant energy ratios drawn for [`room_impulse_response`], in dB.
pub const DRR_DB_RANGE: (f32, f32) = (0.0, 12.0);
/// Delay between the direct path and the reverberant tail, in seconds.
pub const REVERB_PREDELAY_SECS: f32 = 0.005;
/// Gains drawn for [`apply_gain_db`], in dB.
pub const GAIN_DB_RANGE: (f32, f32) = (-6.0, 12.0);
/// Silence added before and after the clip (each drawn separately), in seconds.
pub const PAD_SECS_RANGE: (f32, f32) = (0.02, 0.25);
/// Probability that a copy is speed-perturbed.
pub const P_SPEED: f64 = 0.8;
/// Probability that a copy is VTLP-warped.
pub const P_VTLP: f64 = 0.6;
/// Probability that a copy gets room reverb.
pub const P_REVERB: f64 = 0.5;
/// Probability that a copy gets noise (white, pink and babble equally likely).
pub const P_NOISE: f64 = 0.7;

thread_local! {
    /// One planner per thread: plans (and their twiddle tables) are made once per size.
    static PLANNER: std::cell::RefCell<RealFftPlanner<f64>> =
        std::cell::RefCell::new(RealFftPlanner::new());
}

type RealFft = std::sync::Arc<dyn realfft::RealToComplex<f64>>;
type RealIfft = std::sync::Arc<dyn realfft::ComplexToReal<f64>>;

/// The forward and inverse real FFTs of size `n`, from this thread's planner.
fn plan_ffts(n: usize) -> (RealFft, RealIfft) {
    PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        (p.plan_fft_forward(n), p.plan_fft_inverse(n))
    })
}

/// `ln(10^3)`: an amplitude envelope `exp(-DECAY_60DB t / rt60)` falls by 60 dB at `rt60`.
const DECAY_60DB: f64 = 6.907_755_278_982_137;

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

/// Root mean square of `samples` (0 when empty).
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Signal-to-noise ratio of `noisy` against `clean` (same length): `10 log10(sum clean^2 /
/// sum (noisy - clean)^2)`, in dB.
pub fn snr_db(clean: &[f32], noisy: &[f32]) -> f32 {
    let (mut s, mut n) = (0.0f64, 0.0f64);
    for (&c, &y) in clean.iter().zip(noisy) {
        s += f64::from(c) * f64::from(c);
        n += (f64::from(y) - f64::from(c)).powi(2);
    }
    (10.0 * (s / n).log10()) as f32
}

/// Reverberation time of an impulse response by Schroeder backward integration: the time the
/// energy decay curve takes from -5 dB to -25 dB, times 3 (the "T20" estimate of RT60). `None`
/// when the curve never reaches -25 dB.
pub fn estimate_rt60_secs(ir: &[f32], sample_rate_hz: u32) -> Option<f32> {
    let mut edc: Vec<f64> = ir.iter().map(|&x| f64::from(x) * f64::from(x)).collect();
    for i in (0..edc.len().saturating_sub(1)).rev() {
        edc[i] += edc[i + 1];
    }
    let total = *edc.first()?;
    if total <= 0.0 {
        return None;
    }
    let db = |i: usize| 10.0 * (edc[i] / total).log10();
    let t5 = (0..edc.len()).find(|&i| db(i) <= -5.0)?;
    let t25 = (0..edc.len()).find(|&i| db(i) <= -25.0)?;
    Some((3.0 * (t25 - t5) as f64 / f64::from(sample_rate_hz)) as f32)
}

// ---------------------------------------------------------------------------------------------
// Effects
// ---------------------------------------------------------------------------------------------

/// Multiplies every sample by `10^(db / 20)` and clips to `[-1, 1]`.
pub fn apply_gain_db(samples: &mut [f32], db: f32) {
    let g = 10f32.powf(db / 20.0);
    for x in samples.iter_mut() {
        *x = (*x * g).clamp(-1.0, 1.0);
    }
}

/// Speed perturbation: resamples to `sample_rate_hz / factor` (rounded to a multiple of
/// `sample_rate_hz / SPEED_RATE_STEPS`) and reads the result back at `sample_rate_hz`, so the
/// clip lasts `1 / factor` as long and every frequency is `factor` times higher. Returns the
/// samples and the factor actually applied.
///
/// Errors: [`Error::InvalidRequest`] when `factor` is not positive or a rate falls outside
/// the resampler's limits.
pub fn speed_perturb(samples: &[f32], sample_rate_hz: u32, factor: f32) -> Result<(Vec<f32>, f32)> {
    if !(factor.is_finite() && factor > 0.0) {
        return Err(Error::InvalidRequest(format!(
            "speed factor {factor} must be positive"
        )));
    }
    let step = (sample_rate_hz / SPEED_RATE_STEPS).max(1);
    let steps = (f64::from(sample_rate_hz) / f64::from(factor) / f64::from(step)).round();
    let target = (steps.max(1.0) as u32).saturating_mul(step);
    let wave = Waveform {
        samples: samples.to_vec(),
        sample_rate_hz,
    };
    let out = resample(&wave, target)?;
    Ok((out.samples, sample_rate_hz as f32 / target as f32))
}

/// The VTLP frequency warp: `f -> alpha f` up to the boundary (see [`VTLP_BOUNDARY_FRACTION`]),
/// then the straight line that maps the Nyquist frequency onto itself. Odd in `f`.
pub fn vtlp_warp_hz(freq_hz: f64, alpha: f64, nyquist_hz: f64) -> f64 {
    let boundary = VTLP_BOUNDARY_FRACTION * nyquist_hz * alpha.min(1.0) / alpha;
    let f = freq_hz.abs();
    let warped = if f <= boundary {
        alpha * f
    } else {
        nyquist_hz - (nyquist_hz - alpha * boundary) * (nyquist_hz - f) / (nyquist_hz - boundary)
    };
    warped.copysign(freq_hz)
}

/// The inverse of [`vtlp_warp_hz`].
pub fn vtlp_unwarp_hz(freq_hz: f64, alpha: f64, nyquist_hz: f64) -> f64 {
    let boundary = VTLP_BOUNDARY_FRACTION * nyquist_hz * alpha.min(1.0) / alpha;
    let f = freq_hz.abs();
    let source = if f <= alpha * boundary {
        f / alpha
    } else {
        boundary
            + (f - alpha * boundary) * (nyquist_hz - boundary) / (nyquist_hz - alpha * boundary)
    };
    source.copysign(freq_hz)
}

/// Vocal-tract length perturbation: every STFT frame ([`VTLP_N_FFT`], hop [`VTLP_HOP`], Hann)
/// gets the magnitudes of its warped frequencies (output frequency `g` takes the input's
/// magnitude at `vtlp_unwarp_hz(g)`, interpolated), with phases advanced by the warped
/// instantaneous frequencies (a phase vocoder), and is resynthesised by weighted overlap-add.
/// A sinusoid at `f` (below the boundary) comes out at `alpha f`; `alpha = 1` returns the input
/// (to rounding). Same length as the input.
pub fn vtlp(samples: &[f32], sample_rate_hz: u32, alpha: f32) -> Result<Vec<f32>> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::InvalidRequest(format!(
            "VTLP factor {alpha} must be positive"
        )));
    }
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let (n, hop) = (VTLP_N_FFT, VTLP_HOP);
    let alpha = f64::from(alpha);
    let sr = f64::from(sample_rate_hz);
    let nyquist = sr / 2.0;
    let bins = n / 2 + 1;
    let bin_hz = sr / n as f64;
    let tau = std::f64::consts::TAU;
    let window: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (tau * i as f64 / n as f64).cos())
        .collect();
    // Padding of one FFT on each side: every sample lies under a full set of frames.
    let pad = n;
    let n_frames = (samples.len() + 2 * pad - n) / hop + 1;
    let total = ((n_frames - 1) * hop + n).max(samples.len() + 2 * pad);
    let mut input = vec![0.0f64; total];
    for (d, &s) in input[pad..].iter_mut().zip(samples) {
        *d = f64::from(s);
    }
    // Per output bin: the two input bins its magnitude is interpolated from, the weight of
    // the second, and the nearest input bin (whose instantaneous frequency it takes).
    let sources: Vec<(usize, usize, f64, usize)> = (0..bins)
        .map(|j| {
            let s = (vtlp_unwarp_hz(j as f64 * bin_hz, alpha, nyquist) / bin_hz)
                .clamp(0.0, (bins - 1) as f64);
            let k0 = s.floor() as usize;
            let nearest = (s.round() as usize).min(bins - 1);
            (k0, (k0 + 1).min(bins - 1), s - k0 as f64, nearest)
        })
        .collect();

    let (forward, inverse) = plan_ffts(n);
    let mut frame = forward.make_input_vec();
    let mut spectrum = forward.make_output_vec();
    let mut out_spectrum = inverse.make_input_vec();
    let mut out_frame = inverse.make_output_vec();
    let fft_err = |e: realfft::FftError| Error::Internal(format!("VTLP FFT: {e}"));
    let mut prev_phase = vec![0.0f64; bins];
    let mut phase = vec![0.0f64; bins];
    let mut magnitude = vec![0.0f64; bins];
    let mut inst_freq = vec![0.0f64; bins];
    let mut out_phase = vec![0.0f64; bins];
    let mut out = vec![0.0f64; total];
    let mut norm = vec![0.0f64; total];
    for t in 0..n_frames {
        let start = t * hop;
        for ((f, &x), &w) in frame.iter_mut().zip(&input[start..start + n]).zip(&window) {
            *f = x * w;
        }
        forward
            .process(&mut frame, &mut spectrum)
            .map_err(fft_err)?;
        for k in 0..bins {
            magnitude[k] = spectrum[k].norm();
            phase[k] = spectrum[k].arg();
            let expected = tau * (k * hop) as f64 / n as f64;
            // Instantaneous frequency in radians per sample.
            inst_freq[k] = if t == 0 {
                tau * k as f64 / n as f64
            } else {
                let d = phase[k] - prev_phase[k] - expected;
                let wrapped = d - tau * (d / tau).round();
                (expected + wrapped) / hop as f64
            };
        }
        for (j, &(k0, k1, frac, nearest)) in sources.iter().enumerate() {
            let mag = magnitude[k0] * (1.0 - frac) + magnitude[k1] * frac;
            if t == 0 {
                out_phase[j] = phase[nearest];
            } else {
                let f_hz = inst_freq[nearest] * sr / tau;
                let warped = vtlp_warp_hz(f_hz, alpha, nyquist) * tau / sr;
                out_phase[j] = (out_phase[j] + hop as f64 * warped) % tau;
            }
            out_spectrum[j] = Complex::from_polar(mag, out_phase[j]);
        }
        out_spectrum[0].im = 0.0;
        out_spectrum[bins - 1].im = 0.0;
        inverse
            .process(&mut out_spectrum, &mut out_frame)
            .map_err(fft_err)?;
        for i in 0..n {
            out[start + i] += out_frame[i] / n as f64 * window[i];
            norm[start + i] += window[i] * window[i];
        }
        std::mem::swap(&mut prev_phase, &mut phase);
    }
    Ok((0..samples.len())
        .map(|i| {
            let w = norm[pad + i];
            if w > 1e-9 {
                (out[pad + i] / w) as f32
            } else {
                0.0
            }
        })
        .collect())
}

/// Standard normal draws for noise signals: Box-Muller pairs from a SplitMix64 stream seeded
/// by one draw of the caller's generator (thousands of samples per clip; ChaCha per sample
/// would dominate the cost of an unoptimised build).
struct Gaussian {
    state: u64,
    spare: Option<f64>,
}

impl Gaussian {
    fn new(rng: &mut impl Rng) -> Self {
        Self {
            state: rng.random(),
            spare: None,
        }
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * self.uniform()).sin_cos();
        self.spare = Some(r * sin);
        r * cos
    }
}

/// `len` samples of white Gaussian noise of unit variance.
pub fn white_noise(len: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut g = Gaussian::new(rng);
    (0..len).map(|_| g.next() as f32).collect()
}

/// Samples the [`pink_noise`] filter runs before its output is used (its slowest pole has a
/// time constant of about 900 samples).
const PINK_WARMUP: usize = 4096;

/// `len` samples of pink noise (power spectral density proportional to `1/f`, equal power per
/// octave): white noise through Paul Kellet's refined pinking filter (within 0.05 dB of
/// `1/f` above 0.0002 of the sample rate).
pub fn pink_noise(len: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut g = Gaussian::new(rng);
    let mut b = [0.0f64; 7];
    let mut out = Vec::with_capacity(len);
    for i in 0..len + PINK_WARMUP {
        let w = g.next();
        b[0] = 0.99886 * b[0] + w * 0.055_517_9;
        b[1] = 0.99332 * b[1] + w * 0.075_075_9;
        b[2] = 0.96900 * b[2] + w * 0.153_852_0;
        b[3] = 0.86650 * b[3] + w * 0.310_485_6;
        b[4] = 0.55000 * b[4] + w * 0.532_952_2;
        b[5] = -0.7616 * b[5] - w * 0.016_898_0;
        let pink = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
        b[6] = w * 0.115_926;
        if i >= PINK_WARMUP {
            out.push(pink as f32);
        }
    }
    out
}

/// `len` samples of babble: each of `talkers` normalised to unit RMS, started at a random
/// offset, repeated to fill `len`, and summed. Silence when no talker has sound.
pub fn babble_noise(len: usize, talkers: &[&[f32]], rng: &mut impl Rng) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    for talker in talkers {
        let level = rms(talker);
        if talker.is_empty() || level <= 0.0 {
            continue;
        }
        let offset = rng.random_range(0..talker.len());
        for (i, o) in out.iter_mut().enumerate() {
            *o += talker[(offset + i) % talker.len()] / level;
        }
    }
    out
}

/// Adds `noise` (same length as `samples`, or repeated) scaled so that `reference_rms` (the
/// speech's RMS) over the noise's RMS is `snr_db`. Nothing happens when the noise is silent.
pub fn add_noise(samples: &mut [f32], noise: &[f32], snr_db: f32, reference_rms: f32) {
    let level = rms(noise);
    if noise.is_empty() || level <= 0.0 {
        return;
    }
    let scale = f64::from(reference_rms) / f64::from(level) / 10f64.powf(f64::from(snr_db) / 20.0);
    for (i, x) in samples.iter_mut().enumerate() {
        *x += (f64::from(noise[i % noise.len()]) * scale) as f32;
    }
}

/// A synthetic room impulse response: a unit direct path at sample 0, then after
/// [`REVERB_PREDELAY_SECS`] Gaussian noise under the envelope `exp(-ln(1000) t / rt60)` (its
/// energy falls by 60 dB in `rt60_secs`), lasting `rt60_secs`, scaled so that the direct
/// energy over the tail's energy is `drr_db`.
pub fn room_impulse_response(
    sample_rate_hz: u32,
    rt60_secs: f32,
    drr_db: f32,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let sr = f64::from(sample_rate_hz);
    let rt60 = f64::from(rt60_secs.max(1e-3));
    let predelay = (f64::from(REVERB_PREDELAY_SECS) * sr).round().max(1.0) as usize;
    let tail_len = (rt60 * sr).round().max(1.0) as usize;
    let mut ir = vec![0.0f64; predelay + tail_len];
    ir[0] = 1.0;
    let mut g = Gaussian::new(rng);
    // The envelope exp(-DECAY_60DB t / rt60), one factor per sample.
    let step = (-DECAY_60DB / (rt60 * sr)).exp();
    let mut envelope = (-DECAY_60DB * predelay as f64 / (rt60 * sr)).exp();
    for x in ir[predelay..].iter_mut() {
        *x = g.next() * envelope;
        envelope *= step;
    }
    let tail_energy: f64 = ir[predelay..].iter().map(|x| x * x).sum();
    let target = 10f64.powf(-f64::from(drr_db) / 10.0);
    let g = if tail_energy > 0.0 {
        (target / tail_energy).sqrt()
    } else {
        0.0
    };
    ir[predelay..].iter_mut().for_each(|x| *x *= g);
    ir.into_iter().map(|x| x as f32).collect()
}

/// Full linear convolution of `a` and `b` (`a.len() + b.len() - 1` samples; empty when either
/// is empty), through real FFTs.
pub fn convolve(a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    if a.is_empty() || b.is_empty() {
        return Ok(Vec::new());
    }
    let len = a.len() + b.len() - 1;
    let size = len.next_power_of_two().max(2);
    let (forward, inverse) = plan_ffts(size);
    let fft_err = |e: realfft::FftError| Error::Internal(format!("convolution FFT: {e}"));
    let spectrum_of = |x: &[f32]| -> Result<Vec<Complex<f64>>> {
        let mut buf = forward.make_input_vec();
        for (d, &s) in buf.iter_mut().zip(x) {
            *d = f64::from(s);
        }
        let mut spec = forward.make_output_vec();
        forward.process(&mut buf, &mut spec).map_err(fft_err)?;
        Ok(spec)
    };
    let mut spec = spectrum_of(a)?;
    for (x, y) in spec.iter_mut().zip(spectrum_of(b)?) {
        *x *= y;
    }
    let last = spec.len() - 1;
    spec[0].im = 0.0;
    spec[last].im = 0.0;
    let mut out = inverse.make_output_vec();
    inverse.process(&mut spec, &mut out).map_err(fft_err)?;
    Ok(out[..len]
        .iter()
        .map(|&x| (x / size as f64) as f32)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Random combinations
// ---------------------------------------------------------------------------------------------

/// The ranges and probabilities [`Augmentation::sample`] draws from (defaults: the constants
/// of this module); stored in the data's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentRanges {
    /// [`SPEED_FACTOR_RANGE`].
    pub speed_factor: (f32, f32),
    /// [`VTLP_ALPHA_RANGE`].
    pub vtlp_alpha: (f32, f32),
    /// [`SNR_DB_RANGE`].
    pub snr_db: (f32, f32),
    /// [`RT60_SECS_RANGE`].
    pub rt60_secs: (f32, f32),
    /// [`DRR_DB_RANGE`].
    pub drr_db: (f32, f32),
    /// [`GAIN_DB_RANGE`].
    pub gain_db: (f32, f32),
    /// [`PAD_SECS_RANGE`].
    pub pad_secs: (f32, f32),
    /// [`BABBLE_TALKERS`].
    pub babble_talkers: (usize, usize),
    /// [`P_SPEED`].
    pub p_speed: f64,
    /// [`P_VTLP`].
    pub p_vtlp: f64,
    /// [`P_REVERB`].
    pub p_reverb: f64,
    /// [`P_NOISE`].
    pub p_noise: f64,
}

impl Default for AugmentRanges {
    fn default() -> Self {
        Self {
            speed_factor: SPEED_FACTOR_RANGE,
            vtlp_alpha: VTLP_ALPHA_RANGE,
            snr_db: SNR_DB_RANGE,
            rt60_secs: RT60_SECS_RANGE,
            drr_db: DRR_DB_RANGE,
            gain_db: GAIN_DB_RANGE,
            pad_secs: PAD_SECS_RANGE,
            babble_talkers: BABBLE_TALKERS,
            p_speed: P_SPEED,
            p_vtlp: P_VTLP,
            p_reverb: P_REVERB,
            p_noise: P_NOISE,
        }
    }
}

/// Kind of additive noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// Flat spectrum ([`white_noise`]).
    White,
    /// `1/f` spectrum ([`pink_noise`]).
    Pink,
    /// Other speech ([`babble_noise`]); pink when no other clips are given.
    Babble,
}

/// One drawn combination of effects (see the module docs for the order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Speed factor, if speed-perturbed.
    pub speed: Option<f32>,
    /// VTLP warp factor, if warped.
    pub vtlp_alpha: Option<f32>,
    /// Silence added before and after, in seconds.
    pub pad_secs: (f32, f32),
    /// `(rt60_secs, drr_db)`, if reverberated.
    pub reverb: Option<(f32, f32)>,
    /// `(kind, snr_db)`, if noise is added.
    pub noise: Option<(NoiseKind, f32)>,
    /// Gain in dB (then clipped to full scale).
    pub gain_db: f32,
}

fn draw(rng: &mut impl Rng, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

impl Augmentation {
    /// Draws a combination: each effect with its probability, its parameter uniform in its
    /// range. A draw with none of speed, VTLP, reverb and noise gets a speed change, so every
    /// copy differs from its source by more than its level.
    pub fn sample(ranges: &AugmentRanges, rng: &mut impl Rng) -> Self {
        let speed = rng
            .random_bool(ranges.p_speed.clamp(0.0, 1.0))
            .then(|| draw(rng, ranges.speed_factor));
        let vtlp_alpha = rng
            .random_bool(ranges.p_vtlp.clamp(0.0, 1.0))
            .then(|| draw(rng, ranges.vtlp_alpha));
        let pad_secs = (draw(rng, ranges.pad_secs), draw(rng, ranges.pad_secs));
        let reverb = rng
            .random_bool(ranges.p_reverb.clamp(0.0, 1.0))
            .then(|| (draw(rng, ranges.rt60_secs), draw(rng, ranges.drr_db)));
        let noise = rng.random_bool(ranges.p_noise.clamp(0.0, 1.0)).then(|| {
            let kind =
                [NoiseKind::White, NoiseKind::Pink, NoiseKind::Babble][rng.random_range(0..3)];
            (kind, draw(rng, ranges.snr_db))
        });
        let gain_db = draw(rng, ranges.gain_db);
        let speed =
            if speed.is_none() && vtlp_alpha.is_none() && reverb.is_none() && noise.is_none() {
                Some(draw(rng, ranges.speed_factor))
            } else {
                speed
            };
        Self {
            speed,
            vtlp_alpha,
            pad_secs,
            reverb,
            noise,
            gain_db,
        }
    }

    /// Applies the combination to `samples` at `sample_rate_hz`. `babble` holds the other
    /// clips (at the same rate) that babble noise mixes; empty means pink noise instead.
    /// `max_len` caps the result at `max(max_len, end of the speech)` samples: the reverb
    /// tail and the trailing silence are cut, never the speech (so a copy still fits the
    /// encoder's window when the clip did, and its centre crop cannot clip the word).
    pub fn apply(
        &self,
        samples: &[f32],
        sample_rate_hz: u32,
        babble: &[&[f32]],
        max_len: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<Vec<f32>> {
        let mut x = samples.to_vec();
        if let Some(f) = self.speed {
            x = speed_perturb(&x, sample_rate_hz, f)?.0;
        }
        if let Some(a) = self.vtlp_alpha {
            x = vtlp(&x, sample_rate_hz, a)?;
        }
        let speech_rms = rms(&x);
        let pad =
            |secs: f32| (f64::from(secs.max(0.0)) * f64::from(sample_rate_hz)).round() as usize;
        let (before, after) = (pad(self.pad_secs.0), pad(self.pad_secs.1));
        let mut padded = vec![0.0f32; before + x.len() + after];
        padded[before..before + x.len()].copy_from_slice(&x);
        x = padded;
        let speech_end = x.len() - after;
        if let Some((rt60, drr)) = self.reverb {
            let ir = room_impulse_response(sample_rate_hz, rt60, drr, rng);
            x = convolve(&x, &ir)?;
        }
        if let Some(max_len) = max_len {
            x.truncate(max_len.max(speech_end));
        }
        if let Some((kind, snr)) = self.noise {
            let noise = match kind {
                NoiseKind::White => white_noise(x.len(), rng),
                NoiseKind::Babble if !babble.is_empty() => babble_noise(x.len(), babble, rng),
                NoiseKind::Pink | NoiseKind::Babble => pink_noise(x.len(), rng),
            };
            add_noise(&mut x, &noise, snr, speech_rms);
        }
        apply_gain_db(&mut x, self.gain_db);
        Ok(x)
    }
}

/// `secs` of a sine of `freq` Hz at `sample_rate_hz`, peak `amp`: the tests' signal.
#[cfg(test)]
pub(crate) fn test_sine(freq: f64, secs: f64, amp: f32, sample_rate_hz: u32) -> Vec<f32> {
    let sr = f64::from(sample_rate_hz);
    (0..(secs * sr) as usize)
        .map(|i| amp * (std::f64::consts::TAU * freq * i as f64 / sr).sin() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const SR: u32 = 8000;

    fn sine(freq: f64, secs: f64, amp: f32) -> Vec<f32> {
        test_sine(freq, secs, amp, SR)
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// Power spectrum of `x` (Hann window, zero-padded to a power of two >= 4 x len).
    fn power_spectrum(x: &[f32]) -> (Vec<f64>, f64) {
        let size = (x.len() * 4).next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(size);
        let mut buf = fft.make_input_vec();
        let n = x.len() as f64;
        for (i, &s) in x.iter().enumerate() {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n).cos();
            buf[i] = f64::from(s) * w;
        }
        let mut spec = fft.make_output_vec();
        fft.process(&mut buf, &mut spec).expect("fft");
        (
            spec.iter().map(|c| c.norm_sqr()).collect(),
            f64::from(SR) / size as f64,
        )
    }

    /// Frequency of the largest FFT peak, in Hz.
    fn peak_hz(x: &[f32]) -> f64 {
        let (p, bin_hz) = power_spectrum(x);
        let k = (1..p.len())
            .max_by(|&a, &b| p[a].total_cmp(&p[b]))
            .expect("bins");
        k as f64 * bin_hz
    }

    #[test]
    fn speed_changes_length_by_one_over_f_and_frequency_by_f() {
        let x = sine(400.0, 1.0, 0.5);
        for f in [0.87f32, 1.0, 1.1, 1.15] {
            let (y, realised) = speed_perturb(&x, SR, f).expect("speed");
            assert!((realised - f).abs() < 0.005, "{f} -> {realised}");
            let expected_len = x.len() as f64 / f64::from(realised);
            assert!(
                (y.len() as f64 - expected_len).abs() <= 1.0,
                "{f}: {} samples, expected {expected_len:.1}",
                y.len()
            );
            let peak = peak_hz(&y);
            let expected = 400.0 * f64::from(realised);
            assert!(
                (peak - expected).abs() < 1.5,
                "{f}: peak {peak:.1} Hz, expected {expected:.1}"
            );
        }
        assert!(speed_perturb(&x, SR, 0.0).is_err());
    }

    #[test]
    fn gain_scales_rms_by_ten_to_the_x_over_twenty() {
        let x = sine(300.0, 0.5, 0.01);
        for db in [-12.0f32, -3.0, 0.0, 6.0, 20.0] {
            let mut y = x.clone();
            apply_gain_db(&mut y, db);
            let ratio = rms(&y) / rms(&x);
            let expected = 10f32.powf(db / 20.0);
            assert!(
                (ratio / expected - 1.0).abs() < 1e-4,
                "{db} dB: {ratio} vs {expected}"
            );
        }
        // Loud gains clip at full scale.
        let mut loud = sine(300.0, 0.1, 0.5);
        apply_gain_db(&mut loud, 20.0);
        assert!(loud.iter().all(|v| v.abs() <= 1.0));
        assert!(loud.contains(&1.0));
    }

    #[test]
    fn noise_is_added_at_the_requested_snr() {
        let clean = sine(440.0, 1.0, 0.3);
        let mut r = rng(7);
        for snr in [0.0f32, 5.0, 12.5, 30.0] {
            let noises = [
                white_noise(clean.len(), &mut r),
                pink_noise(clean.len(), &mut r),
                babble_noise(
                    clean.len(),
                    &[&sine(200.0, 0.3, 0.2), &sine(700.0, 0.7, 0.1)],
                    &mut r,
                ),
            ];
            for noise in noises {
                let mut noisy = clean.clone();
                add_noise(&mut noisy, &noise, snr, rms(&clean));
                let measured = snr_db(&clean, &noisy);
                assert!(
                    (measured - snr).abs() < 0.1,
                    "{snr} dB: measured {measured}"
                );
            }
        }
    }

    /// Mean power per Hz of the band `lo..hi` of a power spectrum.
    fn band_power(p: &[f64], bin_hz: f64, lo: f64, hi: f64) -> f64 {
        let (a, b) = ((lo / bin_hz) as usize, (hi / bin_hz) as usize);
        p[a..b].iter().sum::<f64>()
    }

    #[test]
    fn pink_noise_has_equal_power_per_octave_and_white_noise_doubles() {
        let n = 1 << 17;
        let mut r = rng(3);
        let (pink, bin_hz) = power_spectrum(&pink_noise(n, &mut r));
        let (white, _) = power_spectrum(&white_noise(n, &mut r));
        let octaves = [
            (125.0, 250.0),
            (250.0, 500.0),
            (500.0, 1000.0),
            (1000.0, 2000.0),
        ];
        let db = |p: &[f64], (lo, hi): (f64, f64)| 10.0 * band_power(p, bin_hz, lo, hi).log10();
        for w in octaves.windows(2) {
            let pink_step = db(&pink, w[1]) - db(&pink, w[0]);
            let white_step = db(&white, w[1]) - db(&white, w[0]);
            assert!(pink_step.abs() < 0.5, "pink: {pink_step:.2} dB per octave");
            assert!(
                (white_step - 3.01).abs() < 0.5,
                "white: {white_step:.2} dB per octave"
            );
        }
    }

    #[test]
    fn reverb_of_an_impulse_is_the_impulse_response_and_decays_60_db_at_rt60() {
        let mut r = rng(11);
        for rt60 in [0.15f32, 0.4, 0.8] {
            let ir = room_impulse_response(SR, rt60, 0.0, &mut r);
            assert_eq!(ir[0], 1.0, "direct path");
            let predelay = (REVERB_PREDELAY_SECS * SR as f32).round() as usize;
            assert!(ir[1..predelay].iter().all(|&v| v == 0.0));
            // DRR 0 dB: the tail carries as much energy as the direct path.
            let tail: f32 = ir[predelay..].iter().map(|v| v * v).sum();
            assert!((tail - 1.0).abs() < 1e-3, "{tail}");

            let mut impulse = vec![0.0f32; 200];
            impulse[0] = 1.0;
            let y = convolve(&impulse, &ir).expect("convolve");
            assert_eq!(y.len(), impulse.len() + ir.len() - 1);
            for (a, b) in y.iter().zip(&ir) {
                assert!((a - b).abs() < 1e-6);
            }
            assert!(y[ir.len()..].iter().all(|v| v.abs() < 1e-6));

            // Schroeder decay: -60 dB at RT60 (T20 estimate), on the tail and on the whole IR.
            for part in [&ir[predelay..], &ir[..]] {
                let est = estimate_rt60_secs(part, SR).expect("decays");
                assert!(
                    (est / rt60 - 1.0).abs() < 0.1,
                    "rt60 {rt60}: estimated {est}"
                );
            }
            // The mean energy over 20 ms falls like -60 dB per RT60: compare the first and the
            // last 20 ms of the tail (centres c0, c1 samples from the direct path).
            let w = (0.02 * SR as f32) as usize;
            let energy = |from: usize| ir[from..from + w].iter().map(|v| v * v).sum::<f32>();
            let (first, last) = (predelay, ir.len() - w);
            let drop = 10.0 * (energy(last) / energy(first)).log10();
            let expected = -60.0 * (last - first) as f32 / (rt60 * SR as f32);
            assert!(
                (drop - expected).abs() < 3.0,
                "{rt60}: {drop:.1} dB, expected {expected:.1}"
            );
        }
        // Convolution against a direct sum.
        let a = [1.0f32, -2.0, 0.5];
        let b = [0.25f32, 3.0];
        let c = convolve(&a, &b).expect("convolve");
        let direct = [0.25f32, 2.5, -5.875, 1.5];
        for (x, y) in c.iter().zip(direct) {
            assert!((x - y).abs() < 1e-5);
        }
        assert!(convolve(&[], &b).expect("empty").is_empty());
    }

    #[test]
    fn vtlp_identity_and_peak_shift() {
        let x = sine(500.0, 1.0, 0.4);
        let y = vtlp(&x, SR, 1.0).expect("vtlp");
        assert_eq!(y.len(), x.len());
        let err = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "max error {err}");
        // A chirp-free mixture too (noise): alpha = 1 gives it back.
        let noise = white_noise(3000, &mut rng(5));
        let back = vtlp(&noise, SR, 1.0).expect("vtlp");
        let err = noise
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "noise max error {err}");

        for alpha in [0.9f32, 0.95, 1.05, 1.1] {
            let y = vtlp(&x, SR, alpha).expect("vtlp");
            let peak = peak_hz(&y);
            let expected = 500.0 * f64::from(alpha);
            assert!(
                (peak - expected).abs() < 3.0,
                "alpha {alpha}: {peak:.1} Hz, expected {expected}"
            );
            // Most of the energy is kept.
            let ratio = rms(&y) / rms(&x);
            assert!(
                (0.7..1.3).contains(&ratio),
                "alpha {alpha}: rms ratio {ratio}"
            );
        }
        // The warp and its inverse agree, and the Nyquist frequency stays in place.
        for alpha in [0.9, 1.0, 1.1] {
            for f in [0.0, 100.0, 2500.0, 3300.0, 3900.0, 4000.0] {
                let back = vtlp_unwarp_hz(vtlp_warp_hz(f, alpha, 4000.0), alpha, 4000.0);
                assert!((back - f).abs() < 1e-9, "{alpha} {f}");
            }
            assert!((vtlp_warp_hz(4000.0, alpha, 4000.0) - 4000.0).abs() < 1e-9);
        }
    }

    #[test]
    fn sampled_augmentations_are_seeded_and_within_ranges() {
        let ranges = AugmentRanges::default();
        let x = sine(300.0, 0.5, 0.1);
        let other = sine(650.0, 0.4, 0.1);
        let mut seen_noise = [false; 3];
        for seed in 0..200 {
            let a = Augmentation::sample(&ranges, &mut rng(seed));
            assert_eq!(a, Augmentation::sample(&ranges, &mut rng(seed)));
            assert!(
                a.speed.is_some()
                    || a.vtlp_alpha.is_some()
                    || a.reverb.is_some()
                    || a.noise.is_some()
            );
            if let Some(f) = a.speed {
                assert!((SPEED_FACTOR_RANGE.0..=SPEED_FACTOR_RANGE.1).contains(&f));
            }
            if let Some(v) = a.vtlp_alpha {
                assert!((VTLP_ALPHA_RANGE.0..=VTLP_ALPHA_RANGE.1).contains(&v));
            }
            if let Some((rt60, drr)) = a.reverb {
                assert!((RT60_SECS_RANGE.0..=RT60_SECS_RANGE.1).contains(&rt60));
                assert!((DRR_DB_RANGE.0..=DRR_DB_RANGE.1).contains(&drr));
            }
            if let Some((kind, snr)) = a.noise {
                assert!((SNR_DB_RANGE.0..=SNR_DB_RANGE.1).contains(&snr));
                seen_noise[kind as usize] = true;
            }
            assert!((GAIN_DB_RANGE.0..=GAIN_DB_RANGE.1).contains(&a.gain_db));
            if seed < 20 {
                let y = a
                    .apply(&x, SR, &[&other], None, &mut rng(seed))
                    .expect("apply");
                let z = a
                    .apply(&x, SR, &[&other], None, &mut rng(seed))
                    .expect("apply");
                assert_eq!(y, z);
                assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
                assert!(y.len() > x.len() / 2);
                // Capped: the tail goes, the speech stays.
                let capped = a.apply(&x, SR, &[&other], Some(4400), &mut rng(seed));
                let capped = capped.expect("apply");
                let speech_len = match a.speed {
                    Some(f) => speed_perturb(&x, SR, f).expect("speed").0.len(),
                    None => x.len(),
                };
                let speech_end = (a.pad_secs.0 * SR as f32).round() as usize + speech_len;
                assert_eq!(capped.len(), y.len().min(speech_end.max(4400)));
            }
        }
        assert_eq!(seen_noise, [true; 3]);
    }
}
