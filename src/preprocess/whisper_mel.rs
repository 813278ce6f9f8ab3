//! Whisper's log-mel spectrogram (OpenAI `whisper.audio.log_mel_spectrogram`), the input of
//! the frozen speech encoder ([`crate::model::whisper_encoder`]). Plain functions over the
//! generic STFT and mel filterbank of [`crate::preprocess::mel`]:
//!
//! 1. 16 kHz mono; STFT with `n_fft` 400 (periodic Hann), hop 160, centred (reflect at the
//!    start), power `|X|^2`;
//! 2. 80 Slaney mel bins over 0..8 kHz with Slaney normalisation (librosa's default);
//! 3. `log10(max(x, 1e-10))`, then `max(x, x.max() - 8)`, then `(x + 4) / 4`.
//!
//! Whisper always hears a clip followed by silence: it pads every clip with zeros to 30 s
//! before the STFT. Here the clip is followed by zeros up to a window of
//! [`WHISPER_WINDOW_FRAMES`] (2 s; longer clips take whole multiples of it): cheaper than
//! 30 s, and the window depends on the clip alone, so a clip gets the same features alone or
//! in a batch. Encoding a clip at its own length without the silence reads unheard speakers
//! worse (measured in `models/whisper-tiny-en/README.md`). The frames that cover the clip are
//! the first `len / 160`; the rest is padding, which carries no input. One frame is 10 ms.

use crate::error::Result;
use crate::preprocess::audio::resample;
use crate::preprocess::mel::{LogMel, MelConfig, log_mel_spectrogram};
use crate::preprocess::waveform::Waveform;

/// Sample rate the encoder was trained at, in Hz.
pub const WHISPER_SAMPLE_RATE_HZ: u32 = 16_000;
/// STFT size and window length, in samples (25 ms).
pub const WHISPER_N_FFT: usize = 400;
/// Hop between frames, in samples (10 ms).
pub const WHISPER_HOP_LENGTH: usize = 160;
/// Mel bins.
pub const WHISPER_N_MELS: usize = 80;
/// Floor of the mel power before the logarithm.
pub const WHISPER_LOG_FLOOR: f32 = 1e-10;
/// Dynamic range kept below each clip's loudest bin, in decades of power (80 dB).
pub const WHISPER_DYNAMIC_RANGE_LOG10: f32 = 8.0;
/// The window a clip is padded to with silence, in frames (2 s); a longer clip takes the
/// smallest whole multiple of it that holds the clip.
pub const WHISPER_WINDOW_FRAMES: usize = 200;

/// STFT and mel parameters of Whisper's front end.
pub fn whisper_mel_config() -> MelConfig {
    MelConfig {
        sample_rate_hz: WHISPER_SAMPLE_RATE_HZ,
        n_fft: WHISPER_N_FFT,
        win_length: WHISPER_N_FFT,
        hop_length: WHISPER_HOP_LENGTH,
        n_mels: WHISPER_N_MELS,
        f_min_hz: 0.0,
        f_max_hz: WHISPER_SAMPLE_RATE_HZ as f32 / 2.0,
        log_floor: WHISPER_LOG_FLOOR,
    }
}

/// Frames that cover a clip of `n_samples` (at least one): the rest of the window is padding.
pub fn whisper_clip_frames(n_samples: usize) -> usize {
    (n_samples / WHISPER_HOP_LENGTH).max(1)
}

/// Frames of the window a clip of `n_samples` is encoded in: the smallest whole multiple of
/// [`WHISPER_WINDOW_FRAMES`] that holds its [`whisper_clip_frames`].
pub fn whisper_window_frames(n_samples: usize) -> usize {
    whisper_clip_frames(n_samples).div_ceil(WHISPER_WINDOW_FRAMES) * WHISPER_WINDOW_FRAMES
}

/// A clip's Whisper log-mel: its window, and how many of the window's frames are the clip.
#[derive(Clone, Debug, PartialEq)]
pub struct WhisperMel {
    /// `[80, window frames]`, the clip followed by silence.
    pub mel: LogMel,
    /// The first `clip_frames` frames cover the clip; the others are padding.
    pub clip_frames: usize,
}

