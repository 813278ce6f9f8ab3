//! WAV decoding: bytes or a file to a mono [`Waveform`], with what the header said
//! ([`WavInfo`]). Limits ([`MAX_INPUT_DURATION_SECS`], the sample-rate range) are checked from
//! the header before any sample is read; a truncated file keeps its complete frames.

use std::io::{Cursor, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::preprocess::waveform::{
    MAX_INPUT_DURATION_SECS, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, Waveform,
};

/// How the samples of a WAV file are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavSampleFormat {
    /// Signed (or, for 8 bits, unsigned) PCM integers.
    Int,
    /// IEEE float.
    Float,
}

/// What the WAV header said about a decoded file.
#[derive(Clone, Debug, PartialEq)]
pub struct WavInfo {
    /// Sample rate, in Hz.
    pub sample_rate_hz: u32,
    /// Channel count before the mix-down to mono.
    pub channels: u16,
    /// Bits per sample (8, 16, 24 or 32).
    pub bits_per_sample: u16,
    /// Integer or float samples.
    pub sample_format: WavSampleFormat,
    /// Duration the header claims, in seconds.
    pub header_duration_secs: f64,
    /// True when the data chunk held fewer samples than the header claimed (a truncated file);
    /// the waveform then holds the complete frames that were present.
    pub truncated: bool,
}

/// Reads a WAV file and mixes it down to mono. See [`decode_wav_bytes`] for what is accepted.
pub fn read_wav(path: &Path) -> Result<Waveform> {
    read_wav_with_info(path).map(|(wave, _)| wave)
}

/// Like [`read_wav`], also returning what the header said (channel count, bit depth, ...).
pub fn read_wav_with_info(path: &Path) -> Result<(Waveform, WavInfo)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let available_bytes = file.metadata().map(|m| m.len()).ok();
    decode_reader(std::io::BufReader::new(file), available_bytes, path)
}

/// Decodes WAV bytes (e.g. a file dropped on the window) and mixes them down to mono;
/// `path` only names the audio in errors (e.g. `Path::new(DROPPED_AUDIO_PATH)`).
///
/// Accepts RIFF/WAVE PCM 8, 16, 24 (3- or 4-byte) and 32-bit integer and 32-bit IEEE float
/// samples (plain or WAVE_FORMAT_EXTENSIBLE), any channel count (averaged to mono) and any
/// sample rate in [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`]. Integers are scaled by
/// `2^(bits-1)` (8-bit WAV is unsigned with 128 as zero), floats are clamped to `[-1, 1]`.
/// A file whose data chunk ends early yields the complete frames present.
///
/// Errors: [`Error::AudioDecode`] for anything that is not such a WAV (with the reason),
/// [`Error::AudioTooLong`] when the header claims more than [`MAX_INPUT_DURATION_SECS`]
/// (checked before any sample is read).
pub fn decode_wav_bytes(bytes: &[u8], path: &Path) -> Result<Waveform> {
    decode_wav_bytes_with_info(bytes, path).map(|(wave, _)| wave)
}

/// Like [`decode_wav_bytes`], also returning what the header said.
pub fn decode_wav_bytes_with_info(bytes: &[u8], path: &Path) -> Result<(Waveform, WavInfo)> {
    decode_reader(Cursor::new(bytes), Some(bytes.len() as u64), path)
}

fn decode_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::AudioDecode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// hound reports running out of bytes as `ErrorKind::Other` ("Failed to read enough bytes.");
/// std readers as `UnexpectedEof`. Both mean the data ends early, not that the disk failed.
fn is_short_read(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
    )
}

fn describe_hound_error(err: &hound::Error) -> String {
    match err {
        hound::Error::IoError(e) if is_short_read(e) => {
            "file ends inside the header (truncated)".to_string()
        }
        hound::Error::IoError(e) => format!("read error: {e}"),
        hound::Error::FormatError(msg) => (*msg).to_string(),
        hound::Error::Unsupported => {
            "unsupported encoding (compressed or vendor-specific format)".to_string()
        }
        hound::Error::TooWide => "samples are wider than 32 bits".to_string(),
        other => other.to_string(),
    }
}

