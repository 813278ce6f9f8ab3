//! Audio preprocessing: WAV bytes to the fixed-size log-mel spectrogram the audio encoder reads.
//!
//! Pipeline ([`prepare_audio`]): decode (any channel count mixed to mono, PCM 8/16/24/32-bit
//! integer or 32-bit float, any sample rate in [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`])
//! → resample to [`AudioConfig::sample_rate_hz`] → trim leading/trailing silence → refuse silent
//! or too-long clips → log-mel ([`crate::preprocess::mel`]) → fit to [`AudioConfig::n_frames`].

use std::ops::Range;
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use crate::error::{Error, Result};
use crate::preprocess::mel::{LogMel, MelConfig, fit_frames, log_mel_spectrogram};

pub use crate::preprocess::waveform::{
    MAX_INPUT_DURATION_SECS, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, SILENCE_PEAK_DBFS, Waveform,
    peak_dbfs,
};

pub use crate::preprocess::audio_decode::{
    WavInfo, WavSampleFormat, decode_wav_bytes, decode_wav_bytes_with_info, read_wav,
    read_wav_with_info,
};

/// Length of the frames [`trim_silence`] measures RMS over, in seconds (10 ms).
pub const TRIM_FRAME_SECS: f64 = 0.010;

/// Input chunk the FFT resampler is asked for, in frames (rubato rounds it up to a multiple of
/// `input_rate / gcd(input_rate, output_rate)`).
pub const RESAMPLER_CHUNK_FRAMES: usize = 1024;

/// Placeholder path used in errors for audio that did not come from a file.
pub const DROPPED_AUDIO_PATH: &str = "<dropped audio>";

/// Audio preprocessing parameters; part of the model manifest, so every field has a default
/// and missing fields deserialise to it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AudioConfig {
    /// Sample rate the encoder works at, in Hz.
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
    /// Fixed number of frames the encoder sees (default 128: about 1.02 s at 8 kHz, hop 64).
    pub n_frames: usize,
    /// Longest clip accepted after silence trimming, in seconds.
    pub max_duration_secs: f32,
    /// Silence trimming threshold, in dB relative to the loudest 10 ms frame (negative).
    pub trim_threshold_db: f32,
    /// Floor applied to mel energies before the natural log (so silence is `ln(log_floor)`).
    pub log_floor: f32,
    /// Loudness normalisation: the trimmed clip is scaled to this RMS level (dBFS) before the
    /// log-mel, so the recording level of a microphone or speaker does not shift the features.
    /// `None` keeps the level as recorded.
    pub target_rms_dbfs: Option<f32>,
}

/// Default loudness of a prepared clip, dBFS RMS (speech recorded at a comfortable level).
pub const DEFAULT_TARGET_RMS_DBFS: f32 = -20.0;

/// Scales samples so their RMS is `target_dbfs`; silent input is returned unchanged.
pub fn normalize_rms(samples: &mut [f32], target_dbfs: f32) {
    let n = samples.len().max(1) as f64;
    let rms = (samples
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        / n)
        .sqrt();
    if rms < 1e-9 {
        return;
    }
    let gain = (10f64.powf(target_dbfs as f64 / 20.0) / rms) as f32;
    samples.iter_mut().for_each(|x| *x *= gain);
}

impl Default for AudioConfig {
    fn default() -> Self {
        let mel = MelConfig::default();
        Self {
            sample_rate_hz: mel.sample_rate_hz,
            n_fft: mel.n_fft,
            win_length: mel.win_length,
            hop_length: mel.hop_length,
            n_mels: mel.n_mels,
            f_min_hz: mel.f_min_hz,
            f_max_hz: mel.f_max_hz,
            n_frames: 128,
            max_duration_secs: 4.0,
            trim_threshold_db: -35.0,
            log_floor: mel.log_floor,
            target_rms_dbfs: Some(DEFAULT_TARGET_RMS_DBFS),
        }
    }
}

impl AudioConfig {
    /// Checks that the parameters make sense together; the error names the offending field.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidRequest(format!("audio config: {msg}")));
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&self.sample_rate_hz) {
            return bad(format!(
                "sample_rate_hz = {} must be within {MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ}",
                self.sample_rate_hz
            ));
        }
        if self.n_fft < 2 || !self.n_fft.is_power_of_two() {
            return bad(format!(
                "n_fft = {} must be a power of two >= 2",
                self.n_fft
            ));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(format!(
                "win_length = {} must be within 1..=n_fft ({})",
                self.win_length, self.n_fft
            ));
        }
        if self.hop_length == 0 || self.hop_length > self.n_fft {
            return bad(format!(
                "hop_length = {} must be within 1..=n_fft ({})",
                self.hop_length, self.n_fft
            ));
        }
        let n_bins = self.n_fft / 2 + 1;
        if self.n_mels == 0 || self.n_mels > n_bins {
            return bad(format!(
                "n_mels = {} must be within 1..={n_bins} (n_fft / 2 + 1)",
                self.n_mels
            ));
        }
        if !(self.f_min_hz.is_finite() && self.f_min_hz >= 0.0) {
            return bad(format!("f_min_hz = {} must be >= 0", self.f_min_hz));
        }
        let nyquist_hz = self.sample_rate_hz as f32 / 2.0;
        if !(self.f_max_hz.is_finite() && self.f_max_hz > self.f_min_hz) {
            return bad(format!(
                "f_max_hz = {} must be greater than f_min_hz = {}",
                self.f_max_hz, self.f_min_hz
            ));
        }
        if self.f_max_hz > nyquist_hz {
            return bad(format!(
                "f_max_hz = {} exceeds the Nyquist frequency {nyquist_hz} Hz of sample_rate_hz = {}",
                self.f_max_hz, self.sample_rate_hz
            ));
        }
        if self.n_frames == 0 {
            return bad("n_frames must be at least 1".to_string());
        }
        if !(self.max_duration_secs.is_finite()
            && self.max_duration_secs > 0.0
            && f64::from(self.max_duration_secs) <= MAX_INPUT_DURATION_SECS)
        {
            return bad(format!(
                "max_duration_secs = {} must be within (0, {MAX_INPUT_DURATION_SECS}]",
                self.max_duration_secs
            ));
        }
        if !(self.trim_threshold_db.is_finite() && self.trim_threshold_db <= 0.0) {
            return bad(format!(
                "trim_threshold_db = {} must be a finite value <= 0 dB",
                self.trim_threshold_db
            ));
        }
        if !(self.log_floor.is_finite() && self.log_floor > 0.0) {
            return bad(format!("log_floor = {} must be > 0", self.log_floor));
        }
        Ok(())
    }

    /// The value of silence in the log-mel domain, `ln(log_floor)`: the padding value of
    /// [`fit_frames`].
    pub fn log_floor_ln(&self) -> f32 {
        self.mel().log_floor_ln()
    }

    /// The log-mel spectrogram's parameters (the STFT and mel fields of this config).
    pub fn mel(&self) -> MelConfig {
        MelConfig {
            sample_rate_hz: self.sample_rate_hz,
            n_fft: self.n_fft,
            win_length: self.win_length,
            hop_length: self.hop_length,
            n_mels: self.n_mels,
            f_min_hz: self.f_min_hz,
            f_max_hz: self.f_max_hz,
            log_floor: self.log_floor,
        }
    }
}

