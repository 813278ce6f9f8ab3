//! What a user can give the model, and how the model saw it (plain data for display).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::modality::Modality;

/// Extensions read as images.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "pgm", "ppm", "pnm", "pbm",
];
/// Extensions read as audio (WAV, FLAC, MP3, OGG/Vorbis, M4A/AAC; the decoder is then chosen
/// from the content).
pub use crate::preprocess::audio_formats::AUDIO_EXTENSIONS;

/// One input to encode.
#[derive(Clone, Debug, PartialEq)]
pub enum InputSource {
    /// An image or audio file; the modality is decided from the extension, then the content.
    File(PathBuf),
    /// Text typed by the user.
    Text(String),
    /// A drawing: gray values in 0..1, white ink on black, row-major.
    Drawing {
        width: u32,
        height: u32,
        values: Vec<f32>,
    },
    /// A gallery item of the loaded bundle, by index.
    GalleryItem(usize),
    /// A recording from a microphone: mono samples at the device's rate, analysed exactly
    /// like a decoded audio file.
    Recording {
        /// Name for lists and errors, e.g. "recording 1".
        name: String,
        samples: Vec<f32>,
        sample_rate_hz: u32,
    },
    /// Another input shown in the modality `to`: `from` is encoded, its embedding decoded by
    /// the bundle's generation decoders, and the generated image or sound encoded again.
    Generated {
        from: Box<InputSource>,
        to: Modality,
    },
}

impl InputSource {
    /// Short name for lists and notifications.
    pub fn display_name(&self) -> String {
        match self {
            InputSource::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| p.display().to_string()),
            InputSource::Text(t) => {
                let short: String = t.chars().take(40).collect();
                if short.len() < t.len() {
                    format!("\u{201c}{short}\u{2026}\u{201d}")
                } else {
                    format!("\u{201c}{short}\u{201d}")
                }
            }
            InputSource::Drawing { .. } => "drawing".into(),
            InputSource::GalleryItem(i) => format!("gallery item {i}"),
            InputSource::Recording { name, .. } => name.clone(),
            InputSource::Generated { from, to } => format!("{to} of {}", from.display_name()),
        }
    }
}

/// Modality of a file judged by its extension only (no file access; any case): the one
/// rule for which files the window, `index` and the evaluation read.
pub fn modality_from_extension(path: &Path) -> Option<Modality> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Some(Modality::Image)
    } else if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        Some(Modality::Audio)
    } else {
        None
    }
}

/// Decides whether a file is an image or audio: by extension, else by its first bytes.
pub fn modality_of_file(path: &Path) -> Result<Modality> {
    if let Some(modality) = modality_from_extension(path) {
        return Ok(modality);
    }
    let mut head = [0u8; 16];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        f.read(&mut head).map_err(|e| Error::io(path, e))?
    };
    let head = &head[..n];
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Ok(Modality::Audio);
    }
    if image::guess_format(head).is_ok() {
        return Ok(Modality::Image);
    }
    Err(Error::UnsupportedInput {
        path: path.to_path_buf(),
    })
}

/// How the model saw an input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InputView {
    Image {
        /// Model input as 8-bit pixels, HWC.
        preview: Vec<u8>,
        width: u32,
        height: u32,
        channels: u8,
        original_width: u32,
        original_height: u32,
        /// Feature-map grid `[rows, cols]` the codes are laid out on.
        grid: [usize; 2],
    },
    Audio {
        /// Waveform at the model's rate after trimming (for display and playback).
        samples: Vec<f32>,
        sample_rate_hz: u32,
        /// Log-mel the encoder read, `[n_mels][n_frames]`.
        mel: Vec<f32>,
        n_mels: usize,
        n_frames: usize,
        /// Hop between mel frames, in seconds (places a playhead on the spectrogram).
        mel_frame_secs: f64,
        /// Rate the log-mel was computed at (16 kHz for Whisper's, which resamples the clip).
        mel_sample_rate_hz: u32,
        original_sample_rate_hz: u32,
        original_duration_secs: f64,
        trimmed_duration_secs: f64,
    },
    Text {
        text: String,
        /// Token strings, [CLS] and [SEP] included; one code per token.
        tokens: Vec<String>,
        truncated: bool,
    },
    /// A gallery item of a vectors-only bundle (no encoders), or one whose media the bundle
    /// does not ship (recordings that may not be redistributed): its embedding and codes were
    /// read from the gallery, not computed here, so there is no model input to show and no
    /// code distances.
    Stored {
        /// The item's media file (thumbnail or clip), if it has one.
        media: Option<PathBuf>,
        /// The item's text, if it has one.
        text: Option<String>,
    },
}
