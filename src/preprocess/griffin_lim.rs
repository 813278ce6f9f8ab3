//! Log-mel spectrogram back to a waveform, so a generated spectrogram can be heard.
//!
//! 1. `exp` undoes the natural log (values at the floor become ~0 energy);
//! 2. the mel filterbank of [`crate::preprocess::mel`] is inverted by non-negative least
//!    squares (multiplicative updates, as librosa's `mel_to_stft` uses NNLS): an estimate of
//!    the linear power spectrum;
//! 3. the phase is recovered by fast Griffin–Lim (Perraudin, Balazs and Søndergaard, 2013:
//!    Griffin–Lim with momentum 0.99) with the analysis STFT's own window, hop and centring.
//!
//! The result is scaled to the preprocessing's target loudness (RMS in dBFS), peaks kept below
//! full scale. A mel spectrogram keeps no phase and little pitch detail, so the sound is
//! rough but recognisable: that is the point of showing it, not a vocoder's quality.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use crate::preprocess::mel::{LogMel, MelConfig, mel_filterbank_f64, stft_window};

/// Griffin–Lim iterations used by the app and `eval`.
pub const GRIFFIN_LIM_ITERATIONS: usize = 48;
/// Momentum of fast Griffin–Lim.
const MOMENTUM: f64 = 0.99;
/// Seed of the initial random phase (the output is deterministic).
const PHASE_SEED: u64 = 0x6C1F_F1A5;
/// Largest absolute sample of the output.
const PEAK_LIMIT: f32 = 0.99;

/// A waveform at `cfg.sample_rate_hz` whose log-mel spectrogram approximates `mel`; its length
/// is `(n_frames - 1) * hop_length` samples. `target_rms_dbfs` sets the loudness.
pub fn mel_to_waveform(
    mel: &LogMel,
    cfg: &MelConfig,
    iterations: usize,
    target_rms_dbfs: f32,
) -> Vec<f32> {
    let n_fft = cfg.n_fft.max(2);
    let hop = cfg.hop_length.max(1);
    let n_bins = n_fft / 2 + 1;
    let frames = mel.n_frames;
    if frames < 2 || mel.n_mels != cfg.n_mels || mel.data.len() != mel.n_mels * frames {
        return Vec::new();
    }
    let magnitude = linear_magnitude(mel, cfg, n_bins);
    let window = stft_window(n_fft, cfg.win_length.clamp(1, n_fft));
    let padded_len = (frames - 1) * hop + n_fft;
    let mut stft = Stft::new(n_fft, hop, window, frames, padded_len);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(PHASE_SEED);
    let mut spectrum: Vec<Complex<f64>> = magnitude
        .iter()
        .map(|&a| Complex::from_polar(a, rng.random_range(0.0..std::f64::consts::TAU)))
        .collect();
    let mut previous = spectrum.clone();
    let mut signal = vec![0.0; padded_len];
    for _ in 0..iterations {
        stft.inverse(&spectrum, &mut signal);
        let projected = stft.forward(&signal);
        // t_n = projection; c_n = t_n + alpha (t_n - t_{n-1}); keep the magnitudes, take the phase.
        for ((s, p), (&t, &a)) in spectrum
            .iter_mut()
            .zip(previous.iter_mut())
            .zip(projected.iter().zip(&magnitude))
        {
            let accelerated = t + (t - *p) * MOMENTUM;
            *p = t;
            let norm = accelerated.norm();
            *s = if norm > 0.0 {
                accelerated * (a / norm)
            } else {
                Complex::new(a, 0.0)
            };
        }
    }
    stft.inverse(&spectrum, &mut signal);
    let start = n_fft / 2;
    let out: Vec<f32> = signal[start..start + (frames - 1) * hop]
        .iter()
        .map(|&x| x as f32)
        .collect();
    scale_to_rms(out, target_rms_dbfs)
}

/// Multiplicative-update iterations of the non-negative filterbank inversion.
const NNLS_ITERATIONS: usize = 100;