/// Resamples `wave` to `target_hz` with rubato's synchronous FFT resampler over the whole clip.
///
/// Identity (a copy) when the rates are equal. rubato's `process_all` removes the resampler's
/// delay (`output_delay`) and flushes the tail, so the output has `round(len * target_hz / source_hz)` samples aligned with the
/// input (sample `m` of the output is at time `m / target_hz`). The output is clamped to
/// `[-1, 1]` (the anti-aliasing filter can overshoot slightly).
///
/// Errors: [`Error::InvalidRequest`] when a rate is outside
/// [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`].
pub fn resample(wave: &Waveform, target_hz: u32) -> Result<Waveform> {
    let source_hz = wave.sample_rate_hz;
    for (name, rate) in [("source", source_hz), ("target", target_hz)] {
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&rate) {
            return Err(Error::InvalidRequest(format!(
                "cannot resample: {name} sample rate {rate} Hz is outside {MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ} Hz"
            )));
        }
    }
    if source_hz == target_hz {
        return Ok(wave.clone());
    }
    let len_in = wave.samples.len();
    let len_out = ((len_in as u128 * u128::from(target_hz) + u128::from(source_hz) / 2)
        / u128::from(source_hz)) as usize;
    if len_out == 0 {
        return Ok(Waveform {
            samples: Vec::new(),
            sample_rate_hz: target_hz,
        });
    }
    // rubato's FFT resampler works on blocks of `k * source / gcd` input frames and
    // `k * target / gcd` output frames; its anti-aliasing filter is centred on input frame
    // `block_in / 2` (integer division) and it reports a delay of `block_out / 2` output frames
    // (`output_delay`, which `process_all` trims). With an even `k` both blocks are even, so
    // trimming that delay leaves no fractional shift (an odd block would leave a shift of a
    // fraction of a frame). One sub-chunk per chunk keeps the block at the chunk size.
    let gcd = gcd_u64(u64::from(source_hz), u64::from(target_hz));
    let min_block_in = (u64::from(source_hz) / gcd) as usize;
    let mut blocks = RESAMPLER_CHUNK_FRAMES.div_ceil(min_block_in).max(1);
    if blocks % 2 == 1 {
        blocks += 1;
    }
    let mut resampler = Fft::<f32>::new_custom(
        source_hz as usize,
        target_hz as usize,
        blocks * min_block_in,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Both,
    )
    .map_err(|e| Error::Internal(format!("cannot build resampler: {e}")))?;
    if resampler.fft_size_in() % 2 != 0 || resampler.fft_size_out() % 2 != 0 {
        return Err(Error::Internal(format!(
            "resampler block of {} -> {} frames is not even",
            resampler.fft_size_in(),
            resampler.fft_size_out()
        )));
    }
    let input = InterleavedSlice::new(&wave.samples, 1, len_in)
        .map_err(|e| Error::Internal(format!("resampler input: {e}")))?;
    let out = resampler
        .process_all(&input, len_in, None)
        .map_err(|e| Error::Internal(format!("resampling failed: {e}")))?
        .take_data();
    if out.len() < len_out {
        return Err(Error::Internal(format!(
            "resampler gave {} frames, expected at least {len_out}",
            out.len()
        )));
    }
    let samples = out[..len_out].iter().map(|x| x.clamp(-1.0, 1.0)).collect();
    Ok(Waveform {
        samples,
        sample_rate_hz: target_hz,
    })
}

fn gcd_u64(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Finds the non-silent part of a clip: the samples from the first to the last 10 ms frame
/// ([`TRIM_FRAME_SECS`] at `sample_rate_hz`, non-overlapping, the last one possibly shorter)
/// whose RMS is within `threshold_db` (negative, e.g. -35) of the loudest frame's RMS.
///
/// Returns an empty range (`0..0`) when the clip is empty or all zero. A positive threshold
/// acts as 0 dB (only the loudest frames are kept).
pub fn trim_silence(samples: &[f32], sample_rate_hz: u32, threshold_db: f32) -> Range<usize> {
    let frame_len = ((f64::from(sample_rate_hz) * TRIM_FRAME_SECS).round() as usize).max(1);
    let rms: Vec<f64> = samples
        .chunks(frame_len)
        .map(|frame| {
            let energy: f64 = frame
                .iter()
                .filter(|x| x.is_finite())
                .map(|&x| f64::from(x) * f64::from(x))
                .sum();
            (energy / frame.len() as f64).sqrt()
        })
        .collect();
    let loudest = rms.iter().copied().fold(0.0f64, f64::max);
    if loudest <= 0.0 {
        return 0..0;
    }
    let threshold_db = f64::from(threshold_db.min(0.0));
    let min_rms = if threshold_db.is_finite() {
        loudest * 10f64.powf(threshold_db / 20.0)
    } else {
        0.0
    };
    let keep = |r: &f64| *r > 0.0 && *r >= min_rms;
    let (Some(first), Some(last)) = (rms.iter().position(keep), rms.iter().rposition(keep)) else {
        return 0..0;
    };
    first * frame_len..((last + 1) * frame_len).min(samples.len())
}

/// A clip ready for the audio encoder, with what happened to it on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedAudio {
    /// The resampled and trimmed clip, at the config's sample rate.
    pub waveform: Waveform,
    /// Its log-mel spectrogram, fitted to the config's `n_frames`.
    pub mel: LogMel,
    /// Sample rate of the input, in Hz.
    pub original_sample_rate_hz: u32,
    /// Channel count of the input before the mix-down to mono.
    pub original_channels: u16,
    /// Duration of the input, in seconds.
    pub original_duration_secs: f64,
    /// Duration after resampling and silence trimming, in seconds.
    pub trimmed_duration_secs: f64,
}

