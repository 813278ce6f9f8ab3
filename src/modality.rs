//! The three modalities the explorer knows.

use serde::{Deserialize, Serialize};

/// One input modality. As a command-line value: `image` (or `images`), `audio`, `text`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Pictures.
    #[value(alias = "images")]
    Image,
    /// Sound clips.
    Audio,
    /// Written words.
    Text,
}

impl Modality {
    /// All modalities in display order.
    pub const ALL: [Modality; 3] = [Modality::Image, Modality::Audio, Modality::Text];

    /// Lower-case name used in manifests, the CLI and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Audio => "audio",
            Modality::Text => "text",
        }
    }

    /// Index 0..3, stable (image, audio, text).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a name as the command line does ("image", "audio", "text"; any case).
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s.trim(), true).ok()
    }
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
