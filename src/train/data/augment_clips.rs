//! The data-preparation pass that writes augmented copies of every training clip (the
//! `audio_aug` set of `transference data`), with the effects of [`crate::train::data::augment_audio`].

use std::path::PathBuf;
use std::time::Instant;

use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::preprocess::audio::{AudioConfig, Waveform, prepare_audio};
use crate::train::data::augment_audio::{AugmentRanges, Augmentation};
use crate::train::data::{LabeledSet, SkippedItem};
use crate::train::stable_hash;

/// Augmented copies written per training clip by `transference data`.
pub const AUG_COPIES: usize = 3;
/// Seed of the augmented copies (with each clip's key and copy number).
pub const AUG_SEED: u64 = 0x6175_676d_656e_7431;

/// A training clip to augment: its prepared (resampled, trimmed, loudness-normalised)
/// waveform, label and group.
#[derive(Clone, Copy, Debug)]
pub struct AugSource<'a> {
    /// A stable name for the clip (FSDD file name, or voice label and word): seeds its copies.
    pub key: &'a str,
    /// The samples.
    pub samples: &'a [f32],
    /// Their sample rate.
    pub sample_rate_hz: u32,
    /// Digit 0..9.
    pub label: u8,
    /// Group written for every copy (see [`AugmentInfo::voice_group_offset`]).
    pub group: u32,
}

/// How `audio_aug` was made; stored in the data's metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentInfo {
    /// Copies per training clip ([`AUG_COPIES`]); 0 when no copies were made.
    pub copies: usize,
    /// [`AUG_SEED`].
    pub seed: u64,
    /// Training clips augmented.
    pub sources: usize,
    /// Copies written.
    pub clips: usize,
    /// Copies left out (listed with the data's skipped items).
    pub skipped: usize,
    /// Groups of `audio_aug`: below this value an FSDD speaker (index into `meta.speakers`);
    /// from it on a synthetic voice (`group - voice_group_offset` indexes `meta.synth_voices`).
    pub voice_group_offset: usize,
    /// The ranges the effects were drawn from.
    pub ranges: AugmentRanges,
    /// Wall time of the pass, in seconds.
    pub elapsed_secs: f64,
}

/// What [`augment_sources`] made.
#[derive(Clone, Debug)]
pub struct AugmentOutcome {
    /// The augmented log-mels, `copies` per source in source order.
    pub set: LabeledSet,
    /// The prepared (trimmed, normalised) waveform of every item of `set`.
    pub waves: Vec<Waveform>,
    /// Copies that the preprocessing refused (too long, silent), and why.
    pub skipped: Vec<SkippedItem>,
    /// Counts and settings (`voice_group_offset` is left 0 for the caller to fill).
    pub info: AugmentInfo,
}