/// Prepares a decoded clip for the encoder: resample to `cfg.sample_rate_hz`, trim silence,
/// check, compute the log-mel spectrogram and fit it to `cfg.n_frames` (padding with
/// `ln(cfg.log_floor)`). `original_channels` is only recorded; `path` only names the clip in
/// errors.
///
/// Errors: [`Error::InvalidRequest`] when `cfg` does not validate; [`Error::AudioTooLong`] when
/// the input lasts more than [`MAX_INPUT_DURATION_SECS`] or the trimmed clip more than
/// `cfg.max_duration_secs`; [`Error::AudioSilent`] when there are no samples or the peak is
/// below [`SILENCE_PEAK_DBFS`].
pub fn prepare_audio(
    wave: Waveform,
    original_channels: u16,
    cfg: &AudioConfig,
    path: &Path,
) -> Result<PreparedAudio> {
    cfg.validate()?;
    let original_sample_rate_hz = wave.sample_rate_hz;
    let original_duration_secs = wave.duration_secs();
    if original_duration_secs > MAX_INPUT_DURATION_SECS {
        return Err(Error::AudioTooLong {
            path: path.to_path_buf(),
            duration_secs: original_duration_secs,
            limit_secs: MAX_INPUT_DURATION_SECS,
        });
    }
    let silent = |peak_dbfs: f32| Error::AudioSilent {
        path: path.to_path_buf(),
        peak_dbfs,
    };
    let input_peak_dbfs = wave.peak_dbfs();
    if wave.samples.is_empty() || input_peak_dbfs < SILENCE_PEAK_DBFS {
        return Err(silent(input_peak_dbfs));
    }

    let resampled = resample(&wave, cfg.sample_rate_hz)?;
    drop(wave);
    let range = trim_silence(
        &resampled.samples,
        resampled.sample_rate_hz,
        cfg.trim_threshold_db,
    );
    if range.is_empty() {
        return Err(silent(resampled.peak_dbfs()));
    }
    let mut trimmed = Waveform {
        samples: resampled.samples[range].to_vec(),
        sample_rate_hz: resampled.sample_rate_hz,
    };
    if let Some(target) = cfg.target_rms_dbfs {
        normalize_rms(&mut trimmed.samples, target);
    }
    let trimmed_duration_secs = trimmed.duration_secs();
    if trimmed_duration_secs > f64::from(cfg.max_duration_secs) {
        return Err(Error::AudioTooLong {
            path: path.to_path_buf(),
            duration_secs: trimmed_duration_secs,
            limit_secs: f64::from(cfg.max_duration_secs),
        });
    }
    let mel = log_mel_spectrogram(&trimmed.samples, &cfg.mel());
    let mel = fit_frames(&mel, cfg.n_frames, cfg.log_floor_ln());
    // The displayed and playable waveform stays within full scale.
    trimmed
        .samples
        .iter_mut()
        .for_each(|x| *x = x.clamp(-1.0, 1.0));
    Ok(PreparedAudio {
        waveform: trimmed,
        mel,
        original_sample_rate_hz,
        original_channels,
        original_duration_secs,
        trimmed_duration_secs,
    })
}

/// Reads a WAV file and prepares it ([`read_wav_with_info`] then [`prepare_audio`]).
pub fn prepare_wav_file(path: &Path, cfg: &AudioConfig) -> Result<PreparedAudio> {
    let (wave, info) = read_wav_with_info(path)?;
    prepare_audio(wave, info.channels, cfg, path)
}

/// Reads an audio file of any supported format (WAV, FLAC, MP3, OGG/Vorbis, M4A/AAC; detected
/// from the content, [`crate::preprocess::audio_formats`]) and prepares it.
pub fn prepare_audio_file(path: &Path, cfg: &AudioConfig) -> Result<PreparedAudio> {
    let decoded = crate::preprocess::audio_formats::read_audio(path)?;
    prepare_audio(decoded.wave, decoded.channels, cfg, path)
}

/// Like [`prepare_audio_file`], from bytes; `path` only names the audio in errors.
pub fn prepare_audio_bytes(bytes: &[u8], path: &Path, cfg: &AudioConfig) -> Result<PreparedAudio> {
    let decoded = crate::preprocess::audio_formats::decode_audio_bytes(bytes, path)?;
    prepare_audio(decoded.wave, decoded.channels, cfg, path)
}