/// Whisper log-mel of a mono clip at 16 kHz in its window (see the module docs).
pub fn whisper_log_mel(samples_16k: &[f32]) -> WhisperMel {
    let clip_frames = whisper_clip_frames(samples_16k.len());
    let n_frames = whisper_window_frames(samples_16k.len());
    // Zeros past the window too, so the last kept frame sees silence, not a reflection.
    let mut padded = samples_16k.to_vec();
    padded.resize(n_frames * WHISPER_HOP_LENGTH + WHISPER_N_FFT / 2, 0.0);
    let full = log_mel_spectrogram(&padded, &whisper_mel_config());
    let ln_10 = std::f32::consts::LN_10;
    let silence = WHISPER_LOG_FLOOR.ln();
    let mut data = Vec::with_capacity(full.n_mels * n_frames);
    for m in 0..full.n_mels {
        let row = full.row(m).unwrap_or(&[]);
        // The padded clip always has more STFT frames than are kept.
        data.extend((0..n_frames).map(|t| row.get(t).copied().unwrap_or(silence) / ln_10));
    }
    let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = max - WHISPER_DYNAMIC_RANGE_LOG10;
    for x in &mut data {
        *x = (x.max(floor) + 4.0) / 4.0;
    }
    WhisperMel {
        mel: LogMel {
            n_mels: full.n_mels,
            n_frames,
            data,
        },
        clip_frames,
    }
}

/// The speech encoder's input for a prepared clip (resampled, trimmed and loudness-normalised
/// by [`crate::preprocess::audio::prepare_audio`]): the clip at 16 kHz in its window. The
/// app and the data preparation both call this, so training features are the app's.
pub fn speech_window(wave: &Waveform) -> Result<WhisperMel> {
    let at_16k = resample(wave, WHISPER_SAMPLE_RATE_HZ)?;
    Ok(whisper_log_mel(&at_16k.samples))
}

/// Clips per forward pass of the frozen speech encoder (its attention is the largest tensor).
pub const SPEECH_BATCH_CLIPS: usize = 32;

/// Clips whose windows have the same length, stacked for one forward pass of the encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowBatch {
    /// Frames of each window.
    pub frames: usize,
    /// Indices of the clips in the input.
    pub items: Vec<usize>,
    /// Frames of each clip that cover it ([`WhisperMel::clip_frames`]).
    pub clip_frames: Vec<usize>,
    /// `[items, 80, frames]` row-major.
    pub mel: Vec<f32>,
}

/// The speech windows of prepared clips ([`speech_window`]), computed in parallel, in input
/// order.
pub fn speech_windows(waves: &[&Waveform]) -> Result<Vec<WhisperMel>> {
    use rayon::prelude::*;
    waves.par_iter().map(|w| speech_window(w)).collect()
}

