//! Writing mono audio as a 16-bit PCM WAV (hound), safely: the file appears complete or not
//! at all ([`crate::safe_write::write_file_with`]).

use std::path::Path;

use crate::error::{Error, Result};

/// Full scale of a 16-bit sample: `2^15`, as the decoder divides by.
const I16_SCALE: f32 = 32_768.0;

/// Writes `samples` (mono, `[-1, 1]`, clipped beyond) at `sample_rate_hz` to `path` as a 16-bit
/// PCM WAV.
///
/// Errors: [`Error::Internal`] for a sample rate of 0 (callers pass a decoded or configured
/// rate); [`Error::Write`] naming `path` when it cannot be written.
pub fn write_wav_mono(path: &Path, samples: &[f32], sample_rate_hz: u32) -> Result<()> {
    if sample_rate_hz == 0 {
        return Err(Error::Internal(format!(
            "{}: cannot write a WAV at 0 Hz",
            path.display()
        )));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let werr = |e: hound::Error| Error::Write {
        path: path.to_path_buf(),
        source: match e {
            hound::Error::IoError(io) => io,
            other => std::io::Error::other(other.to_string()),
        },
    };
    crate::safe_write::write_file_with(path, |tmp| {
        let mut w = hound::WavWriter::create(tmp, spec).map_err(werr)?;
        for &s in samples {
            // The reader's scale (2^15, audio_decode), so a written file reads back the same.
            let s = if s.is_finite() { s } else { 0.0 };
            let v = (s * I16_SCALE)
                .round()
                .clamp(f32::from(i16::MIN), f32::from(i16::MAX));
            w.write_sample(v as i16).map_err(werr)?;
        }
        w.finalize().map_err(werr)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_wav_reads_back_within_one_lsb() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("clip.wav");
        let samples: Vec<f32> = (0..800).map(|i| (i as f32 * 0.05).sin() * 0.8).collect();
        write_wav_mono(&path, &samples, 8_000).unwrap();
        let back = crate::preprocess::audio_decode::read_wav(&path).unwrap();
        assert_eq!(back.sample_rate_hz, 8_000);
        assert_eq!(back.samples.len(), samples.len());
        for (a, b) in samples.iter().zip(&back.samples) {
            assert!((a - b).abs() <= 0.5 / I16_SCALE + 1e-7, "{a} vs {b}");
        }
        // Nothing else is left in the folder (no temporary file).
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn zero_rate_and_unwritable_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_wav_mono(&dir.path().join("a.wav"), &[0.0], 0).unwrap_err();
        assert!(e.to_string().contains("0 Hz"));
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let e = write_wav_mono(&blocker.join("a.wav"), &[0.0], 8_000).unwrap_err();
        assert!(e.to_string().contains("file"), "{e}");
    }
}