/// Decodes WAV bytes and prepares them ([`decode_wav_bytes_with_info`] then
/// [`prepare_audio`]); `path` only names the audio in errors.
pub fn prepare_wav_bytes(bytes: &[u8], path: &Path, cfg: &AudioConfig) -> Result<PreparedAudio> {
    let (wave, info) = decode_wav_bytes_with_info(bytes, path)?;
    prepare_audio(wave, info.channels, cfg, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::f64::consts::PI;
    use std::path::PathBuf;

    use proptest::prelude::*;

    fn dropped() -> &'static Path {
        Path::new(DROPPED_AUDIO_PATH)
    }

    fn sine(freq_hz: f64, amplitude: f64, sample_rate_hz: u32, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| amplitude * (2.0 * PI * freq_hz * i as f64 / f64::from(sample_rate_hz)).sin())
            .collect()
    }

    /// Frequency of the strongest spectral peak (Hann window, zero-padded real FFT).
    fn dominant_frequency_hz(samples: &[f32], sample_rate_hz: u32) -> f64 {
        let n_fft = samples.len().next_power_of_two() * 4;
        let mut planner = realfft::RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n_fft);
        let mut input = fft.make_input_vec();
        let len = samples.len() as f64;
        for (i, &x) in samples.iter().enumerate() {
            input[i] = f64::from(x) * (0.5 - 0.5 * (2.0 * PI * i as f64 / len).cos());
        }
        let mut spectrum = fft.make_output_vec();
        fft.process(&mut input, &mut spectrum).expect("fft");
        let peak = spectrum
            .iter()
            .enumerate()
            .skip(1)
            .max_by(|a, b| a.1.norm_sqr().total_cmp(&b.1.norm_sqr()))
            .map(|(k, _)| k)
            .unwrap_or(0);
        peak as f64 * f64::from(sample_rate_hz) / n_fft as f64
    }

    /// Magnitude of the DFT of `samples` at `freq_hz`, normalised so a sine of amplitude A
    /// gives about A.
    fn tone_amplitude(samples: &[f32], sample_rate_hz: u32, freq_hz: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &x) in samples.iter().enumerate() {
            let phase = 2.0 * PI * freq_hz * i as f64 / f64::from(sample_rate_hz);
            re += f64::from(x) * phase.cos();
            im += f64::from(x) * phase.sin();
        }
        2.0 * (re * re + im * im).sqrt() / samples.len() as f64
    }

    #[derive(Clone, Copy, Debug)]
    enum Enc {
        Int(u16),
        Float32,
    }

    /// Writes `channels` (each a list of values in [-1, 1]) as a WAV with hound, quantising
    /// integers as round(x * 2^(bits-1)); returns the path and the values as stored.
    fn write_wav(
        dir: &Path,
        name: &str,
        enc: Enc,
        sample_rate_hz: u32,
        channels: &[Vec<f64>],
    ) -> (PathBuf, Vec<Vec<f64>>) {
        let path = dir.join(name);
        let (bits, sample_format) = match enc {
            Enc::Int(b) => (b, hound::SampleFormat::Int),
            Enc::Float32 => (32, hound::SampleFormat::Float),
        };
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: sample_rate_hz,
            bits_per_sample: bits,
            sample_format,
        };
        let mut writer = hound::WavWriter::create(&path, spec).expect("create wav");
        let mut stored = vec![Vec::new(); channels.len()];
        for i in 0..channels[0].len() {
            for (c, channel) in channels.iter().enumerate() {
                let x = channel[i];
                match enc {
                    Enc::Int(b) => {
                        let scale = f64::from(1u32 << (b - 1));
                        let q = (x * scale).round().clamp(-scale, scale - 1.0);
                        stored[c].push(q / scale);
                        match b {
                            8 => writer.write_sample(q as i8),
                            16 => writer.write_sample(q as i16),
                            _ => writer.write_sample(q as i32),
                        }
                        .expect("write sample");
                    }
                    Enc::Float32 => {
                        stored[c].push(f64::from(x as f32));
                        writer.write_sample(x as f32).expect("write sample");
                    }
                }
            }
        }
        writer.finalize().expect("finalize wav");
        (path, stored)
    }

    /// A canonical 44-byte WAVE header (PCMWAVEFORMAT) with any field values.
    fn wav_header(format_tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
        let block_align = channels.wrapping_mul(bits / 8);
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&format_tag.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate.wrapping_mul(u32::from(block_align))).to_le_bytes());
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    fn tone_wav_bytes(n_frames: usize, channels: u16) -> Vec<u8> {
        let mut bytes = wav_header(
            1,
            channels,
            8000,
            16,
            (n_frames * 2 * channels as usize) as u32,
        );
        for i in 0..n_frames {
            let v = (8000.0 * (i as f64 * 0.3).sin()) as i16;
            for _ in 0..channels {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        bytes
    }

    fn decode_reason(err: Error) -> String {
        match err {
            Error::AudioDecode { reason, .. } => reason,
            other => panic!("expected AudioDecode, got {other:?}"),
        }
    }

    // ---- configuration ----

    #[test]
    fn default_config_validates_and_deserialises_from_partial_json() {
        let cfg = AudioConfig::default();
        cfg.validate().expect("default config is valid");
        assert_eq!(cfg.n_frames, 128);
        assert_eq!(
            serde_json::from_str::<AudioConfig>("{}").expect("empty"),
            cfg
        );
        let partial: AudioConfig =
            serde_json::from_str(r#"{"n_mels": 64, "sample_rate_hz": 16000}"#).expect("partial");
        assert_eq!(
            (partial.n_mels, partial.sample_rate_hz, partial.n_fft),
            (64, 16000, 256)
        );
        let json = serde_json::to_string(&cfg).expect("serialise");
        assert_eq!(
            serde_json::from_str::<AudioConfig>(&json).expect("round trip"),
            cfg
        );
    }

    #[test]
    fn validate_names_the_bad_field() {
        let base = AudioConfig::default();
        let cases = [
            (
                AudioConfig {
                    sample_rate_hz: 0,
                    ..base.clone()
                },
                "sample_rate_hz",
            ),
            (
                AudioConfig {
                    n_fft: 300,
                    win_length: 256,
                    ..base.clone()
                },
                "n_fft",
            ),
            (
                AudioConfig {
                    n_fft: 0,
                    ..base.clone()
                },
                "n_fft",
            ),
            (
                AudioConfig {
                    win_length: 512,
                    ..base.clone()
                },
                "win_length",
            ),
            (
                AudioConfig {
                    win_length: 0,
                    ..base.clone()
                },
                "win_length",
            ),
            (
                AudioConfig {
                    hop_length: 0,
                    ..base.clone()
                },
                "hop_length",
            ),
            (
                AudioConfig {
                    n_mels: 0,
                    ..base.clone()
                },
                "n_mels",
            ),
            (
                AudioConfig {
                    n_mels: 200,
                    ..base.clone()
                },
                "n_mels",
            ),
            (
                AudioConfig {
                    f_min_hz: -1.0,
                    ..base.clone()
                },
                "f_min_hz",
            ),
            (
                AudioConfig {
                    f_max_hz: 10.0,
                    ..base.clone()
                },
                "f_max_hz",
            ),
            (
                AudioConfig {
                    f_max_hz: 4001.0,
                    ..base.clone()
                },
                "Nyquist",
            ),
            (
                AudioConfig {
                    n_frames: 0,
                    ..base.clone()
                },
                "n_frames",
            ),
            (
                AudioConfig {
                    max_duration_secs: 0.0,
                    ..base.clone()
                },
                "max_duration_secs",
            ),
            (
                AudioConfig {
                    max_duration_secs: f32::NAN,
                    ..base.clone()
                },
                "max_duration_secs",
            ),
            (
                AudioConfig {
                    trim_threshold_db: 3.0,
                    ..base.clone()
                },
                "trim_threshold_db",
            ),
            (
                AudioConfig {
                    log_floor: 0.0,
                    ..base.clone()
                },
                "log_floor",
            ),
        ];
        for (cfg, field) in cases {
            match cfg.validate() {
                Err(Error::InvalidRequest(msg)) => {
                    assert!(msg.contains(field), "{msg:?} should name {field}")
                }
                other => panic!("{field}: expected InvalidRequest, got {other:?}"),
            }
        }
    }

    // ---- decoding real WAV files ----

    #[test]
    fn decodes_every_supported_encoding_mono_and_stereo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let encodings = [
            Enc::Int(8),
            Enc::Int(16),
            Enc::Int(24),
            Enc::Int(32),
            Enc::Float32,
        ];
        for enc in encodings {
            for rate in [8000u32, 44_100] {
                for n_channels in [1usize, 2] {
                    let n = rate as usize / 10;
                    let left = sine(440.0, 0.6, rate, n);
                    let right: Vec<f64> =
                        sine(1000.0, 0.3, rate, n).iter().map(|x| x + 0.1).collect();
                    let channels: Vec<Vec<f64>> =
                        [left, right].into_iter().take(n_channels).collect();
                    let name = format!("{enc:?}_{rate}_{n_channels}.wav");
                    let (path, stored) = write_wav(dir.path(), &name, enc, rate, &channels);

                    let (wave, info) = read_wav_with_info(&path).expect("decode");
                    assert_eq!(wave.sample_rate_hz, rate);
                    assert_eq!(info.channels as usize, n_channels);
                    assert!(!info.truncated);
                    assert_eq!(wave.samples.len(), n, "{name}");
                    assert!((wave.duration_secs() - 0.1).abs() < 1e-9);
                    let lsb = match enc {
                        Enc::Int(b) => 1.0 / f64::from(1u32 << (b - 1)),
                        Enc::Float32 => 0.0,
                    };
                    let mut max_err_exact = 0.0f64;
                    let mut max_err_source = 0.0f64;
                    for i in 0..n {
                        let got = f64::from(wave.samples[i]);
                        let exact = stored.iter().map(|c| c[i]).sum::<f64>() / n_channels as f64;
                        let source = channels.iter().map(|c| c[i]).sum::<f64>() / n_channels as f64;
                        max_err_exact = max_err_exact.max((got - exact).abs());
                        max_err_source = max_err_source.max((got - source).abs());
                    }
                    // Decoding is exact up to f32 rounding; quantisation costs at most half an LSB.
                    assert!(max_err_exact < 1e-6, "{name}: {max_err_exact}");
                    assert!(
                        max_err_source <= lsb / 2.0 + 1e-6,
                        "{name}: {max_err_source}"
                    );
                    // bytes and file paths agree
                    let bytes = std::fs::read(&path).expect("read");
                    assert_eq!(decode_wav_bytes(&bytes, dropped()).expect("bytes"), wave);
                    assert_eq!(read_wav(&path).expect("read_wav"), wave);
                }
            }
        }
    }

    #[test]
    fn eight_bit_wav_is_unsigned_on_disk_and_centred_when_decoded() {
        // 8-bit WAV stores 128 as zero; hand-written bytes 0, 128, 255 -> -1, 0, 127/128.
        let mut bytes = wav_header(1, 1, 8000, 8, 3);
        bytes.extend_from_slice(&[0, 128, 255]);
        let wave = decode_wav_bytes(&bytes, dropped()).expect("decode");
        assert_eq!(wave.samples, vec![-1.0, 0.0, 127.0 / 128.0]);
    }

    #[test]
    fn full_scale_integers_map_to_minus_one() {
        let mut bytes = wav_header(1, 1, 8000, 16, 4);
        bytes.extend_from_slice(&i16::MIN.to_le_bytes());
        bytes.extend_from_slice(&i16::MAX.to_le_bytes());
        let wave = decode_wav_bytes(&bytes, dropped()).expect("decode");
        assert_eq!(wave.samples[0], -1.0);
        assert!((wave.samples[1] - 32767.0 / 32768.0).abs() < 1e-7);
    }

    #[test]
    fn float_samples_are_clamped_and_nan_is_refused() {
        let mut bytes = wav_header(3, 1, 8000, 32, 8);
        bytes.extend_from_slice(&1.5f32.to_le_bytes());
        bytes.extend_from_slice(&(-0.25f32).to_le_bytes());
        let wave = decode_wav_bytes(&bytes, dropped()).expect("decode");
        assert_eq!(wave.samples, vec![1.0, -0.25]);

        let mut bytes = wav_header(3, 1, 8000, 32, 4);
        bytes.extend_from_slice(&f32::NAN.to_le_bytes());
        let reason = decode_reason(decode_wav_bytes(&bytes, dropped()).unwrap_err());
        assert!(reason.contains("NaN"), "{reason}");
    }

    #[test]
    fn many_channels_are_averaged() {
        let mut bytes = wav_header(1, 3, 8000, 16, 6);
        for v in [3000i16, -3000, 9000] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let (wave, info) = decode_wav_bytes_with_info(&bytes, dropped()).expect("decode");
        assert_eq!(info.channels, 3);
        assert!((wave.samples[0] - 3000.0 / 32768.0).abs() < 1e-7);
    }

    // ---- sox-made fixtures (an independent encoder) ----

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    #[test]
    fn decodes_sox_24bit_stereo_fixture() {
        let (wave, info) =
            read_wav_with_info(&fixture("tone_sox_16k_stereo_24bit.wav")).expect("decode");
        assert_eq!(info.sample_rate_hz, 16_000);
        assert_eq!(info.channels, 2);
        assert_eq!(info.bits_per_sample, 24);
        assert_eq!(info.sample_format, WavSampleFormat::Int);
        assert!(
            (wave.duration_secs() - 0.3).abs() < 1e-3,
            "{}",
            wave.duration_secs()
        );
        // Mono mix of 440 Hz (left) and 660 Hz (right), each at -6 dBFS (0.501), averaged.
        let dominant = dominant_frequency_hz(&wave.samples, 16_000);
        assert!(
            (dominant - 440.0).abs() < 4.0 || (dominant - 660.0).abs() < 4.0,
            "dominant {dominant} Hz"
        );
        let a440 = tone_amplitude(&wave.samples, 16_000, 440.0);
        let a660 = tone_amplitude(&wave.samples, 16_000, 660.0);
        let a1000 = tone_amplitude(&wave.samples, 16_000, 1000.0);
        assert!(
            (a440 - 0.25).abs() < 0.02 && (a660 - 0.25).abs() < 0.02,
            "{a440} {a660}"
        );
        assert!(a1000 < 0.01, "{a1000}");
    }

    #[test]
    fn decodes_sox_float_fixture() {
        let (wave, info) = read_wav_with_info(&fixture("tone_sox_f32.wav")).expect("decode");
        assert_eq!(info.sample_rate_hz, 22_050);
        assert_eq!(info.channels, 1);
        assert_eq!(info.sample_format, WavSampleFormat::Float);
        assert_eq!(wave.samples.len(), 6615);
        assert!((wave.duration_secs() - 0.3).abs() < 1e-9);
        let dominant = dominant_frequency_hz(&wave.samples, 22_050);
        assert!((dominant - 440.0).abs() < 4.0, "dominant {dominant} Hz");
        assert!(
            (wave.peak_dbfs() + 6.0).abs() < 0.1,
            "peak {} dBFS",
            wave.peak_dbfs()
        );
    }

    #[test]
    fn prepares_sox_fixture_end_to_end() {
        let cfg = AudioConfig::default();
        let path = fixture("tone_sox_16k_stereo_24bit.wav");
        let prepared = prepare_wav_file(&path, &cfg).expect("prepare");
        assert_eq!(prepared.original_sample_rate_hz, 16_000);
        assert_eq!(prepared.original_channels, 2);
        assert!((prepared.original_duration_secs - 0.3).abs() < 1e-3);
        assert!((prepared.trimmed_duration_secs - 0.3).abs() < 0.02);
        assert_eq!(prepared.waveform.sample_rate_hz, 8000);
        assert_eq!((prepared.mel.n_mels, prepared.mel.n_frames), (40, 128));
        // 0.3 s at 8 kHz -> 1 + 2400 / 64 = 38 frames of signal, then silence padding.
        let floor = cfg.log_floor.ln();
        assert!(
            prepared.mel.row(10).expect("row")[..30]
                .iter()
                .all(|&v| v > floor + 1.0)
        );
        assert!(
            prepared.mel.row(10).expect("row")[40..]
                .iter()
                .all(|&v| v == floor)
        );
    }

    // ---- bad inputs ----

    #[test]
    fn png_and_text_are_not_wav() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        let err = decode_wav_bytes(png, Path::new("cat.png")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cat.png: not a readable WAV file"),
            "{err}"
        );
        assert!(decode_reason(err).contains("not a WAV file"));

        let text = b"hello, this is a text file and not audio at all\n";
        let reason = decode_reason(decode_wav_bytes(text, dropped()).unwrap_err());
        assert!(
            reason.contains("not a WAV file: no RIFF tag found"),
            "{reason}"
        );

        let mut riff_not_wave = b"RIFF\x10\0\0\0AVI LIST".to_vec();
        riff_not_wave.extend_from_slice(&[0; 8]);
        let reason = decode_reason(decode_wav_bytes(&riff_not_wave, dropped()).unwrap_err());
        assert!(reason.contains("no WAVE tag"), "{reason}");
    }

    #[test]
    fn empty_and_truncated_headers_are_refused() {
        let reason = decode_reason(decode_wav_bytes(&[], dropped()).unwrap_err());
        assert_eq!(reason, "file is empty");

        let dir = tempfile::tempdir().expect("tempdir");
        let empty_path = dir.path().join("empty.wav");
        std::fs::write(&empty_path, b"").expect("write");
        let reason = decode_reason(read_wav(&empty_path).unwrap_err());
        assert_eq!(reason, "file is empty");

        let full = tone_wav_bytes(100, 1);
        for cut in [2usize, 4, 11, 20, 30, 40] {
            let reason = decode_reason(decode_wav_bytes(&full[..cut], dropped()).unwrap_err());
            assert!(reason.contains("truncated"), "cut {cut}: {reason}");
        }
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = read_wav(Path::new("/definitely/not/here.wav")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("/definitely/not/here.wav"));
    }

    #[test]
    fn unsupported_formats_are_refused_with_a_reason() {
        // zero channels
        let reason =
            decode_reason(decode_wav_bytes(&wav_header(1, 0, 8000, 16, 0), dropped()).unwrap_err());
        assert!(reason.contains("zero channels"), "{reason}");
        // ADPCM
        let reason =
            decode_reason(decode_wav_bytes(&wav_header(2, 1, 8000, 16, 0), dropped()).unwrap_err());
        assert!(reason.contains("unsupported encoding"), "{reason}");
        // 64-bit float
        let reason =
            decode_reason(decode_wav_bytes(&wav_header(3, 1, 8000, 64, 0), dropped()).unwrap_err());
        assert!(reason.contains("32"), "{reason}");
        // 12-bit integers (not a multiple of 8)
        let mut h = wav_header(1, 1, 8000, 16, 0);
        h[34] = 12;
        let reason = decode_reason(decode_wav_bytes(&h, dropped()).unwrap_err());
        assert!(reason.contains("multiple of 8"), "{reason}");
        // absurd sample rate
        let reason =
            decode_reason(decode_wav_bytes(&tone_header_with_rate(100), dropped()).unwrap_err());
        assert!(reason.contains("sample rate 100 Hz"), "{reason}");
        let reason = decode_reason(
            decode_wav_bytes(&tone_header_with_rate(1_000_000), dropped()).unwrap_err(),
        );
        assert!(reason.contains("sample rate 1000000 Hz"), "{reason}");
    }

    fn tone_header_with_rate(rate: u32) -> Vec<u8> {
        let mut bytes = wav_header(1, 1, rate, 16, 4);
        bytes.extend_from_slice(&[0, 1, 0, 2]);
        bytes
    }

    #[test]
    fn header_claiming_too_long_is_refused_before_reading() {
        // 16-bit mono 8 kHz claiming 0x7FFF_FFF0 samples (~268,000 s), with 4 bytes present.
        let mut bytes = wav_header(1, 1, 8000, 16, 0xFFFF_FFE0);
        bytes.extend_from_slice(&[0, 1, 0, 2]);
        match decode_wav_bytes(&bytes, Path::new("huge.wav")).unwrap_err() {
            Error::AudioTooLong {
                duration_secs,
                limit_secs,
                path,
            } => {
                assert!(duration_secs > 268_000.0, "{duration_secs}");
                assert_eq!(limit_secs, MAX_INPUT_DURATION_SECS);
                assert_eq!(path, Path::new("huge.wav"));
            }
            other => panic!("expected AudioTooLong, got {other:?}"),
        }
        // Just under the limit (590 s claimed) with almost nothing present: decodes what is
        // there without reserving memory for 590 s.
        let mut bytes = wav_header(1, 2, 384_000, 32, 590 * 384_000 * 8);
        bytes.extend_from_slice(&[0; 16]);
        let (wave, info) = decode_wav_bytes_with_info(&bytes, dropped()).expect("decode");
        assert!(info.truncated);
        assert!((info.header_duration_secs - 590.0).abs() < 1e-9);
        assert_eq!(wave.samples.len(), 2);
        assert!(wave.samples.capacity() <= bytes.len() / 8);
    }

    #[test]
    fn truncated_data_keeps_the_complete_frames() {
        let full = tone_wav_bytes(1000, 2);
        // Remove 500 frames and half of one sample more.
        let cut = &full[..full.len() - 500 * 4 - 1];
        let (wave, info) = decode_wav_bytes_with_info(cut, dropped()).expect("decode");
        assert!(info.truncated);
        assert_eq!(wave.samples.len(), 499);
        let whole = decode_wav_bytes(&full, dropped()).expect("decode");
        assert_eq!(&whole.samples[..499], &wave.samples[..]);
        // Nothing but the header: zero samples, not a panic.
        let (wave, info) = decode_wav_bytes_with_info(&full[..44], dropped()).expect("decode");
        assert!(info.truncated && wave.samples.is_empty());
    }

    #[test]
    fn silent_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = AudioConfig::default();
        let (path, _) = write_wav(
            dir.path(),
            "zeros.wav",
            Enc::Int(16),
            8000,
            &[vec![0.0; 8000]],
        );
        match prepare_wav_file(&path, &cfg).unwrap_err() {
            Error::AudioSilent { peak_dbfs, .. } => assert_eq!(peak_dbfs, f32::NEG_INFINITY),
            other => panic!("expected AudioSilent, got {other:?}"),
        }
        // A -70 dBFS hum is silence too.
        let quiet = sine(200.0, 10f64.powf(-70.0 / 20.0), 8000, 8000);
        let (path, _) = write_wav(dir.path(), "quiet.wav", Enc::Float32, 8000, &[quiet]);
        let err = prepare_wav_file(&path, &cfg).unwrap_err();
        match &err {
            Error::AudioSilent { peak_dbfs, .. } => assert!((peak_dbfs + 70.0).abs() < 0.5),
            other => panic!("expected AudioSilent, got {other:?}"),
        }
        assert!(err.to_string().contains("silent"), "{err}");
        // No samples at all.
        let (path, _) = write_wav(dir.path(), "none.wav", Enc::Int(16), 8000, &[vec![]]);
        assert!(matches!(
            prepare_wav_file(&path, &cfg),
            Err(Error::AudioSilent { .. })
        ));
    }

    #[test]
    fn too_long_after_trimming_is_refused() {
        let cfg = AudioConfig::default();
        let tone: Vec<f32> = sine(300.0, 0.5, 8000, 5 * 8000)
            .iter()
            .map(|&x| x as f32)
            .collect();
        let wave = Waveform {
            samples: tone,
            sample_rate_hz: 8000,
        };
        let err = prepare_audio(wave, 1, &cfg, Path::new("speech.wav")).unwrap_err();
        match &err {
            Error::AudioTooLong {
                duration_secs,
                limit_secs,
                ..
            } => {
                assert!((duration_secs - 5.0).abs() < 0.02, "{duration_secs}");
                assert_eq!(*limit_secs, 4.0);
            }
            other => panic!("expected AudioTooLong, got {other:?}"),
        }
        assert!(
            err.to_string().contains("5.00 s") && err.to_string().contains("4.00 s"),
            "{err}"
        );

        // The same length is fine when most of it is silence that trimming removes.
        let mut samples = vec![0.0f32; 5 * 8000];
        for (i, s) in samples.iter_mut().enumerate().skip(20_000).take(8000) {
            *s = (0.5 * (2.0 * PI * 300.0 * i as f64 / 8000.0).sin()) as f32;
        }
        let wave = Waveform {
            samples,
            sample_rate_hz: 8000,
        };
        let prepared = prepare_audio(wave, 1, &cfg, dropped()).expect("prepare");
        assert!((prepared.original_duration_secs - 5.0).abs() < 1e-9);
        assert!((prepared.trimmed_duration_secs - 1.0).abs() < 0.015);
        // 1 s -> 126 frames, fitted to 128: 2 frames of padding.
        assert_eq!(prepared.mel.n_frames, 128);

        // Longer than the hard input limit.
        let wave = Waveform {
            samples: vec![0.1; 1000],
            sample_rate_hz: 1,
        };
        assert!(matches!(
            prepare_audio(wave, 1, &cfg, dropped()),
            Err(Error::AudioTooLong { limit_secs, .. }) if limit_secs == MAX_INPUT_DURATION_SECS
        ));
    }

    #[test]
    fn prepare_rejects_an_invalid_config() {
        let cfg = AudioConfig {
            n_fft: 100,
            ..AudioConfig::default()
        };
        let wave = Waveform {
            samples: vec![0.5; 100],
            sample_rate_hz: 8000,
        };
        assert!(matches!(
            prepare_audio(wave, 1, &cfg, dropped()),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn prepares_resampled_stereo_with_silence_around() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rate = 44_100u32;
        let mut left = vec![0.0; rate as usize / 2];
        left.extend(sine(500.0, 0.5, rate, (rate as f64 * 0.6) as usize));
        left.extend(vec![0.0; rate as usize / 2]);
        let right: Vec<f64> = left.iter().map(|x| x * 0.5).collect();
        let (path, _) = write_wav(dir.path(), "padded.wav", Enc::Int(16), rate, &[left, right]);
        let bytes = std::fs::read(&path).expect("read");
        let cfg = AudioConfig::default();
        let prepared = prepare_wav_bytes(&bytes, dropped(), &cfg).expect("prepare");
        assert_eq!(prepared.original_channels, 2);
        assert_eq!(prepared.original_sample_rate_hz, rate);
        assert!((prepared.original_duration_secs - 1.6).abs() < 1e-3);
        assert!(
            (prepared.trimmed_duration_secs - 0.6).abs() <= 0.02,
            "trimmed {}",
            prepared.trimmed_duration_secs
        );
        let dominant = dominant_frequency_hz(&prepared.waveform.samples, 8000);
        assert!((dominant - 500.0).abs() < 3.0, "{dominant}");
        assert_eq!((prepared.mel.n_mels, prepared.mel.n_frames), (40, 128));
        assert!(prepared.mel.data.iter().all(|v| v.is_finite()));
    }

    // ---- resampling ----

    #[test]
    fn resampling_44k1_to_8k_keeps_pitch_length_and_alignment() {
        let src_rate = 44_100u32;
        let n_in = src_rate as usize; // 1 s
        let wave = Waveform {
            samples: sine(440.0, 0.5, src_rate, n_in)
                .iter()
                .map(|&x| x as f32)
                .collect(),
            sample_rate_hz: src_rate,
        };
        let out = resample(&wave, 8000).expect("resample");
        assert_eq!(out.sample_rate_hz, 8000);
        let expected_len = n_in as f64 * 8000.0 / 44_100.0;
        assert!((out.samples.len() as f64 - expected_len).abs() <= expected_len * 0.01);
        assert_eq!(out.samples.len(), 8000);
        let dominant = dominant_frequency_hz(&out.samples, 8000);
        assert!((dominant - 440.0).abs() < 1.0, "peak at {dominant} Hz");
        // Not shifted: away from the edges, the output is the same sine sampled at 8 kHz.
        let ideal = sine(440.0, 0.5, 8000, out.samples.len());
        let max_err = out.samples[400..7600]
            .iter()
            .zip(&ideal[400..7600])
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        eprintln!("44100->8000: max deviation from the ideal sine {max_err:.2e}");
        assert!(
            max_err < 1e-4,
            "max deviation from the ideal sine {max_err}"
        );
    }

    #[test]
    fn resampling_other_ratios_is_aligned() {
        for (from, to, freq) in [
            (8000u32, 16_000u32, 700.0),
            (22_050, 8000, 1000.0),
            (48_000, 8000, 250.0),
            (11_025, 8000, 300.0),
        ] {
            let n_in = from as usize / 2;
            let wave = Waveform {
                samples: sine(freq, 0.7, from, n_in)
                    .iter()
                    .map(|&x| x as f32)
                    .collect(),
                sample_rate_hz: from,
            };
            let out = resample(&wave, to).expect("resample");
            let expected = (n_in as f64 * f64::from(to) / f64::from(from)).round() as usize;
            assert_eq!(out.samples.len(), expected, "{from}->{to}");
            let ideal = sine(freq, 0.7, to, expected);
            let margin = expected / 10;
            let max_err = out.samples[margin..expected - margin]
                .iter()
                .zip(&ideal[margin..expected - margin])
                .map(|(a, b)| (f64::from(*a) - b).abs())
                .fold(0.0, f64::max);
            eprintln!("{from}->{to}: max deviation from the ideal sine {max_err:.2e}");
            assert!(max_err < 1e-4, "{from}->{to}: {max_err}");
        }
    }

    #[test]
    fn resampling_edge_cases() {
        let wave = Waveform {
            samples: vec![0.25; 10],
            sample_rate_hz: 8000,
        };
        assert_eq!(resample(&wave, 8000).expect("identity"), wave);
        let empty = Waveform {
            samples: vec![],
            sample_rate_hz: 44_100,
        };
        assert!(resample(&empty, 8000).expect("empty").samples.is_empty());
        let one = Waveform {
            samples: vec![0.9],
            sample_rate_hz: 44_100,
        };
        assert!(resample(&one, 8000).expect("one").samples.len() <= 1);
        let bad = Waveform {
            samples: vec![0.0; 10],
            sample_rate_hz: 0,
        };
        assert!(matches!(
            resample(&bad, 8000),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(resample(&wave, 0), Err(Error::InvalidRequest(_))));
        // Coprime rates (FFT sizes of a whole second of each) still work.
        let odd = Waveform {
            samples: vec![0.1; 5000],
            sample_rate_hz: 44_101,
        };
        let out = resample(&odd, 8000).expect("coprime");
        assert_eq!(
            out.samples.len(),
            (5000.0f64 * 8000.0 / 44_101.0).round() as usize
        );
        assert!(out.samples.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    }

    // ---- trimming ----

    #[test]
    fn trim_keeps_the_tone_between_silences() {
        let rate = 8000u32;
        let frame = (f64::from(rate) * TRIM_FRAME_SECS) as usize; // 80
        let (start, len) = (4000usize, 2400usize);
        let mut samples = vec![0.0f32; 4000 + 2400 + 4000];
        for (i, s) in samples[start..start + len].iter_mut().enumerate() {
            *s = (0.5 * (2.0 * PI * 440.0 * i as f64 / f64::from(rate)).sin()) as f32;
        }
        // A little noise floor at -80 dBFS stays below the -35 dB threshold.
        for (i, s) in samples.iter_mut().enumerate() {
            *s += if i % 2 == 0 { 1e-4 } else { -1e-4 };
        }
        let range = trim_silence(&samples, rate, -35.0);
        assert!(
            range.start + frame >= start && range.start <= start,
            "{range:?}"
        );
        assert!(
            range.end >= start + len && range.end <= start + len + frame,
            "{range:?}"
        );
    }

    #[test]
    fn trim_edge_cases() {
        assert_eq!(trim_silence(&[], 8000, -35.0), 0..0);
        assert_eq!(trim_silence(&[0.0; 1000], 8000, -35.0), 0..0);
        assert_eq!(trim_silence(&[0.5; 1000], 8000, -35.0), 0..1000);
        // Last (partial) frame loud: range ends at the clip's end.
        let mut s = vec![0.0f32; 1005];
        s[1003] = 0.9;
        assert_eq!(trim_silence(&s, 8000, -35.0), 960..1005);
        // Positive thresholds act as 0 dB; -inf keeps every non-zero frame.
        let mut s = vec![0.0f32; 800];
        s[100] = 0.1;
        s[500] = 0.9;
        assert_eq!(trim_silence(&s, 8000, 10.0), 480..560);
        assert_eq!(trim_silence(&s, 8000, f32::NEG_INFINITY), 80..560);
        // A zero rate measures single samples: 0.1 is within 35 dB of 0.9.
        assert_eq!(trim_silence(&s, 0, -35.0), 100..501);
    }

    #[test]
    fn peak_dbfs_values() {
        assert_eq!(peak_dbfs(&[]), f32::NEG_INFINITY);
        assert_eq!(peak_dbfs(&[0.0, -1.0]), 0.0);
        assert!((peak_dbfs(&[0.5]) + 6.0206).abs() < 1e-3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Corrupting bytes of a valid WAV (mostly in the header) and cutting it anywhere never
        /// panics: the decoder returns a waveform or a typed error.
        #[test]
        fn corrupted_wav_never_panics(
            edits in proptest::collection::vec((0usize..80, any::<u8>()), 0..8),
            cut in 0usize..500,
        ) {
            let mut bytes = tone_wav_bytes(100, 2);
            for (pos, value) in edits {
                if let Some(b) = bytes.get_mut(pos) {
                    *b = value;
                }
            }
            bytes.truncate(cut);
            match decode_wav_bytes(&bytes, dropped()) {
                Ok(wave) => prop_assert!(wave.samples.iter().all(|x| x.is_finite() && x.abs() <= 1.0)),
                Err(e) => {
                    let typed = matches!(
                        e,
                        Error::AudioDecode { .. } | Error::AudioTooLong { .. } | Error::Io { .. }
                    );
                    prop_assert!(typed, "unexpected error {:?}", e);
                }
            }
        }
    }

    #[test]
    fn loudness_normalisation_reaches_the_target_and_keeps_silence() {
        let mut quiet: Vec<f32> = (0..800).map(|i| 0.01 * (i as f32 * 0.3).sin()).collect();
        normalize_rms(&mut quiet, -20.0);
        let rms = (quiet.iter().map(|x| x * x).sum::<f32>() / quiet.len() as f32).sqrt();
        assert!((20.0 * rms.log10() + 20.0).abs() < 0.01, "{rms}");
        let mut zeros = vec![0.0f32; 10];
        normalize_rms(&mut zeros, -20.0);
        assert!(zeros.iter().all(|&x| x == 0.0));
    }
}
