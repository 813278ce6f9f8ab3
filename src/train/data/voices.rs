//! Synthetic voices beyond espeak-ng and flite: Festival detection and its command line, and
//! the rule that holds whole synthetic voices out of training for validation.
//!
//! **Festival** (Debian `festival` plus `festvox-*` voice packages): every English voice of
//! [`FESTIVAL_ENGLISH_VOICES`] that `festival` lists is used at each tempo of
//! [`FESTIVAL_STRETCH_PERCENT`]. A word is spoken by
//! `text2wave -eval "(voice_NAME)" -eval "(Parameter.set 'Duration_Stretch S)" -o OUT.wav`
//! with the word on stdin; HTS voices ignore `Duration_Stretch`, so they also get the
//! hts_engine speed rate `-r 1/S`. No festival means no festival voices (a warning).
//!
//! **Held-out voices** ([`held_out_voices`]): whole voices, never single clips, chosen by a
//! stable hash ([`stable_hash`] with [`HELD_OUT_SEED`]) of family names, so the choice depends
//! only on which voices are planned, not on their order or on the run:
//!
//! 1. espeak-ng: the base accent (e.g. `en-gb-scotland`) with the lowest hash among the planned
//!    bases: every voice of that accent, all its variants;
//! 2. flite and Festival: voices are grouped by the recorded speaker behind them
//!    ([`speaker_family`]: flite `kal` and `kal16` and Festival `kal_diphone` are all `kal`;
//!    flite `slt` and Festival `cmu_us_slt_arctic_hts` are both `slt`). The speaker with the
//!    lowest hash among those planned is held out in every engine that has it (so no speaker
//!    is on both sides); if that leaves flite (or Festival) without a held-out voice, the
//!    lowest-hash speaker among that engine's speakers is held out too.
//!
//! With the voices of this workplace (8 espeak-ng accents x 12 variants, 5 flite voices and 3
//! Festival voices, each flite/Festival voice at 3 tempos: 120 voices) this holds out the
//! espeak-ng accent `en` (12 voices) and the speaker `slt` (flite `slt` and Festival
//! `cmu_us_slt_arctic_hts`, 3 tempos each): 18 voices, 15 %. [`HELD_OUT_RULE`] is the one-line
//! summary stored in the metadata.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::train::data::SynthVoice;
use crate::train::stable_hash;

/// English Festival voices used when installed (name as in `(voice.list)`), in plan order.
/// Voices of other languages would say the English digit words with foreign phonetics.
pub const FESTIVAL_ENGLISH_VOICES: [&str; 10] = [
    "kal_diphone",
    "ked_diphone",
    "rab_diphone",
    "don_diphone",
    "cmu_us_slt_arctic_hts",
    "cmu_us_bdl_arctic_hts",
    "cmu_us_jmk_arctic_hts",
    "cmu_us_awb_cg",
    "cmu_us_rms_cg",
    "cmu_us_clb_arctic_clunits",
];
/// Festival duration stretches in percent (100 = normal tempo); every voice gets all three.
pub const FESTIVAL_STRETCH_PERCENT: [u32; 3] = [80, 100, 125];
/// The program that speaks text into a WAV file (part of the `festival` package).
pub const TEXT2WAVE: &str = "text2wave";
/// Suffix of Festival voices synthesised by hts_engine (they need `-r` for tempo).
const HTS_SUFFIX: &str = "_hts";
/// Seed of the held-out voice choice.
pub const HELD_OUT_SEED: u64 = 0x6865_6c64_6f75_7431;
/// The held-out rule in one line, stored in the data's metadata.
pub const HELD_OUT_RULE: &str = "whole voices held out by a stable hash (seed HELD_OUT_SEED): \
    the espeak-ng base accent with the lowest hash (all its variants); the flite/Festival \
    speaker with the lowest hash in every engine that has it, plus the lowest-hash speaker of \
    any engine left without a held-out voice";

