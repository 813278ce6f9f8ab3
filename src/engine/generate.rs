//! Cross-modal generation on a loaded bundle: an input's embedding decoded by the bundle's
//! generation decoders ([`crate::model::decoder`]) into another modality's model input, made
//! visible (a 28×28 image) or audible (a log-mel turned into sound by Griffin–Lim), and read
//! back by the model itself, so the window shows the generated item as an input of its own:
//! its codes, its zero-shot label, its place on the map.

use std::time::Instant;

use crate::engine::pipeline::{EncodedInput, Pipeline};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::{float_to_vec, tensor_from_vec};
use crate::preprocess::audio::{DEFAULT_TARGET_RMS_DBFS, PreparedAudio, Waveform};
use crate::preprocess::griffin_lim::{GRIFFIN_LIM_ITERATIONS, mel_to_waveform};
use crate::preprocess::image::PreparedImage;
use crate::preprocess::mel::LogMel;

impl Pipeline {
    /// The modalities this bundle can generate (those with a decoder).
    pub fn generation_targets(&self) -> Vec<Modality> {
        self.bundle
            .decoders
            .as_ref()
            .map(|d| d.modalities())
            .unwrap_or_default()
    }

    /// Decodes `embeddings` (`[N, D]`, row-major) into `to`'s model input, as the
    /// preprocessing would produce it: images `[N, H * W]` with values in 0..1, audio
    /// `[N, n_mels * n_frames]` raw log-mel (the bundle's normalisation undone), so
    /// [`Pipeline::encode_image_batch`] and [`Pipeline::encode_mel_batch`] read them back.
    pub fn decode_batch(&self, embeddings: &[f32], to: Modality) -> Result<Vec<f32>> {
        let d = self.bundle.manifest.architecture.d_model;
        if embeddings.is_empty() || !embeddings.len().is_multiple_of(d) {
            return Err(Error::Internal(format!(
                "generation needs whole embeddings of {d} values, got {}",
                embeddings.len()
            )));
        }
        let decoder_missing = || {
            Error::InvalidRequest(format!(
                "the model `{}` has no {to} decoder (its manifest has no [generation] entry for \
                 {to}); train one with `transference decoders --model {} --data DIR`",
                self.bundle.manifest.name,
                self.bundle.dir.display()
            ))
        };
        let decoders = self.bundle.decoders.as_ref().ok_or_else(decoder_missing)?;
        let n = embeddings.len() / d;
        let x = tensor_from_vec(embeddings.to_vec(), [n, d], &self.device.device);
        let out = decoders.forward(x, to).ok_or_else(decoder_missing)?;
        let mut values = float_to_vec(out);
        if to == Modality::Audio {
            let norm = self.audio_config()?.normalization;
            values
                .iter_mut()
                .for_each(|v| *v = *v * norm.std + norm.mean);
        }
        Ok(values)
    }

    /// Shows `source` in the modality `to`: its embedding decoded, made visible or audible,
    /// and encoded again by the model. The result is named after the source.
    pub fn generate(&self, source: &EncodedInput, to: Modality) -> Result<EncodedInput> {
        if source.modality == to {
            return Err(Error::InvalidRequest(format!(
                "`{}` is already {to}; generation goes to another modality",
                source.name
            )));
        }
        let t0 = Instant::now();
        let values = self.decode_batch(&source.item.embedding, to)?;
        let name = format!("{to} generated from {}", source.name);
        match to {
            Modality::Image => {
                let prepared = self.prepared_generated_image(&values)?;
                self.encode_prepared_image(name, prepared, t0)
            }
            Modality::Audio => {
                let prepared = self.prepared_generated_audio(values)?;
                self.encode_prepared_audio(name, prepared, t0)
            }
            Modality::Text => Err(Error::InvalidRequest(
                "text is not generated: the text tower is a frozen pretrained model".into(),
            )),
        }
    }

    /// A decoded image (`H * W` values in 0..1) as the image preprocessing would give it.
    pub(crate) fn prepared_generated_image(&self, pixels01: &[f32]) -> Result<PreparedImage> {
        let cfg = self.image_config()?;
        Ok(PreparedImage {
            width: cfg.width,
            height: cfg.height,
            channels: 1,
            pixels: pixels01.iter().map(|&v| cfg.normalised_gray(v)).collect(),
            preview: pixels01
                .iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect(),
            original_width: cfg.width,
            original_height: cfg.height,
        })
    }

    /// A decoded log-mel as the audio preprocessing would give it, with a Griffin–Lim waveform
    /// to play.
    pub(crate) fn prepared_generated_audio(&self, log_mel: Vec<f32>) -> Result<PreparedAudio> {
        let cfg = &self.audio_config()?.audio;
        let mel = LogMel {
            n_mels: cfg.n_mels,
            n_frames: cfg.n_frames,
            data: log_mel,
        };
        let samples = mel_to_waveform(
            &mel,
            &cfg.mel(),
            GRIFFIN_LIM_ITERATIONS,
            cfg.target_rms_dbfs.unwrap_or(DEFAULT_TARGET_RMS_DBFS),
        );
        let waveform = Waveform {
            samples,
            sample_rate_hz: cfg.sample_rate_hz,
        };
        let duration_secs = waveform.duration_secs();
        Ok(PreparedAudio {
            waveform,
            mel,
            original_sample_rate_hz: cfg.sample_rate_hz,
            original_channels: 1,
            original_duration_secs: duration_secs,
            trimmed_duration_secs: duration_secs,
        })
    }
}