/// `sqrt` of a non-negative power spectrum `P` whose mel projection `M P` approximates the mel
/// energies (least squares by Lee–Seung multiplicative updates, `P <- P * (M'e) / (M'M P)`,
/// started from `M'e`), `[n_frames][n_bins]` (frame major).
fn linear_magnitude(mel: &LogMel, cfg: &MelConfig, n_bins: usize) -> Vec<f64> {
    let n_mels = mel.n_mels;
    let filters = mel_filterbank_f64(
        cfg.n_fft.max(2),
        n_mels,
        cfg.sample_rate_hz,
        f64::from(cfg.f_min_hz),
        f64::from(cfg.f_max_hz),
    );
    // The filterbank is sparse (each triangle covers a few bins): keep its non-zeros per row.
    let rows: Vec<Vec<(usize, f64)>> = filters
        .chunks_exact(n_bins)
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, w)| **w > 0.0)
                .map(|(k, w)| (k, *w))
                .collect()
        })
        .collect();
    let transpose_times = |v: &[f64], out: &mut [f64]| {
        out.iter_mut().for_each(|x| *x = 0.0);
        for (row, &vb) in rows.iter().zip(v) {
            for &(k, w) in row {
                out[k] += w * vb;
            }
        }
    };
    let floor = f64::from(cfg.log_floor.max(f32::MIN_POSITIVE));
    let mut out = vec![0.0; mel.n_frames * n_bins];
    let (mut numerator, mut denominator) = (vec![0.0; n_bins], vec![0.0; n_bins]);
    let mut projected = vec![0.0; n_mels];
    for t in 0..mel.n_frames {
        let energies: Vec<f64> = (0..n_mels)
            .map(|b| {
                let e = f64::from(mel.data[b * mel.n_frames + t]).exp();
                if e <= floor * 1.0001 { 0.0 } else { e }
            })
            .collect();
        transpose_times(&energies, &mut numerator);
        let mut power = numerator.clone();
        for _ in 0..NNLS_ITERATIONS {
            for (p, row) in projected.iter_mut().zip(&rows) {
                *p = row.iter().map(|&(k, w)| w * power[k]).sum();
            }
            transpose_times(&projected, &mut denominator);
            for ((p, n), d) in power.iter_mut().zip(&numerator).zip(&denominator) {
                *p = if *d > 0.0 { *p * n / d } else { 0.0 };
            }
        }
        for (o, p) in out[t * n_bins..(t + 1) * n_bins].iter_mut().zip(&power) {
            *o = p.max(0.0).sqrt();
        }
    }
    out
}

/// Real STFT and its least-squares inverse over a padded signal of fixed length.
struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f64>,
    frames: usize,
    /// `sum_t w(n - t hop)^2`, the overlap-add normaliser.
    window_power: Vec<f64>,
    forward: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    inverse: std::sync::Arc<dyn realfft::ComplexToReal<f64>>,
}

impl Stft {
    fn new(n_fft: usize, hop: usize, window: Vec<f64>, frames: usize, padded_len: usize) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let mut window_power = vec![0.0; padded_len];
        for t in 0..frames {
            for (i, w) in window.iter().enumerate() {
                window_power[t * hop + i] += w * w;
            }
        }
        Stft {
            n_fft,
            hop,
            window,
            frames,
            window_power,
            forward: planner.plan_fft_forward(n_fft),
            inverse: planner.plan_fft_inverse(n_fft),
        }
    }

    /// Spectrum `[frames][n_bins]` of `signal`.
    fn forward(&mut self, signal: &[f64]) -> Vec<Complex<f64>> {
        let mut frame = self.forward.make_input_vec();
        let mut spectrum = self.forward.make_output_vec();
        let mut out = Vec::with_capacity(self.frames * spectrum.len());
        for t in 0..self.frames {
            for (i, x) in frame.iter_mut().enumerate() {
                *x = signal[t * self.hop + i] * self.window[i];
            }
            if self.forward.process(&mut frame, &mut spectrum).is_err() {
                spectrum.iter_mut().for_each(|c| *c = Complex::default());
            }
            out.extend_from_slice(&spectrum);
        }
        out
    }

    /// Windowed overlap-add of the frames' inverse FFTs, divided by the summed window power.
    fn inverse(&mut self, spectrum: &[Complex<f64>], signal: &mut [f64]) {
        let n_bins = self.n_fft / 2 + 1;
        let mut bins = self.inverse.make_input_vec();
        let mut frame = self.inverse.make_output_vec();
        signal.iter_mut().for_each(|x| *x = 0.0);
        for t in 0..self.frames {
            bins.copy_from_slice(&spectrum[t * n_bins..(t + 1) * n_bins]);
            // A real signal's DC and Nyquist bins are real.
            bins[0].im = 0.0;
            bins[n_bins - 1].im = 0.0;
            if self.inverse.process(&mut bins, &mut frame).is_err() {
                continue;
            }
            for (i, x) in frame.iter().enumerate() {
                signal[t * self.hop + i] += x / self.n_fft as f64 * self.window[i];
            }
        }
        for (x, p) in signal.iter_mut().zip(&self.window_power) {
            *x = if *p > 1e-8 { *x / p } else { 0.0 };
        }
    }
}

