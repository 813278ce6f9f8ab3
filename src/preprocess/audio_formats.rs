//! Every audio format the app opens, detected from the content rather than the extension:
//! RIFF/WAVE goes through hound ([`crate::preprocess::audio_decode`]); FLAC, MP3, OGG/Vorbis
//! and M4A/AAC through symphonia. Both give a mono [`Waveform`] under the same limits
//! ([`MAX_INPUT_DURATION_SECS`], the sample-rate range) and the same kind of errors.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{Error, Result};
use crate::preprocess::audio_decode::{decode_wav_bytes_with_info, read_wav_with_info};
use crate::preprocess::waveform::{
    MAX_INPUT_DURATION_SECS, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, Waveform,
};

/// File extensions of the audio formats the app opens (lower case, no dot).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga", "m4a"];

/// A decoded clip: mono samples plus what the file said.
#[derive(Clone, Debug)]
pub struct DecodedAudio {
    pub wave: Waveform,
    /// Channel count before the mix-down to mono.
    pub channels: u16,
    /// The container or codec that was detected, e.g. "WAV" or "FLAC".
    pub format: String,
    /// True when the file ended before its header said it would; the complete frames present
    /// are kept.
    pub truncated: bool,
}

/// True when `head` (the first bytes of a file) starts a RIFF/WAVE file.
pub fn is_wav(head: &[u8]) -> bool {
    head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE"
}

/// Reads an audio file of any supported format (see the module docs).
pub fn read_audio(path: &Path) -> Result<DecodedAudio> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 12];
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
    if is_wav(&head[..n]) {
        let (wave, info) = read_wav_with_info(path)?;
        return Ok(DecodedAudio {
            wave,
            channels: info.channels,
            format: "WAV".into(),
            truncated: info.truncated,
        });
    }
    // Not WAV: hand the same open file, rewound, to symphonia.
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    decode_compressed(Box::new(file), path)
}

