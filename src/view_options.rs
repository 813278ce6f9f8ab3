//! View options that the window and the lessons driving it both name. Plain data on the floor
//! every folder may use, so `lessons` does not reach into `ui` for them.

use serde::{Deserialize, Serialize};

/// How map points are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapColoring {
    /// `modality` in lesson files.
    #[default]
    #[serde(alias = "modality")]
    Modality,
    /// `class` in lesson files.
    #[serde(alias = "class")]
    Class,
    /// Whether each item gets its own label zero-shot (with the current labels and
    /// templates): wrong items stand out. `correct` in lesson files.
    #[serde(alias = "correct")]
    Correctness,
    /// Where each item came from: its source up to the item's number (a speaker, a voice,
    /// a dataset; see `ui::failures::source_group`). `source` in lesson files.
    #[serde(alias = "source")]
    Source,
    /// Cosine similarity to a typed prompt or to the selected input. `similarity` in lesson
    /// files.
    #[serde(alias = "similarity")]
    Similarity,
}
