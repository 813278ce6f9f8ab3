//! Log-mel spectrogram: the audio features the audio encoder reads.
//!
//! Plain functions over slices, no tensors, in the spirit of candle's whisper `audio.rs`:
//!
//! 1. centre padding by `n_fft / 2` on both sides with reflection (as `torch.stft(center=True,
//!    pad_mode="reflect")`; clips too short to reflect are zero-padded instead),
//! 2. a periodic Hann window of `win_length`, zero-padded and centred in `n_fft`,
//! 3. one frame every `hop_length` samples, power spectrum `|X|^2` with a real FFT,
//! 4. projection on a Slaney-style mel filterbank (librosa's default:
//!    `librosa.filters.mel(htk=False, norm="slaney")`),
//! 5. natural logarithm `ln(max(x, log_floor))`.
//!
//! The whole computation runs in `f64` and is rounded to `f32` at the end, so it matches a
//! float64 numpy reference (`tests/reference/mel_reference.py`) to about 1e-6 in the log domain.

use realfft::RealFftPlanner;

/// Divisor floor for the log-mel standardisation `(x - mean) / std`: a measured std below this
/// (a training set of near-identical clips) is raised to it, so features never blow up.
pub const MEL_STD_FLOOR: f32 = 1e-3;

/// The std used to standardise log-mel features: `std` raised to [`MEL_STD_FLOOR`].
pub fn floored_mel_std(std: f32) -> f32 {
    std.max(MEL_STD_FLOOR)
}

/// STFT and mel parameters of the log-mel spectrogram. `Default` is the digits model's.
///
/// [`crate::preprocess::audio::AudioConfig`] carries the same fields (flat, as the manifest
/// stores them) and gives this with `AudioConfig::mel`.
#[derive(Clone, Debug, PartialEq)]
pub struct MelConfig {
    /// Sample rate of the clip, in Hz.
    pub sample_rate_hz: u32,
    /// FFT size of the STFT, in samples (a power of two).
    pub n_fft: usize,
    /// Hann window length, in samples (`<= n_fft`; centred and zero-padded to `n_fft`).
    pub win_length: usize,
    /// Hop between STFT frames, in samples.
    pub hop_length: usize,
    /// Number of mel bins.
    pub n_mels: usize,
    /// Lowest mel filter edge, in Hz.
    pub f_min_hz: f32,
    /// Highest mel filter edge, in Hz (at most the Nyquist frequency `sample_rate_hz / 2`).
    pub f_max_hz: f32,
    /// Floor applied to mel energies before the natural log (so silence is `ln(log_floor)`).
    pub log_floor: f32,
}

impl Default for MelConfig {
    fn default() -> Self {
        Self {
            sample_rate_hz: 8000,
            n_fft: 256,
            win_length: 256,
            hop_length: 64,
            n_mels: 40,
            f_min_hz: 20.0,
            f_max_hz: 4000.0,
            log_floor: 1e-6,
        }
    }
}

impl MelConfig {
    /// The value of silence in the log-mel domain, `ln(log_floor)`: the padding value of
    /// [`fit_frames`].
    pub fn log_floor_ln(&self) -> f32 {
        self.log_floor.ln()
    }
}

/// Slaney mel scale: width of one mel in the linear region, in Hz per mel (200/3 Hz).
pub const SLANEY_F_SP_HZ: f64 = 200.0 / 3.0;
/// Slaney mel scale: frequency where the scale turns from linear to logarithmic, in Hz.
pub const SLANEY_MIN_LOG_HZ: f64 = 1000.0;
/// Slaney mel scale: the mel value of [`SLANEY_MIN_LOG_HZ`] (1000 Hz / (200/3 Hz) = 15 mel).
pub const SLANEY_MIN_LOG_MEL: f64 = SLANEY_MIN_LOG_HZ / SLANEY_F_SP_HZ;
/// Slaney mel scale: natural-log step per mel above [`SLANEY_MIN_LOG_HZ`] (ln(6.4) / 27,
/// i.e. 27 mels per factor 6.4 in frequency).
pub const SLANEY_LOG_STEP_PER_MEL: f64 = 1.856_297_990_365_626_3 / 27.0; // ln(6.4)