/// Writes `copies` augmented copies of every source through the crate's preprocessing
/// ([`prepare_audio`] with `cfg`: resample, trim, loudness normalisation, log-mel), in
/// parallel (rayon). Each copy is capped at the encoder's window (`cfg.n_frames` frames) by
/// cutting reverb tail and trailing silence, never speech. Copy `k` of a source is drawn with a ChaCha8 generator seeded by
/// `stable_hash(seed, "{key}#{k}")`, so it does not depend on thread scheduling; babble mixes
/// [`BABBLE_TALKERS`] other sources drawn by the same generator. `progress` advances once per
/// copy.
pub fn augment_sources(
    sources: &[AugSource<'_>],
    cfg: &AudioConfig,
    copies: usize,
    seed: u64,
    progress: &ProgressBar,
) -> AugmentOutcome {
    let start = Instant::now();
    let ranges = AugmentRanges::default();
    let jobs = sources.len() * copies;
    let results: Vec<Result<(Vec<f32>, Waveform)>> = (0..jobs)
        .into_par_iter()
        .map(|j| {
            let (i, k) = (j / copies, j % copies);
            let src = &sources[i];
            let mut rng = ChaCha8Rng::seed_from_u64(stable_hash(seed, format!("{}#{k}", src.key)));
            let aug = Augmentation::sample(&ranges, &mut rng);
            let (lo, hi) = ranges.babble_talkers;
            let talkers = rng.random_range(lo..=hi.max(lo));
            // Other sources only (an index drawn among the others, then shifted past `i`).
            let babble: Vec<&[f32]> = if sources.len() > 1 {
                (0..talkers)
                    .map(|_| {
                        let o = rng.random_range(0..sources.len() - 1);
                        sources[if o >= i { o + 1 } else { o }].samples
                    })
                    .collect()
            } else {
                Vec::new()
            };
            // The encoder's window, `n_frames` STFT frames, in samples at the source's rate.
            let window = (cfg.n_frames.saturating_sub(1) * cfg.hop_length) as u64
                * u64::from(src.sample_rate_hz)
                / u64::from(cfg.sample_rate_hz.max(1));
            let result = aug
                .apply(
                    src.samples,
                    src.sample_rate_hz,
                    &babble,
                    Some(window as usize),
                    &mut rng,
                )
                .and_then(|samples| {
                    let name = PathBuf::from(format!("{} (augmented copy {k})", src.key));
                    let wave = Waveform {
                        samples,
                        sample_rate_hz: src.sample_rate_hz,
                    };
                    prepare_audio(wave, 1, cfg, &name)
                })
                .map(|p| (p.mel.data, p.waveform));
            progress.inc(1);
            result
        })
        .collect();
    let mut set = LabeledSet::new(vec![cfg.n_mels, cfg.n_frames]);
    let mut skipped = Vec::new();
    let mut waves = Vec::new();
    for (j, result) in results.into_iter().enumerate() {
        let (src, k) = (&sources[j / copies], j % copies);
        match result {
            Ok((mel, wave)) => {
                set.features.extend_from_slice(&mel);
                waves.push(wave);
                set.labels.push(src.label);
                set.groups.push(src.group);
            }
            Err(e) => skipped.push(SkippedItem {
                file: format!("{} (augmented copy {k})", src.key),
                reason: e.to_string(),
            }),
        }
    }
    let info = AugmentInfo {
        copies,
        seed,
        sources: sources.len(),
        clips: set.len(),
        skipped: skipped.len(),
        voice_group_offset: 0,
        ranges,
        elapsed_secs: start.elapsed().as_secs_f64(),
    };
    AugmentOutcome {
        set,
        waves,
        skipped,
        info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 8000;

    fn sine(freq: f64, secs: f64, amp: f32) -> Vec<f32> {
        crate::train::data::augment_audio::test_sine(freq, secs, amp, SR)
    }

    #[test]
    fn augmented_copies_go_through_the_preprocessing() {
        let cfg = AudioConfig::default();
        let a = sine(300.0, 0.5, 0.1);
        let b = sine(500.0, 0.6, 0.1);
        let silent = vec![0.0f32; 4000];
        let sources = [
            AugSource {
                key: "a",
                samples: &a,
                sample_rate_hz: SR,
                label: 3,
                group: 1,
            },
            AugSource {
                key: "b",
                samples: &b,
                sample_rate_hz: SR,
                label: 7,
                group: 9,
            },
            AugSource {
                key: "silent",
                samples: &silent,
                sample_rate_hz: SR,
                label: 1,
                group: 0,
            },
        ];
        let out = augment_sources(&sources, &cfg, 2, AUG_SEED, &ProgressBar::hidden());
        assert_eq!(out.set.len(), 4, "{:?}", out.skipped);
        assert_eq!(out.set.labels, vec![3, 3, 7, 7]);
        assert_eq!(out.set.groups, vec![1, 1, 9, 9]);
        assert_eq!(out.set.feature_shape, vec![cfg.n_mels, cfg.n_frames]);
        assert_eq!(out.skipped.len(), 2);
        assert!(out.skipped[0].file.contains("silent"));
        assert_eq!(
            (
                out.info.copies,
                out.info.sources,
                out.info.clips,
                out.info.skipped
            ),
            (2, 3, 4, 2)
        );
        assert_ne!(out.set.item(0), out.set.item(1), "two copies differ");
        // Deterministic.
        let again = augment_sources(&sources, &cfg, 2, AUG_SEED, &ProgressBar::hidden());
        assert_eq!(again.set.features, out.set.features);
        assert!(
            augment_sources(&sources, &cfg, 0, AUG_SEED, &ProgressBar::hidden())
                .set
                .is_empty()
        );
    }
}
