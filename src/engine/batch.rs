//! Batch encoding of already prepared items (evaluation, index building): the encoders and
//! normalisation of [`Pipeline::encode`], many items per forward pass, no per-item views.
//! Also the window's many-inputs path: files preprocessed in parallel ([`prepare_files`]),
//! then encoded a modality at a time into full [`EncodedInput`]s
//! ([`Pipeline::encode_prepared_batch`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::bundle::manifest::AudioPreprocess;
use crate::engine::input::{InputView, modality_of_file};
use crate::engine::ms_since;
use crate::engine::{EncodedInput, Pipeline};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::speech_encoder::leading_feature_rows;
use crate::model::{EncodedItem, positions_mask, tensor_from_vec};
use crate::preprocess::mel::LogMel;
use crate::preprocess::waveform::Waveform;
use crate::preprocess::whisper_mel::{
    WHISPER_HOP_LENGTH, WHISPER_N_MELS, WHISPER_SAMPLE_RATE_HZ, WhisperMel, speech_windows,
    window_batches,
};
use crate::preprocess::{audio, image as img};

/// Items per forward pass.
pub const BATCH_ITEMS: usize = 256;

impl Pipeline {
    /// Encodes model-view images: `pixels` is `[N, H * W]` (one channel, values in 0..1, the
    /// bundle's image size), normalised here with the bundle's mean and std. One item per image.
    pub fn encode_image_batch(&self, pixels: &[f32]) -> Result<Vec<EncodedItem>> {
        let cfg = self.image_config()?;
        let normalised: Vec<f32> = pixels.iter().map(|&v| cfg.normalised_gray(v)).collect();
        self.encode_normalised_image_batch(&normalised)
    }

    /// Encodes log-mel spectrograms: `mels` is `[N, n_mels * n_frames]` as the preprocessing
    /// computes them, normalised here with the bundle's feature normalisation.
    pub fn encode_mel_batch(&self, mels: &[f32]) -> Result<Vec<EncodedItem>> {
        let pre = self.audio_config()?;
        let (m, f) = (pre.audio.n_mels, pre.audio.n_frames);
        let norm = pre.normalization;
        self.batched(mels, m * f, Modality::Audio, |values, n| {
            let x: Vec<f32> = values.iter().map(|v| (v - norm.mean) / norm.std).collect();
            let x = tensor_from_vec(x, [n, m, f], &self.device.device);
            self.bundle.model.encode_audio(x, self.source())
        })
    }

    /// Encodes prepared clips through the bundle's audio encoder, in input order (see
    /// [`Pipeline::encode_clips_read`]): evaluation, the gallery and the index, which do not
    /// show the log-mel read.
    pub fn encode_prepared_clips(
        &self,
        clips: &[&audio::PreparedAudio],
    ) -> Result<Vec<EncodedItem>> {
        Ok(self
            .encode_clips_read(clips)?
            .into_iter()
            .map(|(item, _)| item)
            .collect())
    }

    /// Encodes prepared clips through the bundle's audio encoder, in input order, each with
    /// the log-mel the encoder read: the frozen speech encoder (each clip in its Whisper
    /// window, computed once here for the encoder and the view, clips of one window length
    /// batched, positions past the clip masked) or the log-mel encoder of older bundles. The
    /// single clip of [`Pipeline::encode`] and the window's batches both come here.
    pub(crate) fn encode_clips_read(
        &self,
        clips: &[&audio::PreparedAudio],
    ) -> Result<Vec<(EncodedItem, MelRead)>> {
        let Some(speech) = self.bundle.manifest.architecture.speech.as_ref() else {
            let cfg = &self.audio_config()?.audio;
            let (frame_secs, sample_rate_hz) = (
                cfg.hop_length as f64 / f64::from(cfg.sample_rate_hz.max(1)),
                cfg.sample_rate_hz,
            );
            let mels: Vec<f32> = clips
                .iter()
                .flat_map(|c| c.mel.data.iter().copied())
                .collect();
            let items = self.encode_mel_batch(&mels)?;
            let reads = clips.iter().map(|c| MelRead {
                mel: c.mel.clone(),
                frame_secs,
                sample_rate_hz,
            });
            return Ok(items.into_iter().zip(reads).collect());
        };
        let waves: Vec<&Waveform> = clips.iter().map(|c| &c.waveform).collect();
        let windows = speech_windows(&waves)?;
        let mut out: Vec<Option<EncodedItem>> = vec![None; clips.len()];
        for group in window_batches(&windows) {
            let positions: Vec<usize> = group
                .clip_frames
                .iter()
                .map(|&f| speech.clip_positions(f))
                .collect();
            let x = tensor_from_vec(
                group.mel,
                [group.items.len(), WHISPER_N_MELS, group.frames],
                &self.device.device,
            );
            let batch = self
                .bundle
                .model
                .encode_speech(x, &positions, self.source())
                .ok_or_else(|| self.missing(Modality::Audio))?;
            for (item, &i) in batch
                .to_items(Modality::Audio)
                .into_iter()
                .zip(&group.items)
            {
                out[i] = Some(item);
            }
        }
        Ok(out
            .into_iter()
            .zip(&windows)
            .filter_map(|(item, w)| Some((item?, MelRead::of_window(w))))
            .collect())
    }