/// Windows stacked for the encoder: batches of at most [`SPEECH_BATCH_CLIPS`] windows of one
/// length, in input order within a length, each stacked when the iterator reaches it. The app
/// and the data preparation's feature cache both batch clips this way.
pub fn window_batches<W: std::borrow::Borrow<WhisperMel>>(
    windows: &[W],
) -> impl Iterator<Item = WindowBatch> + '_ {
    let mut by_window: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, w) in windows.iter().enumerate() {
        by_window
            .entry(w.borrow().mel.n_frames)
            .or_default()
            .push(i);
    }
    let groups: Vec<(usize, Vec<usize>)> = by_window
        .into_iter()
        .flat_map(|(frames, items)| {
            items
                .chunks(SPEECH_BATCH_CLIPS)
                .map(|chunk| (frames, chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    groups.into_iter().map(move |(frames, items)| {
        let mut mel = Vec::with_capacity(items.len() * WHISPER_N_MELS * frames);
        for &i in &items {
            mel.extend_from_slice(&windows[i].borrow().mel.data);
        }
        WindowBatch {
            frames,
            clip_frames: items
                .iter()
                .map(|&i| windows[i].borrow().clip_frames)
                .collect(),
            items,
            mel,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, freq_hz: f32, amp: f32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                amp * (2.0 * std::f32::consts::PI * freq_hz * i as f32
                    / WHISPER_SAMPLE_RATE_HZ as f32)
                    .sin()
            })
            .collect()
    }

    #[test]
    fn one_frame_every_10_ms_of_the_clip_in_a_window_of_whole_2_s() {
        let one_s = whisper_log_mel(&tone(16_000, 440.0, 0.5));
        assert_eq!((one_s.clip_frames, one_s.mel.n_frames), (100, 200));
        let odd = whisper_log_mel(&tone(10_335, 440.0, 0.5));
        assert_eq!((odd.clip_frames, odd.mel.n_frames), (64, 200));
        let long = whisper_log_mel(&tone(40_000, 440.0, 0.5));
        assert_eq!((long.clip_frames, long.mel.n_frames), (250, 400));
        assert_eq!(whisper_log_mel(&[]).clip_frames, 1);
        assert_eq!(odd.mel.n_mels, 80);
        assert_eq!(odd.mel.data.len(), 80 * 200);
    }

    #[test]
    fn windows_are_batched_by_length_in_input_order_at_most_32_at_a_time() {
        let short = whisper_log_mel(&tone(8_000, 440.0, 0.5));
        let long = whisper_log_mel(&tone(40_000, 440.0, 0.5));
        // 34 short windows with one long one at index 1.
        let mut windows = vec![&short; 35];
        windows[1] = &long;
        let batches: Vec<WindowBatch> = window_batches(&windows).collect();
        let shape: Vec<(usize, usize)> =
            batches.iter().map(|b| (b.frames, b.items.len())).collect();
        assert_eq!(shape, vec![(200, 32), (200, 2), (400, 1)]);
        assert_eq!(batches[0].items[..3], [0, 2, 3]);
        assert_eq!(batches[1].items, vec![33, 34]);
        assert_eq!(batches[2].items, vec![1]);
        assert_eq!(batches[2].clip_frames, vec![long.clip_frames]);
        assert_eq!(batches[1].mel.len(), 2 * 80 * 200);
        assert_eq!(batches[2].mel, long.mel.data);
    }

    #[test]
    fn the_padding_after_the_clip_is_the_silence_floor() {
        let w = whisper_log_mel(&tone(8_000, 440.0, 0.5));
        let min = w.mel.data.iter().copied().fold(f32::INFINITY, f32::min);
        for m in 0..80 {
            assert!(w.mel.row(m).unwrap()[60..].iter().all(|&x| x == min));
        }
    }

    #[test]
    fn values_span_at_most_two_units_below_the_loudest() {
        let mel = whisper_log_mel(&tone(8_000, 1000.0, 0.5)).mel;
        let max = mel.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let min = mel.data.iter().copied().fold(f32::INFINITY, f32::min);
        // The clamp keeps 8 decades; (x + 4) / 4 makes that 2 units.
        assert!((max - min - 2.0).abs() < 1e-5, "max {max}, min {min}");
        // A 1 kHz tone is loudest in the bin around 1 kHz (Slaney bin ~ 26 of 80).
        let loudest = (0..80)
            .max_by(|&a, &b| {
                let mean = |m: usize| mel.row(m).unwrap().iter().sum::<f32>();
                mean(a).total_cmp(&mean(b))
            })
            .unwrap();
        assert!((22..=30).contains(&loudest), "loudest bin {loudest}");
    }

    #[test]
    fn silence_is_flat_and_finite() {
        let mel = whisper_log_mel(&vec![0.0; 3_200]).mel;
        assert!(mel.data.iter().all(|x| x.is_finite()));
        let first = mel.data[0];
        assert!(mel.data.iter().all(|&x| (x - first).abs() < 1e-6));
    }
}
