//! Mono audio as every part of the app hands it around ([`Waveform`]), and the limits every
//! decoder enforces on it. Its own file so the decoders (`audio_decode`, `audio_formats`),
//! the microphone and the preprocessing (`audio`) all read it without importing each other.

/// Hard limit on the duration of an input file, in seconds, checked from the WAV header before
/// any sample is read so that a huge (or lying) file cannot exhaust memory.
pub const MAX_INPUT_DURATION_SECS: f64 = 600.0;

/// Lowest sample rate accepted from a WAV header, in Hz.
pub const MIN_SAMPLE_RATE_HZ: u32 = 1_000;

/// Highest sample rate accepted from a WAV header, in Hz (bounds the resampler's FFT size).
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;

/// A clip whose peak is below this level, in dBFS (0 dBFS = full scale), is refused as silent.
pub const SILENCE_PEAK_DBFS: f32 = -60.0;

/// Mono audio: samples in `[-1, 1]` at `sample_rate_hz`.
#[derive(Clone, Debug, PartialEq)]
pub struct Waveform {
    /// Mono samples, full scale = 1.0.
    pub samples: Vec<f32>,
    /// Sample rate, in Hz.
    pub sample_rate_hz: u32,
}

impl Waveform {
    /// Duration in seconds (0 for an empty waveform or a zero sample rate).
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }

    /// Peak absolute sample value, in dBFS (`-inf` for an empty or all-zero waveform).
    pub fn peak_dbfs(&self) -> f32 {
        peak_dbfs(&self.samples)
    }
}

/// Peak absolute value of `samples` in dBFS (`20 log10(peak)`; `-inf` when empty or all zero).
pub fn peak_dbfs(samples: &[f32]) -> f32 {
    let peak = samples
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |acc, x| acc.max(x.abs()));
    20.0 * peak.log10()
}