/// Scales `samples` to `target_rms_dbfs`, then down further if a peak would pass
/// [`PEAK_LIMIT`].
fn scale_to_rms(mut samples: Vec<f32>, target_rms_dbfs: f32) -> Vec<f32> {
    let n = samples.len().max(1) as f64;
    let rms = (samples
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / n)
        .sqrt();
    if rms <= 1e-12 {
        return samples;
    }
    let peak = samples.iter().fold(0.0f32, |a, x| a.max(x.abs()));
    let target = 10f64.powf(f64::from(target_rms_dbfs) / 20.0);
    let gain = (target / rms).min(f64::from(PEAK_LIMIT) / f64::from(peak).max(1e-12));
    samples
        .iter_mut()
        .for_each(|x| *x = (f64::from(*x) * gain) as f32);
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::mel::log_mel_spectrogram;

    fn tone(freq_hz: f64, secs: f64, rate: u32) -> Vec<f32> {
        (0..(secs * f64::from(rate)) as usize)
            .map(|i| {
                (0.3 * (std::f64::consts::TAU * freq_hz * i as f64 / f64::from(rate)).sin()) as f32
            })
            .collect()
    }

    /// Frequency of the strongest bin of the whole clip's spectrum, in Hz.
    fn dominant_hz(samples: &[f32], rate: u32) -> f64 {
        let n = samples.len();
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n);
        let mut input: Vec<f64> = samples.iter().map(|&x| f64::from(x)).collect();
        let mut out = fft.make_output_vec();
        fft.process(&mut input, &mut out).unwrap();
        let k = (1..out.len())
            .max_by(|&a, &b| out[a].norm().total_cmp(&out[b].norm()))
            .unwrap();
        k as f64 * f64::from(rate) / n as f64
    }

    #[test]
    fn a_tone_comes_back_at_its_pitch_with_its_spectrogram() {
        let cfg = MelConfig::default();
        let original = tone(440.0, 1.0, cfg.sample_rate_hz);
        let mel = log_mel_spectrogram(&original, &cfg);
        let back = mel_to_waveform(&mel, &cfg, GRIFFIN_LIM_ITERATIONS, -20.0);
        assert_eq!(back.len(), (mel.n_frames - 1) * cfg.hop_length);
        // One mel filter near 440 Hz spans about 130 Hz; the pitch must land inside it.
        let hz = dominant_hz(&back, cfg.sample_rate_hz);
        assert!((hz - 440.0).abs() < 70.0, "dominant {hz} Hz");
        // The spectrogram of the sound, in the bins that carry energy, is close to the input's.
        let again = log_mel_spectrogram(&back, &cfg);
        let gain = {
            // Loudness was reset: compare shapes after removing the mean log difference.
            let (mut sum, mut n) = (0.0, 0);
            for (a, b) in mel.data.iter().zip(&again.data) {
                if *a > -6.0 {
                    sum += f64::from(b - a);
                    n += 1;
                }
            }
            sum / n.max(1) as f64
        };
        let (mut err, mut n) = (0.0, 0);
        for (a, b) in mel.data.iter().zip(&again.data) {
            if *a > -6.0 {
                err += (f64::from(b - a) - gain).abs();
                n += 1;
            }
        }
        assert!(n > 40, "the tone should light up some bins");
        let mean_err = err / n as f64;
        assert!(
            mean_err < 0.5,
            "mean |log-mel difference| {mean_err:.3} nat"
        );
    }

    #[test]
    fn loudness_is_the_target_and_peaks_stay_below_full_scale() {
        let cfg = MelConfig::default();
        let mel = log_mel_spectrogram(&tone(1000.0, 0.5, cfg.sample_rate_hz), &cfg);
        let back = mel_to_waveform(&mel, &cfg, 8, -20.0);
        let rms = (back.iter().map(|x| x * x).sum::<f32>() / back.len() as f32).sqrt();
        assert!((20.0 * rms.log10() + 20.0).abs() < 0.5, "rms {rms}");
        assert!(back.iter().all(|x| x.abs() <= PEAK_LIMIT));
    }

    #[test]
    fn silence_and_bad_shapes_give_silence_or_nothing_not_a_panic() {
        let cfg = MelConfig::default();
        let silent = LogMel {
            n_mels: cfg.n_mels,
            n_frames: 10,
            data: vec![cfg.log_floor_ln(); cfg.n_mels * 10],
        };
        let out = mel_to_waveform(&silent, &cfg, 4, -20.0);
        assert!(out.iter().all(|x| *x == 0.0 && x.is_finite()));
        let ragged = LogMel {
            n_mels: cfg.n_mels,
            n_frames: 10,
            data: vec![0.0; 7],
        };
        assert!(mel_to_waveform(&ragged, &cfg, 4, -20.0).is_empty());
    }
}