    /// Encodes cached frozen speech features (`[N, positions * H]`, zero rows past each clip,
    /// as [`crate::train::data::speech_cache`] stores them) through the adapter and the
    /// codebook: evaluation on prepared data.
    pub fn encode_speech_features(
        &self,
        values: &[f32],
        positions: usize,
    ) -> Result<Vec<EncodedItem>> {
        let speech = self
            .bundle
            .model
            .speech
            .as_ref()
            .ok_or_else(|| self.missing(Modality::Audio))?;
        let width = self
            .bundle
            .manifest
            .architecture
            .speech
            .as_ref()
            .map(|s| s.whisper.d_model)
            .unwrap_or(1);
        self.batched(values, positions * width, Modality::Audio, |values, n| {
            let real: Vec<usize> = values
                .chunks_exact(positions * width)
                .map(|item| leading_feature_rows(item, width))
                .collect();
            let x = tensor_from_vec(values.to_vec(), [n, positions, width], &self.device.device);
            let mask = positions_mask(&real, positions, &self.device.device);
            Some(
                self.bundle
                    .model
                    .quantize_and_pool(speech.adapt(x), mask, self.source()),
            )
        })
    }

    /// Runs `encode` on chunks of [`BATCH_ITEMS`] items of `item_len` floats each.
    fn batched(
        &self,
        values: &[f32],
        item_len: usize,
        modality: Modality,
        encode: impl Fn(&[f32], usize) -> Option<crate::model::EncodedBatch>,
    ) -> Result<Vec<EncodedItem>> {
        if item_len == 0 || !values.len().is_multiple_of(item_len) {
            return Err(Error::Internal(format!(
                "{} {modality} values are not a whole number of items of {item_len}",
                values.len()
            )));
        }
        let mut out = Vec::with_capacity(values.len() / item_len);
        for chunk in values.chunks(BATCH_ITEMS * item_len) {
            let batch =
                encode(chunk, chunk.len() / item_len).ok_or_else(|| self.missing(modality))?;
            out.extend(batch.to_items(modality));
        }
        Ok(out)
    }
}

/// A file preprocessed off the model, ready for [`Pipeline::encode_prepared_batch`].
pub enum PreparedFile {
    Image {
        name: String,
        prepared: img::PreparedImage,
        preprocess_ms: f64,
    },
    Audio {
        name: String,
        prepared: audio::PreparedAudio,
        preprocess_ms: f64,
    },
}

/// The items of one modality's forward pass, handed out in order; when the pass failed, its
/// error for each item, as an internal failure: the inputs were already read and checked, so
/// a failing forward pass is not something the user can fix.
struct ItemStream<T> {
    items: std::vec::IntoIter<T>,
    error: Option<String>,
}

impl<T> ItemStream<T> {
    /// Runs `encode` when there is anything to encode.
    fn new(n: usize, encode: impl FnOnce() -> Result<Vec<T>>) -> Self {
        let (items, error) = match (n > 0).then(encode) {
            Some(Ok(items)) => (items, None),
            Some(Err(e)) => (Vec::new(), Some(e.to_string())),
            None => (Vec::new(), None),
        };
        ItemStream {
            items: items.into_iter(),
            error,
        }
    }

