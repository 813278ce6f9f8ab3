//! Synthetic speech: detecting espeak-ng, flite and Festival, planning the voices, speaking
//! every digit word with each voice (one subprocess per clip, in parallel) and preparing the
//! clips like FSDD. A few voices are kept as playable clips in [`CLIPS_DIR`].

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use std::hash::Hasher;

use rand::{RngCore, SeedableRng};
use rand_xoshiro::SplitMix64;
use rayon::prelude::*;

use super::progress::Log;
use super::{
    CLIP_RATE_PITCH, CLIP_VOICES, CLIPS_DIR, ClipInfo, DIGIT_WORDS, ESPEAK_BASE_VOICES,
    ESPEAK_PITCHES, ESPEAK_RATES, ESPEAK_VARIANTS, FLITE_STRETCH_PERCENT, LabeledSet, SYNTH_SEED,
    SkippedItem, SourceInfo, SynthInfo, SynthVoice,
};
use crate::error::{Error, Result};
use crate::preprocess::audio::{AudioConfig, Waveform, prepare_wav_file};
use crate::train::data::voices;

/// Temporary folder (inside the output folder) for generated speech; removed after use.
pub(super) const SYNTH_TMP_DIR: &str = ".synth-tmp";
/// flite voices that cannot say arbitrary words (limited-domain voices).
const FLITE_EXCLUDED_VOICES: [&str; 1] = ["awb_time"];