/// Decodes from any reader. `available_bytes` (file or buffer size), when known, bounds the
/// memory reserved up front whatever the header claims.
fn decode_reader<R: Read>(
    reader: R,
    available_bytes: Option<u64>,
    path: &Path,
) -> Result<(Waveform, WavInfo)> {
    if available_bytes == Some(0) {
        return Err(decode_error(path, "file is empty"));
    }
    let mut reader = hound::WavReader::new(reader).map_err(|e| match e {
        // Anything that does not start with RIFF....WAVE is not a WAV at all.
        hound::Error::FormatError(msg @ ("no RIFF tag found" | "no WAVE tag found")) => {
            decode_error(path, format!("not a WAV file: {msg}"))
        }
        hound::Error::IoError(io) if !is_short_read(&io) => Error::io(path, io),
        other => decode_error(path, describe_hound_error(&other)),
    })?;
    let spec = reader.spec();
    let channels = spec.channels;
    if channels == 0 {
        return Err(decode_error(path, "header declares zero channels"));
    }
    let sample_rate_hz = spec.sample_rate;
    if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate_hz) {
        return Err(decode_error(
            path,
            format!(
                "sample rate {sample_rate_hz} Hz is outside {MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ} Hz"
            ),
        ));
    }
    let bits = spec.bits_per_sample;
    let sample_format = match (spec.sample_format, bits) {
        (hound::SampleFormat::Int, 8 | 16 | 24 | 32) => WavSampleFormat::Int,
        (hound::SampleFormat::Float, 32) => WavSampleFormat::Float,
        (hound::SampleFormat::Int, b) => {
            return Err(decode_error(
                path,
                format!("unsupported {b}-bit integer samples"),
            ));
        }
        (hound::SampleFormat::Float, b) => {
            return Err(decode_error(
                path,
                format!("unsupported {b}-bit float samples"),
            ));
        }
    };

    let frames_claimed = u64::from(reader.duration());
    let header_duration_secs = frames_claimed as f64 / f64::from(sample_rate_hz);
    if header_duration_secs > MAX_INPUT_DURATION_SECS {
        return Err(Error::AudioTooLong {
            path: path.to_path_buf(),
            duration_secs: header_duration_secs,
            limit_secs: MAX_INPUT_DURATION_SECS,
        });
    }

    // Reserve for what the header claims, but never more than the bytes could hold.
    let bytes_per_frame = u64::from(channels) * u64::from(bits / 8).max(1);
    let frames_possible = available_bytes.map_or(frames_claimed, |b| b / bytes_per_frame);
    let capacity = usize::try_from(frames_claimed.min(frames_possible)).unwrap_or(0);

    let n_channels = usize::from(channels);
    let mut mono = Vec::with_capacity(capacity);
    let mut truncated = false;
    let mut frame_sum = 0.0f64;
    let mut in_frame = 0usize;
    let mut push = |value: f64, mono: &mut Vec<f32>| {
        frame_sum += value;
        in_frame += 1;
        if in_frame == n_channels {
            mono.push((frame_sum / n_channels as f64) as f32);
            frame_sum = 0.0;
            in_frame = 0;
        }
    };
    // A read error inside the data chunk means the file is shorter than its header says.
    let on_sample_error = |err: hound::Error, truncated: &mut bool| -> Result<()> {
        match err {
            hound::Error::IoError(ref io) if is_short_read(io) => {
                *truncated = true;
                Ok(())
            }
            hound::Error::IoError(io) => Err(Error::io(path, io)),
            other => Err(decode_error(path, describe_hound_error(&other))),
        }
    };
    match sample_format {
        WavSampleFormat::Int => {
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            for sample in reader.samples::<i32>() {
                match sample {
                    Ok(v) => push(f64::from(v) * scale, &mut mono),
                    Err(e) => {
                        on_sample_error(e, &mut truncated)?;
                        break;
                    }
                }
            }
        }
        WavSampleFormat::Float => {
            for sample in reader.samples::<f32>() {
                match sample {
                    Ok(v) if v.is_finite() => push(f64::from(v.clamp(-1.0, 1.0)), &mut mono),
                    Ok(_) => {
                        return Err(decode_error(path, "float samples contain NaN or infinity"));
                    }
                    Err(e) => {
                        on_sample_error(e, &mut truncated)?;
                        break;
                    }
                }
            }
        }
    }
    if truncated {
        tracing::warn!(
            path = %path.display(),
            frames_claimed,
            frames_read = mono.len(),
            "WAV data chunk ends early; using the complete frames present"
        );
    }
    let info = WavInfo {
        sample_rate_hz,
        channels,
        bits_per_sample: bits,
        sample_format,
        header_duration_secs,
        truncated,
    };
    Ok((
        Waveform {
            samples: mono,
            sample_rate_hz,
        },
        info,
    ))
}