/// A log-mel spectrogram, row-major `[n_mels][n_frames]` (mel bin major): `data[m * n_frames + t]`
/// is the natural log of the mel energy of bin `m` (low to high frequency) in frame `t`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogMel {
    /// Number of mel bins (rows).
    pub n_mels: usize,
    /// Number of time frames (columns).
    pub n_frames: usize,
    /// `n_mels * n_frames` values, mel bin major.
    pub data: Vec<f32>,
}

impl LogMel {
    /// The value of mel bin `mel` in frame `frame`, or `None` when either is out of range.
    pub fn get(&self, mel: usize, frame: usize) -> Option<f32> {
        if mel >= self.n_mels || frame >= self.n_frames {
            return None;
        }
        self.data.get(mel * self.n_frames + frame).copied()
    }

    /// All frames of mel bin `mel` (one row), or `None` when `mel` is out of range.
    pub fn row(&self, mel: usize) -> Option<&[f32]> {
        if mel >= self.n_mels {
            return None;
        }
        self.data
            .get(mel * self.n_frames..(mel + 1) * self.n_frames)
    }
}

/// Converts a frequency in Hz to the Slaney mel scale (librosa `hz_to_mel(htk=False)`):
/// linear below 1 kHz (200/3 Hz per mel), logarithmic above.
pub fn hz_to_mel_slaney(freq_hz: f64) -> f64 {
    if freq_hz >= SLANEY_MIN_LOG_HZ {
        SLANEY_MIN_LOG_MEL + (freq_hz / SLANEY_MIN_LOG_HZ).ln() / SLANEY_LOG_STEP_PER_MEL
    } else {
        freq_hz / SLANEY_F_SP_HZ
    }
}

/// Converts a Slaney mel value back to Hz (librosa `mel_to_hz(htk=False)`); inverse of
/// [`hz_to_mel_slaney`].
pub fn mel_to_hz_slaney(mel: f64) -> f64 {
    if mel >= SLANEY_MIN_LOG_MEL {
        SLANEY_MIN_LOG_HZ * (SLANEY_LOG_STEP_PER_MEL * (mel - SLANEY_MIN_LOG_MEL)).exp()
    } else {
        SLANEY_F_SP_HZ * mel
    }
}

/// Periodic Hann window of `win_length` samples, as `torch.hann_window(win_length)` (default
/// `periodic=True`): `w[n] = 0.5 - 0.5 cos(2 pi n / win_length)`. Empty for 0, `[1.0]` for 1.
pub fn hann_window(win_length: usize) -> Vec<f32> {
    hann_window_f64(win_length)
        .into_iter()
        .map(|w| w as f32)
        .collect()
}

/// The STFT analysis window: a periodic Hann window of `win_length` (`1..=n_fft`), zero-padded
/// and centred in `n_fft` (as `torch.stft` does). Griffin–Lim synthesis uses the same one.
pub(crate) fn stft_window(n_fft: usize, win_length: usize) -> Vec<f64> {
    let mut window = vec![0.0f64; n_fft];
    let offset = (n_fft - win_length) / 2;
    window[offset..offset + win_length].copy_from_slice(&hann_window_f64(win_length));
    window
}

fn hann_window_f64(win_length: usize) -> Vec<f64> {
    if win_length == 1 {
        return vec![1.0];
    }
    let n = win_length as f64;
    (0..win_length)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos())
        .collect()
}

