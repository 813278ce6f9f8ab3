//! The three modalities the explorer knows.

use serde::{Deserialize, Serialize};

/// One input modality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Image,
    Audio,
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

    /// Parses "image" | "audio" | "text".
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image" | "images" => Some(Modality::Image),
            "audio" => Some(Modality::Audio),
            "text" => Some(Modality::Text),
            _ => None,
        }
    }
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