    fn next(&mut self) -> Result<T> {
        if let Some(e) = &self.error {
            return Err(Error::Internal(format!("encoding the batch failed: {e}")));
        }
        self.items
            .next()
            .ok_or_else(|| Error::Internal("batch encoding gave too few items".into()))
    }
}

/// What file preprocessing needs from a bundle (plain data, shareable across threads).
#[derive(Clone, Debug)]
pub struct FileConfigs {
    pub image: Option<img::ImageConfig>,
    pub audio: Option<AudioPreprocess>,
    /// The model's modalities, for the missing-modality error.
    pub modalities: Vec<Modality>,
}

impl Pipeline {
    /// The preprocessing settings for files, to use away from the pipeline.
    pub fn file_configs(&self) -> FileConfigs {
        FileConfigs {
            image: self.image_config().ok().cloned(),
            audio: self.audio_config().ok().cloned(),
            modalities: self.modalities(),
        }
    }

    /// Encodes preprocessed files into full [`EncodedInput`]s, the same as
    /// [`Pipeline::encode`] gives for each file, one forward pass per modality (in chunks of
    /// [`BATCH_ITEMS`]). Results keep the order of `files`; a failed forward pass fails every
    /// item of that modality with the same error.
    pub fn encode_prepared_batch(&self, files: Vec<PreparedFile>) -> Vec<Result<EncodedInput>> {
        let mut image_pixels = Vec::new();
        let mut clips_in = Vec::new();
        for f in &files {
            match f {
                PreparedFile::Image { prepared, .. } => {
                    image_pixels.extend_from_slice(&prepared.pixels);
                }
                PreparedFile::Audio { prepared, .. } => clips_in.push(prepared),
            }
        }
        let n_images = files
            .iter()
            .filter(|f| matches!(f, PreparedFile::Image { .. }))
            .count();
        let n_audio = files.len() - n_images;
        let t = Instant::now();
        let mut images = ItemStream::new(n_images, || {
            self.encode_normalised_image_batch(&image_pixels)
        });
        let image_ms = ms_since(t) / n_images.max(1) as f64;
        let t = Instant::now();
        let mut clips = ItemStream::new(n_audio, || self.encode_clips_read(&clips_in));
        let audio_ms = ms_since(t) / n_audio.max(1) as f64;
        files
            .into_iter()
            .map(|f| match f {
                PreparedFile::Image {
                    name,
                    prepared,
                    preprocess_ms,
                } => {
                    let item = images.next()?;
                    self.image_input(name, prepared, item, preprocess_ms, image_ms)
                }
                PreparedFile::Audio {
                    name,
                    prepared,
                    preprocess_ms,
                } => {
                    let read = clips.next()?;
                    Ok(self.audio_input(name, prepared, read, preprocess_ms, audio_ms))
                }
            })
            .collect()
    }

    /// Encodes images already normalised by the preprocessing: `pixels` is `[N, C * H * W]`
    /// (CHW per image, the bundle's channels and size).
    pub(crate) fn encode_normalised_image_batch(&self, pixels: &[f32]) -> Result<Vec<EncodedItem>> {
        let cfg = self.image_config()?;
        let (c, h, w) = (
            usize::from(cfg.channels),
            cfg.height as usize,
            cfg.width as usize,
        );
        self.batched(pixels, c * h * w, Modality::Image, |values, n| {
            let x = tensor_from_vec(values.to_vec(), [n, c, h, w], &self.device.device);
            self.bundle.model.encode_image(x, self.source())
        })
    }

    /// The full result for one encoded image (the one place an image's view is built).
    pub(crate) fn image_input(
        &self,
        name: String,
        prepared: img::PreparedImage,
        item: EncodedItem,
        preprocess_ms: f64,
        encode_ms: f64,
    ) -> Result<EncodedInput> {
        let grid = self
            .bundle
            .manifest
            .architecture
            .image
            .as_ref()
            .ok_or_else(|| self.missing(Modality::Image))?
            .grid();
        Ok(EncodedInput {
            name,
            modality: Modality::Image,
            view: InputView::Image {
                preview: prepared.preview,
                width: prepared.width,
                height: prepared.height,
                channels: prepared.channels,
                original_width: prepared.original_width,
                original_height: prepared.original_height,
                grid,
            },
            item,
            preprocess_ms,
            encode_ms,
        })
    }