/// Mel filterbank, row-major `[n_mels][n_fft / 2 + 1]`, with the Slaney mel scale and Slaney
/// area normalisation: the same matrix as `librosa.filters.mel(sr=sample_rate_hz, n_fft=n_fft,
/// n_mels=n_mels, fmin=f_min_hz, fmax=f_max_hz, htk=False, norm="slaney")`.
///
/// Each row is a triangle between consecutive points of `n_mels + 2` frequencies equally spaced
/// on the mel scale from `f_min_hz` to `f_max_hz`, scaled by `2 / (f_right - f_left)` so every
/// filter has the same area. Degenerate triangles (zero or negative width, e.g. when
/// `f_min_hz >= f_max_hz`) give all-zero rows instead of NaN.
pub fn mel_filterbank(
    n_fft: usize,
    n_mels: usize,
    sample_rate_hz: u32,
    f_min_hz: f32,
    f_max_hz: f32,
) -> Vec<f32> {
    mel_filterbank_f64(
        n_fft,
        n_mels,
        sample_rate_hz,
        f64::from(f_min_hz),
        f64::from(f_max_hz),
    )
    .into_iter()
    .map(|w| w as f32)
    .collect()
}

pub(crate) fn mel_filterbank_f64(
    n_fft: usize,
    n_mels: usize,
    sample_rate_hz: u32,
    f_min_hz: f64,
    f_max_hz: f64,
) -> Vec<f64> {
    let n_bins = n_fft / 2 + 1;
    let mut weights = vec![0.0f64; n_mels * n_bins];
    if n_fft == 0 || n_mels == 0 {
        return weights;
    }
    // Centre frequency of each FFT bin, as np.fft.rfftfreq / librosa.fft_frequencies.
    let bin_hz: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * f64::from(sample_rate_hz) / n_fft as f64)
        .collect();
    // n_mels + 2 points equally spaced in mel, converted back to Hz (librosa.mel_frequencies).
    let mel_lo = hz_to_mel_slaney(f_min_hz);
    let mel_hi = hz_to_mel_slaney(f_max_hz);
    let n_points = n_mels + 2;
    let points_hz: Vec<f64> = (0..n_points)
        .map(|i| {
            let mel = mel_lo + (mel_hi - mel_lo) * i as f64 / (n_points - 1) as f64;
            mel_to_hz_slaney(mel)
        })
        .collect();
    for m in 0..n_mels {
        let (left, centre, right) = (points_hz[m], points_hz[m + 1], points_hz[m + 2]);
        let width_lo = centre - left;
        let width_hi = right - centre;
        let span = right - left;
        if !(width_lo > 0.0 && width_hi > 0.0 && span > 0.0) {
            continue;
        }
        let area_norm = 2.0 / span;
        let row = &mut weights[m * n_bins..(m + 1) * n_bins];
        for (w, &f) in row.iter_mut().zip(&bin_hz) {
            let rising = (f - left) / width_lo;
            let falling = (right - f) / width_hi;
            *w = rising.min(falling).max(0.0) * area_norm;
        }
    }
    weights
}

/// Number of STFT frames [`log_mel_spectrogram`] produces for `n_samples` samples:
/// `1 + (n_samples + 2 * (n_fft / 2) - n_fft) / hop_length`, which is `1 + n_samples /
/// hop_length` for an even `n_fft` (as `torch.stft(center=True)`). An empty clip gives 1 frame.
pub fn n_stft_frames(n_samples: usize, n_fft: usize, hop_length: usize) -> usize {
    let n_fft = n_fft.max(1);
    let hop_length = hop_length.max(1);
    let padded = n_samples + 2 * (n_fft / 2);
    1 + padded.saturating_sub(n_fft) / hop_length
}

