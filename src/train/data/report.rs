//! The text report of `transference data` ([`DataSummary::to_text`]); the CLI prints it, or
//! the [`DataSummary`] as one JSON object.

use super::{CLIPS_DIR, DataSummary, VALIDATION_SPEAKER};

/// Skipped inputs listed one by one in the text report; the rest are counted.
const SKIPPED_SHOWN: usize = 20;

impl DataSummary {
    /// The human report of `transference data`: the size of every set, the log-mel statistics,
    /// synthetic speech, the first skipped inputs, the warnings and what was written. Every
    /// line ends with a newline.
    pub fn to_text(&self) -> String {
        let c = &self.counts;
        let mut text = String::new();
        let mut line = |s: String| {
            text.push_str(&s);
            text.push('\n');
        };
        line(format!("prepared {}", self.out.display()));
        line(format!(
            "  images  {} train, {} test ({} skipped)",
            c.image_train, c.image_test, c.skipped_images
        ));
        line(format!(
            "  printed {} train, {} held-out ({} typefaces; {} skipped)",
            c.image_print_train, c.image_print_val, self.typefaces, c.skipped_print
        ));
        line(format!(
            "  scanned {} train, {} test ({} skipped)",
            c.image_scan_train, c.image_scan_test, c.skipped_scan
        ));
        line(format!(
            "  audio   {} train, {} val ({VALIDATION_SPEAKER}), {} synthetic ({} skipped real, {} skipped synthetic)",
            c.audio_train, c.audio_val, c.audio_synth, c.skipped_audio, c.skipped_synth
        ));
        line(format!(
            "  audio   {} synthetic of {} held-out voices (audio_synth_val), {} augmented copies \
             (audio_aug, {} skipped)",
            c.audio_synth_val,
            self.held_out_voices.len(),
            c.audio_aug,
            c.skipped_aug
        ));
        line(format!(
            "  log-mel mean {:.4}, std {:.4} (audio_train)",
            self.mel_mean, self.mel_std
        ));
        if self.synth.requested {
            line(format!(
                "  synth   {} voices, engines: {}{}",
                self.synth.voices,
                if self.synth.engines.is_empty() {
                    "none".to_string()
                } else {
                    self.synth.engines.join(", ")
                },
                if self.synth.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.synth.note)
                }
            ));
            line(format!(
                "  clips   {} in {}",
                c.clips,
                self.out.join(CLIPS_DIR).display()
            ));
        }
        if !self.skipped.is_empty() {
            line(format!("skipped ({}):", self.skipped.len()));
            for s in self.skipped.iter().take(SKIPPED_SHOWN) {
                line(format!("  {}: {}", s.file, s.reason));
            }
            if self.skipped.len() > SKIPPED_SHOWN {
                line(format!(
                    "  ... {} more in {}",
                    self.skipped.len() - SKIPPED_SHOWN,
                    self.meta_file.display()
                ));
            }
        }
        for w in &self.warnings {
            line(format!("warning: {w}"));
        }
        line(format!(
            "wrote {} and {} ({:.1} MB; folder {:.1} MB) in {:.1} s",
            self.data_file.display(),
            self.meta_file.display(),
            self.data_bytes as f64 / 1e6,
            self.dir_bytes as f64 / 1e6,
            self.elapsed_secs
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::train::data::{Counts, SkippedItem, SynthInfo};

    fn summary() -> DataSummary {
        DataSummary {
            out: PathBuf::from("data/digits"),
            data_file: PathBuf::from("data/digits/digits.safetensors"),
            meta_file: PathBuf::from("data/digits/meta.json"),
            counts: Counts {
                image_train: 8000,
                image_test: 2000,
                audio_train: 2000,
                audio_val: 500,
                clips: 30,
                ..Counts::default()
            },
            mel_mean: -7.25,
            mel_std: 3.5,
            skipped: (0..25)
                .map(|i| SkippedItem {
                    file: format!("x_{i}.wav"),
                    reason: "silent".into(),
                })
                .collect(),
            warnings: vec!["festival is not installed".into()],
            synth: SynthInfo {
                requested: true,
                engines: vec!["eSpeak NG 1.51".into()],
                voices: 96,
                clips: 960,
                note: String::new(),
            },
            held_out_voices: vec!["en -s200 -p50".into()],
            typefaces: 12,
            sources: Vec::new(),
            elapsed_secs: 12.34,
            data_bytes: 2_500_000,
            dir_bytes: 7_500_000,
        }
    }

    #[test]
    fn the_text_report_names_every_set_the_first_skips_and_the_warnings() {
        let text = summary().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "prepared data/digits");
        assert_eq!(lines[1], "  images  8000 train, 2000 test (0 skipped)");
        assert!(text.contains("  audio   2000 train, 500 val (george), 0 synthetic"));
        assert!(text.contains("  log-mel mean -7.2500, std 3.5000 (audio_train)"));
        assert!(text.contains("  synth   96 voices, engines: eSpeak NG 1.51\n"));
        assert!(text.contains("  clips   30 in data/digits/clips\n"));
        assert!(text.contains("skipped (25):\n  x_0.wav: silent\n"));
        assert!(text.contains("  x_19.wav: silent\n  ... 5 more in data/digits/meta.json\n"));
        assert!(!text.contains("x_20.wav"));
        assert!(text.contains("warning: festival is not installed\n"));
        assert!(text.ends_with(
            "wrote data/digits/digits.safetensors and data/digits/meta.json (2.5 MB; folder \
             7.5 MB) in 12.3 s\n"
        ));
        let mut no_synth = summary();
        no_synth.synth.requested = false;
        assert!(!no_synth.to_text().contains("synth "));
    }
}