impl SynthVoice {
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

/// What [`prepare_synth`] made.
pub(super) struct SynthOutcome {
    /// Clips of the training voices.
    pub(super) set: LabeledSet,
    /// Clips of the held-out voices ([`voices::held_out_voices`]).
    pub(super) val: LabeledSet,
    /// Labels of the held-out voices.
    pub(super) held_out: Vec<String>,
    /// `(key, trimmed waveform)` of every item of `set`, for the augmented copies.
    pub(super) waves: Vec<(String, Waveform)>,
    /// Trimmed waveform of every item of `val`.
    pub(super) val_waves: Vec<Waveform>,
    /// Labels of every planned voice; the groups index this list.
    pub(super) voices: Vec<String>,
    /// The kept playable clips.
    pub(super) clips: Vec<ClipInfo>,
    /// Clips left out, and why.
    pub(super) skipped: Vec<SkippedItem>,
    /// One source per engine used, for the credits.
    pub(super) sources: Vec<SourceInfo>,
    /// What happened, for the metadata.
    pub(super) info: SynthInfo,
}

impl SynthOutcome {
    /// No synthetic speech: empty sets of items of shape `[n_mels, n_frames]` and `info`.
    pub(super) fn empty(cfg: &AudioConfig, info: SynthInfo) -> Self {
        Self {
            set: LabeledSet::new(vec![cfg.n_mels, cfg.n_frames]),
            val: LabeledSet::new(vec![cfg.n_mels, cfg.n_frames]),
            held_out: Vec::new(),
            waves: Vec::new(),
            val_waves: Vec::new(),
            voices: Vec::new(),
            clips: Vec::new(),
            skipped: Vec::new(),
            sources: Vec::new(),
            info,
        }
    }
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
/// one rate and one pitch drawn by SplitMix64 seeded with [`SYNTH_SEED`] xor the FNV-1a hash of
/// the voice's name (so a voice's rate and pitch depend only on its name; the [`CLIP_VOICES`]
/// at `-s160 -p50`), and every flite voice at each of [`FLITE_STRETCH_PERCENT`], every
/// Festival voice at each of [`voices::FESTIVAL_STRETCH_PERCENT`]; shuffled by SplitMix64
/// seeded with [`SYNTH_SEED`], the clip voices first. The same plan as data format 2 was
/// prepared with, so re-preparing reproduces the shipped model's voices.
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
            let mut rng = SplitMix64::seed_from_u64(SYNTH_SEED ^ fnv1a(voice));
            (
                ESPEAK_RATES[below(&mut rng, ESPEAK_RATES.len())],
                ESPEAK_PITCHES[below(&mut rng, ESPEAK_PITCHES.len())],
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
    // Fisher-Yates with the generator's own draws (not `SliceRandom::shuffle`, whose draws
    // differ), so the plan is the one the shipped model's data was prepared with.
    let mut rng = SplitMix64::seed_from_u64(SYNTH_SEED);
    for i in (1..plan.len()).rev() {
        plan.swap(i, below(&mut rng, i + 1));
    }
    plan.sort_by_key(|v| v.clip_rank().unwrap_or(usize::MAX));
    if limit > 0 {
        plan.truncate(limit);
    }
    plan
}

/// Plans the voices of the installed engines (`limit > 0` keeps the first `limit`), speaks
/// every digit word with each into a temporary folder inside `out`, prepares the clips and
/// keeps the [`CLIP_VOICES`] clips in `out/clips/`. A missing engine is a warning.
pub(super) fn prepare_synth(
    out: &Path,
    limit: usize,
    cfg: &AudioConfig,
    log: &mut Log,
) -> Result<SynthOutcome> {
    let mut outcome = SynthOutcome::empty(
        cfg,
        SynthInfo {
            requested: true,
            ..SynthInfo::default()
        },
    );
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
    let results: Vec<_> = jobs
        .par_iter()
        .map(|&(v, digit)| {
            let voice = &plan[v];
            let wav = tmp.join(format!("{v:04}_{digit}.wav"));
            let word = DIGIT_WORDS[usize::from(digit)];
            let r = synthesise(voice, word, &wav, cfg);
            let _ = std::fs::remove_file(&wav);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&tmp);

    let clips_dir = out.join(CLIPS_DIR);
    clear_clips(&clips_dir)?;
    let mut counts = [0usize; 3];
    for (&(v, digit), result) in jobs.iter().zip(results) {
        let voice = &plan[v];
        match result {
            Ok((mel, wave)) => {
                if held_out[v] {
                    outcome.val.push(&mel, digit, v as u32);
                    outcome.val_waves.push(wave.clone());
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
                    crate::preprocess::wav_write::write_wav_mono(
                        &path,
                        &wave.samples,
                        wave.sample_rate_hz,
                    )?;
                    outcome.clips.push(ClipInfo {
                        file: format!("{CLIPS_DIR}/{name}"),
                        digit,
                        voice: voice.label(),
                        duration_secs: wave.duration_secs() as f32,
                    });
                }
            }
            Err(e) => outcome.skipped.push(SkippedItem {
                file: format!("{} '{}'", voice.label(), DIGIT_WORDS[usize::from(digit)]),
                reason: e.to_string(),
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
) -> Result<(Vec<f32>, Waveform)> {
    let failed = |reason: String| Error::Data {
        path: wav.to_path_buf(),
        reason,
    };
    let output = voice
        .speak(word, wav)
        .map_err(|e| failed(format!("cannot run the synthesiser: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(failed(format!(
            "synthesiser failed ({}): {}",
            output.status,
            stderr.trim()
        )));
    }
    let prepared = prepare_wav_file(wav, cfg)?;
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

/// FNV-1a of `text` (the 64-bit hash data format 2 seeds each voice with).
fn fnv1a(text: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(text.as_bytes());
    h.finish()
}

/// A draw in `0..n` (`n > 0`) as data format 2 made it: `next_u64() % n`.
fn below(rng: &mut SplitMix64, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // A voice's rate and pitch depend on its name only: another machine with fewer voices
        // installed labels the voices it shares the same way.
        let fewer: Vec<String> = espeak.iter().step_by(5).cloned().collect();
        for voice in synth_voice_plan(&fewer, &[], &[], 0) {
            assert!(labels.contains(&voice.label()), "{}", voice.label());
        }
    }

    /// The plan the shipped model's data was prepared with (data format 2, `meta.json`'s
    /// `synth_voices` on the development machine: 96 espeak-ng, 5 flite and 3 Festival
    /// voices), so re-preparing reproduces it.
    #[test]
    fn synth_plan_reproduces_the_prepared_data() {
        let espeak: Vec<String> = ESPEAK_BASE_VOICES
            .iter()
            .flat_map(|b| ESPEAK_VARIANTS.iter().map(move |v| format!("{b}{v}")))
            .collect();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let flite = names(&["awb", "kal", "kal16", "rms", "slt"]);
        let festival = names(&["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]);
        let plan = synth_voice_plan(&espeak, &flite, &festival, 12);
        let labels: Vec<String> = plan.iter().map(SynthVoice::label).collect();
        assert_eq!(
            labels,
            [
                "en-us+f2 -s160 -p50",
                "en-gb-x-rp+m1 -s160 -p50",
                "en-us+m3 -s160 -p50",
                "en-us+f3 -s120 -p50",
                "en-gb-x-gbcwmd+f3 -s200 -p70",
                "festival:ked_diphone stretch=0.80",
                "en-gb-scotland+m2 -s120 -p30",
                "en -s200 -p50",
                "en-gb-x-gbclan+f3 -s120 -p70",
                "en-gb-x-rp+m7 -s120 -p70",
                "en+m7 -s160 -p70",
                "en-029+m3 -s120 -p70",
            ]
        );
    }
}