/// Centre-pads `samples` by `pad` on both sides: reflection (numpy/torch `reflect`, edge not
/// repeated) when the clip is longer than `pad`, zeros otherwise. Non-finite samples become 0.
fn centre_pad(samples: &[f32], pad: usize) -> Vec<f64> {
    let clean = |x: f32| if x.is_finite() { f64::from(x) } else { 0.0 };
    let n = samples.len();
    let mut out = Vec::with_capacity(n + 2 * pad);
    if n > pad {
        // Left: x[pad], x[pad-1], ..., x[1].
        out.extend((1..=pad).rev().map(|i| clean(samples[i])));
        out.extend(samples.iter().map(|&x| clean(x)));
        // Right: x[n-2], x[n-3], ..., x[n-1-pad].
        out.extend((1..=pad).map(|i| clean(samples[n - 1 - i])));
    } else {
        out.resize(pad, 0.0);
        out.extend(samples.iter().map(|&x| clean(x)));
        out.resize(n + 2 * pad, 0.0);
    }
    out
}

/// Log-mel spectrogram of a mono clip at `cfg.sample_rate_hz`, with `cfg`'s STFT and mel
/// parameters (see the module docs for the exact recipe).
///
/// Returns [`n_stft_frames`]`(samples.len(), ..)` frames, i.e. `1 + len / hop_length` for the
/// default even `n_fft`; an empty clip gives 1 frame of `ln(log_floor)`. Clips shorter than or
/// as long as `n_fft / 2` are zero-padded instead of reflected (reflection needs more samples).
///
/// Never panics: `cfg` is expected to come from a config that passes
/// [`crate::preprocess::audio::AudioConfig::validate`], and degenerate values are
/// clamped to the nearest usable ones (`n_fft >= 1`, `hop_length >= 1`, `win_length` in
/// `1..=n_fft`, a non-positive or non-finite `log_floor` becomes `f32::MIN_POSITIVE`).
/// Non-finite samples are read as 0.
pub fn log_mel_spectrogram(samples: &[f32], cfg: &MelConfig) -> LogMel {
    let n_fft = cfg.n_fft.max(1);
    let hop = cfg.hop_length.max(1);
    let win_length = cfg.win_length.clamp(1, n_fft);
    let n_mels = cfg.n_mels;
    let n_bins = n_fft / 2 + 1;
    let log_floor = if cfg.log_floor.is_finite() && cfg.log_floor > 0.0 {
        f64::from(cfg.log_floor)
    } else {
        f64::from(f32::MIN_POSITIVE)
    };

    let n_frames = n_stft_frames(samples.len(), n_fft, hop);
    let padded = centre_pad(samples, n_fft / 2);

    let window = stft_window(n_fft, win_length);

    let filters = mel_filterbank_f64(
        n_fft,
        n_mels,
        cfg.sample_rate_hz,
        f64::from(cfg.f_min_hz),
        f64::from(cfg.f_max_hz),
    );

    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n_fft);
    let mut frame = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0.0f64; n_bins];

    let mut data = vec![0.0f32; n_mels * n_frames];
    for t in 0..n_frames {
        let start = t * hop;
        for (i, (x, w)) in frame.iter_mut().zip(&window).enumerate() {
            *x = padded.get(start + i).copied().unwrap_or(0.0) * w;
        }
        if fft
            .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
            .is_err()
        {
            // Only possible on a buffer-length mismatch, which the planner rules out.
            spectrum.iter_mut().for_each(|c| *c = Default::default());
        }
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr();
        }
        for m in 0..n_mels {
            let row = &filters[m * n_bins..(m + 1) * n_bins];
            let energy: f64 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            data[m * n_frames + t] = energy.max(log_floor).ln() as f32;
        }
    }
    LogMel {
        n_mels,
        n_frames,
        data,
    }
}

