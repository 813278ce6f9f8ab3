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
}