/// The English Festival voices installed (in [`FESTIVAL_ENGLISH_VOICES`] order) and the
/// engine's version line; `None` when `festival` or [`TEXT2WAVE`] cannot run.
pub fn detect_festival() -> Option<(Vec<String>, String)> {
    let version = Command::new("festival").arg("--version").output().ok()?;
    // "festival: Festival Speech Synthesis System: 2.5.0:release December 2017"
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .map(|l| l.trim_start_matches("festival:").trim().to_string())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "Festival".to_string());
    Command::new(TEXT2WAVE).arg("-h").output().ok()?;
    let listing = Command::new("festival")
        .arg("--batch")
        .arg("(print (voice.list))")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some((
        parse_voice_list(&String::from_utf8_lossy(&listing.stdout)),
        version,
    ))
}

/// The [`FESTIVAL_ENGLISH_VOICES`] named in festival's `(voice.list)` output
/// (`(cmu_us_slt_arctic_hts ked_diphone kal_diphone)`), in that constant's order.
pub fn parse_voice_list(text: &str) -> Vec<String> {
    let listed: BTreeSet<&str> = text
        .split(|c: char| c == '(' || c == ')' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    FESTIVAL_ENGLISH_VOICES
        .iter()
        .filter(|v| listed.contains(*v))
        .map(|v| v.to_string())
        .collect()
}

/// The Scheme expressions that select `voice` at `stretch_percent` (see the module docs).
pub fn festival_setup(voice: &str, stretch_percent: u32) -> Vec<String> {
    let stretch = f64::from(stretch_percent.max(1)) / 100.0;
    let mut exprs = vec![
        format!("(voice_{voice})"),
        format!("(Parameter.set 'Duration_Stretch {stretch:.3})"),
    ];
    if voice.ends_with(HTS_SUFFIX) {
        exprs.push(format!(
            "(set! hts_engine_params (append hts_engine_params (list (list \"-r\" {:.4}))))",
            1.0 / stretch
        ));
    }
    exprs
}

/// `text2wave -eval ... -o OUT` for `voice` at `stretch_percent`; the text goes on stdin.
pub fn text2wave_command(voice: &str, stretch_percent: u32, out: &Path) -> Command {
    let mut cmd = Command::new(TEXT2WAVE);
    for expr in festival_setup(voice, stretch_percent) {
        cmd.arg("-eval").arg(expr);
    }
    cmd.arg("-o").arg(out);
    cmd
}

/// Runs `cmd` with `text` written to its stdin and collects its output.
pub fn run_with_stdin(mut cmd: Command, text: &str) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes())?;
        stdin.write_all(b"\n")?;
    }
    child.wait_with_output()
}

/// The recorded speaker behind a flite or Festival voice (`kal16` and `kal_diphone` -> `kal`,
/// `cmu_us_slt_arctic_hts` -> `slt`); `None` for espeak-ng (formant synthesis, no recorded
/// speaker).
pub fn speaker_family(voice: &SynthVoice) -> Option<String> {
    let name = match voice {
        SynthVoice::Espeak { .. } => return None,
        SynthVoice::Flite { voice, .. } | SynthVoice::Festival { voice, .. } => voice,
    };
    let name = name.strip_prefix("cmu_us_").unwrap_or(name);
    let first = name.split('_').next().unwrap_or(name);
    let family = first.trim_end_matches(|c: char| c.is_ascii_digit());
    Some(if family.is_empty() { first } else { family }.to_string())
}

/// The espeak-ng base accent of a voice (`en-us+f2` -> `en-us`).
fn espeak_base(voice: &SynthVoice) -> Option<&str> {
    match voice {
        SynthVoice::Espeak { voice, .. } => Some(voice.split('+').next().unwrap_or(voice)),
        _ => None,
    }
}

/// The key of `keys` with the lowest [`stable_hash`] of `"{kind}:{key}"`.
fn lowest_hash<'a>(kind: &str, keys: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    keys.into_iter()
        .min_by_key(|k| (stable_hash(HELD_OUT_SEED, format!("{kind}:{k}")), *k))
}

