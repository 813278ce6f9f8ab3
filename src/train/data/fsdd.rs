//! FSDD: finding (or downloading) the Free Spoken Digit Dataset recordings and turning them
//! into the `audio_train` / `audio_val` sets through the crate's audio preprocessing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::fetch;
use super::progress::Log;
use super::{
    DataOptions, FSDD_TARBALL_URL, LabeledSet, SHARED_FSDD_DIR, SOURCES_DIR, SkippedItem,
    VALIDATION_SPEAKER,
};
use crate::error::{Error, Result};
use crate::preprocess::audio::{AudioConfig, Waveform, prepare_wav_file};

/// Folder (inside [`SOURCES_DIR`]) holding the downloaded `recordings/` (the name of the
/// repository, so a `git clone` made by hand there is found too).
const FSDD_SOURCE_DIR: &str = "free-spoken-digit-dataset";
/// Folder of the WAV files, in the repository and in [`FSDD_SOURCE_DIR`].
const RECORDINGS_DIR: &str = "recordings";

/// Finds the FSDD recordings, downloading them when needed: `--fsdd`, then
/// [`SHARED_FSDD_DIR`], then `DIR/sources/free-spoken-digit-dataset/recordings`, then
/// [`FSDD_TARBALL_URL`]. Returns the folder of WAV files and a note on how it was found.
pub(super) fn resolve_fsdd(opts: &DataOptions, log: &Log) -> Result<(PathBuf, String)> {
    if let Some(p) = &opts.fsdd {
        let nested = p.join(RECORDINGS_DIR);
        if nested.is_dir() {
            return Ok((nested, "given with --fsdd".into()));
        }
        if p.is_dir() {
            return Ok((p.clone(), "given with --fsdd".into()));
        }
        return Err(Error::Data {
            path: p.clone(),
            reason: "not a folder; --fsdd expects the FSDD `recordings` folder".into(),
        });
    }
    let shared = PathBuf::from(SHARED_FSDD_DIR);
    if shared.is_dir() {
        return Ok((shared, format!("found in {SHARED_FSDD_DIR}")));
    }
    let dest = opts.out.join(SOURCES_DIR).join(FSDD_SOURCE_DIR);
    let recordings = dest.join(RECORDINGS_DIR);
    if recordings.is_dir() {
        return Ok((
            recordings,
            format!("fetched earlier into {}", dest.display()),
        ));
    }
    log.info(&format!(
        "downloading the FSDD recordings from {FSDD_TARBALL_URL} into {}",
        recordings.display()
    ));
    let hint = format!(
        "without network access, pass --fsdd PATH to a folder of FSDD recordings \
         ({{digit}}_{{speaker}}_{{index}}.wav), or put them in {SHARED_FSDD_DIR} or {}",
        recordings.display()
    );
    fetch::fetch_tar_gz(
        FSDD_TARBALL_URL,
        &dest,
        &fsdd_archive_entry,
        "recordings/*.wav",
        &hint,
    )?;
    Ok((recordings, format!("downloaded from {FSDD_TARBALL_URL}")))
}