    /// The full result for one encoded clip (the one place a clip's view is built).
    pub(crate) fn audio_input(
        &self,
        name: String,
        prepared: audio::PreparedAudio,
        (item, read): (EncodedItem, MelRead),
        preprocess_ms: f64,
        encode_ms: f64,
    ) -> EncodedInput {
        let MelRead {
            mel,
            frame_secs: mel_frame_secs,
            sample_rate_hz: mel_sample_rate_hz,
        } = read;
        EncodedInput {
            name,
            modality: Modality::Audio,
            view: InputView::Audio {
                samples: prepared.waveform.samples,
                sample_rate_hz: prepared.waveform.sample_rate_hz,
                mel: mel.data,
                n_mels: mel.n_mels,
                n_frames: mel.n_frames,
                mel_frame_secs,
                mel_sample_rate_hz,
                original_sample_rate_hz: prepared.original_sample_rate_hz,
                original_duration_secs: prepared.original_duration_secs,
                trimmed_duration_secs: prepared.trimmed_duration_secs,
            },
            item,
            preprocess_ms,
            encode_ms,
        }
    }
}

/// The log-mel an audio encoder read of one clip, as its view shows it, with its hop in
/// seconds and the rate it was computed at: for a frozen speech encoder, Whisper's 80-bin
/// log-mel of the clip at 16 kHz, the frames that cover the clip (the rest of its window is
/// silence, which gets no code); for the log-mel encoder of older bundles, the prepared
/// log-mel itself.
#[derive(Clone, Debug)]
pub(crate) struct MelRead {
    pub mel: LogMel,
    pub frame_secs: f64,
    pub sample_rate_hz: u32,
}

impl MelRead {
    fn of_window(window: &WhisperMel) -> Self {
        let clip = window.clip_frames.min(window.mel.n_frames);
        let data = (0..window.mel.n_mels)
            .flat_map(|m| window.mel.row(m).and_then(|r| r.get(..clip)).unwrap_or(&[]))
            .copied()
            .collect();
        MelRead {
            mel: LogMel {
                n_mels: window.mel.n_mels,
                n_frames: clip,
                data,
            },
            frame_secs: WHISPER_HOP_LENGTH as f64 / f64::from(WHISPER_SAMPLE_RATE_HZ),
            sample_rate_hz: WHISPER_SAMPLE_RATE_HZ,
        }
    }
}

/// Preprocesses image and audio files in parallel (rayon), in order. Each file succeeds or
/// fails alone (a panic in a decoder included); a file of another kind (text) is refused as
/// [`Error::UnsupportedInput`].
pub fn prepare_files(paths: &[PathBuf], configs: &FileConfigs) -> Vec<Result<PreparedFile>> {
    paths
        .par_iter()
        .map(|p| {
            std::panic::catch_unwind(|| prepare_file(p, configs)).unwrap_or_else(|_| {
                Err(Error::Internal(format!(
                    "{}: preprocessing panicked",
                    p.display()
                )))
            })
        })
        .collect()
}

fn prepare_file(path: &Path, configs: &FileConfigs) -> Result<PreparedFile> {
    let name = crate::engine::InputSource::File(path.to_path_buf()).display_name();
    let t0 = Instant::now();
    let missing = |m: Modality| Error::MissingModality {
        modality: m.name().into(),
        available: configs
            .modalities
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", "),
    };
    match modality_of_file(path)? {
        Modality::Image => {
            let cfg = configs
                .image
                .as_ref()
                .ok_or_else(|| missing(Modality::Image))?;
            let prepared = img::prepare_image_file(path, cfg)?;
            Ok(PreparedFile::Image {
                name,
                prepared,
                preprocess_ms: ms_since(t0),
            })
        }
        Modality::Audio => {
            let cfg = configs
                .audio
                .as_ref()
                .ok_or_else(|| missing(Modality::Audio))?;
            let prepared = audio::prepare_audio_file(path, &cfg.audio)?;
            Ok(PreparedFile::Audio {
                name,
                prepared,
                preprocess_ms: ms_since(t0),
            })
        }
        Modality::Text => Err(Error::UnsupportedInput {
            path: path.to_path_buf(),
        }),
    }
}