/// Decodes audio bytes of any supported format; `path` only names the audio in errors.
pub fn decode_audio_bytes(bytes: &[u8], path: &Path) -> Result<DecodedAudio> {
    if is_wav(bytes) {
        let (wave, info) = decode_wav_bytes_with_info(bytes, path)?;
        return Ok(DecodedAudio {
            wave,
            channels: info.channels,
            format: "WAV".into(),
            truncated: info.truncated,
        });
    }
    decode_compressed(Box::new(Cursor::new(bytes.to_vec())), path)
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn format_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::AudioFormat {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn too_long(path: &Path, duration_secs: f64) -> Error {
    Error::AudioTooLong {
        path: path.to_path_buf(),
        duration_secs,
        limit_secs: MAX_INPUT_DURATION_SECS,
    }
}

/// Probes the content with symphonia, decodes its first audio track and mixes it to mono.
fn decode_compressed(source: Box<dyn MediaSource>, path: &Path) -> Result<DecodedAudio> {
    let stream = MediaSourceStream::new(source, Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &Hint::new(),
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| format_error(path, format!("unrecognised content: {e}")))?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| format_error(path, "no audio track"))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let codec = symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map_or_else(
            || "unknown codec".to_string(),
            |c| c.short_name.to_uppercase(),
        );
    let sample_rate_hz = params
        .sample_rate
        .ok_or_else(|| format_error(path, "the stream does not state its sample rate"))?;
    if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate_hz) {
        return Err(format_error(
            path,
            format!(
                "sample rate {sample_rate_hz} Hz is outside {MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ} Hz"
            ),
        ));
    }
    // The header's length, when it states one, is checked before anything is decoded.
    if let Some(frames) = params.n_frames {
        let secs = frames as f64 / f64::from(sample_rate_hz);
        if secs > MAX_INPUT_DURATION_SECS {
            return Err(too_long(path, secs));
        }
    }
    let max_frames = (MAX_INPUT_DURATION_SECS * f64::from(sample_rate_hz)).ceil() as usize;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| format_error(path, format!("{codec}: {e}")))?;
    let mut mono: Vec<f32> = Vec::new();
    let mut channels = params.channels.map_or(0, |c| c.count());
    let mut truncated = false;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // The normal end of most streams; a header that promised more means truncation.
                truncated = params
                    .n_frames
                    .is_some_and(|n| (mono.len() as u64) + 1 < n.saturating_sub(4096));
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(format_error(path, format!("{codec}: {e}"))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A damaged packet: symphonia's guidance is to skip it and go on.
            Err(SymphoniaError::DecodeError(e)) => {
                tracing::warn!("{}: skipped a damaged {codec} packet: {e}", path.display());
                truncated = true;
                continue;
            }
            Err(SymphoniaError::IoError(_)) => {
                truncated = true;
                break;
            }
            Err(e) => return Err(format_error(path, format!("{codec}: {e}"))),
        };
        let spec = *decoded.spec();
        channels = spec.channels.count();
        let buf = match &mut buffer {
            Some(buf) if buf.capacity() >= decoded.capacity() * channels => buf,
            _ => buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let n = channels.max(1);
        mono.extend(
            buf.samples()
                .chunks_exact(n)
                .map(|frame| (frame.iter().sum::<f32>() / n as f32).clamp(-1.0, 1.0)),
        );
        if mono.len() > max_frames {
            return Err(too_long(
                path,
                mono.len() as f64 / f64::from(sample_rate_hz),
            ));
        }
    }
    if mono.is_empty() {
        return Err(format_error(
            path,
            format!("{codec}: no audio could be decoded"),
        ));
    }
    Ok(DecodedAudio {
        wave: Waveform {
            samples: mono,
            sample_rate_hz,
        },
        channels: u16::try_from(channels).unwrap_or(u16::MAX),
        format: codec,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::preprocess::audio::resample;

    /// Fixtures made by `tests/fixtures/audio_formats/make_fixtures.sh` from one WAV.
    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio_formats")
            .join(name)
    }

    /// The largest normalised cross-correlation of `a` and `b` over lags up to `max_lag`
    /// (lossy encoders add a delay of a few hundred samples).
    fn best_correlation(a: &[f32], b: &[f32], max_lag: usize) -> f32 {
        let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>().sqrt();
        let mut best = 0.0f32;
        for lag in 0..=max_lag {
            for (x, y) in [(a, b), (b, a)] {
                if lag >= y.len() {
                    continue;
                }
                let y = &y[lag..];
                let n = x.len().min(y.len());
                let dot: f32 = x[..n].iter().zip(&y[..n]).map(|(p, q)| p * q).sum();
                let norm = energy(&x[..n]) * energy(&y[..n]);
                if norm > 0.0 {
                    best = best.max(dot / norm);
                }
            }
        }
        best
    }

    #[test]
    fn flac_decodes_to_the_same_samples_as_its_wav() {
        let wav = read_audio(&fixture("seven.wav")).unwrap();
        let flac = read_audio(&fixture("seven.flac")).unwrap();
        assert_eq!(wav.format, "WAV");
        assert_eq!(flac.format, "FLAC");
        assert_eq!(flac.wave.sample_rate_hz, 16_000);
        assert_eq!(flac.wave.samples.len(), wav.wave.samples.len());
        let worst = wav
            .wave
            .samples
            .iter()
            .zip(&flac.wave.samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "FLAC differs from its WAV by {worst}");
    }

    /// Lossy formats: after resampling to the WAV's rate, the waveform correlates with the WAV
    /// at better than 0.95 (stated tolerance) and lasts as long within 0.1 s (encoder padding).
    #[test]
    fn lossy_formats_decode_close_to_their_wav() {
        let wav = read_audio(&fixture("seven.wav")).unwrap();
        let reference = &wav.wave;
        for (name, format, channels) in [
            ("seven.mp3", "MP3", 2),
            ("seven.ogg", "VORBIS", 1),
            ("seven.m4a", "AAC", 1),
        ] {
            let decoded = read_audio(&fixture(name)).unwrap();
            assert_eq!(decoded.format, format, "{name}");
            assert_eq!(decoded.channels, channels, "{name}");
            assert!(!decoded.truncated, "{name}");
            let at_rate = resample(&decoded.wave, reference.sample_rate_hz).unwrap();
            let dt = (at_rate.duration_secs() - reference.duration_secs()).abs();
            assert!(
                dt < 0.1,
                "{name}: lasts {dt:.3} s longer or shorter than its WAV"
            );
            let r = best_correlation(&reference.samples, &at_rate.samples, 2_000);
            assert!(r > 0.95, "{name}: correlation with its WAV {r:.3}");
        }
    }

    #[test]
    fn the_content_decides_the_decoder_not_the_extension() {
        let tmp = tempfile::tempdir().unwrap();
        let disguised = tmp.path().join("really-flac.mp3");
        std::fs::copy(fixture("seven.flac"), &disguised).unwrap();
        assert_eq!(read_audio(&disguised).unwrap().format, "FLAC");
        let bytes = std::fs::read(fixture("seven.wav")).unwrap();
        let from_bytes = decode_audio_bytes(&bytes, Path::new("dropped.ogg")).unwrap();
        assert_eq!(from_bytes.format, "WAV");
    }

    #[test]
    fn damaged_files_give_errors_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let garbage = tmp.path().join("noise.mp3");
        std::fs::write(&garbage, vec![0x5au8; 4096]).unwrap();
        let err = read_audio(&garbage).unwrap_err().to_string();
        assert!(
            err.contains("noise.mp3") && err.contains("expected WAV, FLAC, MP3, OGG/Vorbis"),
            "{err}"
        );
        // A file cut in the middle: the complete frames are kept, and it is shorter.
        let full = read_audio(&fixture("seven.mp3")).unwrap();
        match read_audio(&fixture("seven-truncated.mp3")) {
            Ok(cut) => {
                assert!(cut.wave.samples.len() < full.wave.samples.len() * 3 / 4);
                assert!(!cut.wave.samples.is_empty());
            }
            Err(e) => assert!(e.to_string().contains("seven-truncated.mp3"), "{e}"),
        }
        let empty = tmp.path().join("empty.flac");
        std::fs::write(&empty, b"").unwrap();
        let err = read_audio(&empty).unwrap_err().to_string();
        assert!(err.contains("empty.flac"), "{err}");
    }
}