/// Where an entry of the repository archive goes under [`FSDD_SOURCE_DIR`]: only the WAV
/// files of `TOP/recordings/` are kept, as `recordings/NAME.wav`.
fn fsdd_archive_entry(path: &Path) -> Option<PathBuf> {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    match parts[..] {
        [_top, dir, name]
            if dir == RECORDINGS_DIR
                && name
                    .to_string_lossy()
                    .to_ascii_lowercase()
                    .ends_with(".wav") =>
        {
            Some(Path::new(RECORDINGS_DIR).join(name))
        }
        _ => None,
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

/// The FSDD sets, with what was read and skipped.
pub(super) struct AudioSets {
    /// Clips of every speaker but [`VALIDATION_SPEAKER`], groups = speaker index.
    pub(super) train: LabeledSet,
    /// Clips of [`VALIDATION_SPEAKER`].
    pub(super) val: LabeledSet,
    /// `(file name, trimmed waveform)` of every item of `train`, for the augmented copies.
    pub(super) train_waves: Vec<(String, Waveform)>,
    /// Trimmed waveform of every item of `val`.
    pub(super) val_waves: Vec<Waveform>,
    /// Speakers, sorted; the groups index this list.
    pub(super) speakers: Vec<String>,
    /// Files read (before skipping).
    pub(super) read: usize,
    /// Files left out, and why.
    pub(super) skipped: Vec<SkippedItem>,
}

/// Prepares every `{digit}_{speaker}_{index}.wav` of `dir` (in parallel): the validation
/// speaker's clips go to `val`, the others to `train`; bad names and bad clips are skipped.
pub(super) fn prepare_fsdd(dir: &Path, cfg: &AudioConfig, log: &mut Log) -> Result<AudioSets> {
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
        return Err(Error::Data {
            path: dir.to_path_buf(),
            reason: "no FSDD recordings ({digit}_{speaker}_{index}.wav); pass --fsdd PATH".into(),
        });
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
    let results: Vec<_> = files
        .par_iter()
        .map(|(_, _, _, path)| {
            let r = prepare_wav_file(path, cfg)
                .map(|p| (p.mel.data, p.waveform))
                .map_err(|e| e.to_string());
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut sets = AudioSets {
        train: LabeledSet::new(shape.clone()),
        val: LabeledSet::new(shape),
        train_waves: Vec::new(),
        val_waves: Vec::new(),
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
                    sets.val_waves.push(wave);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::fetch::unpack_tar_gz;
    use crate::train::data::test_support::tar_gz;

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

    /// The GitHub archive of the repository unpacks to `recordings/*.wav` only, in the folder
    /// layout [`resolve_fsdd`] finds on the next run.
    #[test]
    fn the_repository_archive_unpacks_to_its_recordings_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let archive = tmp.path().join("fsdd.tar.gz");
        let top = "free-spoken-digit-dataset-master";
        tar_gz(
            &archive,
            &[
                (&format!("{top}/README.md"), b"# FSDD".as_slice()),
                (
                    &format!("{top}/recordings/0_george_0.wav"),
                    b"RIFF0".as_slice(),
                ),
                (
                    &format!("{top}/recordings/7_jackson_12.wav"),
                    b"RIFF7".as_slice(),
                ),
                (&format!("{top}/recordings/notes.txt"), b"x".as_slice()),
                (
                    &format!("{top}/utils/recordings/1_a_1.wav"),
                    b"RIFF1".as_slice(),
                ),
                (&format!("{top}/acquire_data/say.py"), b"print()".as_slice()),
            ],
            &[],
        );
        let out = tmp.path().join("out");
        let dest = out.join(SOURCES_DIR).join(FSDD_SOURCE_DIR);
        let n = unpack_tar_gz(&archive, &dest, &fsdd_archive_entry, u64::MAX).expect("unpack");
        assert_eq!(n, 2);
        let mut names: Vec<String> = std::fs::read_dir(dest.join(RECORDINGS_DIR))
            .expect("recordings")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["0_george_0.wav", "7_jackson_12.wav"]);
        assert_eq!(
            std::fs::read(dest.join(RECORDINGS_DIR).join("7_jackson_12.wav")).expect("read"),
            b"RIFF7"
        );
        assert_eq!(
            std::fs::read_dir(&dest).expect("dest").count(),
            1,
            "only recordings/"
        );

        // The next run finds them without downloading.
        let opts = DataOptions {
            mnist: None,
            fsdd: None,
            ..DataOptions::new(&out)
        };
        if !Path::new(SHARED_FSDD_DIR).is_dir() {
            let log = Log::new(false);
            let (found, note) = resolve_fsdd(&opts, &log).expect("found");
            assert_eq!(found, dest.join(RECORDINGS_DIR));
            assert!(note.contains("earlier"), "{note}");
        }
    }
}