/// Which voices of `plan` are held out for validation (same length as `plan`), by the rule of
/// the module docs. Depends only on the set of voices, not on their order.
pub fn held_out_voices(plan: &[SynthVoice]) -> Vec<bool> {
    let mut held = vec![false; plan.len()];
    let bases: BTreeSet<&str> = plan.iter().filter_map(espeak_base).collect();
    if let Some(base) = lowest_hash("espeak-base", bases) {
        for (h, v) in held.iter_mut().zip(plan) {
            *h |= espeak_base(v) == Some(base);
        }
    }
    let families: Vec<Option<String>> = plan.iter().map(speaker_family).collect();
    let hold = |family: &str, held: &mut [bool]| {
        for (h, f) in held.iter_mut().zip(&families) {
            *h |= f.as_deref() == Some(family);
        }
    };
    let speakers: BTreeSet<&str> = families.iter().flatten().map(String::as_str).collect();
    if let Some(family) = lowest_hash("speaker", speakers) {
        hold(family, &mut held);
    }
    let is_flite = |v: &SynthVoice| matches!(v, SynthVoice::Flite { .. });
    let is_festival = |v: &SynthVoice| matches!(v, SynthVoice::Festival { .. });
    for engine in [&is_flite as &dyn Fn(&SynthVoice) -> bool, &is_festival] {
        if plan.iter().zip(&held).any(|(v, h)| *h && engine(v)) {
            continue;
        }
        let of_engine: BTreeSet<&str> = plan
            .iter()
            .zip(&families)
            .filter(|(v, _)| engine(v))
            .filter_map(|(_, f)| f.as_deref())
            .collect();
        if let Some(family) = lowest_hash("speaker", of_engine) {
            hold(family, &mut held);
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::audio::{AudioConfig, prepare_wav_file, read_wav};
    use crate::train::data::{ESPEAK_BASE_VOICES, ESPEAK_VARIANTS, synth_voice_plan};

    fn workplace_plan() -> Vec<SynthVoice> {
        let espeak: Vec<String> = ESPEAK_BASE_VOICES
            .iter()
            .flat_map(|b| ESPEAK_VARIANTS.iter().map(move |v| format!("{b}{v}")))
            .collect();
        let flite: Vec<String> = ["kal", "kal16", "awb", "rms", "slt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let festival: Vec<String> = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        synth_voice_plan(&espeak, &flite, &festival, 0)
    }

    #[test]
    fn stable_hash_is_fixed() {
        assert_eq!(stable_hash(0, ""), stable_hash(0, ""));
        assert_ne!(stable_hash(0, "a"), stable_hash(1, "a"));
        assert_ne!(stable_hash(0, "a"), stable_hash(0, "b"));
    }

    #[test]
    fn speaker_families_join_engines() {
        let flite = |v: &str| SynthVoice::Flite {
            voice: v.into(),
            stretch_percent: 100,
        };
        let festival = |v: &str| SynthVoice::Festival {
            voice: v.into(),
            stretch_percent: 100,
        };
        assert_eq!(speaker_family(&flite("kal16")).as_deref(), Some("kal"));
        assert_eq!(speaker_family(&flite("kal")).as_deref(), Some("kal"));
        assert_eq!(
            speaker_family(&festival("kal_diphone")).as_deref(),
            Some("kal")
        );
        assert_eq!(speaker_family(&flite("slt")).as_deref(), Some("slt"));
        assert_eq!(
            speaker_family(&festival("cmu_us_slt_arctic_hts")).as_deref(),
            Some("slt")
        );
        let espeak = SynthVoice::Espeak {
            voice: "en-us+f2".into(),
            rate_wpm: 160,
            pitch: 50,
        };
        assert_eq!(speaker_family(&espeak), None);
    }

    #[test]
    fn held_out_voices_cover_every_engine_and_are_stable() {
        let plan = workplace_plan();
        assert_eq!(plan.len(), 96 + 15 + 9);
        let held = held_out_voices(&plan);
        let n_held = held.iter().filter(|&&h| h).count();
        let fraction = n_held as f64 / plan.len() as f64;
        assert!(
            (0.12..=0.22).contains(&fraction),
            "{n_held} of {}",
            plan.len()
        );
        let held_of = |pred: fn(&SynthVoice) -> bool| {
            plan.iter()
                .zip(&held)
                .filter(|(v, h)| **h && pred(v))
                .count()
        };
        assert!(held_of(|v| matches!(v, SynthVoice::Espeak { .. })) >= 12);
        assert!(held_of(|v| matches!(v, SynthVoice::Flite { .. })) >= 3);
        assert!(held_of(|v| matches!(v, SynthVoice::Festival { .. })) >= 3);
        // Whole espeak-ng accents: every variant of a held-out base is held out.
        for (v, h) in plan.iter().zip(&held) {
            let same_base = plan
                .iter()
                .zip(&held)
                .filter(|(w, _)| espeak_base(w).is_some() && espeak_base(w) == espeak_base(v));
            for (_, hw) in same_base {
                assert_eq!(h, hw);
            }
        }
        // No recorded speaker on both sides, whatever the engine.
        let train: BTreeSet<String> = plan
            .iter()
            .zip(&held)
            .filter(|(_, h)| !**h)
            .filter_map(|(v, _)| speaker_family(v))
            .collect();
        let val: BTreeSet<String> = plan
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h)
            .filter_map(|(v, _)| speaker_family(v))
            .collect();
        assert!(train.is_disjoint(&val), "{train:?} / {val:?}");
        // The same voices in another order give the same held-out voices.
        let mut reversed = plan.clone();
        reversed.reverse();
        let held_rev = held_out_voices(&reversed);
        let a: BTreeSet<String> = plan
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h)
            .map(|(v, _)| v.label())
            .collect();
        let b: BTreeSet<String> = reversed
            .iter()
            .zip(&held_rev)
            .filter(|(_, h)| **h)
            .map(|(v, _)| v.label())
            .collect();
        assert_eq!(a, b);
        assert!(held_out_voices(&[]).is_empty());
        // The choice itself is pinned: a changed hash or rule shows up here.
        assert_eq!(n_held, 18);
        assert!(a.contains("flite:slt stretch=1.00"), "{a:?}");
        assert!(
            a.contains("festival:cmu_us_slt_arctic_hts stretch=0.80"),
            "{a:?}"
        );
        assert!(plan.iter().zip(&held).all(|(v, h)| *h
            == (espeak_base(v) == Some("en") || speaker_family(v).as_deref() == Some("slt"))));
    }

    #[test]
    fn festival_voice_list_parses() {
        assert_eq!(
            parse_voice_list("(cmu_us_slt_arctic_hts ked_diphone kal_diphone el_diphone)\n"),
            vec!["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
        );
        assert!(parse_voice_list("").is_empty());
        let hts = festival_setup("cmu_us_slt_arctic_hts", 125);
        assert!(hts[1].contains("Duration_Stretch 1.250"), "{hts:?}");
        assert!(hts[2].contains("\"-r\" 0.8000"), "{hts:?}");
        assert_eq!(festival_setup("kal_diphone", 80).len(), 2);
    }

    /// Speaks one word with every installed Festival voice (skipped when festival is absent):
    /// the clip decodes, is not silent, lasts 0.2-2 s, and a longer stretch makes it longer.
    #[test]
    fn festival_speaks_a_digit() {
        let Some((voices, version)) = detect_festival() else {
            crate::test_support::skip_unless_ci(
                "festival is not installed (Debian packages festival festvox-*)",
            );
            return;
        };
        assert!(!version.is_empty());
        let tmp = tempfile::tempdir().expect("tempdir");
        for voice in &voices {
            let mut durations = Vec::new();
            for stretch_percent in [80, 125] {
                let wav = tmp.path().join(format!("{voice}_{stretch_percent}.wav"));
                let v = SynthVoice::Festival {
                    voice: voice.clone(),
                    stretch_percent,
                };
                let out = v.speak("seven", &wav).expect("text2wave runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let wave = read_wav(&wav).expect("decodes");
                let secs = wave.duration_secs();
                assert!((0.2..=2.0).contains(&secs), "{voice}: {secs} s");
                assert!(wave.peak_dbfs() > -30.0, "{voice}: {}", wave.peak_dbfs());
                prepare_wav_file(&wav, &AudioConfig::default()).expect("prepares");
                durations.push(secs);
            }
            assert!(
                durations[1] > durations[0] * 1.2,
                "{voice}: stretch 0.8 -> {:.3} s, 1.25 -> {:.3} s",
                durations[0],
                durations[1]
            );
        }
    }
}