/// Fits a spectrogram to exactly `n_frames` frames: a longer one is cropped around its centre
/// (first kept frame `(len - n_frames) / 2`), a shorter one is padded at the end with
/// `pad_value` (use `ln(log_floor)`, the value of silence).
pub fn fit_frames(mel: &LogMel, n_frames: usize, pad_value: f32) -> LogMel {
    let mut data = vec![pad_value; mel.n_mels * n_frames];
    let (src_start, copy_len) = if mel.n_frames > n_frames {
        ((mel.n_frames - n_frames) / 2, n_frames)
    } else {
        (0, mel.n_frames)
    };
    for m in 0..mel.n_mels {
        let src = mel
            .data
            .get(m * mel.n_frames + src_start..m * mel.n_frames + src_start + copy_len);
        if let Some(src) = src {
            data[m * n_frames..m * n_frames + copy_len].copy_from_slice(src);
        }
    }
    LogMel {
        n_mels: mel.n_mels,
        n_frames,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    const REFERENCE_JSON: &str = include_str!("../../tests/fixtures/mel_reference.json");

    #[derive(serde::Deserialize)]
    struct Reference {
        n_samples: usize,
        signal_head: Vec<f32>,
        hann_window: Vec<f64>,
        filterbank_row_sums: Vec<f64>,
        filterbank_rows: std::collections::BTreeMap<String, Vec<f64>>,
        n_mels: usize,
        n_frames: usize,
        log_mel: Vec<Vec<f64>>,
    }

    fn reference() -> Reference {
        serde_json::from_str(REFERENCE_JSON).expect("tests/fixtures/mel_reference.json parses")
    }

    /// The test signal of tests/reference/mel_reference.py: computed in f64, rounded to f32.
    fn reference_signal(n_samples: usize, sample_rate_hz: f64) -> Vec<f32> {
        use std::f64::consts::PI;
        (0..n_samples)
            .map(|n| {
                let t = n as f64 / sample_rate_hz;
                let x = 0.5 * (2.0 * PI * 300.0 * t).sin()
                    + 0.3 * (2.0 * PI * 1200.0 * t).sin()
                    + 0.2 * (2.0 * PI * (100.0 * t + 0.5 * (3500.0 - 100.0) / 0.5 * t * t)).sin();
                x as f32
            })
            .collect()
    }

    #[test]
    fn slaney_constants_match_librosa() {
        assert!((SLANEY_LOG_STEP_PER_MEL - 6.4f64.ln() / 27.0).abs() < 1e-15);
        assert!((SLANEY_MIN_LOG_MEL - 15.0).abs() < 1e-12);
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-12);
        // librosa.hz_to_mel(8000) == 45.245640471924965
        assert!((hz_to_mel_slaney(8000.0) - 45.245_640_471_924_965).abs() < 1e-9);
        for f in [0.0, 20.0, 500.0, 999.0, 1000.0, 1234.5, 4000.0, 22050.0] {
            assert!((mel_to_hz_slaney(hz_to_mel_slaney(f)) - f).abs() < 1e-9 * f.max(1.0));
        }
    }

    #[test]
    fn log_mel_matches_numpy_reference() {
        let reference = reference();
        let cfg = MelConfig::default();
        let signal = reference_signal(reference.n_samples, f64::from(cfg.sample_rate_hz));
        for (a, b) in signal.iter().zip(&reference.signal_head) {
            assert_eq!(a, b, "test signal differs from the reference script's");
        }
        let mel = log_mel_spectrogram(&signal, &cfg);
        assert_eq!(mel.n_mels, reference.n_mels);
        assert_eq!(mel.n_frames, reference.n_frames);
        assert_eq!(mel.n_frames, 1 + reference.n_samples / cfg.hop_length);
        let mut max_err = 0.0f64;
        for (m, row) in reference.log_mel.iter().enumerate() {
            assert_eq!(row.len(), mel.n_frames);
            for (t, &want) in row.iter().enumerate() {
                let got = f64::from(mel.get(m, t).expect("in range"));
                max_err = max_err.max((got - want).abs());
            }
        }
        eprintln!("max |log-mel - numpy reference| = {max_err:.3e}");
        assert!(max_err < 1e-3, "max log-mel error {max_err}");
    }

    #[test]
    fn hann_window_is_periodic_and_matches_reference() {
        let reference = reference();
        let w = hann_window(256);
        assert_eq!(w.len(), reference.hann_window.len());
        for (a, b) in w.iter().zip(&reference.hann_window) {
            assert!((f64::from(*a) - b).abs() < 1e-7);
        }
        assert_eq!(w[0], 0.0);
        assert!((w[128] - 1.0).abs() < 1e-7);
        for k in 1..256 {
            assert!((w[k] - w[256 - k]).abs() < 1e-6, "periodic symmetry at {k}");
        }
        assert!(hann_window(0).is_empty());
        assert_eq!(hann_window(1), vec![1.0]);
    }

    #[test]
    fn filterbank_matches_reference_rows_and_sums() {
        let reference = reference();
        let cfg = MelConfig::default();
        let fb = mel_filterbank(
            cfg.n_fft,
            cfg.n_mels,
            cfg.sample_rate_hz,
            cfg.f_min_hz,
            cfg.f_max_hz,
        );
        let n_bins = cfg.n_fft / 2 + 1;
        assert_eq!(fb.len(), cfg.n_mels * n_bins);
        for (m, want) in reference.filterbank_row_sums.iter().enumerate() {
            let got: f64 = fb[m * n_bins..(m + 1) * n_bins]
                .iter()
                .map(|&w| f64::from(w))
                .sum();
            assert!(
                (got - want).abs() < 1e-6 * want.max(1e-3),
                "row {m}: {got} vs {want}"
            );
        }
        for (row, want) in &reference.filterbank_rows {
            let m: usize = row.parse().expect("row index");
            for (k, w) in want.iter().enumerate() {
                let got = f64::from(fb[m * n_bins + k]);
                assert!((got - w).abs() < 1e-7, "row {m} bin {k}: {got} vs {w}");
            }
        }
    }

    #[test]
    fn filterbank_properties() {
        let (n_fft, n_mels, sr) = (512usize, 64usize, 16_000u32);
        let n_bins = n_fft / 2 + 1;
        let fb = mel_filterbank(n_fft, n_mels, sr, 0.0, 8000.0);
        let bin_hz = f64::from(sr) / n_fft as f64;
        let mut last_peak = 0usize;
        for m in 0..n_mels {
            let row = &fb[m * n_bins..(m + 1) * n_bins];
            assert!(row.iter().all(|&w| w >= 0.0 && w.is_finite()));
            assert!(row.iter().any(|&w| w > 0.0), "row {m} is empty");
            let peak = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| k)
                .unwrap_or(0);
            assert!(peak >= last_peak, "filter centres must rise");
            last_peak = peak;
            // Slaney normalisation: the area (in Hz) of every continuous triangle is 1;
            // sampled on the bins, sum * bin width is close to 1 for the wide filters.
            let area_hz: f64 = row.iter().map(|&w| f64::from(w)).sum::<f64>() * bin_hz;
            if m > n_mels / 2 {
                assert!((area_hz - 1.0).abs() < 0.05, "row {m}: area {area_hz}");
            }
        }
        // Nothing outside [f_min, f_max].
        let fb = mel_filterbank(n_fft, n_mels, sr, 300.0, 3000.0);
        for m in 0..n_mels {
            for k in 0..n_bins {
                let f = k as f64 * bin_hz;
                if !(300.0..=3000.0).contains(&f) {
                    assert_eq!(fb[m * n_bins + k], 0.0, "row {m} bin {k} ({f} Hz)");
                }
            }
        }
        // Degenerate ranges give zeros, not NaN.
        let fb = mel_filterbank(n_fft, n_mels, sr, 3000.0, 3000.0);
        assert!(fb.iter().all(|&w| w == 0.0));
        assert!(
            mel_filterbank(0, 4, sr, 0.0, 100.0)
                .iter()
                .all(|&w| w == 0.0)
        );
    }

    #[test]
    fn frame_count_follows_torch_center_true() {
        let cfg = MelConfig::default();
        for len in [0usize, 1, 63, 64, 65, 127, 128, 129, 1000, 8000] {
            let mel = log_mel_spectrogram(&vec![0.1; len], &cfg);
            assert_eq!(mel.n_frames, 1 + len / cfg.hop_length, "len {len}");
            assert_eq!(mel.n_frames, n_stft_frames(len, cfg.n_fft, cfg.hop_length));
            assert_eq!(mel.data.len(), mel.n_mels * mel.n_frames);
        }
    }

    #[test]
    fn empty_and_silent_clips_are_the_log_floor() {
        let cfg = MelConfig::default();
        let floor = cfg.log_floor.ln();
        let mel = log_mel_spectrogram(&[], &cfg);
        assert_eq!((mel.n_mels, mel.n_frames), (40, 1));
        assert!(mel.data.iter().all(|&v| (v - floor).abs() < 1e-6));
        let mel = log_mel_spectrogram(&[0.0; 1000], &cfg);
        assert!(mel.data.iter().all(|&v| (v - floor).abs() < 1e-6));
    }

    #[test]
    fn short_clips_are_zero_padded_not_reflected() {
        // 100 samples <= n_fft / 2 = 128: reflection impossible, zero padding used.
        let cfg = MelConfig::default();
        let mel = log_mel_spectrogram(&[0.5; 100], &cfg);
        assert_eq!(mel.n_frames, 2);
        assert!(mel.data.iter().all(|v| v.is_finite()));
        // 129 samples: reflection applies; the output is still finite.
        let mel = log_mel_spectrogram(&[0.5; 129], &cfg);
        assert_eq!(mel.n_frames, 3);
        assert!(mel.data.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn reflect_padding_matches_numpy() {
        let x: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        // np.pad([1..6], 3, mode="reflect") = [4,3,2,1,2,3,4,5,6,5,4,3]
        let padded = centre_pad(&x, 3);
        assert_eq!(
            padded,
            vec![4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 5.0, 4.0, 3.0]
        );
        assert_eq!(
            centre_pad(&[1.0, 2.0], 2),
            vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0]
        );
        assert_eq!(centre_pad(&[f32::NAN, 2.0], 1), vec![2.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn tone_energy_lands_in_the_right_mel_bin() {
        let cfg = MelConfig::default();
        let sr = f64::from(cfg.sample_rate_hz);
        let tone: Vec<f32> = (0..4000)
            .map(|n| (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / sr).sin()) as f32)
            .collect();
        let mel = log_mel_spectrogram(&tone, &cfg);
        let t = mel.n_frames / 2;
        let loudest = (0..mel.n_mels)
            .max_by(|&a, &b| {
                mel.get(a, t)
                    .unwrap_or(0.0)
                    .total_cmp(&mel.get(b, t).unwrap_or(0.0))
            })
            .unwrap_or(0);
        // Centre frequencies of the mel points around that bin bracket 1000 Hz.
        let mel_lo = hz_to_mel_slaney(f64::from(cfg.f_min_hz));
        let mel_hi = hz_to_mel_slaney(f64::from(cfg.f_max_hz));
        let point = |i: usize| {
            mel_to_hz_slaney(mel_lo + (mel_hi - mel_lo) * i as f64 / (cfg.n_mels + 1) as f64)
        };
        assert!(
            point(loudest) < 1000.0 && 1000.0 < point(loudest + 2),
            "loudest bin {loudest}"
        );
    }

    #[test]
    fn log_mel_accessors() {
        let mel = LogMel {
            n_mels: 2,
            n_frames: 3,
            data: vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0],
        };
        assert_eq!(mel.get(1, 2), Some(12.0));
        assert_eq!(mel.get(0, 1), Some(1.0));
        assert_eq!(mel.get(2, 0), None);
        assert_eq!(mel.get(0, 3), None);
        assert_eq!(mel.row(1), Some(&[10.0, 11.0, 12.0][..]));
        assert_eq!(mel.row(2), None);
    }

    fn numbered(n_mels: usize, n_frames: usize) -> LogMel {
        LogMel {
            n_mels,
            n_frames,
            data: (0..n_mels * n_frames).map(|v| v as f32).collect(),
        }
    }

    #[test]
    fn fit_frames_crops_around_the_centre() {
        let mel = numbered(2, 10);
        let fitted = fit_frames(&mel, 4, -1.0);
        assert_eq!((fitted.n_mels, fitted.n_frames), (2, 4));
        // (10 - 4) / 2 = 3: frames 3..7 of each row.
        assert_eq!(
            fitted.data,
            vec![3.0, 4.0, 5.0, 6.0, 13.0, 14.0, 15.0, 16.0]
        );
        // Odd excess: (7 - 4) / 2 = 1.
        let fitted = fit_frames(&numbered(1, 7), 4, -1.0);
        assert_eq!(fitted.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn fit_frames_pads_at_the_end() {
        let mel = numbered(2, 3);
        let fitted = fit_frames(&mel, 5, -13.8);
        assert_eq!(
            fitted.data,
            vec![0.0, 1.0, 2.0, -13.8, -13.8, 3.0, 4.0, 5.0, -13.8, -13.8]
        );
        assert_eq!(fit_frames(&mel, 3, 0.0), mel);
        let empty = fit_frames(&mel, 0, 0.0);
        assert_eq!((empty.n_frames, empty.data.len()), (0, 0));
        let from_nothing = fit_frames(&numbered(2, 0), 2, 7.0);
        assert_eq!(from_nothing.data, vec![7.0; 4]);
    }

    #[test]
    fn degenerate_configs_do_not_panic() {
        let base = MelConfig::default();
        let configs = [
            MelConfig {
                n_fft: 0,
                ..base.clone()
            },
            MelConfig {
                hop_length: 0,
                ..base.clone()
            },
            MelConfig {
                win_length: 1000,
                ..base.clone()
            },
            MelConfig {
                win_length: 0,
                ..base.clone()
            },
            MelConfig {
                n_mels: 0,
                ..base.clone()
            },
            MelConfig {
                n_fft: 255,
                win_length: 200,
                ..base.clone()
            },
            MelConfig {
                log_floor: 0.0,
                ..base.clone()
            },
            MelConfig {
                log_floor: f32::NAN,
                ..base.clone()
            },
            MelConfig {
                f_min_hz: 5000.0,
                f_max_hz: 100.0,
                ..base.clone()
            },
            MelConfig {
                f_max_hz: 1.0e9,
                ..base.clone()
            },
        ];
        let signal: Vec<f32> = (0..777).map(|n| ((n as f32) * 0.37).sin()).collect();
        for cfg in &configs {
            for len in [0, 1, 5, 777] {
                let mel = log_mel_spectrogram(&signal[..len], cfg);
                assert_eq!(mel.data.len(), mel.n_mels * mel.n_frames);
                assert!(mel.data.iter().all(|v| v.is_finite()), "{cfg:?} len {len}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Any clip length 0..20000 (random values in [-1, 1], deterministic from a seed) gives
        /// `1 + len / hop` frames of finite values; an empty clip gives 1 frame.
        #[test]
        fn log_mel_never_panics_and_is_finite(len in 0usize..20_000, seed in any::<u64>(), gain in 0.0f32..1.0) {
            let mut state = seed | 1;
            let samples: Vec<f32> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * gain
                })
                .collect();
            let cfg = MelConfig::default();
            let mel = log_mel_spectrogram(&samples, &cfg);
            prop_assert_eq!(mel.n_frames, 1 + len / cfg.hop_length);
            prop_assert_eq!(mel.n_mels, cfg.n_mels);
            prop_assert_eq!(mel.data.len(), cfg.n_mels * mel.n_frames);
            let floor = cfg.log_floor.ln();
            prop_assert!(mel.data.iter().all(|v| v.is_finite() && *v >= floor - 1e-5));
        }
    }
}
